"""Coalesced frames for the dashboard: what changed in the last 250 ms, as one JSON message.

WHY frames rather than every message: 300 intersections at 10 Hz is 3,000 messages a second,
more than a browser tab should parse; a frame carries only the latest payload of each entity
that changed, so the dashboard costs the same at any message rate. Payloads are spliced in as
received (they are validated JSON), so building a frame parses nothing.
"""

from __future__ import annotations

import json

from central_hub.domain.alarms import AlarmChange
from central_hub.domain.live_state import LiveState
from central_hub.live.broadcast import Broadcaster


class DashboardFeed:
    """Collects dirty entity ids and renders frames for the dashboard broadcaster."""

    def __init__(self, state: LiveState, client_queue: int = 200) -> None:
        self.state = state
        self.clients = Broadcaster(client_queue)
        self._spat: set[str] = set()
        self._maps: set[str] = set()
        self._vehicles: set[str] = set()
        self._devices: set[str] = set()
        self._alarms: list[AlarmChange] = []

    def spat(self, intersection_id: str) -> None:
        self._spat.add(intersection_id)

    def map(self, intersection_id: str) -> None:
        self._maps.add(intersection_id)

    def vehicle(self, vehicle_id: str) -> None:
        self._vehicles.add(vehicle_id)

    def device(self, device_id: str) -> None:
        self._devices.add(device_id)

    def alarms(self, changes: list[AlarmChange]) -> None:
        self._alarms.extend(changes)
        del self._alarms[:-200]

    def render(self, now_ms: int) -> str | None:
        """The frame for everything changed since the last call, or ``None`` when nothing did."""
        if not (self._spat or self._maps or self._vehicles or self._devices or self._alarms):
            return None
        st = self.state
        parts = [f'"t":{now_ms}']
        spat, maps = [], []
        for i in sorted(self._spat):
            raw = st.intersections[i].spat_raw if i in st.intersections else None
            if raw is not None:
                spat.append(f'"{i}":{raw.decode()}')
        if spat:
            parts.append('"spat":{' + ",".join(spat) + "}")
        for i in sorted(self._maps):
            m = st.intersections[i].map if i in st.intersections else None
            if m is not None:
                maps.append(f'"{i}":{m.model_dump_json()}')
        if maps:
            parts.append('"maps":{' + ",".join(maps) + "}")
        vehicles = []
        for vid in sorted(self._vehicles):
            v = st.vehicles.get(vid)
            if v is None:
                continue
            pos = v.position_raw.decode() if v.position_raw else "null"
            occ = v.occupancy_raw.decode() if v.occupancy_raw else "null"
            online = "true" if st.online(vid, now_ms) else "false"
            vehicles.append(f'"{vid}":{{"position":{pos},"occupancy":{occ},"online":{online}}}')
        if vehicles:
            parts.append('"vehicles":{' + ",".join(vehicles) + "}")
        devices = []
        for did in sorted(self._devices):
            d = st.devices.get(did)
            if d is None:
                continue
            health = d.health.model_dump_json() if d.health is not None else "null"
            devices.append(f'"{did}":{{"online":{json.dumps(d.online)},"kind":'
                           f'{json.dumps(d.kind)},"health":{health}}}')
        if devices:
            parts.append('"devices":{' + ",".join(devices) + "}")
        if self._alarms:
            parts.append('"alarms":' + json.dumps([
                {"kind": a.kind, "device_id": a.device_id, "active": a.active,
                 "severity": a.severity, "message": a.message, "at_ms": a.at_ms}
                for a in self._alarms]))
        self._spat.clear()
        self._maps.clear()
        self._vehicles.clear()
        self._devices.clear()
        self._alarms.clear()
        return "{" + ",".join(parts) + "}"

    def flush(self, now_ms: int) -> None:
        """Render and send a frame to every dashboard client (if anything changed)."""
        if self.clients.count == 0:
            self._spat.clear()
            self._vehicles.clear()
            self._devices.clear()
            self._maps.clear()
            self._alarms.clear()
            return
        frame = self.render(now_ms)
        if frame is not None:
            self.clients.publish("", frame)

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
        parts = [f'"t":{now_ms}']
        for name, ids, render in (("spat", self._spat, self._spat_json),
                                  ("maps", self._maps, self._map_json),
                                  ("vehicles", self._vehicles,
                                   lambda vid: self._vehicle_json(vid, now_ms)),
                                  ("devices", self._devices, self._device_json)):
            entries = [f'"{key}":{text}' for key in sorted(ids)
                       if (text := render(key)) is not None]
            if entries:
                parts.append(f'"{name}":{{' + ",".join(entries) + "}")
        if self._alarms:
            parts.append('"alarms":' + json.dumps([
                {"kind": a.kind, "device_id": a.device_id, "active": a.active,
                 "severity": a.severity, "message": a.message, "at_ms": a.at_ms}
                for a in self._alarms]))
        self._clear()
        return "{" + ",".join(parts) + "}"

    # one JSON value per changed entity, from what the live state holds (None: gone)

    def _spat_json(self, iid: str) -> str | None:
        it = self.state.intersections.get(iid)
        return it.spat_raw.decode() if it is not None and it.spat_raw is not None else None

    def _map_json(self, iid: str) -> str | None:
        it = self.state.intersections.get(iid)
        return it.map.model_dump_json() if it is not None and it.map is not None else None

    def _vehicle_json(self, vid: str, now_ms: int) -> str | None:
        v = self.state.vehicles.get(vid)
        if v is None:
            return None
        pos = v.position_raw.decode() if v.position_raw else "null"
        occ = v.occupancy_raw.decode() if v.occupancy_raw else "null"
        online = "true" if self.state.online(vid, now_ms) else "false"
        return f'{{"position":{pos},"occupancy":{occ},"online":{online}}}'

    def _device_json(self, did: str) -> str | None:
        d = self.state.devices.get(did)
        if d is None:
            return None
        health = d.health.model_dump_json() if d.health is not None else "null"
        return f'{{"online":{json.dumps(d.online)},"kind":{json.dumps(d.kind)},"health":{health}}}'

    def _clear(self) -> None:
        self._spat.clear()
        self._maps.clear()
        self._vehicles.clear()
        self._devices.clear()
        self._alarms.clear()

    def flush(self, now_ms: int) -> None:
        """Render and send a frame to every dashboard client (if anything changed)."""
        if self.clients.count == 0:
            self._clear()
            return
        frame = self.render(now_ms)
        if frame is not None:
            self.clients.publish("", frame)

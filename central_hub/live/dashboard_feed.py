"""Coalesced frames for the dashboard: what visibly changed in the last 250 ms, as one JSON
message, after one snapshot of everything when a page connects.

WHY frames rather than every message: 300 intersections at 10 Hz is 3,000 messages a second,
more than a browser tab should parse; a frame carries only the latest payload of each entity
that changed, so the dashboard costs the same at any message rate. Payloads are spliced in as
received (they are validated JSON), so building a frame parses nothing.

WHY only visible SPaT changes: at 10 Hz every SPaT differs from the last by its ``ts`` and
``seq``, so "what changed" would be every intersection in every frame (about 270 KB per frame
at Kassel scale). A SPaT goes into a frame only when the page would draw it differently: a
status or a state changed, or a likely end moved by a second or more
(:func:`~central_hub.domain.dashboard.spat_visibly_changed`); the page counts down by itself.
Staleness, which the page can then no longer infer from a steady stream, is sent explicitly
(``stale``: the intersections silent for longer than the SPaT alarm's limit, whenever that set
changes). Frames are numbered (``n``): a page that misses one (its queue overflowed) reconnects
and starts again from a snapshot, so a change it never saw cannot stay on screen.
"""

from __future__ import annotations

import json

from central_hub.domain.alarms import AlarmChange
from central_hub.domain.dashboard import (
    SpatSignature,
    bus_delay,
    spat_signature,
    spat_visibly_changed,
    stale_map,
)
from central_hub.domain.live_state import LiveState
from central_hub.domain.schedule import Schedule
from central_hub.live.broadcast import Broadcaster


class DashboardFeed:
    """Collects dirty entity ids and renders frames for the dashboard broadcaster."""

    def __init__(self, state: LiveState, client_queue: int = 200, *,
                 schedule: Schedule | None = None, stale_ms: int = 1_000) -> None:
        self.state = state
        self.schedule = schedule
        self.stale_ms = stale_ms
        self.clients = Broadcaster(client_queue)
        self._spat: set[str] = set()
        self._maps: set[str] = set()
        self._vehicles: set[str] = set()
        self._devices: set[str] = set()
        self._alarms: list[AlarmChange] = []
        #: what the clients were last sent of each intersection's SPaT
        self._sent_spat: dict[str, SpatSignature] = {}
        self._stale: dict[str, int] = {}
        #: number of the last frame rendered (the snapshot carries it too)
        self.n = 0

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

    def _stale_now(self, now_ms: int) -> dict[str, int]:
        return stale_map(((iid, it.spat_seen_ms) for iid, it in self.state.intersections.items()),
                         now_ms, self.stale_ms)

    def render(self, now_ms: int) -> str | None:
        """The frame for everything visibly changed since the last call, or ``None``."""
        stale = self._stale_now(now_ms)
        stale_changed = stale != self._stale
        self._stale = stale
        parts = [f'"t":{now_ms}']
        for name, ids, render in (("spat", self._spat, self._spat_changed_json),
                                  ("maps", self._maps, self._map_json),
                                  ("vehicles", self._vehicles,
                                   lambda vid: self._vehicle_json(vid, now_ms)),
                                  ("devices", self._devices, self._device_json)):
            entries = [f'"{key}":{text}' for key in sorted(ids)
                       if (text := render(key)) is not None]
            if entries:
                parts.append(f'"{name}":{{' + ",".join(entries) + "}")
        if stale_changed:
            parts.append('"stale":' + json.dumps(stale, sort_keys=True))
        if self._alarms:
            parts.append('"alarms":' + json.dumps([
                {"kind": a.kind, "device_id": a.device_id, "active": a.active,
                 "severity": a.severity, "message": a.message, "at_ms": a.at_ms}
                for a in self._alarms]))
        self._clear()
        if len(parts) == 1:
            return None
        self.n += 1
        return f'{{"n":{self.n},' + ",".join(parts) + "}"

    def snapshot(self, now_ms: int) -> str:
        """Everything the page draws, for a page that just connected (frame ``n`` so far)."""
        st = self.state
        parts = [f'"n":{self.n}', f'"t":{now_ms}', '"snapshot":true']
        for name, ids, render in (
                ("spat", list(st.intersections), self._spat_json),
                ("maps", list(st.intersections), self._map_json),
                ("vehicles", list(st.vehicles), lambda vid: self._vehicle_json(vid, now_ms)),
                ("devices", list(st.devices), self._device_json)):
            entries = [f'"{key}":{text}' for key in sorted(ids)
                       if (text := render(key)) is not None]
            parts.append(f'"{name}":{{' + ",".join(entries) + "}")
        parts.append('"stale":' + json.dumps(self._stale_now(now_ms), sort_keys=True))
        return "{" + ",".join(parts) + "}"

    # one JSON value per changed entity, from what the live state holds (None: gone)

    def _spat_json(self, iid: str) -> str | None:
        it = self.state.intersections.get(iid)
        return it.spat_raw.decode() if it is not None and it.spat_raw is not None else None

    def _spat_changed_json(self, iid: str) -> str | None:
        it = self.state.intersections.get(iid)
        if it is None or it.spat is None or it.spat_raw is None:
            return None
        sig = spat_signature(it.spat)
        if not spat_visibly_changed(self._sent_spat.get(iid), sig):
            return None
        self._sent_spat[iid] = sig
        return it.spat_raw.decode()

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
        delay = bus_delay(self.schedule, v.position)
        return (f'{{"position":{pos},"occupancy":{occ},"online":{online},'
                f'"delay_s":{"null" if delay is None else delay}}}')

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
            self._sent_spat.clear()  # the next page starts from a snapshot anyway
            return
        frame = self.render(now_ms)
        if frame is not None:
            self.clients.publish("", frame)

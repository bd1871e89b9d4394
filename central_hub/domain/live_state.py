"""The hub's picture of the city right now: latest payloads per vehicle, intersection, device.

WHY kept in memory and pure: the REST endpoints and the dashboard answer from the latest
message of each entity ("as received") at 10 Hz x 300 intersections; a database
round trip per request or per SPaT would be the bottleneck. The raw bytes are kept next to
the decoded model so an API answer is the payload exactly as received. Signal history (one
entry per state change of a signal group) feeds the phase diagram and the stored history;
each intersection's :class:`~central_hub.domain.prediction.PredictionScorer` scores its
predictions (the dashboard's prediction quality and the ``prediction_degraded`` alarm).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from central_hub.domain.etsi_feed import EtsiFeed
from central_hub.domain.prediction import PredictionScorer
from central_hub.domain.streams import SeqTracker
from edge_agent.contract.payloads import Detector, Health, Map, Occupancy, Position, Spat, Status

VEHICLE_FRESH_MS = 90_000
#: detectors kept per intersection; more are ignored and counted (a flood of made-up ids).
MAX_DETECTORS = 64


@dataclass(slots=True)
class VehicleState:
    """Latest position and occupancy of one vehicle."""

    vehicle_id: str
    position: Position | None = None
    position_raw: bytes | None = None
    occupancy: Occupancy | None = None
    occupancy_raw: bytes | None = None
    last_seen_ms: int = 0


@dataclass(slots=True)
class DetectorState:
    """A detector as heard on ``signal/{id}/detector`` (hub receive times)."""

    occupied: bool
    since_ms: int
    last_ms: int


@dataclass(slots=True)
class IntersectionState:
    """Latest SPaT and MAP of one intersection, and its signal-group state history."""

    intersection_id: str
    spat: Spat | None = None
    spat_raw: bytes | None = None
    map: Map | None = None
    last_seen_ms: int = 0
    current: dict[str, tuple[str, int]] = field(default_factory=dict)
    history: deque[tuple[str, str, int]] = field(default_factory=lambda: deque(maxlen=20_000))
    #: hub receive time of the latest SPaT (0: none yet); staleness is judged on it
    spat_seen_ms: int = 0
    #: the red and green predictions sampled and scored at each switch (the last hour)
    quality: PredictionScorer = field(default_factory=PredictionScorer)
    detectors: dict[str, DetectorState] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.map.name if self.map is not None else self.intersection_id

    @property
    def status(self) -> str | None:
        return self.spat.status if self.spat is not None else None


@dataclass(slots=True)
class DeviceState:
    """Birth/death and health of one device (login id)."""

    device_id: str
    kind: str | None = None
    online: bool | None = None
    bdseq: int | None = None
    sw: str | None = None
    status_ms: int = 0
    #: ``ts`` of the newest ``online`` status: the birth of the device's current connection
    born_ts: int | None = None
    health: Health | None = None
    last_seen_ms: int = 0


@dataclass(frozen=True, slots=True)
class SignalChange:
    """A signal group entered ``state`` at ``start_ms`` (controller time)."""

    intersection_id: str
    sg: str
    state: str
    start_ms: int


class LiveState:
    """Applies validated messages; all lookups are dict reads."""

    def __init__(self, history_ms: int = 300_000) -> None:
        self.history_ms = history_ms
        self.vehicles: dict[str, VehicleState] = {}
        self.intersections: dict[str, IntersectionState] = {}
        self.devices: dict[str, DeviceState] = {}
        #: entity id (vehicle or intersection) -> device id, from the registry.
        self.entity_device: dict[str, str] = {}
        self.gaps = SeqTracker(window=256)  # the live path sees messages in order
        #: detector messages ignored because their intersection already had MAX_DETECTORS
        self.detectors_ignored = 0
        #: the latest C-ITS bytes (SPATEM, MAPEM) per intersection and their sampled check
        self.etsi = EtsiFeed()

    def device(self, device_id: str) -> DeviceState:
        d = self.devices.get(device_id)
        if d is None:
            d = self.devices[device_id] = DeviceState(device_id)
        return d

    def vehicle(self, vehicle_id: str) -> VehicleState:
        v = self.vehicles.get(vehicle_id)
        if v is None:
            v = self.vehicles[vehicle_id] = VehicleState(vehicle_id)
        return v

    def intersection(self, intersection_id: str) -> IntersectionState:
        i = self.intersections.get(intersection_id)
        if i is None:
            i = self.intersections[intersection_id] = IntersectionState(intersection_id)
        return i

    def online(self, entity_id: str, now_ms: int) -> bool:
        """A device's birth/death state; for an entity without a known device, recent data."""
        dev = self.devices.get(self.entity_device.get(entity_id, entity_id))
        if dev is not None and dev.online is not None:
            return dev.online
        v = self.vehicles.get(entity_id)
        if v is not None:
            return now_ms - v.last_seen_ms < VEHICLE_FRESH_MS
        i = self.intersections.get(entity_id)
        return i is not None and now_ms - i.last_seen_ms < 5_000

    def apply_status(self, msg: Status, now_ms: int) -> bool:
        """Birth or death; ``False`` when it is older than what we know (stale retained)."""
        d = self.device(msg.device_id)
        if d.bdseq is not None and msg.bdseq < d.bdseq:
            return False
        d.kind, d.bdseq, d.sw = msg.kind, msg.bdseq, msg.sw
        d.online = msg.state == "online"
        if d.online:
            d.born_ts = msg.ts
        d.status_ms = now_ms
        return True

    def birth_of(self, entity_id: str) -> int | None:
        """The birth ``ts`` of the device behind ``entity_id`` (a vehicle, an intersection or
        a device id), ``None`` while no ``online`` status of it has been seen."""
        dev = self.devices.get(self.entity_device.get(entity_id, entity_id))
        return dev.born_ts if dev is not None else None

    def apply_health(self, device_id: str, msg: Health, now_ms: int) -> int:
        """Latest health; returns seqs newly found missing in the stream."""
        d = self.device(device_id)
        d.health = msg
        d.last_seen_ms = now_ms
        return self.gaps.observe(device_id, "health", msg.seq).gaps

    def apply_position(self, msg: Position, raw: bytes, now_ms: int) -> int:
        v = self.vehicle(msg.vehicle_id)
        if v.position is None or msg.ts >= v.position.ts:
            v.position, v.position_raw = msg, raw
        v.last_seen_ms = now_ms
        return self.gaps.observe(msg.vehicle_id, "position", msg.seq).gaps

    def apply_occupancy(self, msg: Occupancy, raw: bytes, now_ms: int) -> int:
        v = self.vehicle(msg.vehicle_id)
        if v.occupancy is None or msg.ts >= v.occupancy.ts:
            v.occupancy, v.occupancy_raw = msg, raw
        v.last_seen_ms = now_ms
        return self.gaps.observe(msg.vehicle_id, "occupancy", msg.seq).gaps

    def apply_map(self, msg: Map, now_ms: int) -> None:
        i = self.intersection(msg.intersection_id)
        i.map = msg
        i.last_seen_ms = max(i.last_seen_ms, now_ms)

    def apply_spat(self, msg: Spat, raw: bytes, now_ms: int) -> list[SignalChange]:
        """Latest SPaT and the signal-group state changes it reveals."""
        i = self.intersection(msg.intersection_id)
        if i.spat is not None and msg.ts < i.spat.ts:
            return []
        i.spat, i.spat_raw, i.last_seen_ms = msg, raw, now_ms
        i.spat_seen_ms = now_ms
        self.gaps.observe(msg.intersection_id, "spat", msg.seq)
        i.quality.observe(msg, now_ms)
        changes: list[SignalChange] = []
        for g in msg.groups:
            cur = i.current.get(g.sg)
            if cur is None or cur[0] != g.state:
                i.current[g.sg] = (g.state, msg.ts)
                i.history.append((g.sg, g.state, msg.ts))
                changes.append(SignalChange(msg.intersection_id, g.sg, g.state, msg.ts))
        cutoff = msg.ts - self.history_ms
        hist = i.history
        # keep one entry older than the window per group so the diagram starts with a state
        while len(hist) > len(i.current) and hist[0][2] < cutoff:
            hist.popleft()
        return changes

    def apply_detector(self, intersection_id: str, msg: Detector, now_ms: int) -> None:
        """A detector's state change as the field bus sent it to the controller."""
        i = self.intersection(intersection_id)
        d = i.detectors.get(msg.detector)
        if d is None:
            if len(i.detectors) >= MAX_DETECTORS:
                self.detectors_ignored += 1
                return
            i.detectors[msg.detector] = DetectorState(msg.occupied, now_ms, now_ms)
            return
        if d.occupied != msg.occupied:
            d.occupied, d.since_ms = msg.occupied, now_ms
        d.last_ms = now_ms

    def history(self, intersection_id: str, since_ms: int) -> list[tuple[str, str, int]]:
        """``(sg, state, start_ms)`` changes of one intersection since ``since_ms``."""
        i = self.intersections.get(intersection_id)
        if i is None:
            return []
        return [h for h in i.history if h[2] >= since_ms]

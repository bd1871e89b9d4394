"""The cyclist's next-light countdown and speed advice, from the hub's live intersections.

WHY an adapter of its own: the rules are pure (:mod:`central_hub.mobility.domain.cycling`);
this use case feeds them what the hub holds right now, read through one callable the mount
injects (:func:`intersections_of` of ``hub.state``), so that the service never reaches into
the hub beyond it. Per intersection the hub holds the JSON MAP (position, signal groups with
their approach names), the latest SPaT with its receive time, and the latest MAPEM and
SPATEM bytes (``central_hub/domain/etsi_feed.py``).

The MAPEM names its signal groups by their ITS numbers (``its_sg``), which the hub does not
know (docs/c-its.md, "The hub"); the SPATEM carries the same numbers in the order of the
JSON SPaT's groups (the controller writes both from the same rows, and the hub's agreement
check relies on that order), so one SPATEM decode names them
(:func:`~central_hub.mobility.domain.cycling.sg_by_its`). The decoded lanes are kept per
intersection until its MAPEM or its SPaT's group order changes: a MAPEM is rare, so a request
costs dict reads, not ASN.1 decodes. A SPATEM the hub's check found to differ from its SPaT
is not trusted for the numbers: the rider then gets the documented compass fallback.

The passenger's position is not kept or logged here (the hub's access log cuts off query
strings, docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from central_hub.domain.live_state import LiveState
from central_hub.mobility.domain.cycling import (
    ApproachLane,
    EndBasis,
    Junction,
    LightAhead,
    Match,
    Rider,
    StateWord,
    approach_lanes,
    light_ahead,
    reachable,
    sg_by_its,
)
from edge_agent.contract.etsi.mapem import (
    DEG_UNITS,
    MSG_COUNT_MODULO,
    IntersectionGeometry,
    decode_mapem,
)
from edge_agent.contract.etsi.spatem import decode_spatem
from edge_agent.contract.glosa import BICYCLE_LIMITS, AdviceKind, GlosaLimits
from edge_agent.contract.payloads import Map, PredictionState, Spat
from edge_agent.errors import PayloadError

#: a SPaT older than this (hub receive time) gives no advice: the hub's ``spat_stale`` alarm
#: limit (``ALARMS__SPAT_STALE_MS``) by default, the mount passes the configured one
DEFAULT_STALE_MS = 1_000

_NO_LANES = "the MAPEM has no ingress lane a cyclist may ride with a known group"


@dataclass(frozen=True, slots=True)
class LiveIntersection:
    """What the hub holds of one intersection, as the advice reads it (no copy of bytes)."""

    intersection_id: str
    map: Map | None
    spat: Spat | None
    #: hub time the latest SPaT arrived (0: none yet)
    spat_seen_ms: int
    mapem: bytes | None
    spatem: bytes | None
    #: the hub's latest SPATEM-vs-SPaT check (``None``: not checked yet)
    etsi_agrees: bool | None


def intersections_of(state: LiveState) -> list[LiveIntersection]:
    """Every intersection of the hub's live state (the callable the mount injects:
    ``lambda: intersections_of(hub.state)``). Reads references only; run it on the event
    loop, where the live feed writes them."""
    etsi = state.etsi.intersections
    out = []
    for iid, i in list(state.intersections.items()):
        e = etsi.get(iid)
        out.append(LiveIntersection(iid, i.map, i.spat, i.spat_seen_ms,
                                    None if e is None else e.mapem,
                                    None if e is None else e.spatem,
                                    None if e is None else e.agrees))
    return out


class CyclistAdviceOut(BaseModel):
    """The rider's next traffic light: where, which signal group and why, its state, when
    it changes (with the SPaT's honest bounds) and the speed advice for a bicycle.

    Times in seconds are from ``now_ms`` (the hub's clock at the answer), never below 0;
    ``null`` when the SPaT does not give them."""

    intersection_id: str
    name: str
    #: metres to the stop line (along the MAPEM lane; without one, to a stop line assumed
    #: 10 m before the centre)
    distance_m: float
    #: how the group was chosen: ``mapem_lane`` (the MAPEM lane matching heading and
    #: position), ``map_approach`` (fallback: the MAP's compass-named approach), ``none``
    match: Match
    sg: str | None
    #: the MAP's approach name, or the MAPEM's ``approach N``
    approach: str | None
    lane_id: int | None
    #: ``red``, ``red_amber``, ``amber``, ``green``, ``flashing_amber``, ``dark``,
    #: ``unknown``; ``null`` without a fresh SPaT of the group
    state: StateWord | None
    #: the SPaT's own MovementPhaseState
    signal_state: str | None
    #: seconds to the next change, from ``change_basis``: a green or amber counts to its
    #: earliest end (``min_end``), a red to its most likely end (``likely_end``), as the
    #: GLOSA rule assumes (edge_agent/contract/glosa.py)
    seconds_to_change: float | None
    change_at_ms: int | None
    change_basis: EndBasis | None
    #: the SPaT's bounds and median of the change, seconds from now
    min_end_s: float | None
    likely_end_s: float | None
    max_end_s: float | None
    #: the controller's chance (0-100) that the change comes within ±1 s of ``likely_end``
    confidence: int | None
    #: for a green or amber group, when it is likely green again
    next_green_s: float | None
    #: ``keep`` (the current speed arrives in green), ``adjust`` (ride ``advice_speed_kmh``),
    #: ``stop`` (no speed from 12 to 25 km/h makes a green: ride as usual), ``none``
    advice_kind: AdviceKind
    advice_speed_mps: float | None = Field(default=None, ge=0)
    advice_speed_kmh: float | None = Field(default=None, ge=0)
    #: the controller's word on its prediction (``ok``, ``degraded``, ``stale``)
    prediction: PredictionState | None
    #: how long ago the hub received the SPaT
    spat_age_ms: int | None
    now_ms: int
    #: which rule chose the group, and the advice's reason
    reason: str

    @classmethod
    def of(cls, light: LightAhead, now_ms: int) -> CyclistAdviceOut:
        """The body of the domain's answer."""
        c = light.countdown

        def secs(ms: int | None) -> float | None:
            return None if ms is None else round(max(0.0, (ms - now_ms) / 1000), 1)

        speed = light.advice.speed_mps
        return cls(
            intersection_id=light.intersection_id, name=light.name,
            distance_m=light.distance_m, match=light.match, sg=light.sg,
            approach=light.approach, lane_id=light.lane_id, state=light.state,
            signal_state=light.signal_state,
            seconds_to_change=None if c is None else c.seconds,
            change_at_ms=None if c is None else c.change_at_ms,
            change_basis=None if c is None else c.basis,
            min_end_s=None if c is None else secs(c.min_end_ms),
            likely_end_s=None if c is None else secs(c.likely_end_ms),
            max_end_s=None if c is None else secs(c.max_end_ms),
            confidence=None if c is None else c.confidence,
            next_green_s=None if c is None else secs(c.next_green_ms),
            advice_kind=light.advice.kind,
            advice_speed_mps=None if speed is None else round(speed, 2),
            advice_speed_kmh=None if speed is None else round(speed * 3.6, 1),
            prediction=light.prediction,
            spat_age_ms=light.spat_age_ms, now_ms=now_ms, reason=light.reason)


class CyclistAdvice:
    """The use case: the next light ahead of a rider, from the hub's live intersections."""

    def __init__(self, intersections: Callable[[], Iterable[LiveIntersection]], *,
                 stale_ms: int = DEFAULT_STALE_MS, limits: GlosaLimits = BICYCLE_LIMITS
                 ) -> None:
        self.intersections = intersections
        self.stale_ms = stale_ms
        self.limits = limits
        #: per intersection: the MAPEM bytes and their one intersection (``None``: unusable)
        self._geometry: dict[str, tuple[bytes, IntersectionGeometry | None]] = {}
        #: per intersection: (MAPEM bytes, the SPaT's group order) and the lanes they gave
        self._lanes: dict[str, tuple[tuple[bytes, tuple[str, ...]],
                                     tuple[ApproachLane, ...]]] = {}

    def advice(self, lat: float, lon: float, heading_deg: float, speed_mps: float,
               now_ms: int) -> CyclistAdviceOut | None:
        """The rider's next light and its advice; ``None`` when no intersection the hub
        knows the position of lies ahead within 400 m with its stop line not passed."""
        rider = Rider(lat, lon, heading_deg, speed_mps, now_ms)
        junctions = []
        for x in self.intersections():
            geometry = self.geometry(x)
            if x.map is not None:
                at = (x.map.lat, x.map.lon)
            elif geometry is not None:
                at = (geometry.lat / DEG_UNITS, geometry.lon / DEG_UNITS)
            else:
                continue  # the hub does not know where it is
            if not reachable(rider, *at):
                continue
            junctions.append(self.junction(x, at, geometry))
        light = light_ahead(junctions, rider, stale_ms=self.stale_ms, limits=self.limits)
        return None if light is None else CyclistAdviceOut.of(light, now_ms)

    def geometry(self, x: LiveIntersection) -> IntersectionGeometry | None:
        """The decoded MAPEM intersection of ``x`` (decoded once per MAPEM)."""
        if x.mapem is None:
            return None
        kept = self._geometry.get(x.intersection_id)
        if kept is not None and kept[0] == x.mapem:
            return kept[1]
        try:
            found = decode_mapem(x.mapem).intersections
        except PayloadError:
            found = ()
        geometry = found[0] if len(found) == 1 else None
        self._geometry[x.intersection_id] = (x.mapem, geometry)
        return geometry

    def junction(self, x: LiveIntersection, at: tuple[float, float],
                 geometry: IntersectionGeometry | None) -> Junction:
        """The domain's view of ``x`` at ``at``: its MAP groups, SPaT and usable lanes.
        With lanes the position is the MAPEM's reference point, the lanes' origin."""
        lanes, note = self._approach_lanes(x, geometry)
        if lanes and geometry is not None:
            at = (geometry.lat / DEG_UNITS, geometry.lon / DEG_UNITS)
        name = x.map.name if x.map is not None else x.intersection_id
        groups = tuple(x.map.groups) if x.map is not None else ()
        return Junction(x.intersection_id, name, at[0], at[1], groups, lanes, note, x.spat,
                        x.spat_seen_ms)

    def _approach_lanes(self, x: LiveIntersection, geometry: IntersectionGeometry | None
                        ) -> tuple[tuple[ApproachLane, ...], str | None]:
        """The MAPEM's lanes a cyclist may ride, or none and why (the compass fallback
        then decides, and the answer's reason says so)."""
        if x.mapem is None:
            return (), "no lane geometry (no MAPEM)"
        if geometry is None:
            return (), "the MAPEM is not one readable intersection"
        if x.map is not None and geometry.revision != x.map.revision % MSG_COUNT_MODULO:
            return (), (f"the MAPEM's revision {geometry.revision} is not the MAP's "
                        f"{x.map.revision}")
        if x.spat is None:
            return (), "no SPaT to name the MAPEM's signal groups"
        if x.etsi_agrees is False:
            return (), "the SPATEM differs from the SPaT: the MAPEM's group numbers unnamed"
        key = (x.mapem, tuple(g.sg for g in x.spat.groups))
        kept = self._lanes.get(x.intersection_id)
        if kept is not None and kept[0] == key:
            return kept[1], None if kept[1] else _NO_LANES
        if x.spatem is None:
            return (), "no SPATEM to name the MAPEM's signal groups"
        try:
            states = decode_spatem(x.spatem).intersections
        except PayloadError:
            return (), "the SPATEM does not decode: the MAPEM's group numbers unnamed"
        mine = [s for s in states
                if (s.region, s.intersection_id) == (geometry.region,
                                                     geometry.intersection_id)]
        mapping = sg_by_its(mine[0], x.spat) if len(mine) == 1 else None
        if mapping is None:
            return (), "the SPATEM's groups do not line up with the SPaT's"
        lanes = approach_lanes(geometry, mapping)
        self._lanes[x.intersection_id] = (key, lanes)
        return lanes, None if lanes else _NO_LANES

"""The cyclist's next traffic light: which light, its countdown, and the speed advice.

WHY in the journey planner: a rider on a bike leg of the passenger app sends where they are,
which way they ride and how fast; the hub holds every intersection's live SPaT, so it can
answer what no other planner can: "the light ahead is red, green in 14 s (11-26 s): ride
17 km/h". Three questions, each answered here from what the hub holds, purely (no I/O):

1. **Which intersection.** The nearest whose centre lies within :data:`AHEAD_WITHIN_DEG` of
   the heading and :data:`AHEAD_WITHIN_M` of the rider, and whose stop line on the rider's
   approach is still ahead (a rider inside the junction box is no longer governed by its
   light: the next one counts).
2. **Which signal group.** With the MAPEM's lane geometry (:class:`ApproachLane`, built by
   :func:`approach_lanes`): the ingress lane whose inbound direction (towards its stop line,
   on the lane segment nearest the rider) is within :data:`APPROACH_WITHIN_DEG` of the
   heading and which lies within :func:`lateral_allowance_m` of the rider; a lane cyclists
   use (a bike lane, or one the MAPEM says is shared with cyclists) before a motor-vehicle
   lane, a lane with a straight-on movement before a turning one (the request does not say
   where the rider turns: straight on is assumed), then the nearest laterally. The lane's
   straight-on connection names the group. Without usable lane geometry the documented
   fallback (:func:`compass_approach`) reads the JSON MAP: an approach named by a compass
   point (``N``, ``NE`` ... ``NW``; German ``O`` for east) is the arm in that direction, so
   its traffic rides the opposite way (from the ``N`` arm southwards, 180°); its group is a
   ``bicycle`` group, else the ``vehicle`` group with the most lanes (cyclists follow the
   vehicle signals where they have none of their own, StVO §37(2) Nr. 6; a separate
   protected-turn group has fewer lanes than the through movement on every shipped
   junction), the MAP's first on a tie. The answer's ``match`` and ``reason`` say which rule
   chose the group.
3. **The countdown and the advice.** The countdown uses the same end the GLOSA rule assumes
   (:func:`countdown`; ``edge_agent/contract/glosa.py``): a green or amber is counted to its
   earliest end (``min_end``: a rider must not count on more), a red to its most likely end
   (``likely_end``, the controller's median; ``max_end`` only below the limits'
   ``min_confidence`` or without a likely end). The honest bounds (``min_end``, ``max_end``)
   go with it. The advice is :func:`edge_agent.contract.glosa.advise` with
   :data:`~edge_agent.contract.glosa.BICYCLE_LIMITS`, never a rule of its own. No SPaT, or
   one the hub received longer ago than ``stale_ms`` (its 10 Hz stream stopped: the light
   may have switched since), gives advice ``none`` with the reason; so does a SPaT whose
   controller calls its prediction ``stale`` (inside ``advise``).

Distances are planar on the tangent plane of each intersection's reference point (the
MAPEM's own frame, :func:`edge_agent.contract.lane_geometry.offset_of`): a few millimetres
off at 400 m.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from edge_agent.contract.etsi.mapem import IntersectionGeometry
from edge_agent.contract.etsi.spatem import IntersectionState as SpatemState
from edge_agent.contract.glosa import BICYCLE_LIMITS, GlosaAdvice, GlosaLimits, advise
from edge_agent.contract.lane_geometry import offset_of
from edge_agent.contract.payloads import (
    GREEN_STATES,
    MapGroup,
    PredictionState,
    Spat,
    SpatGroup,
)
from edge_agent.contract.spat_wire import phase_next_green

#: an intersection is "ahead" when the bearing to its centre is within this of the heading
AHEAD_WITHIN_DEG = 45.0
#: ... and its centre within this distance (a countdown further out changes before arrival)
AHEAD_WITHIN_M = 400.0
#: an approach (lane or compass arm) matches when its inbound direction is within this of
#: the heading (a rider on a bending road, GPS heading noise)
APPROACH_WITHIN_DEG = 45.0
#: how far beside a lane's centre line a rider may be and still ride on it: a wide approach
#: with a cycle track at its kerb, plus GPS error
LATERAL_WITHIN_M = 20.0
#: beyond a lane's mapped end the road may bend away from the lane's extended line: each
#: metre further out allows this many more metres sideways (about 14°)
LATERAL_PER_M_BEYOND = 0.25
#: without lane geometry the stop line is assumed this far before the centre point (the
#: shipped junctions' stop lines lie 11.5-14.5 m from their centres)
STOP_LINE_SETBACK_M = 10.0
#: a rider this close to a centre point is inside the junction: its bearing means nothing
IN_JUNCTION_M = 1.0
#: a first coarse cut (degrees of latitude, about 1.1 km) before any geometry is computed
_COARSE_DEG = 0.01

Match = Literal["mapem_lane", "map_approach", "none"]
StateWord = Literal["red", "red_amber", "amber", "green", "flashing_amber", "dark", "unknown"]
EndBasis = Literal["min_end", "likely_end", "max_end"]

_STATE_WORDS: Mapping[str, StateWord] = {
    "stop-And-Remain": "red", "stop-Then-Proceed": "red", "pre-Movement": "red_amber",
    "permissive-Movement-Allowed": "green", "protected-Movement-Allowed": "green",
    "permissive-clearance": "amber", "protected-clearance": "amber",
    "caution-Conflicting-Traffic": "flashing_amber", "dark": "dark", "unavailable": "unknown",
}
#: the states GLOSA treats as red: counted to their most likely end
_RED = frozenset({"stop-And-Remain", "stop-Then-Proceed", "pre-Movement"})
_AMBER = frozenset({"protected-clearance", "permissive-clearance"})
#: compass names of an approach -> the bearing of its arm from the centre (English and German)
COMPASS_DEG: Mapping[str, float] = {
    "N": 0.0, "NNE": 22.5, "NE": 45.0, "ENE": 67.5, "E": 90.0, "ESE": 112.5, "SE": 135.0,
    "SSE": 157.5, "S": 180.0, "SSW": 202.5, "SW": 225.0, "WSW": 247.5, "W": 270.0,
    "WNW": 292.5, "NW": 315.0, "NNW": 337.5,
    "O": 90.0, "NO": 45.0, "SO": 135.0,
    "NORTH": 0.0, "EAST": 90.0, "SOUTH": 180.0, "WEST": 270.0,
    "NORD": 0.0, "OST": 90.0, "SUED": 180.0, "SÜD": 180.0,
}
#: MAPEM maneuver bits -> our words (a connection's own maneuver)
_MANEUVER_WORDS: Mapping[str, str] = {
    "maneuverStraightAllowed": "straight", "maneuverLeftAllowed": "left",
    "maneuverRightAllowed": "right", "maneuverUTurnAllowed": "u_turn",
}

Point = tuple[float, float]


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rider:
    """The cyclist: WGS-84 position, heading (0-360°, 0 north), speed, and the hub's clock."""

    lat: float
    lon: float
    heading_deg: float
    speed_mps: float
    now_ms: int


@dataclass(frozen=True, slots=True)
class ApproachLane:
    """An ingress lane of a MAPEM as a rider may use it.

    ``nodes``: the centre line in metres (east, north) of the intersection's reference point,
    stop line first (the MAPEM's order); ``bicycle``: a bike lane or a lane the MAPEM says
    cyclists share; ``movements``: ``(maneuver, sg)`` per connection, ``sg`` as the JSON SPaT
    names the group (``maneuver`` ``""`` when the MAPEM gives none)."""

    lane_id: int
    approach: int | None
    bicycle: bool
    nodes: tuple[Point, ...]
    movements: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Junction:
    """One intersection as the hub holds it.

    ``lat``/``lon``: its reference point (the lanes' origin); ``groups``: its JSON MAP's
    signal groups (empty without a MAP); ``lanes``: the MAPEM's ingress lanes with their
    groups (empty without usable geometry, ``lanes_note`` then says why); ``spat`` and
    ``spat_seen_ms``: the latest SPaT and the hub time it arrived (0: never)."""

    intersection_id: str
    name: str
    lat: float
    lon: float
    groups: tuple[MapGroup, ...] = ()
    lanes: tuple[ApproachLane, ...] = ()
    lanes_note: str | None = None
    spat: Spat | None = None
    spat_seen_ms: int = 0


# --- outputs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Countdown:
    """When the group's state changes: ``change_at_ms`` (epoch ms) taken from ``basis``, and
    ``seconds`` from now (never below 0); the SPaT's own bounds and likely end as given."""

    basis: EndBasis
    change_at_ms: int
    seconds: float
    min_end_ms: int | None
    likely_end_ms: int | None
    max_end_ms: int | None
    confidence: int
    next_green_ms: int | None


@dataclass(frozen=True, slots=True)
class LightAhead:
    """The answer: the light ahead, how its group was chosen, its state and the advice."""

    intersection_id: str
    name: str
    #: metres to the stop line (along the lane when the MAPEM gives it)
    distance_m: float
    match: Match
    sg: str | None
    approach: str | None
    lane_id: int | None
    signal_state: str | None
    state: StateWord | None
    countdown: Countdown | None
    advice: GlosaAdvice
    prediction: PredictionState | None
    spat_age_ms: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class _Choice:
    """How the rider's group was found (or why not)."""

    match: Match
    distance_m: float
    sg: str | None
    approach: str | None
    lane_id: int | None
    why: str


# --- geometry -------------------------------------------------------------------------------


def angle_between_deg(a: float, b: float) -> float:
    """Smallest absolute difference of two bearings, 0-180°."""
    d = abs(a - b) % 360.0
    return 360.0 - d if d > 180.0 else d


def _bearing(dx: float, dy: float) -> float:
    """The bearing (0 north, clockwise) of a planar vector (east, north)."""
    return math.degrees(math.atan2(dx, dy)) % 360.0


def local_offset(lat: float, lon: float, ref_lat: float, ref_lon: float) -> Point:
    """``lat``/``lon`` in metres (east, north) of the reference point (the longitude
    difference taken the short way round)."""
    dlon = (lon - ref_lon + 180.0) % 360.0 - 180.0
    return offset_of(lat, ref_lon + dlon, ref_lat, ref_lon)


def reachable(rider: Rider, lat: float, lon: float) -> bool:
    """A cheap first cut: could an intersection at ``lat``/``lon`` be the rider's next light?
    (Only its distance; the adapter builds the lanes of those that pass.)"""
    if abs(lat - rider.lat) > _COARSE_DEG:
        return False
    x, y = local_offset(rider.lat, rider.lon, lat, lon)
    return math.hypot(x, y) <= AHEAD_WITHIN_M


@dataclass(frozen=True, slots=True)
class _OnLane:
    """The rider seen from a lane: metres to its stop line along it (negative: past it),
    metres beside its centre line, the inbound direction there, metres beyond its end."""

    to_stop_m: float
    lateral_m: float
    inbound_deg: float
    beyond_m: float


def _on_lane(nodes: tuple[Point, ...], r: Point) -> _OnLane | None:
    """Project the rider onto the lane's centre line (the nearest segment; beyond the lane's
    ends, its first or last segment extended)."""
    best: tuple[float, _OnLane] | None = None
    along = 0.0
    last = len(nodes) - 2
    for i in range(last + 1):
        (ax, ay), (bx, by) = nodes[i], nodes[i + 1]
        ux, uy = bx - ax, by - ay
        seg = math.hypot(ux, uy)
        if seg == 0.0:
            continue
        ux, uy = ux / seg, uy / seg
        rx, ry = r[0] - ax, r[1] - ay
        s = rx * ux + ry * uy  # outwards from the stop line along this segment
        t = min(max(s, 0.0), seg)
        gap = math.hypot(rx - t * ux, ry - t * uy)
        lateral = abs(rx * uy - ry * ux)
        if i == 0 and s < 0:
            to_stop = s  # on the junction side of the stop line: passed
        elif i == last and s > seg:
            to_stop = along + s
        else:
            to_stop = along + t
        beyond = max(0.0, s - seg) if i == last else 0.0
        cand = _OnLane(to_stop, lateral, _bearing(-ux, -uy), beyond)
        if best is None or gap < best[0]:
            best = (gap, cand)
        along += seg
    return None if best is None else best[1]


def lateral_allowance_m(beyond_m: float) -> float:
    """How far beside a lane the rider may be: :data:`LATERAL_WITHIN_M`, growing by
    :data:`LATERAL_PER_M_BEYOND` per metre beyond the lane's mapped end."""
    return LATERAL_WITHIN_M + LATERAL_PER_M_BEYOND * beyond_m


# --- the MAPEM's lanes ------------------------------------------------------------------------


def sg_by_its(state: SpatemState, spat: Spat) -> dict[int, str] | None:
    """The JSON SPaT's group name of each ITS signal group number, from a SPATEM of the same
    controller: its movements are written in the order of the SPaT's groups (the hub's
    agreement check relies on the same order, docs/c-its.md "The hub"). ``None`` when the
    two do not line up (another count of groups, a number twice)."""
    numbers = [m.signal_group for m in state.movements]
    if len(numbers) != len(spat.groups) or len(set(numbers)) != len(numbers):
        return None
    return {n: g.sg for n, g in zip(numbers, spat.groups, strict=True)}


def _maneuver(bits: frozenset[str] | None) -> str:
    for bit, word in _MANEUVER_WORDS.items():
        if bits is not None and bit in bits:
            return word
    return ""


def approach_lanes(geometry: IntersectionGeometry, sg_of_its: Mapping[int, str]
                   ) -> tuple[ApproachLane, ...]:
    """The ingress lanes of a decoded MAPEM intersection a cyclist may ride, with their
    groups named as in the JSON SPaT (``sg_of_its``: :func:`sg_by_its`).

    A lane counts when it leads into the junction (``ingressPath``), has at least two nodes
    and a connection whose group is known, and is a bike lane, shared with cyclists, or a
    motor-vehicle lane (not bus-only unless shared with cyclists; not tram tracks,
    crosswalks or sidewalks: their signals are not a rider's)."""
    out = []
    for lane in geometry.lanes:
        if "ingressPath" not in lane.directional_use:
            continue
        shared = "cyclistVehicleTraffic" in lane.shared_with
        bicycle = lane.lane_type == "bikeLane" or shared
        motor = lane.lane_type == "vehicle" and "restrictedToBusUse" not in lane.lane_type_bits
        if not (bicycle or motor):
            continue
        points = geometry.offsets_cm(lane)
        nodes = tuple((x / 100.0, y / 100.0) for x, y in points)
        movements = tuple((_maneuver(c.maneuver), sg_of_its[c.signal_group])
                          for c in lane.connections
                          if c.signal_group is not None and c.signal_group in sg_of_its
                          and c.remote_intersection is None)
        if len(nodes) < 2 or not movements:
            continue
        out.append(ApproachLane(lane.lane_id, lane.ingress_approach, bicycle, nodes,
                                movements))
    return tuple(out)


# --- choosing the group ---------------------------------------------------------------------


def _by_lane(j: Junction, r: Point, heading: float) -> _Choice | None:
    """The rider's lane and its group (module docstring, 2.); ``None`` when no lane fits."""
    ranked = []
    for lane in j.lanes:
        on = _on_lane(lane.nodes, r)
        if on is None or angle_between_deg(on.inbound_deg, heading) > APPROACH_WITHIN_DEG:
            continue
        if on.lateral_m > lateral_allowance_m(on.beyond_m):
            continue
        straight = any(m == "straight" for m, _sg in lane.movements)
        ranked.append(((not lane.bicycle, not straight, on.lateral_m, lane.lane_id), lane, on))
    if not ranked:
        return None
    _key, lane, on = min(ranked, key=lambda row: row[0])
    sg = next((s for m, s in lane.movements if m == "straight"), lane.movements[0][1])
    users = "bike lane" if lane.bicycle else "lane"
    # the approach as the MAP names it (the group's), else the MAPEM's ApproachID
    named = next((g.approach for g in j.groups if g.sg == sg), None)
    approach = named or (None if lane.approach is None else f"approach {lane.approach}")
    return _Choice("mapem_lane", on.to_stop_m, sg, approach, lane.lane_id,
                   f"MAPEM {users} {lane.lane_id} (approach {approach or 'unknown'}), "
                   f"group {sg}")


def compass_approach(groups: Iterable[MapGroup], heading: float
                     ) -> tuple[str, MapGroup | None] | None:
    """The fallback without lane geometry (module docstring, 2.): the compass-named approach
    whose traffic rides within :data:`APPROACH_WITHIN_DEG` of ``heading`` and the group a
    cyclist follows on it (``None``: the approach has no bicycle or vehicle group). ``None``
    when no approach name is a compass point that matches."""
    groups = tuple(groups)
    arms: dict[str, float] = {}
    for g in groups:
        arm = COMPASS_DEG.get(g.approach.strip().upper())
        if arm is not None:
            arms.setdefault(g.approach, angle_between_deg((arm + 180.0) % 360.0, heading))
    fits = [(off, name) for name, off in arms.items() if off <= APPROACH_WITHIN_DEG]
    if not fits:
        return None
    _off, name = min(fits)
    mine = [g for g in groups if g.approach == name]
    bikes = [g for g in mine if g.kind == "bicycle"]
    if bikes:
        return name, bikes[0]
    cars = [g for g in mine if g.kind == "vehicle"]
    if not cars:
        return name, None
    most = max(g.lanes for g in cars)
    return name, next(g for g in cars if g.lanes == most)


def _by_compass(j: Junction, centre_ahead_m: float, heading: float) -> _Choice:
    """The fallback without lane geometry (:func:`compass_approach`), the stop line
    :data:`STOP_LINE_SETBACK_M` before the centre."""
    distance = centre_ahead_m - STOP_LINE_SETBACK_M
    lead = j.lanes_note or "no lane geometry (MAPEM)"
    found = compass_approach(j.groups, heading)
    if found is None:
        why = ("no MAP either" if not j.groups else
               "no MAP approach named by a compass point matches the heading")
        return _Choice("none", distance, None, None, None, f"{lead}; {why}")
    name, group = found
    if group is None:
        return _Choice("none", distance, None, name, None,
                       f"{lead}; approach {name} has no bicycle or vehicle group")
    rule = ("its bicycle group" if group.kind == "bicycle"
            else "its vehicle group with the most lanes")
    return _Choice("map_approach", distance, group.sg, name, None,
                   f"{lead}; approach {name} by the MAP's compass name, group {group.sg} "
                   f"({rule}; stop line assumed {STOP_LINE_SETBACK_M:.0f} m before the centre)")


def _choose(j: Junction, r: Point, heading: float, centre_ahead_m: float) -> _Choice:
    """The lane rule when the hub has lane geometry, else the compass fallback. With lanes
    and none that fits, no group: the geometry says the rider is on none of the junction's
    mapped approaches (a parallel street, a path), so its lights are not the rider's."""
    if not j.lanes:
        return _by_compass(j, centre_ahead_m, heading)
    chosen = _by_lane(j, r, heading)
    if chosen is not None:
        return chosen
    return _Choice("none", centre_ahead_m - STOP_LINE_SETBACK_M, None, None, None,
                   "no MAPEM ingress lane matches the heading and position")


# --- the countdown ----------------------------------------------------------------------------


def countdown(group: SpatGroup, now_ms: int, limits: GlosaLimits = BICYCLE_LIMITS
              ) -> Countdown | None:
    """When ``group`` changes, by the end GLOSA assumes (module docstring, 3.); ``None``
    for a state without a predicted end (flashing, dark, unknown) or without any end."""
    end: int | None
    basis: EndBasis
    if group.state in GREEN_STATES or group.state in _AMBER:
        end, basis = ((group.min_end, "min_end") if group.min_end is not None
                      else (group.likely_end, "likely_end"))
    elif group.state in _RED:
        if group.confidence >= limits.min_confidence and group.likely_end is not None:
            end, basis = group.likely_end, "likely_end"
        elif group.max_end is not None:
            end, basis = group.max_end, "max_end"
        else:
            end, basis = group.likely_end, "likely_end"
    else:
        return None
    if end is None:
        return None
    return Countdown(basis, end, round(max(0.0, (end - now_ms) / 1000), 1), group.min_end,
                     group.likely_end, group.max_end, group.confidence,
                     phase_next_green(group))


# --- the answer -----------------------------------------------------------------------------


def _signal(j: Junction, choice: _Choice, rider: Rider, stale_ms: int,
            limits: GlosaLimits) -> LightAhead:
    """The state, countdown and advice of the chosen group. A stale SPaT (by the hub's
    receive time) shows nothing of it: the light may have switched since. A SPaT whose
    prediction the controller calls ``stale`` shows its state (true now) but no countdown:
    its timings are no prediction (glosa.py)."""
    spat = j.spat
    age = None if spat is None or not j.spat_seen_ms else max(0, rider.now_ms - j.spat_seen_ms)
    group = None
    if spat is not None and choice.sg is not None:
        group = next((g for g in spat.groups if g.sg == choice.sg), None)
    if choice.sg is None:
        advice = GlosaAdvice("none", None, "no signal group for the rider's approach")
    elif spat is None:
        advice = GlosaAdvice("none", None, f"no SPaT from {j.intersection_id}")
    elif age is not None and age > stale_ms:
        advice = GlosaAdvice("none", None, f"SPaT stale: the latest arrived {age / 1000:.1f} s "
                                           f"ago (limit {stale_ms / 1000:.1f} s)")
        group = None
    elif group is None:
        advice = GlosaAdvice("none", None, f"the SPaT has no group {choice.sg}")
    else:
        advice = advise(max(0.0, choice.distance_m), max(0.0, rider.speed_mps), group,
                        rider.now_ms, limits, prediction=spat.prediction)
    prediction = None if spat is None or spat.prediction is None else spat.prediction.state
    timed = group is not None and prediction != "stale"
    return LightAhead(
        intersection_id=j.intersection_id, name=j.name,
        distance_m=round(max(0.0, choice.distance_m), 1), match=choice.match, sg=choice.sg,
        approach=choice.approach, lane_id=choice.lane_id,
        signal_state=None if group is None else group.state,
        state=None if group is None else _STATE_WORDS.get(group.state, "unknown"),
        countdown=countdown(group, rider.now_ms, limits) if timed and group else None,
        advice=advice, prediction=prediction, spat_age_ms=age,
        reason=f"{choice.why}; {advice.reason}")


def light_ahead(junctions: Iterable[Junction], rider: Rider, *, stale_ms: int,
                limits: GlosaLimits = BICYCLE_LIMITS) -> LightAhead | None:
    """The rider's next traffic light and its advice (module docstring), or ``None`` when no
    intersection lies ahead within :data:`AHEAD_WITHIN_M` with its stop line not passed.

    ``stale_ms``: a SPaT the hub received longer ago than this gives no advice (and no
    state: it may have switched since)."""
    heading = rider.heading_deg % 360.0
    ahead = []
    for j in junctions:
        if abs(j.lat - rider.lat) > _COARSE_DEG:
            continue
        x, y = local_offset(rider.lat, rider.lon, j.lat, j.lon)
        d = math.hypot(x, y)
        if d > AHEAD_WITHIN_M or d < IN_JUNCTION_M:
            continue
        off = angle_between_deg(_bearing(-x, -y), heading)
        if off > AHEAD_WITHIN_DEG:
            continue
        ahead.append((d, j.intersection_id, j, (x, y), d * math.cos(math.radians(off))))
    for _d, _id, j, r, centre_ahead in sorted(ahead, key=lambda row: (row[0], row[1])):
        choice = _choose(j, r, heading, centre_ahead)
        if choice.distance_m < 0:
            continue  # past its stop line, inside the junction: the next light counts
        return _signal(j, choice, rider, stale_ms, limits)
    return None

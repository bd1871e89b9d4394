"""The cyclist's next light (central_hub/mobility/domain/cycling.py): which intersection is
ahead, which signal group governs the rider's approach, the countdown and the GLOSA advice
for a bicycle; and the use case that names the MAPEM's groups through the SPATEM.

The junction is the shipped Holländischer Platz (ks-0042): its MAPEM, SPATEM and MAP are
built by the controller's own encoders, so the lanes are the ones a rider meets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.mobility.cycling import CyclistAdvice, LiveIntersection
from central_hub.mobility.domain.cycling import (
    AHEAD_WITHIN_M,
    ApproachLane,
    Junction,
    Rider,
    approach_lanes,
    compass_approach,
    countdown,
    light_ahead,
    sg_by_its,
)
from edge_agent.contract.configs import IntersectionConfig, load_config
from edge_agent.contract.etsi.mapem import (
    Connection,
    IntersectionGeometry,
    Lane,
    Node,
    decode_mapem,
    encode_mapem,
)
from edge_agent.contract.etsi.spatem import ItsIntersection, decode_spatem, encode_spatem
from edge_agent.contract.glosa import BICYCLE_LIMITS, GlosaLimits
from edge_agent.contract.lane_geometry import position_of
from edge_agent.contract.payloads import (
    Map,
    MapGroup,
    MovementPhaseState,
    Spat,
    SpatGroup,
    SpatPrediction,
)
from signal_controller.app import map_fields

ROOT = Path(__file__).resolve().parents[3]
_config = load_config(ROOT / "firmware_configs/intersections/ks-0042.yaml")
assert isinstance(_config, IntersectionConfig)
CONFIG: IntersectionConfig = _config
LAT, LON = CONFIG.location.lat, CONFIG.location.lon
NOW = 1_800_000_000_000
MAPEM = encode_mapem(CONFIG, 1)
(GEOMETRY,) = decode_mapem(MAPEM).intersections
ITS = ItsIntersection.from_config(CONFIG)
LANES = approach_lanes(GEOMETRY, {its: sg for sg, its in ITS.signal_groups.items()})
MAP = Map(ts=NOW, **map_fields(CONFIG, 1).model_dump())
GROUPS = tuple(MAP.groups)
RED: MovementPhaseState = "stop-And-Remain"
GREEN: MovementPhaseState = "protected-Movement-Allowed"


def at(east: float, north: float) -> tuple[float, float]:
    """The position ``east``, ``north`` metres from the junction's reference point."""
    return position_of(east, north, LAT, LON)


def rider(east: float, north: float, heading: float, speed: float = 5.0,
          now: int = NOW) -> Rider:
    lat, lon = at(east, north)
    return Rider(lat, lon, heading, speed, now)


def group(sg: str, state: MovementPhaseState = RED, *, min_s: float | None = 5,
          likely_s: float | None = 20, max_s: float | None = 60, confidence: int = 60,
          next_green_s: float | None = None, green_end_s: float | None = None,
          now: int = NOW) -> SpatGroup:
    def ms(s: float | None) -> int | None:
        return None if s is None else now + round(s * 1000)
    return SpatGroup(sg=sg, state=state, min_end=ms(min_s), max_end=ms(max_s),
                     likely_end=ms(likely_s), confidence=confidence,
                     next_green=ms(next_green_s), green_end=ms(green_end_s))


def spat(rows: Mapping[str, SpatGroup] | None = None, *, now: int = NOW,
         prediction: SpatPrediction | None = None) -> Spat:
    """A SPaT of every ks-0042 group (red unless ``rows`` says otherwise), in config order."""
    rows = rows or {}
    return Spat(ts=now, seq=1, intersection_id="ks-0042", revision=1, status="operational",
                groups=[rows.get(g.sg) or group(g.sg, now=now) for g in CONFIG.signal_groups],
                prediction=prediction)


def junction(s: Spat | None = None, *, lanes: tuple[ApproachLane, ...] = LANES,
             groups: tuple[MapGroup, ...] = GROUPS, seen: int = NOW, iid: str = "ks-0042",
             lat: float = LAT, lon: float = LON) -> Junction:
    return Junction(iid, "Holländischer Platz", lat, lon, groups, lanes, None,
                    spat() if s is None else s, seen)


# --- ahead or behind ------------------------------------------------------------------------


def test_the_intersection_ahead_counts_not_the_one_behind() -> None:
    """120 m north of the junction riding south it is ahead; riding north it is behind."""
    found = light_ahead([junction()], rider(-8, 120, 180), stale_ms=1000)
    assert found is not None and found.intersection_id == "ks-0042"
    assert found.distance_m == 108.5  # along the lane to its stop line 11.5 m from the centre
    assert light_ahead([junction()], rider(-8, 120, 0), stale_ms=1000) is None
    # beyond 400 m, or 60° off the heading, it is not the rider's next light
    assert light_ahead([junction()], rider(-8, AHEAD_WITHIN_M + 20, 180), stale_ms=1000) is None
    assert light_ahead([junction()], rider(-150, 90, 180), stale_ms=1000) is None


def test_past_the_stop_line_the_next_light_counts() -> None:
    """Inside the junction box the rider has passed the light: the next one ahead counts."""
    lat2, lon2 = at(0, -300)
    second = junction(iid="ks-0043", lat=lat2, lon=lon2, lanes=())
    inside = rider(-6, 5, 180)
    found = light_ahead([junction(), second], inside, stale_ms=1000)
    assert found is not None and found.intersection_id == "ks-0043"
    before = light_ahead([junction(), second], rider(-6, 30, 180), stale_ms=1000)
    assert before is not None and before.intersection_id == "ks-0042"


def test_behind_the_rider_and_ahead_of_it_the_nearer_ahead_wins() -> None:
    lat_b, lon_b = at(0, 250)   # behind a rider at 150 m north riding south
    lat_f, lon_f = at(0, -250)  # ahead, further than ks-0042
    found = light_ahead([junction(iid="behind", lat=lat_b, lon=lon_b, lanes=()),
                         junction(iid="far", lat=lat_f, lon=lon_f, lanes=()), junction()],
                        rider(-8, 150, 180), stale_ms=1000)
    assert found is not None and found.intersection_id == "ks-0042"


# --- the group of the rider's approach --------------------------------------------------------


def test_the_approach_group_follows_the_heading() -> None:
    """Each arm's through group: N K1, E K2, S K3, W K4 (riders keep right, at the kerb)."""
    cases = [((-8, 120), 180.0, "K1", "N"), ((80, 3), 270.0, "K2", "E"),
             ((8, -100), 0.0, "K3", "S"), ((-90, -3), 90.0, "K4", "W")]
    for (east, north), heading, sg, approach in cases:
        found = light_ahead([junction()], rider(east, north, heading), stale_ms=1000)
        assert found is not None
        assert (found.match, found.sg, found.approach) == ("mapem_lane", sg, approach)


def test_straight_on_is_assumed_over_the_nearer_turning_lane() -> None:
    """On the N arm's left-turn lane (K5) the request does not say where the rider turns:
    the straight-on group K1 governs."""
    found = light_ahead([junction()], rider(-1.63, 30, 180), stale_ms=1000)
    assert found is not None and (found.sg, found.lane_id) == ("K1", 2)


def test_a_bike_lane_is_preferred_to_the_motor_vehicle_lane() -> None:
    car = ApproachLane(1, 1, False, ((-2.0, 12.0), (-2.0, 60.0)), (("straight", "K1"),))
    bike = ApproachLane(2, 1, True, ((-7.0, 12.0), (-7.0, 60.0)), (("straight", "R1"),))
    found = light_ahead([junction(spat({"K1": group("K1")}), lanes=(car, bike))],
                        rider(-2, 50, 180), stale_ms=1000)
    assert found is not None and (found.sg, found.lane_id) == ("R1", 2)
    assert "bike lane 2" in found.reason
    # the MAP has no R1 group: the SPaT has no row for it either, so no advice
    assert found.advice.kind == "none"


def test_a_mapem_bike_lane_and_a_bus_lane_are_read_as_cyclists_use_them() -> None:
    """A bike lane (and a lane shared with cyclists) counts; a bus-only lane, tram tracks and
    crosswalks do not; an egress lane never."""
    def lane(lane_id: int, lane_type: str, bits: frozenset[str] = frozenset(),
             shared: frozenset[str] = frozenset(), direction: str = "ingressPath"
             ) -> Lane:
        return Lane(lane_id, None, 1, None, frozenset({direction}), shared, lane_type, bits,
                    None, (Node("node-XY2", -700, 1200, None, None),
                           Node("node-XY4", 0, 4000, None, None)), None,
                    (Connection(9, frozenset({"maneuverStraightAllowed"}), 3, None, None,
                                None),))
    geometry = IntersectionGeometry(None, 42, 1, None, round(LAT * 1e7), round(LON * 1e7),
                                    None, None, (
        lane(1, "bikeLane"),
        lane(2, "vehicle", frozenset({"restrictedToBusUse"})),
        lane(3, "vehicle", frozenset({"restrictedToBusUse"}),
             frozenset({"cyclistVehicleTraffic"})),
        lane(4, "trackedVehicle"), lane(5, "crosswalk"),
        lane(6, "vehicle", direction="egressPath"), lane(7, "vehicle")))
    lanes = approach_lanes(geometry, {3: "R1"})
    assert [(x.lane_id, x.bicycle) for x in lanes] == [(1, True), (3, True), (7, False)]
    assert lanes[0].nodes == ((-7.0, 12.0), (-7.0, 52.0))
    assert lanes[0].movements == (("straight", "R1"),)
    assert approach_lanes(geometry, {}) == ()  # a group the SPaT does not name: no lane


def test_a_rider_on_no_mapped_approach_gets_no_group() -> None:
    """On a parallel street 80 m west, 150 m north, the junction is ahead (28° off the
    heading) but none of its lanes is the rider's (allowed beside the N lanes there: 20 m +
    0.25 x 88.5 m beyond their end): no group, no advice (the lights are not the rider's)."""
    found = light_ahead([junction()], rider(-80, 150, 180), stale_ms=1000)
    assert found is not None and found.match == "none" and found.sg is None
    assert found.advice.kind == "none" and "no MAPEM ingress lane" in found.reason


def test_without_lane_geometry_the_maps_compass_approach_decides() -> None:
    """The documented fallback: approach N (riding south), its vehicle group with the most
    lanes (K1, 2 lanes; not the protected left K5), the stop line 10 m before the centre."""
    found = light_ahead([junction(lanes=())], rider(-8, 120, 180), stale_ms=1000)
    assert found is not None
    assert (found.match, found.sg, found.approach) == ("map_approach", "K1", "N")
    assert found.distance_m == 110.0
    assert "compass" in found.reason and "no lane geometry" in found.reason
    named = (MapGroup(sg="K1", kind="vehicle", approach="Kölnische Straße", lanes=2),)
    found = light_ahead([junction(lanes=(), groups=named)], rider(-8, 120, 180),
                        stale_ms=1000)
    assert found is not None and found.match == "none" and found.advice.kind == "none"
    bikes = (MapGroup(sg="K1", kind="vehicle", approach="S", lanes=2),
             MapGroup(sg="R1", kind="bicycle", approach="S", lanes=1),
             MapGroup(sg="F1", kind="pedestrian", approach="N", lanes=0))
    assert compass_approach(bikes, 0.0) == ("S", bikes[1])
    assert compass_approach(bikes, 180.0) == ("N", None)  # pedestrians' signals: not a rider's
    assert compass_approach(bikes, 90.0) is None


# --- state, countdown, advice ----------------------------------------------------------------


def test_red_gives_the_speed_that_arrives_at_green_or_wait() -> None:
    """Red to its likely end (20 s, bounds 5-60 s): 108.5 m at 5 m/s would arrive in 21.7 s,
    so the advice is the speed for arriving 1 s after the red ends (glosa.py)."""
    found = light_ahead([junction()], rider(-8, 120, 180, 7.0), stale_ms=1000)
    assert found is not None and found.state == "red"
    c = found.countdown
    assert c is not None
    assert (c.basis, c.seconds, c.change_at_ms) == ("likely_end", 20.0, NOW + 20_000)
    assert (c.min_end_ms, c.max_end_ms) == (NOW + 5_000, NOW + 60_000)
    assert found.advice.kind == "adjust"
    assert found.advice.speed_mps is not None
    assert math.isclose(found.advice.speed_mps, 108.5 / 21)
    # a red that lasts too long for the slowest steady ride: wait (no advice to glide)
    long = spat({"K1": group("K1", likely_s=90, max_s=120)})
    found = light_ahead([junction(long)], rider(-8, 120, 180, 7.0), stale_ms=1000)
    assert found is not None and found.advice.kind == "stop"
    assert found.countdown is not None and found.countdown.seconds == 90.0


def test_a_red_whose_coming_green_ends_too_soon_glides_to_the_one_after() -> None:
    """The coming green (from 3 s to 10 s) ends before even 25 km/h covers the 108.5 m
    (15.6 s): the advice glides to the green after it (30 s); the countdown is still the
    red's, and its ``next_green`` (a green or amber group's) stays empty."""
    red = spat({"K1": group("K1", min_s=3, likely_s=3, max_s=30, green_end_s=10,
                            next_green_s=30)})
    found = light_ahead([junction(red)], rider(-8, 120, 180, 5.0), stale_ms=1000)
    assert found is not None and found.state == "red"
    assert found.advice.kind == "adjust" and found.advice.speed_mps is not None
    assert math.isclose(found.advice.speed_mps, 108.5 / 30)
    c = found.countdown
    assert c is not None and (c.basis, c.seconds, c.next_green_ms) == ("likely_end", 3.0, None)


def test_a_reachable_green_says_keep_and_counts_to_its_earliest_end() -> None:
    green = spat({"K1": group("K1", GREEN, min_s=30, likely_s=40, max_s=50)})
    found = light_ahead([junction(green)], rider(-8, 120, 180, 6.0), stale_ms=1000)
    assert found is not None and found.state == "green"
    assert found.countdown is not None
    assert (found.countdown.basis, found.countdown.seconds) == ("min_end", 30.0)
    assert found.advice.kind == "keep"


def test_the_countdown_uses_the_end_the_glosa_rule_assumes() -> None:
    """Below the limits' ``min_confidence`` a red counts to ``max_end``, as glosa.py does."""
    g = group("K1", confidence=20)
    strict = GlosaLimits(min_speed_mps=3.0, max_speed_mps=7.0, min_confidence=50)
    c = countdown(g, NOW, strict)
    assert c is not None and (c.basis, c.seconds) == ("max_end", 60.0)
    c = countdown(group("K1", "protected-clearance", min_s=3, likely_s=3, max_s=3), NOW)
    assert c is not None and (c.basis, c.seconds) == ("min_end", 3.0)
    assert countdown(group("K1", "caution-Conflicting-Traffic"), NOW) is None
    past = countdown(group("K1", likely_s=-2), NOW)
    assert past is not None and past.seconds == 0.0


def test_a_stale_or_missing_spat_gives_no_advice() -> None:
    r = rider(-8, 120, 180)
    old = light_ahead([junction(seen=NOW - 5_000)], r, stale_ms=1000)
    assert old is not None and old.advice.kind == "none" and "stale" in old.reason
    assert old.state is None and old.countdown is None and old.spat_age_ms == 5_000
    none = light_ahead([Junction("ks-0042", "H", LAT, LON, GROUPS, LANES)], r, stale_ms=1000)
    assert none is not None and none.advice.kind == "none" and "no SPaT" in none.reason
    flashing = spat({"K1": group("K1", "caution-Conflicting-Traffic", min_s=None,
                                 likely_s=None, max_s=None)},
                    prediction=SpatPrediction(state="stale", reasons=["flash"]))
    found = light_ahead([junction(flashing)], r, stale_ms=1000)
    assert found is not None and found.advice.kind == "none"
    assert found.state == "flashing_amber" and found.countdown is None
    assert found.prediction == "stale" and "stale" in found.reason


# --- naming the MAPEM's groups through the SPATEM ---------------------------------------------


def test_the_spatem_names_the_mapem_group_numbers_in_spat_order() -> None:
    s = spat()
    (state,) = decode_spatem(encode_spatem(s, ITS)).intersections
    assert sg_by_its(state, s) == {its: sg for sg, its in ITS.signal_groups.items()}
    fewer = Spat(ts=NOW, seq=1, intersection_id="ks-0042", revision=1, status="operational",
                 groups=s.groups[:3])
    assert sg_by_its(state, fewer) is None


def test_the_use_case_reads_lanes_from_the_hubs_mapem_and_falls_back_without() -> None:
    s = spat()
    spatem = encode_spatem(s, ITS)
    lat, lon = at(-8, 120)
    full = LiveIntersection("ks-0042", MAP, s, NOW, MAPEM, spatem, True)
    got = CyclistAdvice(lambda: [full]).advice(lat, lon, 180.0, 5.0, NOW)
    assert got is not None and (got.match, got.sg, got.approach) == ("mapem_lane", "K1", "N")
    assert got.seconds_to_change == 20.0 and got.change_basis == "likely_end"
    assert (got.min_end_s, got.likely_end_s, got.max_end_s) == (5.0, 20.0, 60.0)
    differs = LiveIntersection("ks-0042", MAP, s, NOW, MAPEM, spatem, False)
    got = CyclistAdvice(lambda: [differs]).advice(lat, lon, 180.0, 5.0, NOW)
    assert got is not None and got.match == "map_approach" and "SPATEM differs" in got.reason
    bare = LiveIntersection("ks-0042", MAP, s, NOW, None, None, None)
    got = CyclistAdvice(lambda: [bare]).advice(lat, lon, 180.0, 5.0, NOW)
    assert got is not None and got.match == "map_approach" and "no MAPEM" in got.reason
    # a MAPEM of another map revision than the MAP's is not used
    newer = Map(ts=NOW, **map_fields(CONFIG, 2).model_dump())
    moved = LiveIntersection("ks-0042", newer, s, NOW, MAPEM, spatem, True)
    got = CyclistAdvice(lambda: [moved]).advice(lat, lon, 180.0, 5.0, NOW)
    assert got is not None and got.match == "map_approach" and "revision" in got.reason
    # without a MAP the MAPEM's reference point places it; without either it is unknown
    no_map = LiveIntersection("ks-0042", None, s, NOW, MAPEM, spatem, None)
    got = CyclistAdvice(lambda: [no_map]).advice(lat, lon, 180.0, 5.0, NOW)
    assert got is not None and got.match == "mapem_lane" and got.name == "ks-0042"
    nowhere = LiveIntersection("ks-0042", None, s, NOW, None, None, None)
    assert CyclistAdvice(lambda: [nowhere]).advice(lat, lon, 180.0, 5.0, NOW) is None


# --- any input ----------------------------------------------------------------------------------

_STATES: tuple[MovementPhaseState, ...] = (
    "unavailable", "dark", "stop-Then-Proceed", "stop-And-Remain", "pre-Movement",
    "permissive-Movement-Allowed", "protected-Movement-Allowed", "permissive-clearance",
    "protected-clearance", "caution-Conflicting-Traffic")
_SECONDS = st.one_of(st.none(), st.floats(-30, 200, allow_nan=False))


@st.composite
def _groups(draw: st.DrawFn) -> dict[str, SpatGroup]:
    """Any state and times of the groups a rider can get (the through groups K1-K4)."""
    return {sg: group(sg, draw(st.sampled_from(_STATES)), min_s=draw(_SECONDS),
                      likely_s=draw(_SECONDS), max_s=draw(_SECONDS),
                      confidence=draw(st.integers(0, 100)), next_green_s=draw(_SECONDS))
            for sg in ("K1", "K2", "K3", "K4")}


@st.composite
def _riders(draw: st.DrawFn) -> tuple[float, float, float]:
    """Anywhere on earth with any heading, or within 600 m of the junction, half of those
    riding roughly towards it (so that the advice is exercised, not only "nothing ahead")."""
    if draw(st.booleans()):
        return (draw(st.floats(-90, 90)), draw(st.floats(-180, 180)),
                draw(st.floats(0, 360)))
    east, north = draw(st.floats(-600, 600)), draw(st.floats(-600, 600))
    lat, lon = at(east, north)
    if draw(st.booleans()):
        return lat, lon, draw(st.floats(0, 360))
    towards = math.degrees(math.atan2(-east, -north)) % 360
    return lat, lon, (towards + draw(st.floats(-60, 60))) % 360


@settings(max_examples=200, deadline=None)
@given(where=_riders(), speed=st.floats(0, 20), rows=_groups(), lanes=st.booleans(),
       age=st.integers(0, 3_000),
       prediction=st.sampled_from([None, "ok", "degraded", "stale"]))
def test_any_position_heading_and_speed_answer_within_the_bicycle_limits(
        where: tuple[float, float, float], speed: float, rows: dict[str, SpatGroup],
        lanes: bool, age: int, prediction: str | None) -> None:
    pred = None if prediction is None else SpatPrediction(state=prediction,  # type: ignore[arg-type]
                                                          reasons=[])
    j = junction(spat(rows, prediction=pred), lanes=LANES if lanes else (), seen=NOW - age)
    found = light_ahead([j], Rider(where[0], where[1], where[2], speed, NOW), stale_ms=1000)
    if found is None:
        return
    assert found.distance_m >= 0
    if found.advice.kind == "adjust":
        assert found.advice.speed_mps is not None
        assert (BICYCLE_LIMITS.min_speed_mps - 1e-9 <= found.advice.speed_mps
                <= BICYCLE_LIMITS.max_speed_mps + 1e-9)
    else:
        assert found.advice.speed_mps is None
    if found.countdown is not None:
        assert found.countdown.seconds >= 0
    if age > 1000:
        assert found.advice.kind == "none" and found.state is None

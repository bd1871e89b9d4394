"""The "arterial" scenario: a Kassel-like main road with six signalised junctions and bus line 52.

Why computed, not hand-written XML: every number the evaluation depends on — junction spacing,
lane counts, where the bus stops are, which signal group serves which approach, the intergreen
matrix (by the RiLSA-style formula of :mod:`signal_controller.domain.rilsa`), the stage plan —
is data here, so a unit test can check it and the SUMO files, the controller configs and the
baseline program all come from the same source.

Layout (x east, y north, metres; right-hand traffic)::

    W0 ── J1 ── J2 ── J3 ── J4 ── J5 ── J6 ── E7      arterial: 2 lanes each way, 50 km/h,
          │     │     │     │     │     │              plus a cycle lane each way
          (N and S arms at every junction)            side streets: 1 lane each way, 200 m

Lanes of an edge, from the kerb: 0 the sidewalk, then (arterial only) the cycle lane, then the
driving lanes. Cyclists on the cycle lane follow the arterial's vehicle signal (K1/K2), as on
a German *Radfahrstreifen* without its own signal; so K1/K2's intergreens are the larger of the
motor-vehicle and the cyclist clearing times (RiLSA).

Signal groups per junction (same names at every junction): K1 arterial from the west, K2 from
the east, K3 side street from the north, K4 from the south (left and right turns permissive),
F1..F4 pedestrian crossings over the N, E, S and W arms. Stages: S1 = {K1, K2, F1, F3}
(arterial and the crossings parallel to it), S2 = {K3, K4, F2, F4}.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from signal_controller.domain.rilsa import Movement, intergreen

#: Kassel, Wilhelmshöher Allee (the scenario's west end), for the intersection configs.
ORIGIN_LAT = 51.3138
ORIGIN_LON = 9.4420
#: metres per degree of latitude (mean Earth radius).
M_PER_DEG_LAT = 111_195.0

LANE_WIDTH_M = 3.2
SIDEWALK_WIDTH_M = 2.0
#: the arterial's cycle lanes (ERA: a *Radfahrstreifen* is 1.85 m including its marking).
BIKE_LANE_WIDTH_M = 1.85
ARTERIAL_LANES = 2
SIDE_LANES = 1
SPEED_MPS = 13.89
SIDE_ARM_M = 200.0
#: stop line to the edge of the junction box (the crossing lies in between).
STOPLINE_SETBACK_M = 5.0
#: distance from the stop line to the crossing in front of it.
STOPLINE_TO_CROSSING_M = 1.5
#: where a far-side bus stop begins behind the junction (m from the edge start), its length.
FAR_SIDE_STOP_START_M = 30.0
BUS_STOP_LENGTH_M = 25.0

GROUPS: tuple[tuple[str, str, str], ...] = (
    ("K1", "vehicle", "W"),
    ("K2", "vehicle", "E"),
    ("K3", "vehicle", "N"),
    ("K4", "vehicle", "S"),
    ("F1", "pedestrian", "N"),
    ("F2", "pedestrian", "E"),
    ("F3", "pedestrian", "S"),
    ("F4", "pedestrian", "W"),
)
#: arm whose crossing each pedestrian group serves.
CROSSING_ARM = {"F1": "N", "F2": "E", "F3": "S", "F4": "W"}
#: vehicle group by approach arm.
APPROACH_GROUP = {"W": "K1", "E": "K2", "N": "K3", "S": "K4"}
STAGE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("S1", ("K1", "K2", "F1", "F3")),
    ("S2", ("K3", "K4", "F2", "F4")),
)
#: vehicle groups whose approach has a cycle lane (cyclists ride with these signals).
CYCLE_GROUPS = frozenset({"K1", "K2"})
BUS_ROUTE_ID = "52"


@dataclass(frozen=True, slots=True)
class StageTiming:
    """Actuated limits of one stage (s)."""

    min_green_s: float
    max_green_s: float
    gap_s: float


@dataclass(frozen=True, slots=True)
class SignalTiming:
    """Timing parameters shared by every junction of the scenario (the tuning knobs)."""

    arterial: StageTiming = StageTiming(10.0, 40.0, 3.0)
    side: StageTiming = StageTiming(8.0, 25.0, 3.0)
    vehicle_min_green_s: float = 5.0
    amber_s: float = 3.0
    red_amber_s: float = 1.0
    #: pedestrian minimum greens: over a side street, over the arterial.
    ped_side_min_green_s: float = 6.0
    ped_arterial_min_green_s: float = 8.0
    priority_max_extension_s: float = 15.0
    priority_max_early_s: float = 10.0
    #: how far upstream of the stop line the controller's loops lie.
    loop_setback_m: float = 30.0


@dataclass(frozen=True, slots=True)
class Junction:
    """One signalised junction on the arterial."""

    id: str
    device_id: str
    name: str
    x: float


@dataclass(frozen=True, slots=True)
class Node:
    """A network node for netconvert."""

    id: str
    x: float
    y: float
    signalised: bool


@dataclass(frozen=True, slots=True)
class Edge:
    """A directed road for netconvert (a sidewalk lane is added as lane 0, then the cycle lane
    when ``bike_lane``)."""

    id: str
    src: str
    dst: str
    lanes: int
    speed: float
    bike_lane: bool = False

    @property
    def first_vehicle_lane(self) -> int:
        """SUMO index of the right-most driving lane (the bus lane of a stop)."""
        return 2 if self.bike_lane else 1

    @property
    def bike_lane_index(self) -> int | None:
        """SUMO index of the cycle lane, ``None`` without one."""
        return 1 if self.bike_lane else None


@dataclass(frozen=True, slots=True)
class BusStop:
    """A bus stop on the right-most driving lane (SUMO index ``lane`` of ``edge``)."""

    id: str
    name: str
    edge: str
    lane: int
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Network:
    """Everything netconvert and the additional files need about the geometry."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    junctions: tuple[Junction, ...]
    stops_east: tuple[BusStop, ...]
    stops_west: tuple[BusStop, ...]
    #: arterial edge ids west->east and east->west.
    eastbound: tuple[str, ...]
    westbound: tuple[str, ...]

    def edge(self, edge_id: str) -> Edge:
        """The edge called ``edge_id``."""
        for e in self.edges:
            if e.id == edge_id:
                return e
        raise KeyError(edge_id)

    def length(self, edge_id: str) -> float:
        """Straight-line length of an edge (m)."""
        e = self.edge(edge_id)
        by = {n.id: n for n in self.nodes}
        a, b = by[e.src], by[e.dst]
        return float(((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5)


#: real Kassel junction names along a west-east main road, for readable reports.
JUNCTION_NAMES = (
    "Wilhelmshöher Allee / Kunoldstraße",
    "Wilhelmshöher Allee / Querallee",
    "Wilhelmshöher Allee / Goethestraße",
    "Wilhelmshöher Allee / Kirchweg",
    "Wilhelmshöher Allee / Annastraße",
    "Wilhelmshöher Allee / Bismarckstraße",
)
#: junction x positions (m): irregular spacing as on a real arterial.
JUNCTION_X = (300.0, 620.0, 910.0, 1230.0, 1520.0, 1850.0)
ARTERIAL_END_X = 2150.0


def build_network() -> Network:
    """The arterial's geometry (see the module docstring)."""
    nodes = [Node("W0", 0.0, 0.0, False), Node("E7", ARTERIAL_END_X, 0.0, False)]
    junctions = []
    for i, x in enumerate(JUNCTION_X, start=1):
        jid = f"J{i}"
        junctions.append(Junction(jid, f"ks-sim-{i:02d}", JUNCTION_NAMES[i - 1], x))
        nodes += [
            Node(jid, x, 0.0, True),
            Node(f"{jid}n", x, SIDE_ARM_M, False),
            Node(f"{jid}s", x, -SIDE_ARM_M, False),
        ]
    chain = ["W0", *(j.id for j in junctions), "E7"]
    edges = []
    east: list[str] = []
    west: list[str] = []
    for a, b in itertools.pairwise(chain):
        edges.append(Edge(f"{a}_{b}", a, b, ARTERIAL_LANES, SPEED_MPS, bike_lane=True))
        edges.append(Edge(f"{b}_{a}", b, a, ARTERIAL_LANES, SPEED_MPS, bike_lane=True))
        east.append(f"{a}_{b}")
        west.insert(0, f"{b}_{a}")
    for j in junctions:
        for arm in ("n", "s"):
            side = f"{j.id}{arm}"
            edges.append(Edge(f"{side}_{j.id}", side, j.id, SIDE_LANES, SPEED_MPS))
            edges.append(Edge(f"{j.id}_{side}", j.id, side, SIDE_LANES, SPEED_MPS))
    net = Network(tuple(nodes), tuple(edges), tuple(junctions), (), (), tuple(east), tuple(west))
    return Network(
        net.nodes, net.edges, net.junctions, _stops(net, east, "E"), _stops(net, west, "W"),
        net.eastbound, net.westbound,
    )


def _stops(net: Network, chain: list[str], direction: str) -> tuple[BusStop, ...]:
    """A far-side stop just behind every junction (the block's first metres).

    Why far-side: it is the layout recommended for transit priority — a bus asks for the next
    green after it has served the stop, so the dwell time (unknown to the controller) does not
    lie between the request and the stop line, and a granted green is not wasted.
    """
    out = []
    for edge_id in chain[1:]:
        src, dst = edge_id.split("_")
        out.append(BusStop(
            f"stop_{direction}_{edge_id}", f"{src}-{dst}", edge_id,
            net.edge(edge_id).first_vehicle_lane,
            FAR_SIDE_STOP_START_M, FAR_SIDE_STOP_START_M + BUS_STOP_LENGTH_M,
        ))
    return tuple(out)


def xy_to_latlon(x: float, y: float) -> tuple[float, float]:
    """Scenario coordinates (m, SUMO's net frame) to WGS-84 (equirectangular, fine in a city)."""
    lat = ORIGIN_LAT + y / M_PER_DEG_LAT
    lon = ORIGIN_LON + x / (M_PER_DEG_LAT * math.cos(math.radians(ORIGIN_LAT)))
    return lat, lon


# --- signal plans ---------------------------------------------------------------------------


def _widths() -> tuple[float, float]:
    """Carriageway widths (m) of the arterial (with its cycle lanes) and the side street."""
    return (2 * ARTERIAL_LANES * LANE_WIDTH_M + 2 * BIKE_LANE_WIDTH_M,
            2 * SIDE_LANES * LANE_WIDTH_M)


def conflict_distances() -> dict[tuple[str, str], tuple[float, float, bool]]:
    """``(clearing, entering) -> (s_clear, s_enter, clearing turns)`` for every conflict.

    Conservative as RiLSA asks: the clearing movement is taken to the far edge of the last
    conflicting lane, the entering movement to the near edge of the first one; vehicle groups
    contain left turns and clear at the turning speed.
    """
    art, side = _widths()
    s0 = STOPLINE_SETBACK_M
    d = STOPLINE_TO_CROSSING_M
    out: dict[tuple[str, str], tuple[float, float, bool]] = {}
    # arterial vs side-street vehicles: the arterial crosses the side street's width, the side
    # street the arterial's; the entering group from the near side meets the clearing lanes
    # at once (0 m), which is the worst case for both directions.
    for a in ("K1", "K2"):
        for b in ("K3", "K4"):
            out[(a, b)] = (s0 + side + 3.0, s0, True)
            out[(b, a)] = (s0 + art + 3.0, s0, True)
    # vehicles vs the crossings they pass: their own arm (just past the stop line) and the
    # far arm (after crossing the junction box).
    own = {"K1": "F4", "K2": "F2", "K3": "F1", "K4": "F3"}
    far = {"K1": "F2", "K2": "F4", "K3": "F3", "K4": "F1"}
    width = {"F1": side, "F3": side, "F2": art, "F4": art}
    for k in ("K1", "K2", "K3", "K4"):
        box = side if k in ("K1", "K2") else art
        for f, s_clear in ((own[k], d), (far[k], s0 + box + d)):
            out[(k, f)] = (s_clear + width[f], 0.0, False)
            out[(f, k)] = (width[f], s_clear, False)
    return out


def intergreens() -> dict[str, dict[str, float]]:
    """The intergreen matrix (s) of every junction, by the RiLSA-style formula.

    A group with cyclists (:data:`CYCLE_GROUPS`) clears at the larger of the motor-vehicle and
    the cyclist time: cyclists are slower (4 m/s, 1 s passing time) and take the longest time
    to clear the far crossing. Entering, motor vehicles are the faster, so the worse case.
    """
    timing = SignalTiming()
    kind = {sg: k for sg, k, _ in GROUPS}
    out: dict[str, dict[str, float]] = {}
    for (a, b), (s_clear, s_enter, turning) in conflict_distances().items():
        ka, kb = kind[a], kind[b]
        amber = timing.amber_s if ka == "vehicle" else 0.0
        seconds = intergreen(Movement(ka, s_clear, turning, amber), Movement(kb, s_enter)).seconds
        if a in CYCLE_GROUPS:
            cyclist = intergreen(Movement("bicycle", s_clear), Movement(kb, s_enter))
            seconds = max(seconds, cyclist.seconds)
        out.setdefault(a, {})[b] = float(max(seconds, 1))
    return {a: dict(sorted(row.items())) for a, row in sorted(out.items())}


def stage_of(sg: str) -> str:
    """The stage serving ``sg``."""
    for stage, groups in STAGE_GROUPS:
        if sg in groups:
            return stage
    raise KeyError(sg)


def vehicle_lane_indices(edge: Edge) -> tuple[int, ...]:
    """SUMO indices of the driving lanes of ``edge`` (not the sidewalk, not the cycle lane)."""
    return tuple(range(edge.first_vehicle_lane, edge.first_vehicle_lane + edge.lanes))


def approach_edge(net: Network, junction: Junction, arm: str) -> str:
    """The incoming edge of ``junction`` from ``arm`` (W, E, N, S)."""
    if arm == "N":
        return f"{junction.id}n_{junction.id}"
    if arm == "S":
        return f"{junction.id}s_{junction.id}"
    ids = [j.id for j in net.junctions]
    i = ids.index(junction.id)
    if arm == "W":
        return f"{'W0' if i == 0 else ids[i - 1]}_{junction.id}"
    return f"{'E7' if i == len(ids) - 1 else ids[i + 1]}_{junction.id}"


def cycle_lanes_into(net: Network, junction: Junction) -> tuple[str, ...]:
    """SUMO lane ids of the cycle lanes approaching ``junction``: no loop lies on them (the
    controller's loops count motor vehicles only), so SUMO's own actuated program must not
    build one there either."""
    out = []
    for arm in APPROACH_GROUP:
        edge = net.edge(approach_edge(net, junction, arm))
        if edge.bike_lane_index is not None:
            out.append(f"{edge.id}_{edge.bike_lane_index}")
    return tuple(out)


def loop_ids(net: Network, junction: Junction) -> dict[str, tuple[str, str]]:
    """``detector id -> (lane id, sg)`` of the controller's loops at ``junction``."""
    out: dict[str, tuple[str, str]] = {}
    for arm, sg in APPROACH_GROUP.items():
        edge = approach_edge(net, junction, arm)
        for lane in vehicle_lane_indices(net.edge(edge)):
            out[f"{junction.id}_{sg}_{lane}"] = (f"{edge}_{lane}", sg)
    return out


def intersection_config_data(
    net: Network, junction: Junction, timing: SignalTiming, *, priority: bool
) -> dict[str, object]:
    """The IntersectionConfig (docs/interfaces.md: Config files) of ``junction`` as plain data."""
    lat, lon = xy_to_latlon(junction.x, 0.0)
    min_green = {
        "F1": timing.ped_side_min_green_s, "F3": timing.ped_side_min_green_s,
        "F2": timing.ped_arterial_min_green_s, "F4": timing.ped_arterial_min_green_s,
    }
    groups: list[dict[str, object]] = []
    for sg, kind, approach in GROUPS:
        if kind == "pedestrian":
            groups.append({
                "sg": sg, "kind": kind, "approach": approach, "min_green_s": min_green[sg],
                "amber_s": 0.0, "red_amber_s": 0.0, "lanes": 0, "protected": False,
            })
        else:
            lanes = ARTERIAL_LANES if sg in ("K1", "K2") else SIDE_LANES
            groups.append({
                "sg": sg, "kind": kind, "approach": approach,
                "min_green_s": timing.vehicle_min_green_s, "amber_s": timing.amber_s,
                "red_amber_s": timing.red_amber_s, "lanes": lanes, "protected": False,
            })
    stage_t = {"S1": timing.arterial, "S2": timing.side}
    stages = []
    for sid, members in STAGE_GROUPS:
        t = stage_t[sid]
        floor = max(min_green.get(sg, timing.vehicle_min_green_s) for sg in members)
        stages.append({
            "id": sid, "groups": list(members), "min_green_s": max(t.min_green_s, floor),
            "max_green_s": max(t.max_green_s, t.min_green_s, floor), "gap_s": t.gap_s,
        })
    detectors = [
        {"id": d, "sg": sg, "kind": "loop"} for d, (_, sg) in loop_ids(net, junction).items()
    ]
    return {
        "device_id": junction.device_id,
        "kind": "intersection",
        "name": junction.name,
        "location": {"lat": round(lat, 6), "lon": round(lon, 6)},
        "signal_groups": groups,
        "intergreen_s": intergreens(),
        "control": {"mode": "actuated", "stages": stages},
        "detectors": detectors,
        "priority": {
            "enabled": priority,
            "max_extension_s": timing.priority_max_extension_s,
            "max_early_s": timing.priority_max_early_s,
            "groups": ["K1", "K2"],
        },
    }

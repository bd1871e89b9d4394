"""Lane geometry of an intersection config: what a MAPEM (ETSI TS 103 301, ISO TS 19091
MapData) describes, written the way a traffic engineer surveys it (docs/c-its.md, "MAPEM").

Why a module of its own: vehicles match their position to a lane and the lane, through its
connections, to the signal group whose SPATEM state applies to them. That needs each lane's
centre line, its direction, what may use it and which signal group controls each movement
out of it. The config's ``geometry`` section holds this (optional: a config without it loads,
only the MAPEM cannot be built). These models check each lane on its own; the rules that
need the signal groups (every connection names a known group whose kind suits the lane, every
group is used) are in :func:`geometry_problems`, which the intersection model calls.

Positions: the canonical form is an offset in metres from the intersection's ``location``
(x east, y north), kept to the centimetre; a node may also be written as ``{lat, lon}``
(WGS-84), which the intersection model turns into an offset (:meth:`GeometryConfig.resolved`)
on a local tangent plane of the WGS-84 ellipsoid (a few millimetres off at 300 m).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from math import cos, degrees, hypot, radians, sin, sqrt
from types import MappingProxyType
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge_agent.contract.ids import Id, Latitude, Longitude

#: a lane's users: general traffic, a bus-only lane, tram tracks, a cycle lane, a crosswalk.
LaneKind = Literal["vehicle", "bus", "tram", "bicycle", "crosswalk"]
#: ``ingress`` lanes lead into the junction, ``egress`` lanes out; ``both`` (crosswalks,
#: two-way cycle paths) are used either way.
LaneDirection = Literal["ingress", "egress", "both"]
#: a movement from an ingress lane into an egress lane.
Movement = Literal["straight", "left", "right", "u_turn"]
#: what a lane allows: the movements, and turning on red (a German green arrow, "Grünpfeil").
Maneuver = Literal["straight", "left", "right", "u_turn", "left_on_red", "right_on_red"]
#: traffic that shares a lane with equal right (LaneSharing).
SharedMode = Literal["vehicle", "bus", "taxi", "tram", "bicycle", "pedestrian"]

#: NodeOffsetPointXY variants of ISO TS 19091 (node-XY1 .. node-XY6): each carries a delta of
#: x and y in centimetres within ``-limit .. limit - 1``; the smallest that fits is sent.
NODE_XY_LIMITS: Final[tuple[tuple[str, int], ...]] = (
    ("node-XY1", 512), ("node-XY2", 1024), ("node-XY3", 2048), ("node-XY4", 4096),
    ("node-XY5", 8192), ("node-XY6", 32768),
)
#: NodeSetXY ::= SEQUENCE (SIZE(2..63)) OF NodeXY
MIN_NODES, MAX_NODES = 2, 63
#: ApproachID ::= INTEGER (0..15), 0 meaning unknown
MAX_APPROACH = 15
#: connectsTo ::= SEQUENCE (SIZE(1..16)) OF Connection
MAX_CONNECTIONS = 16
#: Offset-B10 of a node's dWidth: the lane's width minus the intersection's laneWidth, cm.
D_WIDTH_LIMIT_CM = 512
#: the signal-group kinds that may control a lane of each kind (pedestrian groups only
#: crosswalks, a combined crossing may have a cycle signal; trams in mixed traffic follow
#: the vehicle signals, cycle lanes without their own signal too).
GROUP_KINDS_OF_LANE: Final = MappingProxyType({
    "vehicle": frozenset({"vehicle", "bus"}),
    "bus": frozenset({"vehicle", "bus", "tram"}),
    "tram": frozenset({"tram", "vehicle", "bus"}),
    "bicycle": frozenset({"bicycle", "vehicle"}),
    "crosswalk": frozenset({"pedestrian", "bicycle"}),
})

#: WGS-84 semi-major axis (m) and first eccentricity squared.
_A = 6_378_137.0
_E2 = 6.694_379_990_14e-3

Metres = Annotated[float, Field(ge=-10_000.0, le=10_000.0, allow_inf_nan=False)]
#: an offset from the reference point: metres east, metres north.
Offset = tuple[Metres, Metres]


def _radii(lat: float) -> tuple[float, float]:
    """Meridional and prime-vertical radius of curvature (m) of WGS-84 at ``lat`` degrees."""
    s = sin(radians(lat))
    w = sqrt(1.0 - _E2 * s * s)
    return _A * (1.0 - _E2) / (w * w * w), _A / w


def offset_of(lat: float, lon: float, ref_lat: float, ref_lon: float) -> tuple[float, float]:
    """The offset in metres (east, north) of ``lat``/``lon`` from ``ref_lat``/``ref_lon``."""
    mid = (lat + ref_lat) / 2
    m, n = _radii(mid)
    return radians(lon - ref_lon) * n * cos(radians(mid)), radians(lat - ref_lat) * m


def position_of(x: float, y: float, ref_lat: float, ref_lon: float) -> tuple[float, float]:
    """The WGS-84 ``(lat, lon)`` at offset ``x`` east, ``y`` north metres (inverse of
    :func:`offset_of`)."""
    lat = ref_lat
    for _ in range(3):  # the mid latitude depends on the answer: converges at once
        mid = (lat + ref_lat) / 2
        m, _n = _radii(mid)
        lat = ref_lat + degrees(y / m)
    mid = (lat + ref_lat) / 2
    _m, n = _radii(mid)
    return lat, ref_lon + degrees(x / (n * cos(radians(mid))))


def to_cm(metres: float) -> int:
    """Metres to whole centimetres (the MAPEM's resolution)."""
    return round(metres * 100)


def node_variant(dx_cm: int, dy_cm: int) -> str | None:
    """The smallest node-XY variant that carries the delta, ``None`` when none does."""
    for name, limit in NODE_XY_LIMITS:
        if -limit <= dx_cm < limit and -limit <= dy_cm < limit:
            return name
    return None


class _Model(BaseModel):
    """Config sections: unknown keys are errors, values immutable (as ``ConfigModel``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class GeoPoint(_Model):
    """A node written as a WGS-84 position (turned into an offset at load)."""

    lat: Latitude
    lon: Longitude


class ConnectionConfig(_Model):
    """A movement out of a lane: into egress lane ``lane``, controlled by signal group ``sg``."""

    lane: Annotated[int, Field(ge=1, le=255)]
    sg: Id
    maneuver: Movement = "straight"


class LaneConfig(_Model):
    """One lane: its centre line from the junction outward, its users and its movements.

    ``nodes``: at least 2, at most 63 points; the first is at the stop line (ingress) or
    where the lane leaves the junction (egress), the others follow the lane away from it.
    ``maneuvers`` (ingress lanes) defaults to the movements of ``connections``.
    """

    lane_id: Annotated[int, Field(ge=1, le=255)]
    kind: LaneKind
    direction: LaneDirection
    approach: Annotated[int, Field(ge=1, le=MAX_APPROACH)] | Id
    nodes: Annotated[list[Offset | GeoPoint], Field(min_length=MIN_NODES, max_length=MAX_NODES)]
    maneuvers: list[Maneuver] | None = None
    shared_with: list[SharedMode] = Field(default_factory=list)
    #: this lane's width where it differs from the geometry's ``lane_width_m``
    width_m: Annotated[float, Field(gt=0.0, le=327.67)] | None = None
    connections: Annotated[list[ConnectionConfig], Field(max_length=MAX_CONNECTIONS)] = Field(
        default_factory=list)

    @field_validator("nodes")
    @classmethod
    def _to_the_centimetre(cls, nodes: list[Offset | GeoPoint]) -> list[Offset | GeoPoint]:
        return [n if isinstance(n, GeoPoint) else (round(n[0], 2), round(n[1], 2))
                for n in nodes]

    @model_validator(mode="after")
    def _movements_fit_the_lane(self) -> LaneConfig:
        if self.direction == "egress" and (self.connections or self.maneuvers):
            raise ValueError(f"lane {self.lane_id}: an egress lane has no connections or "
                             "maneuvers (they are given on the lanes leading in)")
        if self.maneuvers is not None:
            allowed = set(self.maneuvers)
            for c in self.connections:
                if c.maneuver not in allowed:
                    raise ValueError(f"lane {self.lane_id}: connection to lane {c.lane} turns "
                                     f"{c.maneuver}, which the lane's maneuvers do not allow")
            for on_red, turn in (("left_on_red", "left"), ("right_on_red", "right")):
                if on_red in allowed and turn not in allowed:
                    raise ValueError(f"lane {self.lane_id}: {on_red} without {turn}")
        targets = [(c.lane, c.sg) for c in self.connections]
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"lane {self.lane_id}: connection to lane {twice[0][0]} under "
                             f"{twice[0][1]} is listed twice")
        return self

    def offsets_cm(self) -> tuple[tuple[int, int], ...]:
        """The nodes as centimetre offsets from the reference point (after :meth:`resolve`)."""
        out = []
        for n in self.nodes:
            if isinstance(n, GeoPoint):
                raise ValueError(f"lane {self.lane_id}: node {n} is not resolved to an offset")
            out.append((to_cm(n[0]), to_cm(n[1])))
        return tuple(out)

    def allowed_maneuvers(self) -> frozenset[str]:
        """``maneuvers``, or the movements of the connections when not given."""
        if self.maneuvers is not None:
            return frozenset(self.maneuvers)
        return frozenset(c.maneuver for c in self.connections)

    def resolve(self, ref_lat: float, ref_lon: float) -> LaneConfig:
        """This lane with every ``{lat, lon}`` node turned into its offset."""
        if not any(isinstance(n, GeoPoint) for n in self.nodes):
            return self
        nodes: list[Offset | GeoPoint] = []
        for n in self.nodes:
            if isinstance(n, GeoPoint):
                x, y = offset_of(n.lat, n.lon, ref_lat, ref_lon)
                nodes.append((round(x, 2), round(y, 2)))
            else:
                nodes.append(n)
        return self.model_copy(update={"nodes": nodes})


class GeometryConfig(_Model):
    """The lanes of an intersection around its ``location`` (the MAPEM's reference point).

    ``elevation_m``: the reference point's height (WGS-84, 0.1 m steps); ``lane_width_m``:
    the width of a lane unless the lane says otherwise.
    """

    elevation_m: Annotated[float, Field(ge=-409.5, le=6143.9)] | None = None
    lane_width_m: Annotated[float, Field(ge=0.0, le=327.67)] | None = None
    lanes: Annotated[list[LaneConfig], Field(min_length=1, max_length=255)]

    def resolved(self, ref_lat: float, ref_lon: float) -> GeometryConfig:
        """This geometry with every node an offset from ``ref_lat``/``ref_lon``."""
        lanes = [lane.resolve(ref_lat, ref_lon) for lane in self.lanes]
        if all(a is b for a, b in zip(lanes, self.lanes, strict=True)):
            return self
        return self.model_copy(update={"lanes": lanes})

    def lane(self, lane_id: int) -> LaneConfig:
        """The lane numbered ``lane_id``."""
        for lane in self.lanes:
            if lane.lane_id == lane_id:
                return lane
        raise KeyError(lane_id)


def approach_numbers(group_approaches: Iterable[str], lanes: Sequence[LaneConfig]
                     ) -> dict[str | int, int]:
    """The ApproachID of each approach the lanes name: a number as written; a name (as the
    signal groups use them) numbered 1, 2, ... in order of first use by the signal groups,
    then by the lanes."""
    named = [lane.approach for lane in lanes if isinstance(lane.approach, str)]
    out: dict[str | int, int] = {}
    for name in [*group_approaches, *named]:
        out.setdefault(name, len(out) + 1)
    for lane in lanes:
        if isinstance(lane.approach, int):
            out[lane.approach] = lane.approach
    return out


def _is_ingress(lane: LaneConfig) -> bool:
    return lane.direction in ("ingress", "both")


def _is_egress(lane: LaneConfig) -> bool:
    return lane.direction in ("egress", "both")


def geometry_problems(geometry: GeometryConfig, groups: Mapping[str, tuple[str, str]]
                      ) -> list[str]:
    """What is wrong with ``geometry`` given the signal groups (``sg -> (kind, approach)``):
    one message per problem, each starting with the field it concerns."""
    problems: list[str] = []
    where = "geometry.lanes"
    ids = Counter(lane.lane_id for lane in geometry.lanes)
    problems.extend(f"{where}: lane_id {n} is used {k} times" for n, k in ids.items() if k > 1)
    by_id = {lane.lane_id: lane for lane in geometry.lanes}
    kinds = {isinstance(lane.approach, int) for lane in geometry.lanes}
    if len(kinds) > 1:
        problems.append(f"{where}: approaches are either all names or all numbers")
    elif kinds == {False}:
        numbers = approach_numbers((a for _k, a in groups.values()), geometry.lanes)
        if len(numbers) > MAX_APPROACH:
            problems.append(f"{where}: {len(numbers)} approaches, a MAPEM numbers at most "
                            f"{MAX_APPROACH}")
    used: set[str] = set()
    for i, lane in enumerate(geometry.lanes):
        at = f"{where}[{i}]"
        problems.extend(_node_problems(lane, at, geometry.lane_width_m))
        for j, c in enumerate(lane.connections):
            problems.extend(_connection_problems(lane, c, f"{at}.connections[{j}]", by_id,
                                                 groups))
            used.add(c.sg)
    unused = [sg for sg in groups if sg not in used]
    if unused:
        problems.append(f"geometry: signal groups {', '.join(unused)} control no connection "
                        "(every group needs a lane whose connection it controls)")
    return problems


def _node_problems(lane: LaneConfig, at: str, lane_width: float | None) -> list[str]:
    problems = []
    try:
        points = lane.offsets_cm()
    except ValueError as exc:
        return [f"{at}.nodes: {exc}"]
    prev = (0, 0)
    for k, (x, y) in enumerate(points):
        if node_variant(x - prev[0], y - prev[1]) is None:
            frm = "the reference point" if k == 0 else f"node {k - 1}"
            problems.append(f"{at}.nodes[{k}]: more than 327.67 m from {frm} in x or y (the "
                            "largest node offset): add a node in between")
        elif k and (x, y) == prev:
            problems.append(f"{at}.nodes[{k}]: the same point as node {k - 1}")
        prev = (x, y)
    if lane.direction != "both" and hypot(*points[0]) > hypot(*points[-1]):
        problems.append(f"{at}.nodes: the first node must be the one at the junction (the "
                        f"stop line of an ingress lane), the lane runs away from it")
    if lane.width_m is not None:
        if lane_width is None:
            problems.append(f"{at}.width_m: needs geometry.lane_width_m (a lane's width is "
                            "sent as its difference from it)")
        elif not -D_WIDTH_LIMIT_CM <= to_cm(lane.width_m - lane_width) < D_WIDTH_LIMIT_CM:
            problems.append(f"{at}.width_m: {lane.width_m} m differs from lane_width_m "
                            f"{lane_width} m by 5.12 m or more")
    return problems


def _connection_problems(lane: LaneConfig, c: ConnectionConfig, at: str,
                         by_id: Mapping[int, LaneConfig],
                         groups: Mapping[str, tuple[str, str]]) -> list[str]:
    problems = []
    if not _is_ingress(lane):
        problems.append(f"{at}: lane {lane.lane_id} is not an ingress lane")
    target = by_id.get(c.lane)
    if target is None:
        problems.append(f"{at}.lane: no lane {c.lane}")
    elif not _is_egress(target):
        problems.append(f"{at}.lane: lane {c.lane} is an ingress lane, a connection leads "
                        "into an egress lane")
    group = groups.get(c.sg)
    if group is None:
        problems.append(f"{at}.sg: unknown signal group {c.sg}")
        return problems
    kind, approach = group
    if kind not in GROUP_KINDS_OF_LANE[lane.kind]:
        problems.append(f"{at}.sg: {c.sg} is a {kind} group, a {lane.kind} lane takes "
                        f"{', '.join(sorted(GROUP_KINDS_OF_LANE[lane.kind]))} groups")
    if isinstance(lane.approach, str) and approach != lane.approach:
        problems.append(f"{at}.sg: {c.sg} is on approach {approach}, lane {lane.lane_id} on "
                        f"{lane.approach}")
    return problems

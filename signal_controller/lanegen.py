"""Lane geometry of the generated intersection configs (their ``geometry`` section, which the
MAPEM is built from: docs/c-its.md, "MAPEM").

Why generated: the shipped junctions are described by their arms (bearing, stop-line
distance, lanes from the centre line to the kerb with the signal group and maneuvers of
each, tram tracks in the median, crosswalks); lane centre lines, lane numbers and the
connection of every ingress lane to the egress lanes it feeds follow from that by fixed rules,
so they cannot disagree with the signal groups. Right-hand traffic:

* An arm's axis points from the reference point (the config's ``location``) outward at
  ``bearing_deg`` (clockwise from north). Ingress lane k (0 at the centre line) lies
  ``median_m / 2 + (k + 0.5) * LANE_WIDTH_M`` right of the axis as seen by traffic heading
  in, egress lane k as far left; a tram track in the median lies ``median_m / 4`` off it.
* An ingress lane runs from its stop line (``stop_line_m`` from the reference point) out by
  its ``length_m``; an egress lane from the same distance out by ``EGRESS_LENGTH_M``.
* Movements: straight leaves by the arm opposite (bearing + 180°), left by bearing + 90°,
  right by bearing - 90°, a U-turn by the same arm (the arm nearest that bearing, within
  45°). The straight (left) lanes feed the egress lanes from the centre line outward in
  order, the right-turn lanes from the kerb inward; a tram track feeds the opposite arm's.
* A crosswalk crosses an arm ``distance_m`` from the reference point (default: 3 m inside
  the stop line), ``length_m`` long, centred on the carriageway; it is used both ways and
  connects to itself under its pedestrian group.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import copysign, cos, floor, radians, sin

#: a lane's width and a crosswalk's (the config's ``lane_width_m``, a crosswalk's ``width_m``)
LANE_WIDTH_M = 3.25
CROSSWALK_WIDTH_M = 4.0
INGRESS_LENGTH_M = 50.0
EGRESS_LENGTH_M = 40.0
#: a crosswalk lies this far inside the stop line (1 m gap, half its width, rounded up)
CROSSWALK_INSIDE_M = 3.0
_TURN_DEG = {"straight": 180.0, "left": 90.0, "right": -90.0, "u_turn": 0.0}


@dataclass(frozen=True)
class LaneSpec:
    """An ingress lane: the group controlling it and the movements it allows."""

    sg: str
    maneuvers: tuple[str, ...]
    kind: str = "vehicle"
    length_m: float = INGRESS_LENGTH_M


@dataclass(frozen=True)
class ArmSpec:
    """One arm of the junction: ingress lanes from the centre line to the kerb, the number
    of egress lanes, tram tracks in the median (``tram_in``: the group of the inbound track;
    ``tram_out``: an outbound track)."""

    approach: str
    bearing_deg: float
    stop_line_m: float
    ingress: tuple[LaneSpec, ...]
    egress: int
    median_m: float = 0.0
    tram_in: str | None = None
    tram_out: bool = False


@dataclass(frozen=True)
class CrosswalkSpec:
    """A pedestrian crossing of the arm ``arm`` under group ``sg``."""

    sg: str
    arm: str
    length_m: float
    distance_m: float | None = None


@dataclass
class _Lane:
    data: dict[str, object]
    arm: ArmSpec
    index: int  # from the centre line outward
    spec: LaneSpec | None = None


def _point(arm: ArmSpec, along: float, right: float) -> list[float]:
    """``along`` metres out along the arm's axis, ``right`` metres to the right of traffic
    heading in, as ``[x east, y north]`` rounded to the centimetre."""
    along, right = _cm(along), _cm(right)
    t = radians(arm.bearing_deg)
    x = along * sin(t) - right * cos(t)
    y = along * cos(t) + right * sin(t)
    return [round(x, 2) + 0.0, round(y, 2) + 0.0]


def _cm(metres: float) -> float:
    """Rounded to the centimetre, halves away from zero (so a lane and its mirror match)."""
    return copysign(floor(abs(metres) * 100 + 0.5) / 100, metres)


def _target_arm(arms: tuple[ArmSpec, ...], arm: ArmSpec, maneuver: str) -> ArmSpec:
    want = (arm.bearing_deg + _TURN_DEG[maneuver]) % 360

    def off(a: ArmSpec) -> float:
        d = abs(a.bearing_deg - want) % 360
        return min(d, 360 - d)

    best = min(arms, key=off)
    if off(best) > 45:
        raise ValueError(f"arm {arm.approach}: no arm to leave by for {maneuver}")
    return best


def geometry(arms: tuple[ArmSpec, ...], crosswalks: tuple[CrosswalkSpec, ...],
             group_approach: dict[str, str], elevation_m: float) -> dict[str, object]:
    """The ``geometry`` section of a config: lanes numbered 1, 2, ... arm by arm (ingress
    lanes, the inbound track, egress lanes, the outbound track), crosswalks last."""
    lanes: list[_Lane] = []
    egress: dict[str, list[_Lane]] = {}
    track_out: dict[str, _Lane] = {}
    for arm in arms:
        half = arm.median_m / 2
        for k, spec in enumerate(arm.ingress):
            lat = half + (k + 0.5) * LANE_WIDTH_M
            lanes.append(_Lane(_lane(len(lanes) + 1, spec.kind, "ingress", arm.approach, [
                _point(arm, arm.stop_line_m, lat),
                _point(arm, arm.stop_line_m + spec.length_m, lat)]), arm, k, spec))
        if arm.tram_in is not None:
            spec = LaneSpec(arm.tram_in, ("straight",), "tram")
            lanes.append(_Lane(_lane(len(lanes) + 1, "tram", "ingress", arm.approach, [
                _point(arm, arm.stop_line_m, half / 2),
                _point(arm, arm.stop_line_m + INGRESS_LENGTH_M, half / 2)]), arm, -1, spec))
        for k in range(arm.egress):
            lat = -(half + (k + 0.5) * LANE_WIDTH_M)
            lane = _Lane(_lane(len(lanes) + 1, "vehicle", "egress", arm.approach, [
                _point(arm, arm.stop_line_m, lat),
                _point(arm, arm.stop_line_m + EGRESS_LENGTH_M, lat)]), arm, k)
            lanes.append(lane)
            egress.setdefault(arm.approach, []).append(lane)
        if arm.tram_out:
            lane = _Lane(_lane(len(lanes) + 1, "tram", "egress", arm.approach, [
                _point(arm, arm.stop_line_m, -half / 2),
                _point(arm, arm.stop_line_m + EGRESS_LENGTH_M, -half / 2)]), arm, -1)
            lanes.append(lane)
            track_out[arm.approach] = lane
    for lane in lanes:
        if lane.spec is not None:
            lane.data["maneuvers"] = list(lane.spec.maneuvers)
            lane.data["connections"] = _connections(lane, arms, egress, track_out)
    by_arm = {a.approach: a for a in arms}
    out = [lane.data for lane in lanes]
    for cw in crosswalks:
        arm = by_arm[cw.arm]
        along = arm.stop_line_m - CROSSWALK_INSIDE_M if cw.distance_m is None else cw.distance_m
        width_in = len(arm.ingress) * LANE_WIDTH_M
        width_out = arm.egress * LANE_WIDTH_M
        centre = (width_in - width_out) / 2
        data = _lane(len(out) + 1, "crosswalk", "both", group_approach[cw.sg], [
            _point(arm, along, centre + cw.length_m / 2),
            _point(arm, along, centre - cw.length_m / 2)])
        data["width_m"] = CROSSWALK_WIDTH_M
        data["connections"] = [{"lane": data["lane_id"], "sg": cw.sg, "maneuver": "straight"}]
        out.append(data)
    return {"elevation_m": elevation_m, "lane_width_m": LANE_WIDTH_M, "lanes": out}


def _lane(lane_id: int, kind: str, direction: str, approach: str,
          nodes: list[list[float]]) -> dict[str, object]:
    return {"lane_id": lane_id, "kind": kind, "direction": direction, "approach": approach,
            "nodes": nodes}


def _connections(lane: _Lane, arms: tuple[ArmSpec, ...], egress: dict[str, list[_Lane]],
                 track_out: dict[str, _Lane]) -> list[dict[str, object]]:
    spec = lane.spec
    assert spec is not None
    out: list[dict[str, object]] = []
    for maneuver in ("straight", "left", "right", "u_turn"):
        if maneuver not in spec.maneuvers:
            continue
        target = _target_arm(arms, lane.arm, maneuver)
        if spec.kind == "tram":
            into = track_out[target.approach]
        else:
            exits = egress[target.approach]
            peers = [k for k, s in enumerate(lane.arm.ingress) if maneuver in s.maneuvers]
            rank = peers.index(lane.index)
            if maneuver == "right":  # from the kerb inward
                into = exits[len(exits) - 1 - min(len(peers) - 1 - rank, len(exits) - 1)]
            else:
                into = exits[min(rank, len(exits) - 1)]
        out.append({"lane": into.data["lane_id"], "sg": spec.sg, "maneuver": maneuver})
    return out

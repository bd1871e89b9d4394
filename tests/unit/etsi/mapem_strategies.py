"""Hypothesis strategies of intersection configs with valid lane geometry (for the MAPEM)."""

from __future__ import annotations

from math import cos, radians, sin
from typing import Any

from hypothesis import strategies as st

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.lane_geometry import position_of

APPROACHES = ("N", "E", "S", "W")
#: group kind -> the lane kinds it may control (edge_agent.contract.lane_geometry)
LANE_KINDS = {"vehicle": ("vehicle", "bus", "tram", "bicycle"), "bus": ("vehicle", "bus", "tram"),
              "tram": ("tram", "bus"), "bicycle": ("bicycle", "crosswalk"),
              "pedestrian": ("crosswalk",)}
MANEUVERS = ("straight", "left", "right", "u_turn")


@st.composite
def nodes(draw: st.DrawFn, ref: tuple[float, float], both: bool) -> list[Any]:
    """2..63 nodes running away from the junction along one bearing, in whole cm, some
    written as WGS-84 positions."""
    bearing = radians(draw(st.floats(0, 360, exclude_max=True)))
    lateral = draw(st.integers(-2000, 2000))
    r = draw(st.integers(0, 10_000))
    out: list[Any] = []
    for k in range(draw(st.integers(2, 20 if not both else 4))):
        if k:
            r += draw(st.integers(100, 15_000))
        x = round(r * sin(bearing) + lateral * cos(bearing))
        y = round(r * cos(bearing) - lateral * sin(bearing))
        if draw(st.integers(0, 9)) == 0:
            lat, lon = position_of(x / 100, y / 100, *ref)
            out.append({"lat": lat, "lon": lon})
        else:
            out.append([x / 100, y / 100])
    return out


@st.composite
def mapem_configs(draw: st.DrawFn) -> IntersectionConfig:
    """A valid intersection config with ``its`` and ``geometry``: per signal group one lane it
    controls (a crosswalk connecting to itself, or an ingress lane connected to egress
    lanes), some lanes with maneuvers, shared modes and their own widths."""
    ref = (draw(st.floats(-80, 80)), draw(st.floats(-179, 179)))
    n = draw(st.integers(1, 8))
    kinds = draw(st.lists(st.sampled_from(list(LANE_KINDS)), min_size=n, max_size=n))
    its_sgs = draw(st.lists(st.integers(1, 255), min_size=n, max_size=n, unique=True))
    groups = [{"sg": f"G{i}", "kind": kinds[i], "approach": draw(st.sampled_from(APPROACHES)),
               "min_green_s": 5, "amber_s": 3, "red_amber_s": 1, "its_sg": its_sgs[i]}
              for i in range(n)]
    lane_width = draw(st.none() | st.integers(250, 400).map(lambda cm: cm / 100))
    ids = iter(draw(st.lists(st.integers(1, 255), min_size=3 * n, max_size=3 * n,
                             unique=True)))
    lanes: list[dict[str, Any]] = []
    for g in groups:
        kind = draw(st.sampled_from(LANE_KINDS[g["kind"]]))
        lane: dict[str, Any] = {"lane_id": next(ids), "kind": kind, "approach": g["approach"]}
        if kind == "crosswalk":
            lane |= {"direction": "both", "nodes": draw(nodes(ref, both=True)),
                     "connections": [{"lane": lane["lane_id"], "sg": g["sg"]}]}
        else:
            exits = []
            for _ in range(draw(st.integers(1, 2))):
                exits.append({"lane_id": next(ids), "kind": draw(st.sampled_from(
                    ("vehicle", "bus", "tram", "bicycle"))), "direction": "egress",
                    "approach": draw(st.sampled_from(APPROACHES)),
                    "nodes": draw(nodes(ref, both=False))})
            moves = [draw(st.sampled_from(MANEUVERS)) for _ in exits]
            lane |= {"direction": "ingress", "nodes": draw(nodes(ref, both=False)),
                     "connections": [{"lane": e["lane_id"], "sg": g["sg"], "maneuver": m}
                                     for e, m in zip(exits, moves, strict=True)]}
            if draw(st.booleans()):
                extra = draw(st.lists(st.sampled_from(
                    ("straight", "left", "right", "u_turn")), max_size=2))
                allowed = sorted({*moves, *extra})
                if "right" in allowed and draw(st.booleans()):
                    allowed.append("right_on_red")
                lane["maneuvers"] = allowed
            lanes.extend(exits)
        lane["shared_with"] = draw(st.lists(st.sampled_from(
            ("vehicle", "bus", "taxi", "tram", "bicycle", "pedestrian")), max_size=3,
            unique=True))
        if lane_width is not None and draw(st.booleans()):
            lane["width_m"] = round(lane_width + draw(st.integers(-200, 500)) / 100, 2)
        lanes.insert(draw(st.integers(0, len(lanes))), lane)
    geometry: dict[str, Any] = {"lanes": lanes}
    if lane_width is not None:
        geometry["lane_width_m"] = lane_width
    elevation = draw(st.none() | st.integers(-4095, 61439))
    if elevation is not None:
        geometry["elevation_m"] = elevation / 10
    data = {
        "device_id": "ks-0001", "kind": "intersection",
        "name": draw(st.sampled_from(("Holländischer Platz", "Kreuzung", "Straße ß Ü",
                                      "x" * 80, "—"))),
        "location": {"lat": ref[0], "lon": ref[1]},
        "signal_groups": groups, "intergreen_s": {},
        "control": {"mode": "fixed_time", "cycle_s": 60, "greens": {"G0": [[0, 10]]}},
        "its": {"station_id": draw(st.integers(0, 2**32 - 1)),
                "intersection_id": draw(st.integers(0, 65535))}
        | ({} if draw(st.booleans()) else {"region": draw(st.integers(0, 65535))}),
        "geometry": geometry,
    }
    return IntersectionConfig.model_validate(data)

"""The ``geometry`` section of an intersection config (docs/c-its.md, "MAPEM"): what loads, and
each rule refused with the file, the field and a clear message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.contract.configs import IntersectionConfig, load_config
from edge_agent.contract.lane_geometry import (
    NODE_XY_LIMITS,
    GeoPoint,
    node_variant,
    offset_of,
    position_of,
)
from edge_agent.errors import ConfigError

BASE: dict[str, Any] = {
    "device_id": "ks-0042", "kind": "intersection", "name": "Holländischer Platz",
    "location": {"lat": 51.3227, "lon": 9.5067},
    "signal_groups": [
        {"sg": "K1", "kind": "vehicle", "approach": "N", "min_green_s": 5, "amber_s": 3,
         "red_amber_s": 1, "its_sg": 1},
        {"sg": "F1", "kind": "pedestrian", "approach": "N", "min_green_s": 5, "amber_s": 0,
         "red_amber_s": 0, "its_sg": 2},
    ],
    "intergreen_s": {"K1": {"F1": 5}, "F1": {"K1": 4}},
    "control": {"mode": "fixed_time", "cycle_s": 60,
                "greens": {"K1": [[0, 20]], "F1": [[30, 50]]}},
    "its": {"station_id": 561000042, "intersection_id": 42},
    "geometry": {"elevation_m": 163.0, "lane_width_m": 3.25, "lanes": [
        {"lane_id": 1, "kind": "vehicle", "direction": "ingress", "approach": "N",
         "nodes": [[-1.63, 11.5], [-1.63, 61.5]], "maneuvers": ["straight", "right"],
         "connections": [{"lane": 2, "sg": "K1", "maneuver": "straight"}]},
        {"lane_id": 2, "kind": "vehicle", "direction": "egress", "approach": "S",
         "nodes": [[-1.63, -11.5], [-1.63, -51.5]]},
        {"lane_id": 3, "kind": "crosswalk", "direction": "both", "approach": "N",
         "nodes": [[-4.0, 8.5], [4.0, 8.5]], "width_m": 4.0,
         "connections": [{"lane": 3, "sg": "F1"}]},
    ]},
}


def _load(tmp_path: Path, data: dict[str, Any]) -> IntersectionConfig:
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cfg = load_config(path)
    assert isinstance(cfg, IntersectionConfig)
    return cfg


def _lanes(d: dict[str, Any]) -> list[dict[str, Any]]:
    lanes: list[dict[str, Any]] = d["geometry"]["lanes"]
    return lanes


def test_the_geometry_loads_and_is_optional(tmp_path: Path) -> None:
    cfg = _load(tmp_path, BASE)
    assert cfg.geometry is not None
    assert cfg.geometry.lane(1).offsets_cm() == ((-163, 1150), (-163, 6150))
    assert cfg.geometry.lane(1).allowed_maneuvers() == {"straight", "right"}
    assert cfg.geometry.lane(3).allowed_maneuvers() == {"straight"}  # from its connection
    without = copy.deepcopy(BASE)
    del without["geometry"]
    assert _load(tmp_path, without).geometry is None


def test_nodes_may_be_written_as_wgs84_and_become_offsets(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    lat, lon = position_of(-1.63, -51.5, 51.3227, 9.5067)
    _lanes(data)[1]["nodes"][1] = {"lat": lat, "lon": lon}
    _lanes(data)[0]["nodes"] = [[-1.6349, 11.501], [-1.63, 61.5]]  # kept to the centimetre
    cfg = _load(tmp_path, data)
    assert cfg.geometry is not None
    assert cfg.geometry.lane(2).nodes[1] == (-1.63, -51.5)
    assert cfg.geometry.lane(1).nodes[0] == (-1.63, 11.5)
    assert not any(isinstance(n, GeoPoint) for lane in cfg.geometry.lanes for n in lane.nodes)


@pytest.mark.parametrize(("lat", "lon"), [(51.3227, 9.5067), (-33.9, 151.2), (69.6, 18.9)])
def test_wgs84_offsets_and_back_agree_to_the_millimetre(lat: float, lon: float) -> None:
    for x, y in ((0.0, 0.0), (300.0, -250.0), (-327.0, 327.0), (12.34, 0.01)):
        back = offset_of(*position_of(x, y, lat, lon), lat, lon)
        assert abs(back[0] - x) < 1e-3 and abs(back[1] - y) < 1e-3
    # one arc-second of latitude is about 30.9 m, of longitude at 51.3 N about 19.4 m
    x, y = offset_of(51.3227 + 1 / 3600, 9.5067 + 1 / 3600, 51.3227, 9.5067)
    assert 19.2 < x < 19.6 and 30.8 < y < 31.0


def test_the_smallest_node_variant_that_fits() -> None:
    assert node_variant(0, 0) == "node-XY1"
    assert node_variant(511, -512) == "node-XY1"
    assert node_variant(512, 0) == "node-XY2"
    assert node_variant(-1025, 0) == "node-XY3"
    assert node_variant(0, 8191) == "node-XY5"
    assert node_variant(0, 8192) == "node-XY6"
    assert node_variant(32767, -32768) == "node-XY6"
    assert node_variant(32768, 0) is None
    assert [limit for _, limit in NODE_XY_LIMITS] == [512, 1024, 2048, 4096, 8192, 32768]


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        *head, last = path.split(".")
        target: Any = d
        for key in head:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value
    return change


L0 = "geometry.lanes.0"
L1 = "geometry.lanes.1"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (_set(f"{L1}.lane_id", 1), "geometry.lanes", "lane_id 1 is used 2 times"),
        (_set(f"{L0}.lane_id", 0), "geometry.lanes[0].lane_id", "greater than or equal to 1"),
        (_set(f"{L0}.lane_id", 256), "geometry.lanes[0].lane_id", "less than or equal to 255"),
        (_set(f"{L0}.kind", "car"), "geometry.lanes[0].kind", "'vehicle', 'bus', 'tram'"),
        (_set(f"{L0}.direction", "in"), "geometry.lanes[0].direction", "'ingress'"),
        (_set(f"{L0}.nodes", [[1.0, 12.0]]), "geometry.lanes[0].nodes", "at least 2 items"),
        (_set(f"{L0}.nodes", [[0.0, 10.0 + i] for i in range(64)]),
         "geometry.lanes[0].nodes", "at most 63 items"),
        (_set(f"{L0}.nodes", [[-1.63, 11.5], [-1.63, 400.0]]), "geometry.lanes[0].nodes[1]",
         "more than 327.67 m from node 0"),
        (_set(f"{L0}.nodes", [[-1.63, 400.0], [-1.63, 700.0]]), "geometry.lanes[0].nodes[0]",
         "more than 327.67 m from the reference point"),
        (_set(f"{L0}.nodes", [[-1.63, 61.5], [-1.63, 11.5]]), "geometry.lanes[0].nodes",
         "the first node must be the one at the junction"),
        (_set(f"{L0}.nodes", [[-1.63, 11.5], [-1.63, 11.5], [0, 60]]),
         "geometry.lanes[0].nodes[1]", "the same point as node 0"),
        (_set(f"{L0}.nodes.0", {"lat": 91, "lon": 9.5}), "geometry.lanes[0].nodes[0]",
         "less than or equal to 90"),
        (_set(f"{L0}.connections.0.lane", 9), "geometry.lanes[0].connections[0].lane",
         "no lane 9"),
        (_set(f"{L0}.connections.0.lane", 1), "geometry.lanes[0].connections[0].lane",
         "lane 1 is an ingress lane, a connection leads into an egress lane"),
        (_set(f"{L1}.connections", [{"lane": 2, "sg": "K1"}]), "geometry.lanes[1]",
         "an egress lane has no connections"),
        (_set(f"{L0}.connections.0.sg", "K9"), "geometry.lanes[0].connections[0].sg",
         "unknown signal group K9"),
        (_set(f"{L0}.connections.0.sg", "F1"), "geometry.lanes[0].connections[0].sg",
         "F1 is a pedestrian group, a vehicle lane takes bus, vehicle groups"),
        (_set("geometry.lanes.2.connections.0.sg", "K1"), "geometry",
         "signal groups F1 control no connection"),
        (_set(f"{L0}.approach", "E"), "geometry.lanes[0].connections[0].sg",
         "K1 is on approach N, lane 1 on E"),
        (_set(f"{L0}.approach", 1), "geometry.lanes",
         "approaches are either all names or all numbers"),
        (_set(f"{L0}.approach", 16), "geometry.lanes[0].approach", "less than or equal to 15"),
        (_set(f"{L0}.maneuvers", ["right"]), "geometry.lanes[0]",
         "connection to lane 2 turns straight, which the lane's maneuvers do not allow"),
        (_set(f"{L0}.maneuvers", ["straight", "right_on_red"]), "geometry.lanes[0]",
         "right_on_red without right"),
        (_set(f"{L0}.connections.0.maneuver", "sideways"),
         "geometry.lanes[0].connections[0].maneuver", "'straight'"),
        (_set(f"{L0}.connections", [{"lane": 2, "sg": "K1"}] * 2), "geometry.lanes[0]",
         "connection to lane 2 under K1 is listed twice"),
        (_set(f"{L0}.connections", [{"lane": 2, "sg": "K1"}] * 17),
         "geometry.lanes[0].connections", "at most 16 items"),
        (_set("geometry.lane_width_m", None), "geometry.lanes[2].width_m",
         "needs geometry.lane_width_m"),
        (_set("geometry.lanes.2.width_m", 9.0), "geometry.lanes[2].width_m",
         "differs from lane_width_m 3.25 m by 5.12 m or more"),
        (_set("geometry.elevation_m", 7000), "geometry.elevation_m",
         "less than or equal to 6143.9"),
        (_set("geometry.lanes", []), "geometry.lanes", "at least 1 item"),
        (_set(f"{L0}.colour", "red"), "geometry.lanes[0].colour", "Extra inputs"),
    ],
)
def test_each_rule_is_refused_naming_file_and_field(
        tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str,
        words: str) -> None:
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, data)
    text = str(info.value)
    assert str(tmp_path / "x.yaml") in text
    assert field in text, text
    assert words in text, text


def test_numbered_approaches_load(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    for n, lane in enumerate(_lanes(data), start=3):
        lane["approach"] = n
    cfg = _load(tmp_path, data)
    assert cfg.geometry is not None and cfg.geometry.lane(2).approach == 4


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "c-its.md").read_text(
        encoding="utf-8")
    start = doc.index("```yaml\nlocation:") + len("```yaml\n")
    example = yaml.safe_load(doc[start:doc.index("```", start)])
    cfg = _load(tmp_path, copy.deepcopy(BASE) | example)  # K1 and F1 on approach N
    assert cfg.geometry is not None
    assert [lane.lane_id for lane in cfg.geometry.lanes] == [1, 2, 3]
    x, y = cfg.geometry.lane(2).offsets_cm()[1]
    assert abs(x - round((9.50668 - 9.5067) * 69_600 * 100)) < 10 and -5460 < y < -5440

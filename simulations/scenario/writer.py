"""Writes the scenario's SUMO input files (plain XML for netconvert, routes, additionals).

Why an adapter of its own: the domain computes geometry and demand as data; this module only
serialises it in SUMO's formats, so the formats are in one place and the data stays testable.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from simulations.scenario.domain.arterial import (
    BIKE_LANE_WIDTH_M,
    LANE_WIDTH_M,
    SIDEWALK_WIDTH_M,
    Network,
    SignalTiming,
    loop_ids,
)
from simulations.scenario.domain.demand import Demand
from simulations.scenario.domain.signals import Phase

#: SUMO emission class of the buses (HBEFA 3, urban bus) and of the cars.
BUS_EMISSION_CLASS = "HBEFA3/Bus"
CAR_EMISSION_CLASS = "HBEFA3/PC_G_EU4"
#: the cyclists' vType: ``desiredMaxSpeed`` times a rider's ``speedFactor`` is their cruising
#: speed (SUMO's allowed speed for them); 25 km/h is the top (pedelec assistance limit).
BIKE_DESIRED_MPS = 5.0
BIKE_MAX_MPS = 25 / 3.6
#: SUMO's value of a lane's parameter in an actuated program that builds no detector there.
NO_DETECTOR = "NO_DETECTOR"


def _write(root: ET.Element, path: Path) -> Path:
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def write_plain_network(net: Network, out: Path) -> tuple[Path, Path]:
    """``<name>.nod.xml`` and ``<name>.edg.xml`` for netconvert."""
    nodes = ET.Element("nodes")
    for n in net.nodes:
        attrs = {"id": n.id, "x": _num(n.x), "y": _num(n.y)}
        if n.signalised:
            attrs |= {"type": "traffic_light", "tlType": "actuated"}
        else:
            attrs["type"] = "priority"
        ET.SubElement(nodes, "node", attrs)
    edges = ET.Element("edges")
    for e in net.edges:
        attrs = {
            "id": e.id, "from": e.src, "to": e.dst, "numLanes": str(e.lanes),
            "speed": _num(e.speed), "width": _num(LANE_WIDTH_M),
            "sidewalkWidth": _num(SIDEWALK_WIDTH_M),
        }
        if e.bike_lane:
            attrs["bikeLaneWidth"] = _num(BIKE_LANE_WIDTH_M)
        ET.SubElement(edges, "edge", attrs)
    return (
        _write(nodes, out / "arterial.nod.xml"),
        _write(edges, out / "arterial.edg.xml"),
    )


def write_routes(net: Network, demand: Demand, out: Path) -> Path:
    """Vehicle types, cars, the timetabled buses, the cyclists and the pedestrians, sorted by
    departure."""
    root = ET.Element("routes")
    ET.SubElement(root, "vType", {
        "id": "car", "vClass": "passenger", "emissionClass": CAR_EMISSION_CLASS,
        "speedDev": "0.1",
    })
    ET.SubElement(root, "vType", {
        "id": "bus", "vClass": "bus", "length": "12", "minGap": "2.5", "maxSpeed": "13.89",
        "accel": "1.2", "decel": "4.0", "speedFactor": "1", "speedDev": "0",
        "emissionClass": BUS_EMISSION_CLASS, "guiShape": "bus",
    })
    ET.SubElement(root, "vType", {
        "id": "bike", "vClass": "bicycle", "maxSpeed": _num(BIKE_MAX_MPS),
        "desiredMaxSpeed": _num(BIKE_DESIRED_MPS), "speedDev": "0",
    })
    items: list[tuple[float, int, ET.Element]] = []
    for car in demand.cars:
        el = ET.Element("vehicle", {
            "id": car.id, "type": "car", "depart": _num(car.depart), "departLane": "best",
            "departSpeed": "max",
        })
        ET.SubElement(el, "route", {"edges": " ".join(car.edges)})
        items.append((car.depart, 0, el))
    for bus in demand.buses:
        el = ET.Element("vehicle", {
            "id": bus.id, "type": "bus", "depart": _num(bus.depart),
            "departLane": str(net.edge(bus.edges[0]).first_vehicle_lane),
            "departSpeed": "max", "line": "52",
        })
        ET.SubElement(el, "param", {"key": "has.emissions.device", "value": "true"})
        ET.SubElement(el, "route", {"edges": " ".join(bus.edges)})
        for call in bus.calls:
            ET.SubElement(el, "stop", {
                "busStop": call.stop, "duration": _num(call.duration), "until": _num(call.until),
            })
        items.append((bus.depart, 1, el))
    for bike in demand.cyclists:
        el = ET.Element("vehicle", {
            "id": bike.id, "type": "bike", "depart": _num(bike.depart), "departLane": "best",
            "departSpeed": "desired",
            "speedFactor": f"{bike.cruise_mps / BIKE_DESIRED_MPS:.4f}",
        })
        ET.SubElement(el, "route", {"edges": " ".join(bike.edges)})
        items.append((bike.depart, 3, el))
    for walk in demand.walks:
        el = ET.Element("person", {
            "id": walk.id, "depart": _num(walk.depart), "departPos": _num(walk.depart_pos),
        })
        ET.SubElement(el, "walk", {
            "from": walk.src, "to": walk.dst, "arrivalPos": _num(walk.arrival_pos),
        })
        items.append((walk.depart, 2, el))
    items.sort(key=lambda item: (item[0], item[1]))
    for _, _, el in items:
        root.append(el)
    return _write(root, out / "arterial.rou.xml")


def write_additionals(net: Network, timing: SignalTiming, out: Path) -> Path:
    """Bus stops and the controller's induction loops."""
    root = ET.Element("additional")
    for stop in (*net.stops_east, *net.stops_west):
        ET.SubElement(root, "busStop", {
            "id": stop.id, "name": stop.name, "lane": f"{stop.edge}_{stop.lane}",
            "startPos": _num(stop.start), "endPos": _num(stop.end), "lines": "52",
        })
    for j in net.junctions:
        for det, (lane, _sg) in loop_ids(net, j).items():
            ET.SubElement(root, "inductionLoop", {
                "id": det, "lane": lane, "pos": _num(-timing.loop_setback_m),
                "period": "3600", "file": os.devnull, "friendlyPos": "true",
            })
    return _write(root, out / "arterial.add.xml")


def write_baseline_programs(programs: Mapping[str, Sequence[Phase]], gap_s: float,
                            out: Path, *, undetected: Mapping[str, Sequence[str]]) -> Path:
    """SUMO actuated programs (``programID="baseline"``) that replace netconvert's; the lanes
    in ``undetected[tls]`` get no detector (the cycle lanes, as in the controller runs)."""
    root = ET.Element("additional")
    for tls, phases in sorted(programs.items()):
        logic = ET.SubElement(root, "tlLogic", {
            "id": tls, "type": "actuated", "programID": "baseline", "offset": "0",
        })
        ET.SubElement(logic, "param", {"key": "max-gap", "value": _num(gap_s)})
        ET.SubElement(logic, "param", {"key": "detector-gap", "value": "2.0"})
        for lane in undetected.get(tls, ()):
            ET.SubElement(logic, "param", {"key": lane, "value": NO_DETECTOR})
        for p in phases:
            attrs = {"duration": _num(p.duration), "state": p.state}
            if p.min_dur is not None and p.max_dur is not None:
                attrs |= {"minDur": _num(p.min_dur), "maxDur": _num(p.max_dur)}
            ET.SubElement(logic, "phase", attrs)
    return _write(root, out / "baseline.tll.xml")

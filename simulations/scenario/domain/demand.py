"""Seeded demand for the arterial: cars, a timetabled bus line, cyclists, pedestrians crossing.

Why generated from a seed in pure code: the three evaluation runs must see *identical* demand
(same vehicles, same departures, same routes, same dwell times) so that the only difference is
the signal control; and a unit test must be able to check reproducibility without SUMO. Routes
are computed here (the network is a tree), not by SUMO's router, for the same reason.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from simulations.scenario.domain.arterial import SPEED_MPS, Network

#: vehicles per hour entering at each arterial end, and at each side-street arm.
ARTERIAL_ENTRY_VPH = 560.0
SIDE_ENTRY_VPH = 110.0
#: share of arterial entries that drive through to the other end.
ARTERIAL_THROUGH_SHARE = 0.75
#: share of side-street entries that cross the arterial (the rest turn left/right onto it).
SIDE_STRAIGHT_SHARE = 0.4
PEDESTRIANS_PER_JUNCTION_PH = 60.0
BUS_HEADWAY_S = 300.0
BUS_FIRST_DEPART_S = (15.0, 135.0)
BUS_DWELL_S = (12.0, 28.0)
#: planned signal allowance per junction in the timetable (the rest is running + dwell time).
TIMETABLE_SIGNAL_ALLOWANCE_S = 8.0
#: cyclists per hour riding the whole corridor on its cycle lanes, per direction (160/h both
#: ways: a busy city main road in the morning peak).
CYCLISTS_PER_DIRECTION_PH = 80.0
#: cruising speeds of the cyclists (km/h): normal, mean 18, sd 3, cut to 12-25 (slow riders to
#: pedelecs, which assist up to 25 km/h).
CYCLIST_SPEED_KMH = (18.0, 3.0, 12.0, 25.0)


@dataclass(frozen=True, slots=True)
class CarTrip:
    """A passenger car with its route."""

    id: str
    depart: float
    edges: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BusCall:
    """A timetabled call at a bus stop: dwell and earliest departure (schedule)."""

    stop: str
    duration: float
    until: float


@dataclass(frozen=True, slots=True)
class BusTrip:
    """One trip of the bus line with its route and calls."""

    id: str
    direction: str
    depart: float
    edges: tuple[str, ...]
    calls: tuple[BusCall, ...]


@dataclass(frozen=True, slots=True)
class CycleTrip:
    """A cyclist riding the corridor on the cycle lane at their own cruising speed."""

    id: str
    direction: str
    depart: float
    edges: tuple[str, ...]
    cruise_mps: float


@dataclass(frozen=True, slots=True)
class Walk:
    """A pedestrian walking from one edge to another (SUMO routes over the crossings)."""

    id: str
    depart: float
    src: str
    dst: str
    depart_pos: float
    arrival_pos: float


@dataclass(frozen=True, slots=True)
class Demand:
    """All trips of one scenario instance, each list sorted by departure."""

    cars: tuple[CarTrip, ...]
    buses: tuple[BusTrip, ...]
    walks: tuple[Walk, ...]
    cyclists: tuple[CycleTrip, ...]


def _chain(net: Network) -> list[str]:
    return ["W0", *(j.id for j in net.junctions), "E7"]


def route(net: Network, origin: str, destination: str) -> tuple[str, ...]:
    """Edges from ``origin`` to ``destination``: arterial ends ``W0``/``E7`` or side nodes
    such as ``J3n``; the network is a tree, so the path is unique."""
    chain = _chain(net)

    def attach(node: str) -> int:
        return chain.index(node[:-1]) if node not in ("W0", "E7") else chain.index(node)

    i, j = attach(origin), attach(destination)
    nodes: list[str] = []
    if origin not in ("W0", "E7"):
        nodes.append(origin)
    step = 1 if j >= i else -1
    nodes += [chain[k] for k in range(i, j + step, step)]
    if destination not in ("W0", "E7"):
        nodes.append(destination)
    return tuple(f"{a}_{b}" for a, b in itertools.pairwise(nodes))


def _poisson(rng: random.Random, rate_ph: float, horizon_s: float) -> list[float]:
    """Departure instants of a Poisson process (0.1 s resolution) within ``[0, horizon)``."""
    out: list[float] = []
    if rate_ph <= 0:
        return out
    t = rng.expovariate(rate_ph / 3600.0)
    while t < horizon_s:
        out.append(round(t, 1))
        t += rng.expovariate(rate_ph / 3600.0)
    return out


def _cars(net: Network, rng: random.Random, horizon_s: float, scale: float) -> list[CarTrip]:
    sides = [f"{j.id}{a}" for j in net.junctions for a in ("n", "s")]
    raw: list[tuple[float, tuple[str, ...]]] = []
    for end, other in (("W0", "E7"), ("E7", "W0")):
        for t in _poisson(rng, ARTERIAL_ENTRY_VPH * scale, horizon_s):
            dest = other if rng.random() < ARTERIAL_THROUGH_SHARE else rng.choice(sides)
            raw.append((t, route(net, end, dest)))
    for j in net.junctions:
        for arm, across in (("n", "s"), ("s", "n")):
            src = f"{j.id}{arm}"
            for t in _poisson(rng, SIDE_ENTRY_VPH * scale, horizon_s):
                if rng.random() < SIDE_STRAIGHT_SHARE:
                    dest = f"{j.id}{across}"
                else:
                    dest = rng.choice(("W0", "E7"))
                raw.append((t, route(net, src, dest)))
    raw.sort()
    return [CarTrip(f"car_{i:05d}", t, edges) for i, (t, edges) in enumerate(raw)]


def _buses(net: Network, rng: random.Random, horizon_s: float) -> list[BusTrip]:
    out: list[BusTrip] = []
    for direction, first, chain, stops in (
        ("E", BUS_FIRST_DEPART_S[0], net.eastbound, net.stops_east),
        ("W", BUS_FIRST_DEPART_S[1], net.westbound, net.stops_west),
    ):
        depart = first
        n = 0
        while depart < horizon_s:
            t = depart
            offset = 0.0
            calls: list[BusCall] = []
            stop_by_edge = {s.edge: s for s in stops}
            for k, edge in enumerate(chain):
                stop = stop_by_edge.get(edge)
                if stop is not None:
                    dwell = float(round(rng.uniform(*BUS_DWELL_S)))
                    run = (offset + stop.end) / SPEED_MPS + k * TIMETABLE_SIGNAL_ALLOWANCE_S
                    until = round(t + run + dwell + sum(c.duration for c in calls), 1)
                    calls.append(BusCall(stop.id, dwell, until))
                offset += net.length(edge)
            out.append(BusTrip(f"bus52{direction}_{n:02d}", direction, depart, chain, tuple(calls)))
            n += 1
            depart += BUS_HEADWAY_S
    out.sort(key=lambda b: b.depart)
    return out


def _cyclists(net: Network, rng: random.Random, horizon_s: float) -> list[CycleTrip]:
    """End-to-end riders both ways; each cruising speed is drawn here, so every run has the
    same riders at the same speeds (SUMO would draw them per run)."""
    mean, sd, lo, hi = CYCLIST_SPEED_KMH
    raw: list[tuple[float, str, tuple[str, ...], float]] = []
    for direction, chain in (("E", net.eastbound), ("W", net.westbound)):
        for t in _poisson(rng, CYCLISTS_PER_DIRECTION_PH, horizon_s):
            kmh = min(hi, max(lo, rng.gauss(mean, sd)))
            raw.append((t, direction, chain, round(kmh / 3.6, 2)))
    raw.sort()
    return [CycleTrip(f"bike{d}_{i:04d}", d, t, edges, v)
            for i, (t, d, edges, v) in enumerate(raw)]


def _walks(net: Network, rng: random.Random, horizon_s: float) -> list[Walk]:
    raw: list[tuple[float, str, str, float, float]] = []
    for j in net.junctions:
        west, east = route(net, "W0", f"{j.id}n")[-2], route(net, "E7", f"{j.id}n")[-2]
        west_out, east_out = f"{j.id}_{west.split('_')[0]}", f"{j.id}_{east.split('_')[0]}"
        options = (
            (f"{j.id}n_{j.id}", f"{j.id}_{j.id}s"),  # across the arterial
            (f"{j.id}s_{j.id}", f"{j.id}_{j.id}n"),
            (west, east_out),  # along the arterial, across the side street
            (east, west_out),
        )
        for t in _poisson(rng, PEDESTRIANS_PER_JUNCTION_PH, horizon_s):
            src, dst = rng.choice(options)
            src_len = net.length(src)
            raw.append((t, src, dst, max(0.0, src_len - 40.0), 30.0))
    raw.sort()
    return [Walk(f"ped_{i:04d}", *r) for i, r in enumerate(raw)]


def build_demand(net: Network, *, minutes: float, seed: int, scale: float = 1.0) -> Demand:
    """The demand of ``minutes`` of the morning peak, fully determined by ``seed``."""
    horizon = minutes * 60.0
    rng = random.Random(seed)
    cars = _cars(net, random.Random(rng.getrandbits(64)), horizon, scale)
    buses = _buses(net, random.Random(rng.getrandbits(64)), horizon)
    walks = _walks(net, random.Random(rng.getrandbits(64)), horizon)
    # drawn last, so that adding cyclists left every other trip of a seed as it was
    cyclists = _cyclists(net, random.Random(rng.getrandbits(64)), horizon)
    return Demand(tuple(cars), tuple(buses), tuple(walks), tuple(cyclists))

"""Random intersections, plans and input streams for property tests and benchmarks.

A scenario is drawn from a seed: a conflict graph over 2-8 groups with intergreens, stages
from a greedy colouring (some groups in two stages), a fixed-time plan built from the stages
with intergreen-respecting gaps, detectors, and priority settings. Streams of detector
events, SREMs (valid, unknown group, stale, floods, sent by another vehicle) and commands are
generated per tick.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from edge_agent.contract.configs import IntersectionConfig, parse_config
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.priority import PriorityMessage
from signal_controller.domain.state import Inputs

EPOCH = 1_750_000_000_000  # a tick-aligned start instant


def random_config(rnd: random.Random, *, mode: str = "actuated") -> dict[str, Any]:
    """A structurally and semantically valid intersection config as a dict."""
    n = rnd.randint(2, 8)
    groups = []
    for i in range(n):
        kind = rnd.choice(["vehicle", "vehicle", "vehicle", "pedestrian", "bus", "tram", "bicycle"])
        if kind in ("pedestrian",) or (kind == "bicycle" and rnd.random() < 0.5):
            amber, ra = 0.0, 0.0
        else:
            amber, ra = float(rnd.choice([3, 3, 4, 5])), float(rnd.choice([1, 1, 2, 0]))
        groups.append({
            "sg": f"G{i}", "kind": kind, "approach": rnd.choice("NESW"),
            "min_green_s": float(rnd.randint(2, 10)) + rnd.choice([0.0, 0.5]),
            "amber_s": amber, "red_amber_s": ra,
        })
    names = [g["sg"] for g in groups]
    p = rnd.uniform(0.2, 0.8)
    ig: dict[str, dict[str, float]] = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if rnd.random() < p:
                ig.setdefault(a, {})[b] = float(rnd.randint(0, 12)) + rnd.choice([0.0, 0.5])
                ig.setdefault(b, {})[a] = float(rnd.randint(0, 12)) + rnd.choice([0.0, 0.5])
    if not ig:  # at least one conflict, or there is nothing to control
        ig = {"G0": {"G1": 5.0}, "G1": {"G0": 5.0}}
    conflicts = {a: set(ig.get(a, {})) for a in names}
    # Greedy colouring -> stages of compatible groups.
    order = names[:]
    rnd.shuffle(order)
    colours: list[list[str]] = []
    for sg in order:
        for col in colours:
            if not conflicts[sg] & set(col):
                col.append(sg)
                break
        else:
            colours.append([sg])
    # Some groups also run in a second compatible stage.
    for sg in names:
        for col in colours:
            if sg not in col and not conflicts[sg] & set(col) and rnd.random() < 0.3:
                col.append(sg)
    by = {g["sg"]: g for g in groups}
    stages = []
    for i, col in enumerate(colours):
        lo = max(by[sg]["min_green_s"] for sg in col) + rnd.choice([0.0, 1.0, 3.0])
        stages.append({"id": f"S{i}", "groups": sorted(col), "min_green_s": lo,
                       "max_green_s": lo + rnd.choice([0.0, 5.0, 15.0, 30.0]),
                       "gap_s": float(rnd.choice([2, 3, 4]))})
    # Fixed-time plan: each group green in the first stage that has it, gaps cover everything.
    max_ig = max((v for row in ig.values() for v in row.values()), default=0.0)
    max_clear = max(g["amber_s"] + g["red_amber_s"] for g in groups)
    gap = max(max_ig, max_clear) + 1.0
    t = 0.0
    greens: dict[str, list[list[float]]] = {}
    for st in stages:
        d = st["min_green_s"] + rnd.choice([0.0, 2.0, 6.0])
        for sg in st["groups"]:
            if sg not in greens:
                greens[sg] = [[t, t + d]]
        t += d + gap
    cycle = t
    dets = []
    for i, g in enumerate(groups):
        if rnd.random() < 0.6:
            kind = "button" if g["kind"] == "pedestrian" else rnd.choice(["loop", "loop", "button"])
            dets.append({"id": f"D{i}", "sg": g["sg"], "kind": kind})
            if kind == "loop" and rnd.random() < 0.5:  # counts for the prediction only
                dets.append({"id": f"U{i}", "sg": g["sg"], "kind": "loop",
                             "placement": "upstream", "distance_m": 35.0})
    prio_groups = [g["sg"] for g in groups if g["kind"] in ("bus", "tram", "vehicle")]
    prio_groups = rnd.sample(prio_groups, k=min(len(prio_groups), rnd.randint(0, 3)))
    return {
        "device_id": "ks-test", "kind": "intersection", "name": "Random",
        "location": {"lat": 51.3, "lon": 9.5},
        "signal_groups": groups, "intergreen_s": ig,
        "control": {"mode": mode, "cycle_s": cycle, "greens": greens, "stages": stages},
        "detectors": dets,
        "priority": {"enabled": bool(prio_groups), "max_extension_s": float(rnd.choice([0, 5, 15])),
                     "max_early_s": float(rnd.choice([0, 5, 15])), "groups": prio_groups,
                     # two of the random vehicles may rank as emergency; the others' claims
                     # are served as transit
                     "emergency_vehicles": ["bus0", "bus1"]},
    }


def config_of(data: dict[str, Any]) -> IntersectionConfig:
    cfg = parse_config(data, "<random>")
    assert isinstance(cfg, IntersectionConfig)
    return cfg


@dataclass
class Traffic:
    """Per-tick random inputs: detector events, SREMs and their timing."""

    rnd: random.Random
    cfg: IntersectionConfig
    detector_rate: float = 0.03
    srem_rate: float = 0.01
    hostile: bool = True
    _occupied: set[str] = field(default_factory=set)
    _next_req: int = 0

    def inputs(self, now: int) -> Inputs:
        rnd = self.rnd
        dets: list[DetectorEvent] = []
        for d in self.cfg.detectors:
            if rnd.random() < self.detector_rate:
                occ = d.id not in self._occupied
                (self._occupied.add if occ else self._occupied.discard)(d.id)
                dets.append(DetectorEvent(d.id, occ))
        if self.hostile and rnd.random() < 0.002:
            dets.append(DetectorEvent("NOPE", True))
        reqs = []
        if rnd.random() < self.srem_rate:
            reqs.extend(self._srems(now))
        return Inputs(detectors=tuple(dets), requests=tuple(reqs))

    def _srems(self, now: int) -> Iterator[PriorityMessage]:
        rnd = self.rnd
        sgs = [g.sg for g in self.cfg.signal_groups]
        kind = rnd.random()
        vid = f"bus{rnd.randint(0, 20)}"
        self._next_req += 1
        rid = f"r{rnd.randint(0, max(1, self._next_req // 3))}"
        sg = rnd.choice([*sgs, *self.cfg.priority.groups, *self.cfg.priority.groups])
        eta = now + rnd.randint(-8_000, 90_000)
        role = "emergency" if rnd.random() < 0.1 else "transit"
        typ = rnd.choice(["request", "request", "update", "cancel"])
        if self.hostile and kind < 0.05:
            sg = "UNKNOWN"
        elif self.hostile and kind < 0.08:
            eta = now - 60_000
        elif self.hostile and kind < 0.1:
            for i in range(30):  # a flood from one vehicle
                yield PriorityMessage(f"f{i}", "flooder", "ks-test", "request", sg, eta,
                                      "transit", now, "flooder")
            return
        # another bus acting for this one (the topic names the real sender)
        sender = "impostor" if self.hostile and kind < 0.12 else vid
        yield PriorityMessage(rid, vid, self.cfg.device_id, typ, sg, eta, role, now, sender,
                              route_id="4", delay_s=rnd.choice([None, 30.0, 120.0]))

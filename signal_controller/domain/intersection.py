"""The static intersection model the controller runs on, built from an IntersectionConfig.

Why a model beside the config: the config speaks seconds as floats, the controller speaks
integer milliseconds on a 100 ms tick grid. Converting once, here, with the rounding direction
chosen per quantity (safety minimums are rounded *up*, so the running controller is never
laxer than the file), keeps every comparison exact and the conversion auditable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from edge_agent.contract.configs import IntersectionConfig
from signal_controller.domain.lamps import Lamp

#: the controller's logical tick; every switching instant lies on this grid.
TICK_MS = 100
#: ticks later than this (or a clock that jumps) put the controller into fail-safe.
WATCHDOG_MS = 500

#: group kinds whose heads go dark (not flashing amber) in fail-safe: pedestrians (RiLSA) and
#: trams, whose BOStrab signals have no flashing-amber aspect.
DARK_IN_FAIL_SAFE = frozenset({"pedestrian", "tram"})


def ceil_ms(seconds: float) -> int:
    """``seconds`` as milliseconds rounded *up* to the tick grid (for safety minimums)."""
    ticks = math.ceil(round(seconds * 1000.0, 6) / TICK_MS)
    return int(ticks) * TICK_MS


def round_ms(seconds: float) -> int:
    """``seconds`` as milliseconds rounded to the nearest tick (for plan instants)."""
    return round(seconds * 1000.0 / TICK_MS) * TICK_MS


def ceil_tick(ms: int) -> int:
    """The tick at or after ``ms``."""
    return -((-ms) // TICK_MS) * TICK_MS


#: the space one queued car takes, gap included (m): the usual planning figure for queues
#: in German signal planning (HBS/RiLSA work with 6 m per passenger car unit).
QUEUE_SPACING_M = 6.0


@dataclass(frozen=True, slots=True)
class Group:
    """One signal group with its timing minimums in milliseconds."""

    sg: str
    kind: str
    approach: str
    lanes: int
    protected: bool
    min_green: int
    amber: int
    red_amber: int

    @property
    def fail_safe_lamp(self) -> Lamp:
        """What this head shows in fail-safe."""
        return Lamp.DARK if self.kind in DARK_IN_FAIL_SAFE else Lamp.FLASHING_AMBER


@dataclass(frozen=True, slots=True)
class Stage:
    """Compatible groups served together under actuated control."""

    id: str
    index: int
    groups: frozenset[str]
    min_green: int
    max_green: int
    gap: int


@dataclass(frozen=True, slots=True)
class Window:
    """One green window of a fixed-time plan, in ms into the cycle; ``end`` may wrap."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class FixedPlan:
    """A fixed-time program: cycle length and green windows per group."""

    cycle: int
    windows: Mapping[str, tuple[Window, ...]]


@dataclass(frozen=True, slots=True)
class Priority:
    """Transit priority limits in milliseconds."""

    enabled: bool
    max_extension: int
    max_early: int
    groups: frozenset[str]
    #: vehicles whose ``role: emergency`` is honoured (others are served as transit).
    emergency_vehicles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Intersection:
    """Everything static the controller needs; built once per config or plan."""

    id: str
    name: str
    groups: tuple[Group, ...]
    by_sg: Mapping[str, Group]
    #: clearing -> entering -> ms (rounded up); a listed pair conflicts.
    intergreen: Mapping[str, Mapping[str, int]]
    #: entering -> clearing -> ms; the same numbers indexed for the entering group.
    intergreen_in: Mapping[str, Mapping[str, int]]
    conflicts: Mapping[str, frozenset[str]]
    stages: tuple[Stage, ...]
    plan: FixedPlan | None
    mode: str
    #: detector id -> (sg, kind); kind ``loop`` (stop line), ``button`` or ``upstream``.
    detectors: Mapping[str, tuple[str, str]]
    priority: Priority
    max_intergreen: int
    max_amber: int
    #: stages that are always demanded (a member group has no detector to call it).
    recall: frozenset[int] = frozenset()
    #: per stage, how it ends by itself: ``loops`` (gap-out), ``none`` (max-out), ``buttons``.
    stage_kinds: tuple[str, ...] = ()
    #: per stage, the loop detectors of its groups.
    stage_loops: tuple[tuple[str, ...], ...] = ()
    #: per stage, whether only loops call it (no push button): its calls follow the loops'
    #: arrival rates.
    loop_called: tuple[bool, ...] = ()
    #: upstream loop -> the stop-line loop of its group: the pair counts the queue between
    #: them (prediction only: upstream loops never call or extend a green).
    upstream: Mapping[str, str] = field(default_factory=dict)
    #: stop-line loop with an upstream loop -> the vehicles standing between the two (one per
    #: ``QUEUE_SPACING_M`` of the distance): a fuller zone means a queue reaching past it.
    zone_size: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: IntersectionConfig) -> Intersection:
        """Convert ``cfg`` (already validated structurally) to milliseconds."""
        groups = tuple(
            Group(
                sg=g.sg,
                kind=g.kind,
                approach=g.approach,
                lanes=g.lanes,
                protected=g.protected,
                min_green=ceil_ms(g.min_green_s),
                amber=ceil_ms(g.amber_s),
                red_amber=ceil_ms(g.red_amber_s),
            )
            for g in cfg.signal_groups
        )
        by_sg = {g.sg: g for g in groups}
        ig: dict[str, dict[str, int]] = {g.sg: {} for g in groups}
        ig_in: dict[str, dict[str, int]] = {g.sg: {} for g in groups}
        for a, row in cfg.intergreen_s.items():
            for b, seconds in row.items():
                ig[a][b] = ceil_ms(seconds)
                ig_in[b][a] = ceil_ms(seconds)
        conflicts = {sg: frozenset(ig[sg]) | frozenset(ig_in[sg]) for sg in by_sg}
        ctl = cfg.control
        stages = tuple(
            Stage(
                id=s.id,
                index=i,
                groups=frozenset(s.groups),
                min_green=ceil_ms(s.min_green_s),
                max_green=max(ceil_ms(s.min_green_s), round_ms(s.max_green_s)),
                gap=ceil_ms(s.gap_s),
            )
            for i, s in enumerate(ctl.stages or [])
        )
        plan = None
        if ctl.cycle_s is not None and ctl.greens:
            cycle = round_ms(ctl.cycle_s)
            plan = FixedPlan(
                cycle=cycle,
                windows={
                    sg: tuple(
                        Window(round_ms(s) % cycle, round_ms(e) % cycle or cycle)
                        for s, e in wins
                    )
                    for sg, wins in ctl.greens.items()
                },
            )
        prio = cfg.priority
        detectors = {d.id: (d.sg, "upstream" if d.upstream else d.kind) for d in cfg.detectors}
        called = {sg for sg, k in detectors.values() if k != "upstream"}
        stop_loop = {sg: d for d, (sg, k) in detectors.items() if k == "loop"}
        upstream = {d: stop_loop[sg] for d, (sg, k) in detectors.items() if k == "upstream"}
        zone_size = {stop_loop[d.sg]: max(1, int((d.distance_m or 0.0) // QUEUE_SPACING_M))
                     for d in cfg.detectors if d.upstream}
        recall = frozenset(s.index for s in stages if any(sg not in called for sg in s.groups))
        kinds = []
        for s in stages:
            det_kinds = {k for sg, k in detectors.values() if sg in s.groups}
            if "loop" in det_kinds:
                kinds.append("loops")
            elif any(sg not in called and by_sg[sg].kind != "pedestrian" for sg in s.groups):
                kinds.append("none")
            else:
                kinds.append("buttons")
        loops = tuple(
            tuple(d for d, (sg, k) in detectors.items() if k == "loop" and sg in s.groups)
            for s in stages
        )
        return cls(
            id=cfg.device_id,
            name=cfg.name,
            groups=groups,
            by_sg=by_sg,
            intergreen={k: dict(v) for k, v in ig.items()},
            intergreen_in={k: dict(v) for k, v in ig_in.items()},
            conflicts=conflicts,
            stages=stages,
            plan=plan,
            mode=ctl.mode,
            detectors=detectors,
            priority=Priority(
                enabled=prio.enabled,
                max_extension=round_ms(prio.max_extension_s),
                max_early=round_ms(prio.max_early_s),
                groups=frozenset(prio.groups),
                emergency_vehicles=frozenset(prio.emergency_vehicles),
            ),
            max_intergreen=max((v for row in ig.values() for v in row.values()), default=0),
            max_amber=max((g.amber for g in groups), default=0),
            recall=recall,
            stage_kinds=tuple(kinds),
            stage_loops=loops,
            loop_called=tuple(
                bool(loops[s.index])
                and not any(k == "button" and sg in s.groups for sg, k in detectors.values())
                for s in stages
            ),
            upstream=upstream,
            zone_size=zone_size,
        )

    def stages_with(self, sg: str) -> tuple[Stage, ...]:
        """The stages that serve ``sg``."""
        return tuple(s for s in self.stages if sg in s.groups)

    def next_stage_with(self, current: int, sg: str) -> int | None:
        """The first stage after ``current`` (cyclically, ``current`` last) serving ``sg``."""
        n = len(self.stages)
        for k in range(1, n + 1):
            idx = (current + k) % n
            if sg in self.stages[idx].groups:
                return idx
        return None

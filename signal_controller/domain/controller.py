"""The controller as a pure transducer: ``step(state, inputs, now) -> (state, outputs)``.

Why a transducer: the same code runs the lamps of a real junction, SUMO, the demo and the
property tests, with time injected as integer milliseconds on the 100 ms tick grid and no I/O.
Every tick it (1) runs the watchdog, (2) takes detector events and priority requests in,
(3) lets the active program (start-up/clearing, fixed-time or actuated stages) *request* a lamp
aspect per group through :func:`_drive`, (4) hands the requests to the safety kernel
(:mod:`.safety`), the only code that changes lamps, and (5) predicts SPaT timing.

Program changes (``set_mode``, ``set_plan``, ``flash``, fail-safe, ``resume``) increase the
SPaT ``revision``; the published ``[min_end, max_end]`` bounds hold for every change within one
revision while the status is not ``flashing``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import ValidationError

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.payloads import MovementPhaseState, SignalStatus
from edge_agent.errors import CommandRefusedError
from signal_controller.domain import fixed_time, safety
from signal_controller.domain.intersection import TICK_MS, Group, Intersection, Stage
from signal_controller.domain.lamps import Lamp, phase_state
from signal_controller.domain.plan_check import check_model
from signal_controller.domain.prediction import (
    Flow,
    History,
    gap_out_median,
    gap_out_median_from,
)
from signal_controller.domain.priority import (
    NO_WISH,
    PriorityMessage,
    PriorityState,
    PriorityWish,
    StageView,
    evaluate,
    receive,
    reject_all,
)
from signal_controller.domain.safety import KernelState, Violation
from signal_controller.domain.transitions import green_start, plan_transition

Mode = Literal["fixed_time", "actuated"]
#: SPaT ``(request_id, vehicle_id, sg, status)`` rows.
SsemRows = tuple[tuple[str, str, str, str], ...]


class CommandError(CommandRefusedError):
    """A command's arguments are invalid or the command cannot be carried out now."""


# --- inputs and outputs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DetectorEvent:
    """A loop or push button changed state."""

    detector: str
    occupied: bool


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything that arrived since the last tick, plus the adapter's clock observations."""

    detectors: tuple[DetectorEvent, ...] = ()
    requests: tuple[PriorityMessage, ...] = ()
    #: how late (real time minus logical tick time) this tick runs, for the watchdog.
    lag_ms: int = 0
    #: the adapter saw the wall clock jump against the monotonic clock.
    clock_jump: bool = False


@dataclass(frozen=True, slots=True)
class GroupTiming:
    """One SPaT group row: aspect and the end of the current aspect (absolute ms)."""

    sg: str
    lamp: Lamp
    state: MovementPhaseState
    min_end: int | None
    max_end: int | None
    likely_end: int | None
    confidence: int


@dataclass(frozen=True, slots=True)
class Outputs:
    """What the adapter publishes and drives after one tick."""

    now: int
    status: SignalStatus
    revision: int
    lamps: Mapping[str, Lamp]
    groups: tuple[GroupTiming, ...]
    #: groups whose aspect changed this tick.
    changed: tuple[str, ...]
    #: set on the tick the controller entered fail-safe (the alarm).
    fault: Violation | None
    #: SSEM rows when any request's status changed this tick, else ``None``.
    ssem: SsemRows | None


# --- program states -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Halted:
    """Fail-safe: after a fault or an operator ``flash``; only ``resume`` leaves it."""

    reason: Literal["flash", "fault"]


@dataclass(frozen=True, slots=True)
class Clearing:
    """Every group is driven to red; then ``target`` begins (start-up, mode or plan change)."""

    target: Mode


@dataclass(frozen=True, slots=True)
class FixedRun:
    """A fixed-time program entered at ``start``."""

    start: int


@dataclass(frozen=True, slots=True)
class ActRun:
    """Actuated control serving ``stage`` (fully green from ``start``)."""

    stage: int
    start: int
    #: green instants of the groups entering in the transition into this stage.
    entering: Mapping[str, int]
    #: committed latest end of this stage once other demand existed (published max_end).
    deadline: int | None
    cycle: int
    #: the stage's queue proxy when it was chosen (see :func:`_stage_wait`), for predictions.
    wait: int = 0
    #: per loop of the stage when it was chosen: ``(loop, queue since, vehicles seen)`` — the
    #: first waiting vehicle's arrival (or the choice instant without one) and the loop's
    #: vehicle count then, so that departures in green can be counted against the queue.
    queues: tuple[tuple[str, int, int], ...] = ()


Program = Halted | Clearing | FixedRun | ActRun


@dataclass(frozen=True, slots=True)
class Detectors:
    """Detector occupancy and the stage calls they latched."""

    occupied: frozenset[str] = frozenset()
    last_off: Mapping[str, int] = field(default_factory=dict)
    #: indices of stages with a latched call (cleared when the stage is served).
    calls: frozenset[int] = frozenset()
    #: when each loop last became occupied (while red: the first waiting vehicle's arrival).
    last_on: Mapping[str, int] = field(default_factory=dict)
    #: arrival rates, saturation headway and occupancy learned from the loops.
    flow: Flow = field(default_factory=Flow)


@dataclass(frozen=True, slots=True)
class _Cache:
    """Predictions and SPaT rows, reused while nothing they depend on changed."""

    bkey: tuple[object, ...]
    lkey: tuple[object, ...]
    computed: int
    bounds: Mapping[str, tuple[int | None, int | None]]
    timings: Mapping[str, tuple[int | None, int | None, int | None, int]]
    rows: tuple[GroupTiming, ...]
    rows_valid_until: int
    lamps: Mapping[str, Lamp]


@dataclass(frozen=True, slots=True)
class ControllerState:
    """The whole controller state; immutable, replaced every tick."""

    config: IntersectionConfig
    model: Intersection
    kernel: KernelState
    program: Program
    mode: Mode
    revision: int
    detectors: Detectors
    priority: PriorityState
    wish: PriorityWish
    history: History
    counts: Mapping[str, int]
    last_ssem: SsemRows
    cache: _Cache | None = None
    #: per-intersection offset of the once-a-second prediction refresh, so that many
    #: controllers in one process do not all recompute on the same tick.
    phase: int = 0


def initial_state(config: IntersectionConfig, now: int, revision: int = 1) -> ControllerState:
    """A controller just powered up at ``now``: start-up sequence, then the configured mode.

    Raises :class:`CommandError` when the plan breaks a safety rule (the same check as
    ``kassel config validate``).
    """
    model = Intersection.from_config(config)
    problems = check_model(model)
    if problems:
        raise CommandError("; ".join(f"{f}: {m}" for f, m in problems))
    mode: Mode = "actuated" if config.control.mode == "actuated" else "fixed_time"
    return ControllerState(
        config=config,
        model=model,
        kernel=safety.power_up(model, now),
        program=Clearing(mode),
        mode=mode,
        revision=revision,
        detectors=Detectors(),
        priority=PriorityState(),
        wish=PriorityWish(),
        history=History(),
        counts={},
        last_ssem=(),
        phase=zlib.crc32(config.device_id.encode()) % 10 * TICK_MS,
    )


# --- the transducer -------------------------------------------------------------------------


def step(state: ControllerState, inputs: Inputs, now: int) -> tuple[ControllerState, Outputs]:
    """Advance the controller to ``now``. Never raises: an internal error is a fail-safe."""
    try:
        return _step(state, inputs, now)
    except Exception as exc:  # any internal error must end in fail-safe
        violation = Violation("internal_error", f"{type(exc).__name__}: {exc}")
        return _enter_fail_safe(state, violation, now)


def fail_safe(state: ControllerState, reason: str, now: int) -> tuple[ControllerState, Outputs]:
    """Enter fail-safe from outside a tick (e.g. the lamp driver reported a fault)."""
    return _enter_fail_safe(state, Violation("hardware", reason), now)


def _enter_fail_safe(
    state: ControllerState, violation: Violation, now: int
) -> tuple[ControllerState, Outputs]:
    before = state.kernel
    kernel = safety.fail_safe(before, state.model, violation, now)
    new = replace(
        state,
        kernel=kernel,
        program=Halted("fault"),
        revision=state.revision + 1,
        priority=reject_all(state.priority, "fail_safe"),
        wish=PriorityWish(),
        cache=None,
    )
    return _finish(new, before, now, violation)


def _step(state: ControllerState, inputs: Inputs, now: int) -> tuple[ControllerState, Outputs]:
    model = state.model
    before = state.kernel
    problem = safety.check_tick(before, now, inputs.lag_ms, inputs.clock_jump)
    if problem is not None and not before.failed:
        return _enter_fail_safe(state, problem, now)
    program = state.program
    counts = state.counts
    dets = state.detectors
    pulses: frozenset[str] = frozenset()
    if inputs.detectors:
        dets, unknown, pulses = _take_detectors(model, dets, inputs.detectors, now)
        if unknown:
            counts = dict(counts)
            counts["unknown_detector"] = counts.get("unknown_detector", 0) + unknown
    prio = state.priority
    wish = state.wish
    if isinstance(program, ActRun):
        for msg in inputs.requests:
            prio = receive(prio, model, msg, now, accepting=True, cycle=program.cycle)
        if prio.requests:
            prio, wish = evaluate(prio, model, _stage_view(model, program, now), now)
        else:
            wish = NO_WISH
    else:
        for msg in inputs.requests:
            prio = receive(prio, model, msg, now, accepting=False, cycle=0)
        if prio.requests:
            if not isinstance(program, Clearing):
                prio = reject_all(prio, "not_actuated")
            prio, _ = evaluate(prio, model, None, now)
        wish = NO_WISH

    history = state.history
    kernel = before
    if isinstance(program, Halted):
        kernel, _ = safety.apply(kernel, model, {}, now)
    else:
        if isinstance(program, Clearing):
            program = _clearing(model, kernel, program, dets, now)
        heads = kernel.heads
        # Only aspects that change are requested (the kernel keeps the others as they are).
        requested: dict[str, Lamp] = {}
        if isinstance(program, ActRun):
            program, history, dets = _actuated(model, kernel, history, wish, program, dets, now)
            greens = model.stages[program.stage].groups
            entering, start = program.entering, program.start
            for g in model.groups:
                head = heads[g.sg]
                lamp = _drive(head, g, g.sg in greens, entering.get(g.sg, start), now)
                if lamp is not head.lamp:
                    requested[g.sg] = lamp
        else:
            targets: Mapping[str, tuple[bool, int]] = (
                _fixed_targets(model, program, now) if isinstance(program, FixedRun) else _ALL_RED
            )
            for g in model.groups:
                head = heads[g.sg]
                want, at = targets.get(g.sg, (False, 0))
                lamp = _drive(head, g, want, at, now)
                if lamp is not head.lamp:
                    requested[g.sg] = lamp
        kernel, violation = safety.apply(kernel, model, requested, now)
        if violation is not None:
            failed = replace(
                state,
                kernel=kernel,
                program=Halted("fault"),
                revision=state.revision + 1,
                priority=reject_all(prio, "fail_safe"),
                wish=NO_WISH,
                detectors=dets,
                counts=counts,
                cache=None,
            )
            return _finish(failed, before, now, violation)
        before_calls = dets.calls
        dets = _settle_calls(model, kernel, program, dets, pulses)
        for idx in dets.calls - before_calls:
            history = history.record_call(model.stages[idx].id, now)
    new = ControllerState(
        config=state.config,
        model=model,
        kernel=kernel,
        program=program,
        mode=state.mode,
        revision=state.revision,
        detectors=dets,
        priority=prio,
        wish=wish,
        history=history,
        counts=counts,
        last_ssem=state.last_ssem,
        cache=state.cache,
        phase=state.phase,
    )
    return _finish(new, before, now, None)


_ALL_RED: Mapping[str, tuple[bool, int]] = {}
LIKELY_REFRESH_MS = 500


def _drive(head: safety.Head, g: Group, want_green: bool, green_at: int, now: int) -> Lamp:
    """The aspect to request for a group that should (not) be green, following its sequence.

    A green is ended only after the group's minimum green, an amber only after the amber time,
    a red-amber always runs into green; red-amber starts so that green begins at ``green_at``.
    """
    lamp = head.lamp
    if lamp is Lamp.GREEN:
        if want_green or now - head.since < g.min_green:
            return Lamp.GREEN
        return Lamp.AMBER if g.amber else Lamp.RED
    if lamp is Lamp.AMBER:
        return Lamp.RED if now - head.since >= g.amber else Lamp.AMBER
    if lamp is Lamp.RED_AMBER:
        return Lamp.GREEN if now - head.since >= g.red_amber else Lamp.RED_AMBER
    if lamp is Lamp.RED and want_green and now >= green_at - g.red_amber:
        return Lamp.RED_AMBER if g.red_amber else Lamp.GREEN
    return lamp


def _take_detectors(
    model: Intersection, dets: Detectors, events: tuple[DetectorEvent, ...], now: int
) -> tuple[Detectors, int, frozenset[str]]:
    """Apply detector events: the new state, the number of unknown detectors, and the
    detectors that were occupied at some point of this tick (short pulses still call)."""
    if not events:
        return dets, 0, frozenset()
    occupied = set(dets.occupied)
    last_off = dict(dets.last_off)
    last_on = dets.last_on
    flow = dets.flow
    unknown = 0
    seen: set[str] = set()
    for ev in events:
        det = ev.detector
        if det not in model.detectors:
            unknown += 1
        elif ev.occupied:
            if det not in occupied and model.detectors[det][1] == "loop":
                flow = flow.on(det, now, last_on.get(det), last_off.get(det))
                if last_on is dets.last_on:
                    last_on = dict(last_on)
                last_on[det] = now  # type: ignore[index]  # copied just above
            occupied.add(det)  # a button press stays latched until the tick ends
            seen.add(det)
        elif det in occupied and model.detectors[det][1] == "loop":
            occupied.discard(det)
            last_off[det] = now
            flow = flow.off(last_on.get(det), now)
    new = Detectors(frozenset(occupied), last_off, dets.calls, last_on, flow)
    return new, unknown, frozenset(seen)


def _settle_calls(
    model: Intersection,
    kernel: KernelState,
    program: Program,
    dets: Detectors,
    pulses: frozenset[str],
) -> Detectors:
    """Latch a call on the next stage serving each occupied detector's (red) group."""
    if not dets.occupied and not pulses:
        return dets
    calls = dets.calls
    if isinstance(program, ActRun) and model.stages:
        current = model.stages[program.stage]
        for det in dets.occupied | pulses:
            sg = model.detectors[det][0]
            if sg in current.groups or kernel.heads[sg].lamp is Lamp.GREEN:
                continue
            nxt = model.next_stage_with(program.stage, sg)
            if nxt is not None and nxt not in calls:
                calls = calls | {nxt}
    # Buttons are single presses: once latched (or not needed) they are released.
    buttons = frozenset(d for d in dets.occupied if model.detectors[d][1] == "button")
    if not buttons and calls is dets.calls:
        return dets
    return Detectors(dets.occupied - buttons, dets.last_off, calls, dets.last_on, dets.flow)


# --- clearing and fixed time ----------------------------------------------------------------


def _all_red(kernel: KernelState) -> bool:
    return all(h.lamp is Lamp.RED for h in kernel.heads.values())


def _clearing(
    model: Intersection, kernel: KernelState, program: Clearing, dets: Detectors, now: int
) -> Program:
    if not _all_red(kernel) or now < kernel.hold_red_until:
        return program
    if program.target == "fixed_time" and model.plan is not None:
        clear = now
        for sg, row in model.intergreen.items():
            lg = kernel.heads[sg].last_green
            if lg is not None and row:
                clear = max(clear, lg + max(row.values()))
        return FixedRun(clear)
    if model.stages:
        last = {sg: h.last_green for sg, h in kernel.heads.items()}
        entering, _, start = plan_transition(
            model,
            (),
            model.stages[0].groups,
            now,
            last,
            amber_ends={},
            hold_red_until=kernel.hold_red_until,
        )
        wait = _stage_wait(model, dets, 0, now)
        return ActRun(0, start, entering, None, 0, wait, _queues(model, dets, 0, now))
    return program


def _fixed_targets(model: Intersection, run: FixedRun, now: int) -> dict[str, tuple[bool, int]]:
    plan = model.plan
    assert plan is not None  # FixedRun only exists with a plan
    return {g.sg: fixed_time.target(plan, g, run.start, now) for g in model.groups}


# --- actuated control -----------------------------------------------------------------------


def _must_serve(model: Intersection, dets: Detectors) -> frozenset[int]:
    """Stages that will be served before the sequence can pass them: latched calls, recall."""
    return dets.calls | model.recall


def _ext_budget(model: Intersection, stage: Stage) -> int:
    p = model.priority
    return p.max_extension if p.enabled and stage.groups & p.groups else 0


def _stage_min_end(model: Intersection, run: ActRun, kernel: KernelState) -> int:
    stage = model.stages[run.stage]
    end = run.start + stage.min_green
    for sg in stage.groups:
        head = kernel.heads[sg]
        if head.lamp is Lamp.GREEN:
            end = max(end, head.since + model.by_sg[sg].min_green)
    return end


def _stage_view(model: Intersection, run: ActRun, now: int) -> StageView:
    stage = model.stages[run.stage]
    limit = run.deadline
    if limit is None:
        limit = max(now, run.start + stage.max_green) + _ext_budget(model, stage)
    return StageView(run.stage, run.cycle, limit, stage.groups)


def _gap_ref(model: Intersection, stage: Stage, dets: Detectors, start: int) -> tuple[bool, int]:
    """``(a loop of the stage is occupied, instant the current gap began)``."""
    ref = start
    for det in model.stage_loops[stage.index]:
        if det in dets.occupied:
            return True, ref
        off = dets.last_off.get(det)
        if off is not None and off > ref:
            ref = off
    return False, ref


def _stage_wait(model: Intersection, dets: Detectors, stage: int, t: int) -> int:
    """Queue proxy of a stage at ``t``: how long its longest-occupied loop has been occupied
    (for a red stage, the waiting time of its first vehicle), 0 if none is occupied."""
    wait = 0
    for det in model.stage_loops[stage]:
        if det in dets.occupied:
            wait = max(wait, t - dets.last_on.get(det, t))
    return wait


def _carry_over(dets: Detectors, run: ActRun, now: int) -> Flow:
    """The flow after the current stage's green ends at ``now``: each of its loops still
    discharging a queue (no empty spell longer than the saturation headway since the green
    began) carries at least the vehicles it served into its next green."""
    flow = dets.flow
    for det, _since, seen in run.queues:
        free = _queue_gone(dets, run, det, now)
        flow = flow.green_ended(det, 0.0 if free else float(flow.count(det) - seen + 1))
    return flow


def _queue_gone(dets: Detectors, run: ActRun, det: str, now: int) -> bool:
    """Loop ``det`` has no queue left in this green: a vehicle came after an empty spell, or
    the loop has been empty for longer than the saturation headway."""
    lf = dets.flow.loops.get(det)
    if lf is not None and lf.free_at is not None and lf.free_at >= run.start:
        return True
    if det in dets.occupied:
        return False
    off = dets.last_off.get(det)
    return off is None or now - off > dets.flow.headway


def _queues(
    model: Intersection, dets: Detectors, stage: int, t: int
) -> tuple[tuple[str, int, int], ...]:
    """Per loop of ``stage`` chosen at ``t``: ``(loop, queue since, vehicles seen)``."""
    return tuple(
        (det, dets.last_on.get(det, t) if det in dets.occupied else t, dets.flow.count(det))
        for det in model.stage_loops[stage]
    )


def _should_end(
    model: Intersection,
    wish: PriorityWish,
    run: ActRun,
    dets: Detectors,
    *,
    deadline: int,
    now: int,
) -> bool:
    stage = model.stages[run.stage]
    if now >= deadline:
        return True
    if wish.hold_until is not None and now < wish.hold_until:
        return False
    if wish.early_stage is not None and wish.early_stage != run.stage:
        trunc = max(
            run.start + stage.min_green, run.start + stage.max_green - model.priority.max_early
        )
        if now >= trunc:
            return True
    if now >= run.start + stage.max_green:
        return True
    kind = model.stage_kinds[run.stage]
    if kind == "buttons":
        return True
    if kind == "none":
        return False
    occupied, ref = _gap_ref(model, stage, dets, run.start)
    return not occupied and now - ref >= stage.gap


def _actuated(  # noqa: PLR0917 - the pieces of state one actuated tick needs
    model: Intersection,
    kernel: KernelState,
    history: History,
    wish: PriorityWish,
    run: ActRun,
    dets: Detectors,
    now: int,
) -> tuple[ActRun, History, Detectors]:
    stage = model.stages[run.stage]
    demand = _must_serve(model, dets) | wish.calls
    other = any(i != run.stage for i in demand)
    deadline = run.deadline
    if other and deadline is None:
        deadline = max(now, run.start + stage.max_green) + _ext_budget(model, stage)
        run = replace(run, deadline=deadline)
    if deadline is None or now < run.start or now < _stage_min_end(model, run, kernel):
        return run, history, dets
    if not _should_end(model, wish, run, dets, deadline=deadline, now=now):
        return run, history, dets
    n = len(model.stages)
    nxt = next(
        (idx for k in range(1, n) if (idx := (run.stage + k) % n) in demand),
        (run.stage + 1) % n,
    )
    if nxt == run.stage:
        return run, history, dets
    target = model.stages[nxt]
    green = [sg for sg, h in kernel.heads.items() if h.lamp is Lamp.GREEN]
    lg = {sg: kernel.last_green(sg, now) for sg in kernel.heads}
    ambers = {
        sg: h.since + model.by_sg[sg].amber
        for sg, h in kernel.heads.items()
        if h.lamp is Lamp.AMBER
    }
    entering, _, start = plan_transition(
        model,
        green,
        target.groups,
        now,
        lg,
        amber_ends=ambers,
        hold_red_until=kernel.hold_red_until,
    )
    history = history.record(stage.id, run.start, now - run.start, run.wait)
    cycle = run.cycle + (1 if nxt <= run.stage else 0)
    new_dets = replace(dets, calls=dets.calls - {nxt}, flow=_carry_over(dets, run, now))
    wait = _stage_wait(model, dets, nxt, now)
    queues = _queues(model, dets, nxt, now)
    return ActRun(nxt, start, entering, None, cycle, wait, queues), history, new_dets


# --- outputs and predictions ----------------------------------------------------------------

Timing = tuple[int | None, int | None, int | None, int]
Bounds = tuple[int | None, int | None]


def _status(program: Program) -> SignalStatus:
    if isinstance(program, Halted):
        return "flashing"
    if isinstance(program, FixedRun) or (
        isinstance(program, Clearing) and program.target == "fixed_time"
    ):
        return "fixed_time"
    return "operational"


def _finish(
    state: ControllerState, before: KernelState, now: int, fault: Violation | None
) -> tuple[ControllerState, Outputs]:
    kernel = state.kernel
    model = state.model
    changed: tuple[str, ...] = ()
    if kernel.heads is not before.heads:
        changed = tuple(
            sg for sg, h in kernel.heads.items() if before.heads[sg].lamp is not h.lamp
        )
    floor = now + TICK_MS
    # Bounds change only with the aspects, the program (deadline) and latched calls; the
    # likely end also with detectors and priority wishes, refreshed at most every 500 ms.
    second = (now + state.phase) // 1000
    bkey = (kernel.heads, state.program, state.detectors.calls, state.revision, second)
    lkey = (state.detectors, state.wish)
    cache = state.cache
    same_b = cache is not None and _same_key(cache.bkey, bkey)
    same_l = cache is not None and cache.lkey[0] is lkey[0] and cache.lkey[1] == lkey[1]
    if cache is None or not same_b or (not same_l and now >= cache.computed + LIKELY_REFRESH_MS):
        timings, bounds, alt = _predict(state, now, cache.bounds if cache and same_b else None)
        if alt is not None:
            state = replace(state, history=state.history.observe(now, *alt))
        rows, valid_until = _rows(model, kernel, timings, floor)
        lamps = {r.sg: r.lamp for r in rows}
        cache = _Cache(bkey, lkey, now, bounds, timings, rows, valid_until, lamps)
    elif floor > cache.rows_valid_until:
        rows, valid_until = _rows(model, kernel, cache.timings, floor)
        cache = replace(cache, rows=rows, rows_valid_until=valid_until)
    ssem = state.priority.ssem() if state.priority.requests or state.last_ssem else ()
    ssem_out = ssem if ssem != state.last_ssem else None
    if cache is not state.cache or ssem_out is not None:
        state = replace(state, cache=cache, last_ssem=ssem)
    return state, Outputs(
        now=now,
        status=_status(state.program),
        revision=state.revision,
        lamps=cache.lamps,
        groups=cache.rows,
        changed=changed,
        fault=fault,
        ssem=ssem_out,
    )


def _rows(
    model: Intersection, kernel: KernelState, timings: Mapping[str, Timing], floor: int
) -> tuple[tuple[GroupTiming, ...], int]:
    """SPaT rows with bounds clamped to the future; valid until a clamp would change."""
    rows = []
    valid_until = 2**62
    for g in model.groups:
        head = kernel.heads[g.sg]
        lo, hi, likely, conf = timings.get(g.sg, _UNKNOWN)
        if lo is not None:
            if lo >= floor:
                valid_until = min(valid_until, lo)
            lo = max(lo, floor)
        if likely is not None:
            if likely >= floor:
                valid_until = min(valid_until, likely)
            likely = max(likely, lo if lo is not None else floor)
            if hi is not None:
                likely = min(likely, hi)
        rows.append(
            GroupTiming(g.sg, head.lamp, phase_state(head.lamp, g.protected), lo, hi, likely, conf)
        )
    return tuple(rows), valid_until


_UNKNOWN: Timing = (None, None, None, 0)


def _same_key(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    """Identity for the state parts (immutable, replaced on change), equality for numbers."""
    return a[0] is b[0] and a[1] is b[1] and a[2:] == b[2:]


def _predict(
    state: ControllerState, now: int, bounds: Mapping[str, Bounds] | None
) -> tuple[dict[str, Timing], Mapping[str, Bounds], tuple[int, int] | None]:
    """Timing of every group; actuated bounds are reused from ``bounds`` when given."""
    program = state.program
    kernel = state.kernel
    model = state.model
    out: dict[str, Timing] = {}
    for g in model.groups:
        head = kernel.heads[g.sg]
        if head.lamp is Lamp.AMBER:
            out[g.sg] = _exact(head.since + g.amber)
        elif head.lamp is Lamp.RED_AMBER:
            out[g.sg] = _exact(head.since + g.red_amber)
    if isinstance(program, Halted):
        return {}, {}, None
    if isinstance(program, Clearing):
        for g in model.groups:
            head = kernel.heads[g.sg]
            if head.lamp is Lamp.GREEN:
                out[g.sg] = _exact(max(head.since + g.min_green, now + TICK_MS))
            elif head.lamp is Lamp.RED:
                out[g.sg] = (max(now, kernel.hold_red_until), None, None, 0)
        return out, {}, None
    if isinstance(program, FixedRun):
        plan = model.plan
        assert plan is not None  # FixedRun only exists with a plan
        for g in model.groups:
            head = kernel.heads[g.sg]
            if head.lamp is Lamp.GREEN:
                end = fixed_time.green_end(plan, g, head.since)
                out[g.sg] = _exact(end) if end is not None else _UNKNOWN
            elif head.lamp is Lamp.RED:
                nxt = fixed_time.next_green(plan, g, program.start, now)
                out[g.sg] = _exact(nxt - g.red_amber) if nxt is not None else _UNKNOWN
        return out, {}, None
    x = model.stages[program.stage]
    for sg in x.groups:
        g = model.by_sg[sg]
        if kernel.heads[sg].lamp is Lamp.RED:  # entering: its red-amber is scheduled
            out[sg] = _exact(program.entering.get(sg, program.start) - g.red_amber)
    if bounds is None:
        bounds = _actuated_bounds(state, program, now)
    likely, alt = _actuated_likely(state, program, now)
    for sg, (lo, hi) in bounds.items():
        if sg not in out:
            li, conf = likely.get(sg, (None, 0))
            out[sg] = (lo, hi, li, conf)
    return out, bounds, alt


def _exact(t: int) -> Timing:
    return (t, t, t, 100)


@dataclass(slots=True)
class _Walk:
    """Result of walking the stage sequence from the end of the current stage."""

    entries: dict[str, int] = field(default_factory=dict)
    ends: dict[str, int] = field(default_factory=dict)
    hypothetical: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)


def _walk(
    state: ControllerState,
    run: ActRun,
    x_end: int,
    duration: Callable[[Stage, int], int | None],
    *,
    stop_at: int | None = None,
    hypothetical: frozenset[int] = frozenset(),
    cycles: int = 1,
) -> _Walk:
    """Simulate the stage sequence after the current stage ends at ``x_end``.

    ``duration(stage, chosen)`` gives how long a served stage chosen at ``chosen`` (the end
    of the stage before it) stays fully green, or ``None`` to skip it. Transitions use
    :func:`plan_transition`, exactly like the running controller. For stages in
    ``hypothetical``, every member group not yet entered gets the green instant it would have
    if it entered there (the upper bound's worst case). The walk covers one cycle, or up to
    ``cycles`` while some group has not entered yet (a stage expected to be skipped now).
    """
    model = state.model
    kernel = state.kernel
    stages = model.stages
    n = len(stages)
    green = stages[run.stage].groups
    lg: dict[str, int | None] = {sg: h.last_green for sg, h in kernel.heads.items()}
    ambers = {
        sg: h.since + model.by_sg[sg].amber
        for sg, h in kernel.heads.items()
        if h.lamp is Lamp.AMBER
    }
    hold = kernel.hold_red_until
    result = _Walk()
    t_end = x_end
    initial_green = green
    for k in range(1, cycles * n):
        y = stages[(run.stage + k) % n]
        d = duration(y, t_end)
        if d is None:
            continue
        entering, ending, start = plan_transition(
            model, green, y.groups, t_end, lg, amber_ends=ambers, hold_red_until=hold
        )
        for sg in ending:
            result.ends.setdefault(sg, t_end)
            lg[sg] = t_end
            ambers[sg] = t_end + model.by_sg[sg].amber
        for sg, gs in entering.items():
            result.entries.setdefault(sg, gs)
            result.steps.setdefault(sg, k)
        if y.index in hypothetical:
            for sg in y.groups:
                if sg in result.hypothetical or sg in initial_green:
                    continue
                if sg in entering:
                    result.hypothetical[sg] = entering[sg]
                else:
                    result.hypothetical[sg] = green_start(
                        model, sg, t_end, lg, amber_end=None, hold_red_until=hold
                    )
        green = y.groups
        t_end = start + d
        if stop_at is not None and y.index == stop_at:
            break
        if k >= n and len(result.entries) >= len(model.groups):
            break  # later cycles only for groups not reached yet
    return result


def _likely_stage_end(
    state: ControllerState, run: ActRun, min_end: int, now: int
) -> tuple[int | None, int, tuple[int, int] | None]:
    """Most likely end of the current stage, the confidence (0-100) in it, and, while a queue
    discharges, the two competing predictions ``(queue model, history)`` to be scored."""
    model = state.model
    stage = model.stages[run.stage]
    dets = state.detectors
    elapsed = max(0, now - run.start)
    est = state.history.estimate(stage.id, now, elapsed, run.wait)
    if run.deadline is None:
        if est is None:
            return None, 0, None
        return max(min_end, run.start + est.duration), est.confidence, None
    kind = model.stage_kinds[run.stage]
    natural_max = run.start + stage.max_green
    alt: tuple[int, int] | None = None
    if kind == "buttons":
        cand, conf = min_end, 90
    elif kind == "none":
        cand, conf = natural_max, 90
    else:
        occupied, ref = _gap_ref(model, stage, dets, run.start)
        gap_end = now + stage.gap if occupied else ref + stage.gap
        modelled, conf, queued = _queue_model_end(state, run, now)
        cand = max(min_end, gap_end)
        by_model = min(max(cand, modelled), natural_max)
        if queued:
            # While a queue discharges, the spread of its length dominates and the learned
            # greens (given the wait and lasting at least until ``cand``) usually predict
            # better than the model's point estimate; the model stays the floor. Both are
            # scored on every green, and the model is taken where it has recently been closer.
            est = state.history.estimate(
                stage.id, now, max(elapsed, cand - run.start - 1), run.wait
            )
            if est is not None:
                cand = max(cand, run.start + est.duration)
                conf = est.confidence
            cand = min(max(cand, modelled), natural_max)
            m_end = _clamp_stage_end(state, run, by_model, min_end)
            alt = (m_end, _clamp_stage_end(state, run, cand, min_end))
            if state.history.prefer_model(stage.id, m_end - now):
                cand = by_model
        else:
            cand = by_model
    cand = _clamp_stage_end(state, run, cand, min_end)
    if cand == run.deadline or cand == min_end == run.deadline:
        conf = max(conf, 90)
    return cand, conf, alt


def _clamp_stage_end(state: ControllerState, run: ActRun, cand: int, min_end: int) -> int:
    """``cand`` adjusted for a priority truncation or hold, within [min_end, deadline]."""
    model = state.model
    stage = model.stages[run.stage]
    wish = state.wish
    if wish.early_stage is not None and wish.early_stage != run.stage:
        natural_max = run.start + stage.max_green
        cand = min(cand, max(run.start + stage.min_green, natural_max - model.priority.max_early))
    if wish.hold_until is not None:
        cand = max(cand, wish.hold_until)
    assert run.deadline is not None
    return min(max(cand, min_end), run.deadline)


def _likely_duration(state: ControllerState, stage: Stage, now: int, chosen: int) -> int:
    """Learned typical green of a future stage chosen at ``chosen`` (conditional median given
    the wait its loops will show then), within its limits."""
    model = state.model
    wait = _stage_wait(model, state.detectors, stage.index, chosen)
    est = state.history.estimate(stage.id, now, 0, wait)
    if est is not None:
        med = est.duration
    else:
        med = stage.min_green + (stage.max_green - stage.min_green) // 3
    return min(max(med, stage.min_green), stage.max_green + _ext_budget(model, stage))


def _discharge_ms(queue: float, lam: float, headway: int, occ: int) -> float:
    """From the first departure until the last queued vehicle has left the loop (ms), for
    ``queue`` vehicles at saturation ``headway`` with arrivals ``lam``/s joining meanwhile."""
    eff = queue / max(0.2, 1.0 - lam * headway / 1000.0)
    if eff >= 1.0:
        return (eff - 1.0) * headway + occ
    return eff * occ


def _queue_model_end(state: ControllerState, run: ActRun, now: int) -> tuple[int, int, bool]:
    """Median end of the current loop stage's green from the queue model, and the
    confidence (0-100) that gap-out comes within ±1 s of it.

    Departures counted since the stage was chosen are taken off each loop's estimated queue;
    a loop that has been empty for longer than the saturation headway since green began has
    no queue left. Without a queue the gap timer's current state decides (the conditional
    median of the remaining gap-out time).
    """
    model = state.model
    stage = model.stages[run.stage]
    dets = state.detectors
    flow = dets.flow
    headway = flow.headway
    occ = flow.occupancy
    base = max(now, run.start)
    total = 0.0
    last_departure: float | None = None
    for det, since, seen in run.queues:
        lam = flow.rate(det, now)
        total += lam
        if _queue_gone(dets, run, det, now):
            continue
        lf = flow.loops.get(det)
        arrived = lam * (base - since) / 1000.0
        if lf is not None and lf.carry:  # oversaturated: at least the carried queue
            arrived = max(arrived, lf.carry - 1.0 + lam * max(0, base - run.start) / 1000.0)
        residual = arrived - (flow.count(det) - seen)
        if now < run.start:
            residual += 1.0  # the first vehicle has not left yet
        end = base + _discharge_ms(max(residual, 0.0), lam, headway, occ)
        last_departure = end if last_departure is None else max(last_departure, end)
    if last_departure is not None:
        return round(last_departure) + gap_out_median(total, stage.gap, occ), 30, True
    occupied, ref = _gap_ref(model, stage, dets, run.start)
    if occupied:
        on = max((dets.last_on.get(d, now) for d in model.stage_loops[stage.index]
                  if d in dets.occupied), default=now)
        return now + max(0, occ - (now - on)) + gap_out_median(total, stage.gap, occ), 30, False
    start = max(ref, run.start)
    return now + gap_out_median_from(total, stage.gap, occ, max(0, now - start)), 50, False


#: ln 2 in the units of ``rate (1/s) × Δt (ms)``: the median of the first arrival.
_LN2_MS = 1000.0 * math.log(2)


def _likely_called(state: ControllerState, stage: Stage, now: int, at: int) -> bool:
    """Whether ``stage``, not called now, more likely than not has a call by ``at``.

    A stage called only by loops is called by its first arrival: with the loops' Poisson
    rates ``Λ`` that is more likely than not once ``Λ·(at - now) >= ln 2``. Stages with push
    buttons fall back to the learned delay of calls after their last green (buttons give no
    rate).
    """
    model = state.model
    if model.loop_called[stage.index]:
        flow = state.detectors.flow
        rate = sum(flow.rate(d, now) for d in model.stage_loops[stage.index])
        return rate * max(0, at - now) >= _LN2_MS
    return state.history.likely_called(stage.id, at)



def _min_duration(served: frozenset[int]) -> Callable[[Stage, int], int | None]:
    """Durations of the lower-bound walk: ``served`` stages at minimum green, others skipped."""

    def duration(stage: Stage, _chosen: int) -> int | None:
        return stage.min_green if stage.index in served else None

    return duration


def _actuated_bounds(state: ControllerState, run: ActRun, now: int) -> dict[str, Bounds]:
    """``(min_end, max_end)`` of every group whose aspect is not already known exactly."""
    model = state.model
    kernel = state.kernel
    x = model.stages[run.stage]
    x_min = max(_stage_min_end(model, run, kernel), now + TICK_MS)
    x_max = run.deadline
    must = _must_serve(model, state.detectors)
    max_walk = None
    if x_max is not None:
        max_walk = _walk(
            state, run, x_max, lambda y, _t: y.max_green + _ext_budget(model, y), hypothetical=must
        )
    min_walks: dict[int, _Walk] = {}
    out: dict[str, Bounds] = {}
    for g in model.groups:
        sg = g.sg
        lamp = kernel.heads[sg].lamp
        if sg in x.groups:
            if lamp is Lamp.GREEN:
                only_here = len(model.stages_with(sg)) == 1
                out[sg] = (x_min, x_max if only_here else None)
            continue
        if lamp is not Lamp.RED:
            continue
        target = model.next_stage_with(run.stage, sg)
        if target is None:
            out[sg] = (None, None)
            continue
        if target not in min_walks:
            min_walks[target] = _walk(
                state, run, x_min, _min_duration(must | {target}), stop_at=target
            )
        lo = min_walks[target].entries.get(sg)
        hi = max_walk.hypothetical.get(sg) if max_walk is not None else None
        out[sg] = (
            lo - g.red_amber if lo is not None else None,
            hi - g.red_amber if hi is not None else None,
        )
    return out


def _actuated_likely(
    state: ControllerState, run: ActRun, now: int
) -> tuple[dict[str, tuple[int | None, int]], tuple[int, int] | None]:
    """``(likely_end, confidence)`` of every group whose aspect is not known exactly, and
    the current stage's competing predictions to score (see :func:`_likely_stage_end`)."""
    model = state.model
    kernel = state.kernel
    x = model.stages[run.stage]
    x_min = max(_stage_min_end(model, run, kernel), now + TICK_MS)
    x_likely, x_conf, alt = _likely_stage_end(state, run, x_min, now)
    demanded = _must_serve(model, state.detectors) | state.wish.calls
    walk = None
    if x_likely is not None:
        walk = _walk(
            state,
            run,
            x_likely,
            lambda y, t: (
                _likely_duration(state, y, now, t)
                if y.index in demanded or _likely_called(state, y, now, t)
                else None
            ),
            cycles=4,  # a group whose stage is likely skipped now enters in a later cycle
        )
    out: dict[str, tuple[int | None, int]] = {}
    for g in model.groups:
        sg = g.sg
        lamp = kernel.heads[sg].lamp
        if sg in x.groups:
            if lamp is Lamp.GREEN:
                if len(model.stages_with(sg)) == 1:
                    out[sg] = (x_likely, x_conf if x_likely is not None else 0)
                else:
                    end = walk.ends.get(sg) if walk is not None else None
                    out[sg] = (end, x_conf if end is not None else 0)
            continue
        if lamp is not Lamp.RED or walk is None:
            continue
        entry = walk.entries.get(sg)
        if entry is None:
            out[sg] = (None, 0)
        else:
            conf = x_conf if walk.steps.get(sg) == 1 else x_conf // 2
            out[sg] = (entry - g.red_amber, conf)
    return out, alt


# --- commands -------------------------------------------------------------------------------


def apply_command(
    state: ControllerState, name: str, args: Mapping[str, object], now: int
) -> tuple[ControllerState, dict[str, object]]:
    """Carry out a hub command between ticks; raise :class:`CommandError` to refuse it.

    ``now`` is the tick at which the command takes effect (the next tick): aspects changed by
    ``flash`` and ``resume`` start there.
    """
    if name == "flash":
        if isinstance(state.program, Halted):
            return state, {"status": "flashing", "changed": False}
        kernel = safety.fail_safe(
            state.kernel, state.model, Violation("operator", "flash command"), now
        )
        return _program_change(state, kernel, Halted("flash")), {"status": "flashing"}
    if name == "resume":
        if not isinstance(state.program, Halted):
            return state, {"status": _status(state.program), "changed": False}
        kernel = safety.start_up(state.kernel, state.model, now)
        new = _program_change(state, kernel, Clearing(state.mode))
        return new, {"status": "starting", "all_red_until": kernel.hold_red_until}
    if name == "set_mode":
        mode = args.get("mode")
        if mode not in ("fixed_time", "actuated"):
            raise CommandError(f"set_mode: mode must be fixed_time or actuated, got {mode!r}")
        if mode == "fixed_time" and state.model.plan is None:
            raise CommandError("set_mode: the plan has no fixed-time program (cycle_s, greens)")
        if mode == "actuated" and not state.model.stages:
            raise CommandError("set_mode: the plan has no stages for actuated control")
        if mode == state.mode and not isinstance(state.program, Clearing):
            return state, {"mode": mode, "changed": False}
        new_state = replace(state, mode=mode)
        if isinstance(state.program, Halted):
            return new_state, {"mode": mode, "changed": True}
        return _program_change(new_state, state.kernel, Clearing(mode)), {"mode": mode}
    if name == "set_plan":
        return _set_plan(state, args)
    raise CommandError(f"unknown command {name!r}")


def _set_plan(
    state: ControllerState, args: Mapping[str, object]
) -> tuple[ControllerState, dict[str, object]]:
    control = args.get("control")
    if not isinstance(control, dict):
        raise CommandError("set_plan: args.control must be an object (the config's control)")
    data = state.config.model_dump(mode="python")
    data["control"] = control
    try:
        config = IntersectionConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CommandError(f"set_plan: {where}: {first['msg']}") from exc
    model = Intersection.from_config(config)
    problems = check_model(model)
    if problems:
        raise CommandError("set_plan refused: " + "; ".join(f"{f}: {m}" for f, m in problems))
    mode: Mode = "actuated" if config.control.mode == "actuated" else "fixed_time"
    new = replace(
        state,
        config=config,
        model=model,
        mode=mode,
        detectors=Detectors(
            state.detectors.occupied,
            state.detectors.last_off,
            last_on=state.detectors.last_on,
            flow=state.detectors.flow,
        ),
    )
    if isinstance(state.program, Halted):
        return new, {"mode": mode, "stages": len(model.stages)}
    return _program_change(new, state.kernel, Clearing(mode)), {
        "mode": mode,
        "stages": len(model.stages),
    }


def _program_change(
    state: ControllerState, kernel: KernelState, program: Program
) -> ControllerState:
    prio = state.priority
    if not isinstance(program, ActRun):
        prio = reject_all(prio, "program_change")
    return replace(
        state,
        kernel=kernel,
        program=program,
        revision=state.revision + 1,
        priority=prio,
        wish=PriorityWish(),
        detectors=replace(state.detectors, calls=frozenset()),
        cache=None,
    )

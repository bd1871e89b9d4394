"""The actuated rules: when the green of a stage may end, must end, and which stage comes next.

Why one module: the controller *applies* these rules every tick and the SPaT prediction
(:mod:`.spat_timing`) *forecasts* them. The stage deadline (:func:`stage_deadline`), the
earliest end (:func:`stage_min_end`) and the priority early cut-off (:func:`early_cutoff`) are
written once here and used by both, so the published ``[min_end, max_end]`` and ``likely_end``
cannot drift from what the controller does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from signal_controller.domain.detectors import Detectors, gap_ref, loop_queues, stage_wait
from signal_controller.domain.intersection import Intersection, Stage
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.learners import Flow, History
from signal_controller.domain.priority import PriorityWish, StageView
from signal_controller.domain.safety import KernelState
from signal_controller.domain.state import ActRun
from signal_controller.domain.transitions import plan_transition


def must_serve(model: Intersection, dets: Detectors) -> frozenset[int]:
    """Stages that will be served before the sequence can pass them: latched calls, recall."""
    return dets.calls | model.recall


def ext_budget(model: Intersection, stage: Stage) -> int:
    """How long priority may extend ``stage`` beyond its maximum green (0 without priority)."""
    p = model.priority
    return p.max_extension if p.enabled and stage.groups & p.groups else 0


def longest_green(model: Intersection, stage: Stage) -> int:
    """The longest green of ``stage`` when served: maximum green plus the priority budget."""
    return stage.max_green + ext_budget(model, stage)


def stage_min_end(model: Intersection, run: ActRun, kernel: KernelState) -> int:
    """The earliest end of the current stage: its minimum green, and each green group's own."""
    stage = model.stages[run.stage]
    end = run.start + stage.min_green
    for sg in stage.groups:
        head = kernel.heads[sg]
        if head.lamp is Lamp.GREEN:
            end = max(end, head.since + model.by_sg[sg].min_green)
    return end


def stage_deadline(model: Intersection, run: ActRun, now: int) -> int:
    """The latest end of the current stage: the committed deadline, or the one that would be
    committed if other demand appeared at ``now`` (maximum green counted from the later of the
    green start and ``now``, plus the priority extension budget)."""
    if run.deadline is not None:
        return run.deadline
    stage = model.stages[run.stage]
    return max(now, run.start + stage.max_green) + ext_budget(model, stage)


def early_cutoff(model: Intersection, wish: PriorityWish, run: ActRun) -> int | None:
    """When a priority early green cuts the current stage short, or ``None`` without one.

    The stage is truncated towards its minimum green by at most ``max_early`` of its maximum.
    """
    if wish.early_stage is None or wish.early_stage == run.stage:
        return None
    stage = model.stages[run.stage]
    return max(run.start + stage.min_green, run.start + stage.max_green - model.priority.max_early)


def stage_view(model: Intersection, run: ActRun, now: int) -> StageView:
    """What priority needs to know about the current stage to grant extensions."""
    stage = model.stages[run.stage]
    return StageView(run.stage, run.cycle, stage_deadline(model, run, now), stage.groups)


def queue_gone(dets: Detectors, run: ActRun, det: str, now: int) -> bool:
    """Loop ``det`` has no queue left in this green: a vehicle came after an empty spell, or
    the loop has been empty for longer than the saturation headway."""
    lf = dets.flow.loops.get(det)
    if lf is not None and lf.free_at is not None and lf.free_at >= run.start:
        return True
    if det in dets.occupied:
        return False
    off = dets.last_off.get(det)
    return off is None or now - off > dets.flow.headway


def _carry_over(dets: Detectors, run: ActRun, now: int) -> Flow:
    """The flow after the current stage's green ends at ``now``: each of its loops still
    discharging a queue (no empty spell longer than the saturation headway since the green
    began) carries at least the vehicles it served into its next green."""
    flow = dets.flow
    for det, _since, seen in run.queues:
        free = queue_gone(dets, run, det, now)
        flow = flow.green_ended(det, 0.0 if free else float(flow.count(det) - seen + 1))
    return flow


def start_stage(
    model: Intersection,
    dets: Detectors,
    stage: int,
    now: int,
    *,
    start: int,
    entering: Mapping[str, int],
    cycle: int,
    demand: Iterable[int] = (),
) -> ActRun:
    """Actuated control serving ``stage``, chosen at ``now``, fully green from ``start``, with
    the queue proxy and per-loop queues its predictions start from. With other stages in
    ``demand`` its deadline is committed at once rather than at the next tick (the same
    instant either way, the green not having begun), so that the SPaT changes on one tick,
    not on two running (hundreds of controllers in one process switching together)."""
    wait = stage_wait(model, dets, stage, now)
    run = ActRun(stage, start, entering, None, cycle, wait, loop_queues(model, dets, stage, now))
    if any(i != stage for i in demand):
        run = replace(run, deadline=stage_deadline(model, run, now))
    return run


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
    cutoff = early_cutoff(model, wish, run)
    if cutoff is not None and now >= cutoff:
        return True
    if now >= run.start + stage.max_green:
        return True
    kind = model.stage_kinds[run.stage]
    if kind == "buttons":
        return True
    if kind == "none":
        return False
    occupied, ref = gap_ref(model, stage, dets, run.start)
    return not occupied and now - ref >= stage.gap


def advance(  # noqa: PLR0917 - the pieces of state one actuated tick needs
    model: Intersection,
    kernel: KernelState,
    history: History,
    wish: PriorityWish,
    run: ActRun,
    dets: Detectors,
    now: int,
) -> tuple[ActRun, History, Detectors]:
    """One actuated tick: commit the deadline once other demand exists, and when the current
    stage should end, move to the next demanded stage (the transition is planned here)."""
    stage = model.stages[run.stage]
    demand = must_serve(model, dets) | wish.calls
    other = any(i != run.stage for i in demand)
    deadline = run.deadline
    if other and deadline is None:
        deadline = stage_deadline(model, run, now)
        run = replace(run, deadline=deadline)
    if deadline is None or now < run.start or now < stage_min_end(model, run, kernel):
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
    run = start_stage(model, dets, nxt, now, start=start, entering=entering, cycle=cycle,
                      demand=must_serve(model, new_dets) | wish.calls)
    return run, history, new_dets

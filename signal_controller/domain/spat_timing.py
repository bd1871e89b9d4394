"""SPaT timing: the published ``min_end``/``max_end``/``likely_end``/``confidence`` of each group.

Why a module of its own: the prediction is a third of the controller's code and changes for
reasons of its own (better learners, better queue models), while the rules it forecasts do not.
It only *walks* the stage sequence forward: the current stage's earliest end, its deadline and
the priority early cut-off come from :mod:`.actuated`, the same functions the running
controller applies, and every transition from :func:`.transitions.plan_transition`. Bounds are
honest (the controller keeps them within a revision); the likely end is a best guess from the
queue model and :mod:`.learners`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from signal_controller.domain import fixed_time
from signal_controller.domain.actuated import (
    early_cutoff,
    longest_green,
    must_serve,
    queue_gone,
    stage_min_end,
)
from signal_controller.domain.detectors import gap_ref, stage_wait
from signal_controller.domain.intersection import TICK_MS, Intersection, Stage
from signal_controller.domain.lamps import Lamp, phase_state
from signal_controller.domain.learners import gap_out_median, gap_out_median_from
from signal_controller.domain.safety import KernelState
from signal_controller.domain.sampled_walk import sampled_likely
from signal_controller.domain.state import (
    NEXT_GREEN_LAMPS,
    NO_GREENS_AHEAD,
    ActRun,
    Bounds,
    Clearing,
    ControllerState,
    FixedRun,
    GreensAhead,
    GroupTiming,
    Halted,
    SpatCache,
    Timing,
)
from signal_controller.domain.transitions import green_start, plan_transition


def spat_rows(
    model: Intersection, kernel: KernelState, timings: Mapping[str, Timing], floor: int,
    ahead: GreensAhead = NO_GREENS_AHEAD,
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
        if likely is not None and likely >= floor:
            valid_until = min(valid_until, likely)
        likely = published_likely((lo, hi, likely, conf), floor)
        nxt = ahead.next_green.get(g.sg)
        end = None
        if head.lamp is Lamp.RED:  # the coming green's end, then the green after it
            end = ahead.green_end.get(g.sg)
            end = end if end is not None and likely is not None and end > likely else None
            nxt = nxt if end is not None and nxt is not None and nxt > end else None
        elif head.lamp not in NEXT_GREEN_LAMPS:
            nxt = None
        rows.append(GroupTiming(
            g.sg, head.lamp, phase_state(head.lamp, g.protected), lo, hi, likely, conf,
            nxt if nxt is not None and nxt > floor else None, end,
        ))
    return tuple(rows), valid_until


_UNKNOWN: Timing = (None, None, None, 0)


def published_likely(timing: Timing, floor: int) -> int | None:
    """The likely end as a SPaT row carries it: within its bounds and not before ``floor``
    (the next tick)."""
    lo, hi, likely, _ = timing
    if likely is None:
        return None
    likely = max(likely, floor, lo if lo is not None else floor)
    return min(likely, hi) if hi is not None else likely


def predict(
    state: ControllerState, now: int, bounds: Mapping[str, Bounds] | None, *,
    sampled: bool = True, walk: bool = True,
) -> tuple[
    dict[str, Timing], Mapping[str, Bounds], tuple[int, int] | None, GreensAhead
]:
    """Timing of every group, and what the sampled walk says beyond the current aspects
    (:class:`GreensAhead`: empty without it); actuated bounds are reused from ``bounds``
    when given. ``sampled=False`` takes the cheap deterministic walk, as does a state with
    ``sampled`` off; ``walk=False`` (a late tick, see :func:`carry_likely`) leaves the likely
    ends of the actuated groups unknown and walks only for bounds not given."""
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
        return {}, {}, None, NO_GREENS_AHEAD
    if isinstance(program, Clearing):
        for g in model.groups:
            head = kernel.heads[g.sg]
            if head.lamp is Lamp.GREEN:
                out[g.sg] = _exact(max(head.since + g.min_green, now + TICK_MS))
            elif head.lamp is Lamp.RED:
                out[g.sg] = (max(now, kernel.hold_red_until), None, None, 0)
        return out, {}, None, NO_GREENS_AHEAD
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
        return out, {}, None, NO_GREENS_AHEAD
    x = model.stages[program.stage]
    for sg in x.groups:
        g = model.by_sg[sg]
        if kernel.heads[sg].lamp is Lamp.RED:  # entering: its red-amber is scheduled
            out[sg] = _exact(program.entering.get(sg, program.start) - g.red_amber)
    if bounds is None:
        bounds = _actuated_bounds(state, program, now)
    ahead = NO_GREENS_AHEAD
    likely: Mapping[str, tuple[int | None, int]]
    if not walk:
        likely, alt = {}, None
    elif state.sampled and sampled and model.stage_kinds[program.stage] == "loops":
        x_min = max(stage_min_end(model, program, kernel), now + TICK_MS)
        likely, next_green, green_end = sampled_likely(state, program, now, x_min)
        ahead = GreensAhead(next_green, green_end)
        alt = None
    else:
        likely, alt = _actuated_likely(state, program, now)
    for sg, (lo, hi) in bounds.items():
        if sg not in out:
            li, conf = likely.get(sg, (None, 0))
            out[sg] = (lo, hi, li, conf)
    return out, bounds, alt, ahead


def carry_likely(
    timings: Mapping[str, Timing], kernel: KernelState, before: SpatCache,
) -> dict[str, Timing]:
    """A late tick's likely ends without a walk: those of the last walk (``before``, with
    their raw confidences) for every group still showing the aspect it was walked for, where
    the walk's likely end lies within the new bounds; the others stay unknown until the next
    tick on time walks again.

    Why: a late tick must publish the new aspects and honest bounds at once, but hundreds of
    controllers switching in one pass, each walking, made that pass too long for the
    following ticks (:data:`~signal_controller.domain.controller.SAMPLED_LAG_LIMIT_MS`).
    A group whose aspect did not change is still headed for the switch the last walk saw.
    """
    out = dict(timings)
    for sg, raw in before.raw_conf.items():
        t = out.get(sg)
        if t is None or t[2] is not None or before.lamps.get(sg) is not kernel.heads[sg].lamp:
            continue
        lo, hi, _, _ = t
        prev = before.timings[sg][2]
        if prev is not None:  # the walk's own end: the lean is added again after this
            prev -= before.shifts.get(sg, 0)
        if prev is None or (lo is not None and prev < lo) or (hi is not None and prev > hi):
            continue
        out[sg] = (lo, hi, prev, raw)
    return out


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
        occupied, ref = gap_ref(model, stage, dets, run.start)
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
    wish = state.wish
    cutoff = early_cutoff(state.model, wish, run)
    if cutoff is not None:
        cand = min(cand, cutoff)
    if wish.hold_until is not None:
        cand = max(cand, wish.hold_until)
    assert run.deadline is not None
    return min(max(cand, min_end), run.deadline)


def _likely_duration(state: ControllerState, stage: Stage, now: int, chosen: int) -> int:
    """Learned typical green of a future stage chosen at ``chosen`` (conditional median given
    the wait its loops will show then), within its limits."""
    model = state.model
    wait = stage_wait(model, state.detectors, stage.index, chosen)
    est = state.history.estimate(stage.id, now, 0, wait)
    if est is not None:
        med = est.duration
    else:
        med = stage.min_green + (stage.max_green - stage.min_green) // 3
    return min(max(med, stage.min_green), longest_green(model, stage))


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
        if queue_gone(dets, run, det, now):
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
    occupied, ref = gap_ref(model, stage, dets, run.start)
    if occupied:
        on = max((dets.last_on.get(d, now) for d in model.stage_loops[stage.index]
                  if d in dets.occupied), default=now)
        return now + max(0, occ - (now - on)) + gap_out_median(total, stage.gap, occ), 30, False
    start = max(ref, run.start)
    return now + gap_out_median_from(total, stage.gap, occ, max(0, now - start)), 50, False


#: ln 2 in the units of ``rate (1/s) × Δt (ms)``: the median of the first arrival.
_LN2_MS = 1000.0 * math.log(2)


def likely_called(state: ControllerState, stage: Stage, now: int, at: int) -> bool:
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


def _green_bounds(model: Intersection, run: ActRun, x_min: int, sg: str) -> Bounds:
    """``(min_end, max_end)`` of a group green in the current stage: the stage's earliest end
    ``x_min`` and, for a group no other stage serves, its deadline."""
    return (x_min, run.deadline if len(model.stages_with(sg)) == 1 else None)


def late_bounds(state: ControllerState, now: int, before: SpatCache) -> dict[str, Bounds] | None:
    """A late tick's bounds without a walk, or ``None`` when they need one (the latched calls
    or the revision changed since ``before``, or the program is not an actuated run).

    Why they hold: ``before``'s bounds of a group red then covered every future of that
    state under the same calls and revision, and the present is one of those futures, so a
    group still red keeps them (looser than a walk now would give, never wrong). A group
    green in the current stage gets the stage's own bounds (no walk), and a group that has
    just turned red has none (unknown, not guessed) until the next tick on time walks.
    """
    run = state.program
    if (not isinstance(run, ActRun) or before.bkey[2] != state.detectors.calls
            or before.bkey[3] != state.revision):
        return None
    model = state.model
    x = model.stages[run.stage]
    x_min = max(stage_min_end(model, run, state.kernel), now + TICK_MS)
    out: dict[str, Bounds] = {}
    for sg, head in state.kernel.heads.items():
        if sg in x.groups:
            if head.lamp is Lamp.GREEN:
                out[sg] = _green_bounds(model, run, x_min, sg)
        elif head.lamp is Lamp.RED:
            kept = before.bounds.get(sg) if before.lamps.get(sg) is Lamp.RED else None
            out[sg] = kept if kept is not None else (None, None)
    return out


def _actuated_bounds(state: ControllerState, run: ActRun, now: int) -> dict[str, Bounds]:
    """``(min_end, max_end)`` of every group whose aspect is not already known exactly."""
    model = state.model
    kernel = state.kernel
    x = model.stages[run.stage]
    x_min = max(stage_min_end(model, run, kernel), now + TICK_MS)
    x_max = run.deadline
    must = must_serve(model, state.detectors)
    max_walk = None
    if x_max is not None:
        max_walk = _walk(
            state, run, x_max, lambda y, _t: longest_green(model, y), hypothetical=must
        )
    min_walks: dict[int, _Walk] = {}
    out: dict[str, Bounds] = {}
    for g in model.groups:
        sg = g.sg
        lamp = kernel.heads[sg].lamp
        if sg in x.groups:
            if lamp is Lamp.GREEN:
                out[sg] = _green_bounds(model, run, x_min, sg)
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
    x_min = max(stage_min_end(model, run, kernel), now + TICK_MS)
    x_likely, x_conf, alt = _likely_stage_end(state, run, x_min, now)
    demanded = must_serve(model, state.detectors) | state.wish.calls
    walk = None
    if x_likely is not None:
        walk = _walk(
            state,
            run,
            x_likely,
            lambda y, t: (
                _likely_duration(state, y, now, t)
                if y.index in demanded or likely_called(state, y, now, t)
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


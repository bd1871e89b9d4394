"""The controller as a pure transducer: ``step(state, inputs, now) -> (state, outputs)``.

Why a transducer: the same code runs the lamps of a real junction, SUMO, the demo and the
property tests, with time injected as integer milliseconds on the 100 ms tick grid and no I/O.
Every tick it (1) runs the watchdog, (2) takes detector events (:mod:`.detectors`) and priority
requests (:mod:`.priority`) in, (3) lets the active program (start-up/clearing, fixed-time or
actuated stages, :mod:`.actuated`) *request* a lamp aspect per group through :func:`_drive`,
(4) hands the requests to the safety kernel (:mod:`.safety`), the only code that changes lamps,
and (5) publishes SPaT timing (:mod:`.spat_timing`), cached while nothing it depends on changed,
with the prediction's status (:mod:`.prediction_status`: ok, degraded or stale, and why).

Program changes (``set_mode``, ``set_plan``, ``flash`` in :mod:`.commands`, fail-safe,
``resume``) increase the SPaT ``revision``; the published ``[min_end, max_end]`` bounds hold
for every change within one revision while the status is not ``flashing``. The state and its
inputs and outputs are defined in :mod:`.state`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import replace

from edge_agent.contract.configs import IntersectionConfig
from signal_controller.domain import fixed_time, safety
from signal_controller.domain.actuated import advance, must_serve, stage_view, start_stage
from signal_controller.domain.calibration import OBSERVE_EVERY_MS, Calibration
from signal_controller.domain.commands import CommandError
from signal_controller.domain.detectors import (
    Detectors,
    DetectorWatch,
    settle_calls,
    take_detectors,
    watch_detectors,
)
from signal_controller.domain.intersection import TICK_MS, Group, Intersection
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.learners import History
from signal_controller.domain.plan_check import check_model
from signal_controller.domain.prediction_status import check as check_prediction
from signal_controller.domain.priority import (
    NO_WISH,
    PriorityState,
    PriorityWish,
    evaluate,
    receive,
    reject_all,
)
from signal_controller.domain.safety import KernelState, Violation
from signal_controller.domain.spat_timing import (
    carry_likely,
    late_bounds,
    predict,
    published_likely,
    spat_rows,
)
from signal_controller.domain.state import (
    ActRun,
    Clearing,
    ControllerState,
    FixedRun,
    Halted,
    Inputs,
    Mode,
    Outputs,
    Program,
    SpatCache,
    Timing,
    halt,
    status_of,
)
from signal_controller.domain.transitions import plan_transition


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
        watch=DetectorWatch(now),
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
    return _finish(halt(state, kernel, "fault"), before, now, violation)


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
    watch = state.watch
    if inputs.detectors:
        watch = watch_detectors(model, watch, inputs.detectors)
        dets, unknown, pulses = take_detectors(model, dets, inputs.detectors, now)
        if unknown:
            counts = dict(counts)
            counts["unknown_detector"] = counts.get("unknown_detector", 0) + unknown
    prio = state.priority
    wish = state.wish
    if isinstance(program, ActRun):
        for msg in inputs.requests:
            prio = receive(prio, model, msg, now, accepting=True, cycle=program.cycle)
        if prio.requests:
            prio, wish = evaluate(prio, model, stage_view(model, program, now), now)
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
            program, history, dets = advance(model, kernel, history, wish, program, dets, now)
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
            failed = halt(replace(state, priority=prio, detectors=dets, counts=counts,
                                  watch=watch), kernel, "fault")
            return _finish(failed, before, now, violation)
        before_calls = dets.calls
        serving = program.stage if isinstance(program, ActRun) else None
        dets = settle_calls(model, kernel, serving, dets, pulses)
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
        watch=watch,
        cache=state.cache,
        calibration=state.calibration,
        prediction=state.prediction,
        phase=state.phase,
        sampled=state.sampled,
    )
    return _finish(new, before, now, None, late=inputs.lag_ms > SAMPLED_LAG_LIMIT_MS)


_ALL_RED: Mapping[str, tuple[bool, int]] = {}
LIKELY_REFRESH_MS = 1000
#: a tick running this late (the adapter's lag: in a shared process, how far into the tick's
#: pass it runs) leaves the once-a-second refresh to a later tick on time, and what must be
#: published now (an aspect, program or call changed) it computes without walking: exact
#: aspects as always, the bounds that still hold
#: (:func:`~signal_controller.domain.spat_timing.late_bounds`; walked only when the calls or
#: the revision changed) and the likely ends of the last walk
#: (:func:`~signal_controller.domain.spat_timing.carry_likely`). Hundreds of controllers
#: switching in the same tick, or a pass that is already long, thus cost no walk: the rest
#: waits for a tick on time before the watchdog (500 ms) or a late tick sees the lag.
SAMPLED_LAG_LIMIT_MS = 20


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
        return start_stage(model, dets, 0, now, start=start, entering=entering, cycle=0,
                           demand=must_serve(model, dets))
    return program


def _fixed_targets(model: Intersection, run: FixedRun, now: int) -> dict[str, tuple[bool, int]]:
    plan = model.plan
    assert plan is not None  # FixedRun only exists with a plan
    return {g.sg: fixed_time.target(plan, g, run.start, now) for g in model.groups}


def _finish(
    state: ControllerState, before: KernelState, now: int, fault: Violation | None,
    *, late: bool = False,
) -> tuple[ControllerState, Outputs]:
    kernel = state.kernel
    model = state.model
    changed: tuple[str, ...] = ()
    if kernel.heads is not before.heads:
        changed = tuple(
            sg for sg, h in kernel.heads.items() if before.heads[sg].lamp is not h.lamp
        )
    floor = now + TICK_MS
    # Bounds change only with the aspects, the program (deadline) and latched calls, which
    # must be published at once; the likely end also with detectors and priority wishes, and
    # as time passes: refreshed once a second (at the controller's own phase), or at the next
    # tick on time after a late one. A late tick never refreshes what may wait (see
    # SAMPLED_LAG_LIMIT_MS) and computes what may not with the deterministic walk.
    bkey = (kernel.heads, state.program, state.detectors.calls, state.revision)
    lkey = (state.detectors, state.wish)
    cache = state.cache
    new_second = cache is None or (
        (now + state.phase) // LIKELY_REFRESH_MS
        != (cache.computed + state.phase) // LIKELY_REFRESH_MS)
    same_b = cache is not None and _same_key(cache.bkey, bkey)
    calibration = state.calibration
    if changed:  # a fail-safe or start-up sequence is no end anyone predicted: not scored
        calibration = (calibration.drop(changed)
                       if isinstance(state.program, Halted | Clearing)
                       else calibration.switched(changed, now))
    if cache is None or not same_b or (not late and _due(cache, new_second, lkey, now)):
        if late and cache is not None:  # an aspect changed: no walk (SAMPLED_LAG_LIMIT_MS)
            timings, bounds, alt, _ = predict(
                state, now, late_bounds(state, now, cache), walk=False)
            timings, nxt = carry_likely(timings, kernel, cache), cache.ahead
        else:
            fresh = cache is not None and same_b and not new_second
            timings, bounds, alt, nxt = predict(
                state, now, cache.bounds if cache and fresh else None, sampled=not late)
        if alt is not None:
            state = replace(state, history=state.history.observe(now, *alt))
        timings, raw, shifts = _calibrated(kernel, timings, calibration, now)
        rows, valid_until = spat_rows(model, kernel, timings, floor, nxt)
        lamps = {r.sg: r.lamp for r in rows}
        cache = SpatCache(bkey, lkey, now, bounds, timings, rows, valid_until, lamps, nxt, raw,
                          not late, shifts)
    elif floor > cache.rows_valid_until:
        rows, valid_until = spat_rows(model, kernel, cache.timings, floor, cache.ahead)
        cache = replace(cache, rows=rows, rows_valid_until=valid_until)
    if now - calibration.last_observed >= OBSERVE_EVERY_MS and cache.raw_conf:
        # the published rows as they stand at this tick, with their raw confidences: a
        # sample of every tick's rows, not only of freshly computed ones
        calibration = calibration.observe(
            [(r.sg, r.likely_end, cache.raw_conf[r.sg], cache.shifts.get(r.sg, 0))
             for r in cache.rows
             if r.sg in cache.raw_conf and r.lamp in (Lamp.GREEN, Lamp.RED)], now)
    ssem = state.priority.ssem() if state.priority.requests or state.last_ssem else ()
    ssem_out = ssem if ssem != state.last_ssem else None
    pred = check_prediction(state, now)
    if (cache is not state.cache or ssem_out is not None or pred is not state.prediction
            or calibration is not state.calibration):
        state = replace(state, cache=cache, last_ssem=ssem, prediction=pred,
                        calibration=calibration)
    return state, Outputs(
        now=now,
        status=status_of(state.program),
        revision=state.revision,
        lamps=cache.lamps,
        groups=cache.rows,
        changed=changed,
        fault=fault,
        ssem=ssem_out,
        prediction=pred.status,
    )


def _calibrated(
    kernel: KernelState, timings: Mapping[str, Timing], calibration: Calibration, now: int
) -> tuple[dict[str, Timing], dict[str, int], dict[str, int]]:
    """The timings with the far likely ends corrected for the walk's lean and with calibrated
    confidences (:mod:`.calibration`), the raw confidences of the red and green groups
    (remembered once a second to be scored when each switches), and the shifts added."""
    out = dict(timings)
    raw_conf = {}
    shifts = {}
    for sg, t in timings.items():
        lo, hi, likely, raw = t
        if (kernel.heads[sg].lamp in (Lamp.GREEN, Lamp.RED) and likely is not None
                and not lo == hi == likely):  # an exact end needs no calibration
            published = published_likely(t, now + TICK_MS)
            assert published is not None
            if shift := calibration.shift(published - now):
                likely += shift
                shifts[sg] = shift
                published = published_likely((lo, hi, likely, raw), now + TICK_MS)
                assert published is not None
            out[sg] = (lo, hi, likely, calibration.confidence(raw, published - now))
            raw_conf[sg] = raw
    return out, raw_conf, shifts


def _same_key(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    """Identity for the state parts (immutable, replaced on change), equality for numbers."""
    return a[0] is b[0] and a[1] is b[1] and a[2:] == b[2:]


def _due(cache: SpatCache, new_second: bool, lkey: tuple[object, ...], now: int) -> bool:
    """Whether the likely ends may be refreshed: a new refresh second, a late tick's walk to
    replace, or detectors and wishes changed a refresh interval ago."""
    if new_second or not cache.on_time:
        return True
    same_l = cache.lkey[0] is lkey[0] and cache.lkey[1] == lkey[1]
    return not same_l and now >= cache.computed + LIKELY_REFRESH_MS



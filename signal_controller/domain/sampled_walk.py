"""The sampled walk: ``likely_end`` and ``confidence`` from futures drawn from what was learned.

Why sample and not walk once: under actuated control the end of every green is the first gap
in traffic that has not arrived yet, and a red group waits for the sum of such greens. A single
walk with typical durations predicts the sum of medians, which is not the median of the sum,
and it cannot say how sure it is. This module draws ``SAMPLES`` futures of the stage sequence
from the controller's own knowledge:

* the queue at every loop now: counted between an upstream loop and the stop line where the
  junction has one (exact, plus the vehicles standing behind an occupied upstream loop, and
  in the intergreen into a stage those arriving until its green begins),
  otherwise the stop-line loop's evidence (the first waiting vehicle's arrival, departures
  counted since the green began);
* arrivals as Poisson streams at each loop's learned rate (:class:`.learners.Flow`), push
  buttons at their learned press rate;
* each green as the actuated rules run it: the queue discharges at the learned saturation
  headway, then the green ends at the first gap of ``gap`` ms (drawn from the shared gap-out
  renewal table of :mod:`.learners`), within minimum and maximum green; a stage is served only if
  called when the stage before it ends; transitions take the intergreens of
  :func:`.transitions.plan_transition`.

``likely_end`` is the median switch over the futures (the best answer under absolute error),
its share of futures switching within ±1 s is the raw confidence, which
:mod:`.calibration` turns into the probability the contract asks for. For a group green now
the median start of its next green is given too. Draws are seeded from the intersection and
the instant, so the domain stays deterministic. Nothing is fitted offline: every rate, headway
and occupancy is learned from the controller's own detectors.
"""

from __future__ import annotations

import bisect
import math
import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from signal_controller.domain.actuated import early_cutoff, ext_budget, queue_gone
from signal_controller.domain.detectors import Detectors, gap_ref
from signal_controller.domain.intersection import Intersection
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.learners import TICK, Flow, gap_out_cdf, quantise_rate
from signal_controller.domain.state import NEXT_GREEN_LAMPS, ActRun, ControllerState
from signal_controller.domain.transitions import plan_transition

#: futures drawn per refresh: 64 gave the same errors within 0.01-0.02 s on the benchmark
#: (BENCHMARKS.md) at 2.7 times the cost; 24 keeps 300 controllers inside the scale goal.
SAMPLES = 24
#: the walk stops after this many cycles (a group whose stage keeps being skipped).
CYCLES = 4
WINDOW_MS = 1000
#: a future without the switch counts as this late (after every real one).
NEVER = 2**62


@dataclass(frozen=True, slots=True)
class _Hop:
    """A transition from one stage to another: entering groups' green offsets (ms after the
    decision), the groups ending, and the offset of the new stage's full green."""

    entering: tuple[tuple[str, int], ...]
    ending: tuple[str, ...]
    start: int


_HOPS: dict[int, tuple[Intersection, dict[tuple[int, int], _Hop]]] = {}


def _hops(model: Intersection) -> dict[tuple[int, int], _Hop]:
    """Every stage-to-stage transition of ``model`` as offsets from the decision (computed
    once per model: they depend only on the intergreens)."""
    got = _HOPS.get(id(model))
    if got is not None and got[0] is model:
        return got[1]
    t0 = 10**9
    hops = {}
    for a in model.stages:
        for b in model.stages:
            if a.index == b.index:
                continue
            entering, ending, start = plan_transition(
                model, a.groups, b.groups, t0, {}, amber_ends={}, hold_red_until=0
            )
            hops[(a.index, b.index)] = _Hop(
                tuple((sg, t - t0) for sg, t in sorted(entering.items())),
                tuple(sorted(ending)),
                start - t0,
            )
    if len(_HOPS) > 4096:
        _HOPS.clear()
    _HOPS[id(model)] = (model, hops)
    return hops


def _poisson(rnd: random.Random, mean: float) -> int:
    """A Poisson draw (inversion; one uniform draw)."""
    if mean <= 0.0:
        return 0
    if mean > 30.0:  # normal approximation beyond any queue that matters here
        return max(0, round(rnd.gauss(mean, math.sqrt(mean))))
    u = rnd.random()
    p = math.exp(-mean)
    cdf = p
    k = 0
    while u > cdf and k < 200:
        k += 1
        p *= mean / k
        cdf += p
    return k


@dataclass(frozen=True, slots=True)
class _Loop:
    """One stop-line loop as the walk needs it: rate (veh/ms), and the queue now as a known
    part plus the mean of a Poisson part (arrivals behind what is counted)."""

    det: str
    rate: float
    known: int
    extra: float


@dataclass(slots=True)
class _Context:
    """Everything the draws share, computed once per refresh."""

    model: Intersection
    now: int
    headway: int
    occ: int
    loops: tuple[tuple[_Loop, ...], ...]
    #: per stage: call rate (loops and buttons, veh/ms) and whether it is demanded now.
    call_rate: tuple[float, ...]
    demanded: frozenset[int]
    #: per stage: quantised total loop rate for the gap-out table.
    gap_rate: tuple[int, ...]
    red_amber: Mapping[str, int]
    #: per stage: the gap-out table of its loops (:func:`.learners.gap_out_cdf`).
    gap_tables: tuple[tuple[float, ...], ...] = ()


def _loops_now(model: Intersection, dets: Detectors, run: ActRun, now: int) -> _Context:
    flow = dets.flow
    per_stage = []
    call_rate = []
    gap_rate = []
    for stage in model.stages:
        loops = []
        total = 0.0
        for det in model.stage_loops[stage.index]:
            lam = flow.rate(det, now) / 1000.0
            total += lam
            loops.append(_loop_queue(dets, flow, det, lam, stage.index == run.stage, run, now,
                                     model.zone_size.get(det, 1)))
        per_stage.append(tuple(loops))
        buttons = sum(
            flow.rate(d, now) / 1000.0
            for d, (sg, k) in model.detectors.items()
            if k == "button" and sg in stage.groups
        )
        call_rate.append(total + buttons)
        gap_rate.append(quantise_rate(total * 1000.0))
    return _Context(
        model, now, flow.headway, flow.occupancy, tuple(per_stage), tuple(call_rate),
        dets.calls | model.recall, tuple(gap_rate),
        {g.sg: g.red_amber for g in model.groups},
        tuple(
            gap_out_cdf(gap_rate[s.index], s.gap, flow.occupancy - flow.occupancy % TICK)
            for s in model.stages
        ),
    )


def _loop_queue(  # noqa: PLR0917 - one loop's evidence
    dets: Detectors, flow: Flow, det: str, lam: float, serving: bool, run: ActRun, now: int,
    zone_size: int,
) -> _Loop:
    """The queue at ``det`` now: counted with an upstream loop, else from the stop line.

    In green, a queue longer than the zone moves over the upstream loop vehicle by vehicle,
    which no longer stands occupied: while the zone is (nearly) full, the vehicles still
    behind it are known only from the stop-line evidence (arrivals since the queue began,
    less departures), so the queue is then the larger of the two."""
    zone = flow.zone(det)
    if zone is not None:
        count, standing = zone
        extra = lam * (now - standing) if standing is not None else 0.0
        if serving and now < run.start:  # arrivals until the green begins join the queue
            extra += lam * (run.start - now)
        if serving and count >= zone_size - 1:
            extra = max(extra, _served_queue(dets, flow, det, lam, run, now) - count)
        return _Loop(det, lam, count, extra)
    if serving:
        return _Loop(det, lam, 0, _served_queue(dets, flow, det, lam, run, now))
    if det in dets.occupied:  # the first waiting vehicle, and arrivals behind it since
        return _Loop(det, lam, 1, lam * (now - dets.last_on.get(det, now)))
    return _Loop(det, lam, 0, 0.0)


def _served_queue(  # noqa: PLR0917 - one loop's stop-line evidence
    dets: Detectors, flow: Flow, det: str, lam: float, run: ActRun, now: int
) -> float:
    """The expected queue at ``det`` of the stage in green, from the stop-line loop alone: the
    first waiting vehicle and the arrivals since it, less the departures counted."""
    if queue_gone(dets, run, det, now):
        return 0.0
    for d, since, seen in run.queues:
        if d == det:
            base = max(now, run.start)
            departed = flow.count(det) - seen
            first = 1 if det in dets.occupied or now < run.start else 0
            return max(0.0, first + lam * (base - since) - departed)
    return 0.0


def _gap_out(rnd: random.Random, cdf: tuple[float, ...]) -> int:
    """A draw of the time (ms) from free loops until gap-out, from a stage's table
    (:func:`.learners.gap_out_cdf`, in ``_Context.gap_tables``)."""
    return bisect.bisect_left(cdf, rnd.random()) * TICK


def _discharge(queue: int, lam: float, headway: int, occ: int) -> float:
    """From the first departure until the queue (with arrivals joining) has left (ms)."""
    if queue <= 0:
        return 0.0
    eff = queue / max(0.2, 1.0 - lam * headway)
    return (eff - 1.0) * headway + occ


def sampled_likely(
    state: ControllerState, run: ActRun, now: int, x_min: int, samples: int = SAMPLES,
    *, beyond: bool = True,
) -> tuple[dict[str, tuple[int | None, int]], dict[str, int], dict[str, int]]:
    """``(likely_end, confidence)`` of every red and green group; the likely start of the
    next green after the one showing (a group green or amber now) or coming (a vehicle group
    red now); and the likely end of that coming green of a red vehicle group (each the median
    over the same ``samples`` futures). ``beyond=False`` leaves out the red groups' later
    greens (and the walking they cost); what else is returned does not change with it."""
    model = state.model
    kernel = state.kernel
    live = [g.sg for g in model.groups if kernel.heads[g.sg].lamp in (Lamp.GREEN, Lamp.RED)]
    green = [g.sg for g in model.groups if kernel.heads[g.sg].lamp in NEXT_GREEN_LAMPS]
    red = [g.sg for g in model.groups
           if beyond and kernel.heads[g.sg].lamp is Lamp.RED and g.kind != "pedestrian"]
    amber = frozenset(sg for sg in green if kernel.heads[sg].lamp is Lamp.AMBER)
    ctx = _loops_now(model, state.detectors, run, now)
    first = _first_hops(state, run, x_min) if now >= run.start else {}
    seed = (zlib.crc32(model.id.encode()) << 32) ^ now
    rnd = random.Random(seed)
    later = random.Random(seed + 1)  # the draws beyond the last switch (see _draw)
    found: dict[str, list[int]] = {sg: [] for sg in live}
    again: dict[str, list[int]] = {sg: [] for sg in green + red}
    ends: dict[str, list[int]] = {sg: [] for sg in red}
    for _ in range(samples):
        switch, next_green, green_end = _draw(state, run, now, x_min, ctx, first,
                                              (rnd, later), green, amber, red)
        for sg in live:
            found[sg].append(switch.get(sg, NEVER))
        for sg, times in again.items():
            times.append(next_green.get(sg, NEVER))
        for sg, times in ends.items():
            times.append(green_end.get(sg, NEVER))
    return _medians(found, samples), _median_of(again, samples), _median_of(ends, samples)


def _median_of(draws: dict[str, list[int]], samples: int) -> dict[str, int]:
    """Per group the median instant over the futures, where it is reached in most of them."""
    mid = (samples - 1) // 2
    out = {}
    for sg, times in draws.items():
        times.sort()
        if times[mid] < NEVER:
            out[sg] = times[mid]
    return out


def _medians(found: dict[str, list[int]], samples: int) -> dict[str, tuple[int | None, int]]:
    """Per group the median switch over the futures and the share within ±1 s of it."""
    out: dict[str, tuple[int | None, int]] = {}
    mid = (samples - 1) // 2
    for sg, times in found.items():
        times.sort()
        med = times[mid]
        if med >= NEVER:
            out[sg] = (None, 0)
            continue
        lo = bisect.bisect_left(times, med - WINDOW_MS)
        hi = bisect.bisect_right(times, med + WINDOW_MS)
        out[sg] = (med, round(100 * (hi - lo) / samples))
    return out


def _first_hops(
    state: ControllerState, run: ActRun, t_ref: int
) -> dict[int, tuple[dict[str, tuple[int, int]], tuple[str, ...], tuple[int, int]]]:
    """The transitions out of the current stage with the kernel's real last greens and
    ambers: per next stage, each entering group's ``(offset, floor)`` so that its green at a
    decision ``t >= t_ref`` is ``max(t + offset, floor)`` (the same for the stage start)."""
    model = state.model
    kernel = state.kernel
    green = [sg for sg, h in kernel.heads.items() if h.lamp is Lamp.GREEN]
    lg = {sg: h.last_green for sg, h in kernel.heads.items()}
    ambers = {
        sg: h.since + model.by_sg[sg].amber
        for sg, h in kernel.heads.items()
        if h.lamp is Lamp.AMBER
    }
    far = 10**7
    out = {}
    for y in model.stages:
        if y.index == run.stage:
            continue
        e1, ending, s1 = plan_transition(
            model, green, y.groups, t_ref, lg, amber_ends=ambers,
            hold_red_until=kernel.hold_red_until,
        )
        e2, _, s2 = plan_transition(
            model, green, y.groups, t_ref + far, lg, amber_ends=ambers,
            hold_red_until=kernel.hold_red_until,
        )
        out[y.index] = (
            {sg: (e2[sg] - t_ref - far, e1[sg]) for sg in e1},
            tuple(sorted(ending)),
            (s2 - t_ref - far, s1),
        )
    return out


def _current_end(  # noqa: PLR0917 - one draw's view of the running stage
    state: ControllerState, run: ActRun, now: int, x_min: int, ctx: _Context,
    rnd: random.Random, others: float,
) -> int:
    """A draw of when the current stage ends."""
    model = ctx.model
    stage = model.stages[run.stage]
    kind = model.stage_kinds[run.stage]
    natural_max = run.start + stage.max_green
    dets = state.detectors
    if kind == "buttons":
        end = x_min
    elif kind == "none":
        end = natural_max
    else:
        base = max(now, run.start)
        discharged = 0.0
        for lp in ctx.loops[run.stage]:
            q = lp.known + _poisson(rnd, lp.extra)
            if q:
                discharged = max(discharged, _discharge(q, lp.rate, ctx.headway, ctx.occ))
        rate_q = ctx.gap_rate[run.stage]
        table = ctx.gap_tables[run.stage]
        if discharged > 0.0:
            end = base + round(discharged) + _gap_out(rnd, table)
        else:
            occupied, ref = gap_ref(model, stage, dets, run.start)
            if occupied:
                on = max((dets.last_on.get(d, now) for d in model.stage_loops[stage.index]
                          if d in dets.occupied), default=now)
                end = now + max(0, ctx.occ - (now - on)) + _gap_out(rnd, table)
            else:
                left = stage.gap - (now - max(ref, run.start))
                lam = rate_q / 1e6
                u = rnd.expovariate(lam) if lam > 0 else float("inf")
                if u >= left:
                    end = now + max(0, left)
                else:
                    end = now + round(u) + ctx.occ + _gap_out(rnd, table)
        end = max(end, x_min)
    deadline = run.deadline
    latest = natural_max
    if deadline is None:  # the green rests until other demand arrives, even past its maximum
        demand = max(now, math.ceil(min(others, now + 3_600_000)))
        end = max(end, demand)
        latest = max(natural_max, demand)
        deadline = latest + ext_budget(model, stage)
    wish = state.wish
    cutoff = early_cutoff(model, wish, run)
    if cutoff is not None:
        end = min(end, cutoff)
    hold = wish.hold_until
    end = max(end, hold) if hold is not None else min(end, max(latest, x_min))
    return max(x_min, min(end, deadline))


def _draw(  # noqa: PLR0917 - one future of the whole stage sequence
    state: ControllerState, run: ActRun, now: int, x_min: int, ctx: _Context,
    first: Mapping[int, tuple[dict[str, tuple[int, int]], tuple[str, ...], tuple[int, int]]],
    streams: tuple[random.Random, random.Random], green: list[str], amber: frozenset[str],
    red: list[str],
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """One future: the switch instant of every red and green group (as far as reached); when
    each group green (or amber: those in ``amber``) now in ``green`` is green again; and for
    each group in ``red`` when its coming green ends and the green after it begins.

    ``streams``: the draws up to the last switch and next green of the groups green now come
    from the first, those beyond (walked only for the red groups' green after the coming one)
    from the second, so the first is drawn exactly as if the walk stopped there: the switches
    and next greens do not change with the red groups' later greens."""
    rnd, later = streams
    model = ctx.model
    stages = model.stages
    n = len(stages)
    red_amber = ctx.red_amber
    hops = _hops(model)
    switch: dict[str, int] = {}
    again: dict[str, int] = {}
    green_now = set(green)
    #: the groups of ``green`` whose current green has ended (amber now, or ended in this
    #: future): the next entering of one of them is its next green
    ended = set(amber)
    #: the groups of ``red`` whose coming green has begun in this future, and its end
    red_now = frozenset(red)
    entered = set(red_now & model.stages[run.stage].groups)  # their red-amber is due
    green_end: dict[str, int] = {}
    after: dict[str, int] = {}  # the green after the coming one of each group in ``red``
    #: per stage: vehicles at its loops at ``since`` (drawn once per future), the first
    #: arrival or press after ``since`` (drawn when needed), whether a latched call still holds.
    since = [now] * n
    queues: list[list[int] | None] = [None] * n
    arrival: list[float | None] = [None] * n
    latched = [i in state.detectors.calls or i in state.wish.calls or i in model.recall
               for i in range(n)]

    known_demand: list[float | None] = [None] * n

    def demand(j: int) -> float:
        """When stage ``j`` has demand (``since[j]`` or earlier if it has it already); fixed
        until ``j`` is served (its queue, latch and first arrival are drawn once)."""
        d = known_demand[j]
        if d is None:
            d = known_demand[j] = _demand(j)
        return d

    def _demand(j: int) -> float:
        q = queues[j]
        if q is None:
            q = queues[j] = [lp.known + _poisson(rnd, lp.extra) for lp in ctx.loops[j]]
        if latched[j]:
            return -1.0
        if any(q):
            return since[j]
        a = arrival[j]
        if a is None:
            rate = ctx.call_rate[j]
            a = arrival[j] = since[j] + rnd.expovariate(rate) if rate > 0 else float(NEVER)
        return a

    others = min((demand(j) for j in range(n) if j != run.stage), default=float(NEVER))
    t = _current_end(state, run, now, x_min, ctx, rnd, others)
    prev = run.stage
    since[run.stage] = t
    queues[run.stage] = [0] * len(ctx.loops[run.stage])
    latched[run.stage] = run.stage in model.recall
    known_demand[run.stage] = None
    total = len(model.groups)
    for k in range(1, CYCLES * n):
        i = (run.stage + k) % n
        if i == prev or demand(i) > t:
            continue
        y = stages[i]
        if prev == run.stage and k < n and now >= run.start:
            # the current stage is fully green: the kernel's real last greens and ambers (in
            # its intergreen, the hop below, as its groups are then green until ``t``)
            entering_off, ending, (s_off, s_floor) = first[i]
            entering = {sg: max(t + off, floor) for sg, (off, floor) in entering_off.items()}
            start = max(t + s_off, s_floor)
        else:
            hop = hops[(prev, i)]
            entering = {sg: t + off for sg, off in hop.entering}
            ending = hop.ending
            start = t + hop.start
        for sg in ending:
            switch.setdefault(sg, t)
            if sg in green_now:
                ended.add(sg)
            elif sg in entered and sg not in green_end:
                green_end[sg] = t
                ended.add(sg)
        for sg, gs in entering.items():
            if sg in ended:
                (after if sg in red_now else again).setdefault(sg, gs)
            elif sg in red_now:
                entered.add(sg)
            switch.setdefault(sg, gs - red_amber[sg])
        if len(switch) >= total and len(again) >= len(green):
            if len(after) >= len(red):
                break
            rnd = later  # what follows is drawn from the second stream (see the docstring)
        # the green of y: its queues at the start, their discharge, then a gap
        q_at = queues[i]
        assert q_at is not None  # drawn by demand(i)
        from_t = float(since[i])
        if not any(q_at) and q_at and (a := arrival[i]) is not None and a <= t:
            q_at = [1, *q_at[1:]]  # the vehicle that called
            from_t = a
        longest = 0.0
        for lp, q0 in zip(ctx.loops[i], q_at, strict=True):
            q = q0 + _poisson(rnd, lp.rate * (start - from_t))
            if q:
                longest = max(longest, _discharge(q, lp.rate, ctx.headway, ctx.occ))
        kind = model.stage_kinds[i]
        if kind == "none":
            end = start + y.max_green
        elif kind == "buttons":
            end = start + y.min_green
        else:
            dur = round(longest) + _gap_out(rnd, ctx.gap_tables[i])
            end = start + min(max(dur, y.min_green), y.max_green)
        since[i] = end
        queues[i] = [0] * len(q_at)
        arrival[i] = None
        latched[i] = i in model.recall
        known_demand[i] = None
        # the green rests until another stage has demand
        rest = min((demand(j) for j in range(n) if j != i), default=float(NEVER))
        t = max(end, math.ceil(rest)) if rest < NEVER else end
        prev = i
    return switch, again | after, green_end

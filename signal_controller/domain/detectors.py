"""Detector state and call latching: what the loops and push buttons tell the controller.

Why a module of its own: the same detector facts — which loops are occupied, when the current
gap began, how long the first vehicle has waited — are read by actuated control (calls, gap-out)
and by the SPaT prediction (queue model, likely calls). Keeping them here, next to the one place
that applies detector events, means both read them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from signal_controller.domain.intersection import Intersection, Stage
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.learners import Flow
from signal_controller.domain.safety import KernelState


@dataclass(frozen=True, slots=True)
class DetectorEvent:
    """A loop or push button changed state."""

    detector: str
    occupied: bool
    #: the detector card reports a fault of the loop (the adapter also sends it as occupied:
    #: a faulty loop is a permanent call); a later event without it clears the fault.
    fault: bool = False


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
class DetectorWatch:
    """What the SPaT prediction status (:mod:`.prediction_status`) judges the detectors by,
    beyond their occupancy: which configured detectors were heard at all since ``since`` (the
    controller's start or the latest plan) and which report a card fault now.

    Why apart from :class:`Detectors`: occupancy and calls change many times a minute and are
    rebuilt by the control rules; these two sets change a few times a day, so keeping them
    apart leaves the hot path as it was and lets the status check compare them by identity.
    """

    since: int
    heard: frozenset[str] = frozenset()
    faults: frozenset[str] = frozenset()


def watch_detectors(
    model: Intersection, watch: DetectorWatch, events: tuple[DetectorEvent, ...]
) -> DetectorWatch:
    """``watch`` after ``events``: configured detectors heard, card faults set and cleared
    (unknown detectors are only counted by :func:`take_detectors`)."""
    heard, faults = watch.heard, watch.faults
    for ev in events:
        det = ev.detector
        if det not in model.detectors:
            continue
        if det not in heard:
            heard = heard | {det}
        if ev.fault != (det in faults):
            faults = faults | {det} if ev.fault else faults - {det}
    if heard is watch.heard and faults is watch.faults:
        return watch
    return DetectorWatch(watch.since, heard, faults)


def take_detectors(
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
    upstream = model.upstream
    for ev in events:
        det = ev.detector
        if det not in model.detectors:
            unknown += 1
        elif det in upstream:  # counts for the prediction only: never calls or extends
            flow = flow.upstream(upstream[det], ev.occupied, now)
        elif ev.occupied:
            if det not in occupied and model.detectors[det][1] == "loop":
                flow = flow.on(det, now, last_on.get(det), last_off.get(det))
                if last_on is dets.last_on:
                    last_on = dict(last_on)
                last_on[det] = now  # type: ignore[index]  # copied just above
            elif det not in occupied:  # a press: the buttons' rate, for the prediction
                flow = flow.on(det, now, None, None)
            occupied.add(det)  # a button press stays latched until the tick ends
            seen.add(det)
        elif det in occupied and model.detectors[det][1] == "loop":
            occupied.discard(det)
            last_off[det] = now
            flow = flow.off(last_on.get(det), now, det)
    new = Detectors(frozenset(occupied), last_off, dets.calls, last_on, flow)
    return new, unknown, frozenset(seen)


def settle_calls(
    model: Intersection,
    kernel: KernelState,
    serving: int | None,
    dets: Detectors,
    pulses: frozenset[str],
) -> Detectors:
    """Latch a call on the next stage serving each occupied detector's (red) group.

    ``serving`` is the stage actuated control serves (``None`` outside actuated control: no
    stage calls are latched then, but button presses are still released)."""
    if not dets.occupied and not pulses:
        return dets
    calls = dets.calls
    if serving is not None and model.stages:
        current = model.stages[serving]
        for det in dets.occupied | pulses:
            sg = model.detectors[det][0]
            if sg in current.groups or kernel.heads[sg].lamp is Lamp.GREEN:
                continue
            nxt = model.next_stage_with(serving, sg)
            if nxt is not None and nxt not in calls:
                calls = calls | {nxt}
    # Buttons are single presses: once latched (or not needed) they are released.
    buttons = frozenset(d for d in dets.occupied if model.detectors[d][1] == "button")
    if not buttons and calls is dets.calls:
        return dets
    return Detectors(dets.occupied - buttons, dets.last_off, calls, dets.last_on, dets.flow)


def gap_ref(model: Intersection, stage: Stage, dets: Detectors, start: int) -> tuple[bool, int]:
    """``(a loop of the stage is occupied, instant the current gap began)``."""
    ref = start
    for det in model.stage_loops[stage.index]:
        if det in dets.occupied:
            return True, ref
        off = dets.last_off.get(det)
        if off is not None and off > ref:
            ref = off
    return False, ref


def stage_wait(model: Intersection, dets: Detectors, stage: int, t: int) -> int:
    """Queue proxy of a stage at ``t``: how long its longest-occupied loop has been occupied
    (for a red stage, the waiting time of its first vehicle), 0 if none is occupied."""
    wait = 0
    for det in model.stage_loops[stage]:
        if det in dets.occupied:
            wait = max(wait, t - dets.last_on.get(det, t))
    return wait


def loop_queues(
    model: Intersection, dets: Detectors, stage: int, t: int
) -> tuple[tuple[str, int, int], ...]:
    """Per loop of ``stage`` chosen at ``t``: ``(loop, queue since, vehicles seen)``."""
    return tuple(
        (det, dets.last_on.get(det, t) if det in dets.occupied else t, dets.flow.count(det))
        for det in model.stage_loops[stage]
    )

"""The controller's state and its inputs and outputs, as immutable values.

Why a module of its own: the transducer (:mod:`.controller`), the actuated rules
(:mod:`.actuated`), the SPaT timing (:mod:`.spat_timing`) and the commands (:mod:`.commands`)
all read the same state; defining it here lets each of them import it without importing the
others. It also holds what the entry points share: the published status of a program, the program
change of a command (:func:`program_change`) and :func:`halt`, the one way into fail-safe (a
fault or an operator ``flash``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.payloads import (
    MovementPhaseState,
    PredictionState,
    RequestStatus,
    SignalStatus,
)
from signal_controller.domain.calibration import NO_CALIBRATION, Calibration
from signal_controller.domain.detectors import DetectorEvent, Detectors, DetectorWatch
from signal_controller.domain.intersection import Intersection
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.learners import History
from signal_controller.domain.priority import (
    NO_WISH,
    PriorityMessage,
    PriorityState,
    PriorityWish,
    reject_all,
)
from signal_controller.domain.safety import KernelState, Violation

Mode = Literal["fixed_time", "actuated"]
#: SPaT ``(request_id, vehicle_id, sg, status)`` rows.
SsemRows = tuple[tuple[str, str, str, RequestStatus], ...]
#: predicted ``(min_end, max_end, likely_end, confidence)`` of a group's current aspect.
Timing = tuple[int | None, int | None, int | None, int]
#: ``(min_end, max_end)`` of a group's current aspect.
Bounds = tuple[int | None, int | None]


# --- inputs and outputs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything that arrived since the last tick, plus the adapter's clock observations."""

    detectors: tuple[DetectorEvent, ...] = ()
    requests: tuple[PriorityMessage, ...] = ()
    #: how late (real time minus logical tick time) this tick runs, for the watchdog.
    lag_ms: int = 0
    #: the adapter saw the wall clock jump against the monotonic clock.
    clock_jump: bool = False


#: the lamps of a group whose SPaT row says when it is green again (``next_green``): its
#: green is on or just ending.
NEXT_GREEN_LAMPS: frozenset[Lamp] = frozenset({Lamp.GREEN, Lamp.AMBER})


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
    #: the likely start of this group's next green after the one showing (a green or amber
    #: group) or coming (a red group), from the sampled walk; else None.
    next_green: int | None = None
    #: for a red group: the likely end of its coming green (the sampled walk), else None.
    green_end: int | None = None


@dataclass(frozen=True, slots=True)
class GreensAhead:
    """What the sampled walk says beyond the current aspect's end, per group: the start of
    the next green after the one showing or coming (``next_green``), and for a red group the
    end of its coming green (``green_end``). A rider who cannot make a green learns from these
    which green to ride for instead."""

    next_green: Mapping[str, int] = field(default_factory=dict)
    green_end: Mapping[str, int] = field(default_factory=dict)


NO_GREENS_AHEAD = GreensAhead()


@dataclass(frozen=True, slots=True)
class PredictionStatus:
    """The SPaT ``prediction`` of a tick (rules: :mod:`.prediction_status`): ``ok``,
    ``degraded`` or ``stale`` and why, as short reason ids. The controller hands out the same
    object while it does not change, so the SPaT encoder reuses its bytes."""

    state: PredictionState
    reasons: tuple[str, ...] = ()


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
    #: whether the tick's timings are the full prediction (SPaT ``prediction``).
    prediction: PredictionStatus | None = None


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
    #: the stage's queue proxy when it was chosen (see :func:`.detectors.stage_wait`), for
    #: predictions.
    wait: int = 0
    #: per loop of the stage when it was chosen: ``(loop, queue since, vehicles seen)`` — the
    #: first waiting vehicle's arrival (or the choice instant without one) and the loop's
    #: vehicle count then, so that departures in green can be counted against the queue.
    queues: tuple[tuple[str, int, int], ...] = ()


Program = Halted | Clearing | FixedRun | ActRun


@dataclass(frozen=True, slots=True)
class SpatCache:
    """Predictions and SPaT rows, reused while nothing they depend on changed."""

    bkey: tuple[object, ...]
    lkey: tuple[object, ...]
    computed: int
    bounds: Mapping[str, Bounds]
    timings: Mapping[str, Timing]
    rows: tuple[GroupTiming, ...]
    rows_valid_until: int
    lamps: Mapping[str, Lamp]
    ahead: GreensAhead = NO_GREENS_AHEAD
    #: raw (uncalibrated) confidences of the calibrated rows, for the calibration's samples.
    raw_conf: Mapping[str, int] = field(default_factory=dict)
    #: whether computed on time (a late tick's walk is refreshed at the next tick on time).
    on_time: bool = True
    #: what was added to the walk's likely end of each group for its lean far ahead.
    shifts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PredictionCheck:
    """The latest prediction status and what it was judged on: judged again when the program
    or the detector faults change (both at once: a fail-safe is ``stale`` on its own tick),
    else once a second (the slow causes: silence, a stuck loop, learning)."""

    status: PredictionStatus
    second: int
    program: Program
    faults: frozenset[str]


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
    #: detectors heard and faulty, for the prediction status.
    watch: DetectorWatch
    cache: SpatCache | None = None
    #: the controller's scores of its own predictions, behind the published confidence.
    calibration: Calibration = NO_CALIBRATION
    prediction: PredictionCheck | None = None
    #: per-intersection offset of the once-a-second prediction refresh, so that many
    #: controllers in one process do not all recompute on the same tick.
    phase: int = 0
    #: whether stages with loops predict with the sampled walk (as shipped) or with the
    #: single deterministic walk only (the benchmark's comparison, and its oracle's futures,
    #: whose own SPaT nobody reads).
    sampled: bool = True


def status_of(program: Program) -> SignalStatus:
    """The published controller status while ``program`` runs."""
    if isinstance(program, Halted):
        return "flashing"
    if isinstance(program, FixedRun) or (
        isinstance(program, Clearing) and program.target == "fixed_time"
    ):
        return "fixed_time"
    return "operational"


def program_change(
    state: ControllerState, kernel: KernelState, program: Program
) -> ControllerState:
    """``state`` running ``program`` from the next tick (a command changed it): a new SPaT
    revision, no priority wish (open requests are rejected unless actuated control continues),
    no latched calls, no prediction cache."""
    prio = state.priority
    if not isinstance(program, ActRun):
        prio = reject_all(prio, "program_change")
    return replace(
        state,
        kernel=kernel,
        program=program,
        revision=state.revision + 1,
        priority=prio,
        wish=NO_WISH,
        detectors=replace(state.detectors, calls=frozenset()),
        cache=None,
    )


def halt(
    state: ControllerState, kernel: KernelState, reason: Literal["flash", "fault"]
) -> ControllerState:
    """``state`` in fail-safe with the (already flashing) ``kernel``: the one way into
    :class:`Halted`, for a fault (watchdog, safety violation, internal or hardware error) and
    for an operator ``flash``.

    An operator ``flash`` is a program change like any other (:func:`program_change`). A fault
    also starts a new SPaT revision and drops the priority wish and the prediction cache, but
    rejects the open requests as ``fail_safe`` and leaves latched calls as they were (every
    way out of fail-safe is a program change, which drops them).
    """
    if reason == "flash":
        return program_change(state, kernel, Halted("flash"))
    return replace(
        state,
        kernel=kernel,
        program=Halted("fault"),
        revision=state.revision + 1,
        priority=reject_all(state.priority, "fail_safe"),
        wish=NO_WISH,
        cache=None,
    )

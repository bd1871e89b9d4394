"""The SPaT ``prediction`` status: are this tick's timings the controller's full prediction
(``ok``), built on less than it normally knows (``degraded``), or not usable (``stale``)?

Why a rule of its own: ``min_end``/``max_end`` are honest in every state, but ``likely_end``
and ``confidence`` rest on the learners (:mod:`.learners`) and the loops, and a receiver
cannot see either. A bus's speed advisory must not act on a controller in fail-safe, and should
know when the learners are still empty or a loop lies. The causes (docs/signal_controller.md,
"Prediction status"):

* **stale** — no usable prediction: fail-safe (``fail_safe``), an operator ``flash``
  (``flash``), or the all-red of a start-up or program change before a program runs
  (``clearing``);
* **degraded** (actuated control only: a fixed-time plan's timings are exact whatever the
  detectors say) — ``learning`` while a stage has fewer than ``MIN_SAMPLES`` realised greens
  or, with loops, the loops fewer than ``MIN_SAMPLES`` vehicle occupancies; per detector
  ``fault:D`` (its card reports a fault), ``stuck:D`` (a loop occupied without a break for
  :data:`STUCK_MS` while its group had green: no queue lasts that long), ``silent:D`` (a loop
  free for so long that no vehicle in that time had a probability below :data:`SILENT_P`
  under its learned arrival rate, and at least :data:`SILENT_MIN_MS`; only once the rate is
  meaningful), ``unheard:D`` (a configured loop not heard once in :data:`UNHEARD_MS` since the
  start or the latest plan).

Pure: the controller judges it from its state (:func:`check`), again when the program or the
detector faults change and otherwise once a second, and keeps the same
:class:`~.state.PredictionStatus` object while the outcome is the same (the encoder reuses its
bytes).
"""

from __future__ import annotations

import math

from edge_agent.contract.payloads import MAX_PREDICTION_REASONS
from signal_controller.domain.detectors import Detectors, DetectorWatch
from signal_controller.domain.intersection import Intersection
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.learners import MIN_SAMPLES, RATE_TAU_MS, Flow, History
from signal_controller.domain.safety import Head, KernelState
from signal_controller.domain.state import (
    Clearing,
    ControllerState,
    FixedRun,
    Halted,
    PredictionCheck,
    PredictionStatus,
)

#: a loop occupied without a break for this long, while its group had green since it became
#: occupied, is stuck on: a stop-line queue leaves within a green, and a cycle lasts at most
#: about two minutes; 5 min is also the usual stuck-on limit of detector monitoring.
STUCK_MS = 300_000
#: a free loop is silent once the chance of no vehicle in its silence, under its learned
#: Poisson arrival rate, falls below this ...
SILENT_P = 1e-4
#: ... and the silence has lasted at least this long (upstream signals send platoons, so
#: gaps of a cycle are far more common than a Poisson stream makes them).
SILENT_MIN_MS = 300_000
#: a loop's rate is meaningful once learned from this many vehicles over at least the rate's
#: time constant (``RATE_TAU_MS``, 10 min).
RATE_MIN_VEHICLES = 20
#: a configured loop never heard for this long since the start (or the latest plan) is
#: missing: unplugged, or named differently on the field bus (its events are then counted as
#: ``unknown_detector``).
UNHEARD_MS = 900_000

OK = PredictionStatus("ok")
#: ``λ·t`` at which a Poisson stream shows no arrival with probability :data:`SILENT_P`.
_SILENT_EXPOSURE = -math.log(SILENT_P)
_FAIL_SAFE = PredictionStatus("stale", ("fail_safe",))
_FLASH = PredictionStatus("stale", ("flash",))
_CLEARING = PredictionStatus("stale", ("clearing",))


def check(state: ControllerState, now: int) -> PredictionCheck:
    """The prediction check of ``state`` at ``now``: the previous one while the program, the
    detector faults and the second are the same, else judged again (same status object when
    the outcome did not change)."""
    last = state.prediction
    second = (now + state.phase) // 1000
    faults = state.watch.faults
    if (last is not None and last.second == second and last.program is state.program
            and last.faults is faults):
        return last
    status = prediction_status(state, now)
    if last is not None and last.status == status:
        status = last.status
    return PredictionCheck(status, second, state.program, faults)


def prediction_status(state: ControllerState, now: int) -> PredictionStatus:
    """The status of ``state``'s prediction at ``now`` (the rules: module docstring)."""
    program = state.program
    if isinstance(program, Halted):
        return _FLASH if program.reason == "flash" else _FAIL_SAFE
    if isinstance(program, Clearing):
        return _CLEARING
    if isinstance(program, FixedRun):
        return OK
    model = state.model
    reasons = ["learning"] if learning(model, state.history, state.detectors.flow) else []
    reasons += detector_reasons(model, state.kernel, state.detectors, state.watch, now)
    if not reasons:
        return OK
    if len(reasons) > MAX_PREDICTION_REASONS:
        reasons = [*reasons[:MAX_PREDICTION_REASONS - 1], "more"]
    return PredictionStatus("degraded", tuple(reasons))


def learning(model: Intersection, history: History, flow: Flow) -> bool:
    """Whether the learners still know too little: a stage with fewer than ``MIN_SAMPLES``
    realised greens (its likely end then comes from a rule of thumb), or, when the
    intersection has loops, fewer than ``MIN_SAMPLES`` vehicle occupancies (the queue model
    then runs on defaults)."""
    if any(len(history.by_stage.get(s.id, ())) < MIN_SAMPLES for s in model.stages):
        return True
    has_loops = any(kind == "loop" for _, kind in model.detectors.values())
    return has_loops and len(flow.occupancies) < MIN_SAMPLES


def detector_reasons(
    model: Intersection, kernel: KernelState, dets: Detectors, watch: DetectorWatch, now: int
) -> list[str]:
    """``fault:D``, ``stuck:D``, ``silent:D`` and ``unheard:D`` of the configured detectors,
    in config order (at most one per detector, the first that applies)."""
    out = []
    for det, (sg, kind) in model.detectors.items():
        if det in watch.faults:
            out.append(f"fault:{det}")
        elif kind != "loop":
            continue  # a push button may rest for hours, and is released every tick
        elif det in dets.occupied:
            on = dets.last_on.get(det, now)
            group = model.by_sg[sg]
            if now - on >= STUCK_MS and had_green(kernel.heads[sg], group.min_green, on, now):
                out.append(f"stuck:{det}")
        elif det not in watch.heard:
            if now - watch.since >= UNHEARD_MS:
                out.append(f"unheard:{det}")
        elif silent(dets, det, now):
            out.append(f"silent:{det}")
    return out


def had_green(head: Head, min_green: int, since: int, now: int) -> bool:
    """Whether a group has shown green since ``since``: a green that ended after it, or the
    current green for at least the group's minimum green after it."""
    if head.lamp is Lamp.GREEN and now - max(head.since, since) >= min_green:
        return True
    return head.last_green is not None and head.last_green > since


def silent(dets: Detectors, det: str, now: int) -> bool:
    """Whether free loop ``det`` has seen no vehicle for implausibly long: its arrival rate
    when the last vehicle came is meaningful (:data:`RATE_MIN_VEHICLES`, learned over
    ``RATE_TAU_MS``), and no arrival since then had a probability below :data:`SILENT_P`,
    over at least :data:`SILENT_MIN_MS`.

    The rate is the one at the latest arrival, not the current estimate: that one decays
    through the very silence it is to judge.
    """
    lf = dets.flow.loops.get(det)
    if lf is None or lf.first is None or lf.count < RATE_MIN_VEHICLES:
        return False
    if lf.at - lf.first < RATE_TAU_MS:
        return False
    quiet = now - max(lf.at, dets.last_off.get(det, lf.at))
    return quiet >= SILENT_MIN_MS and lf.rate(lf.at) * quiet / 1000.0 >= _SILENT_EXPOSURE

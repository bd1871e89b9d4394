"""The SPaT prediction status (issue 18): each cause of ``stale`` and ``degraded``, and back to
``ok``, on the rule itself and on a running controller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.payloads import (
    MAX_PREDICTION_REASONS,
    Detector,
    Spat,
    SpatPrediction,
    decode,
)
from edge_agent.contract.spat_wire import spat_fields
from edge_agent.contract.topics import Topics
from signal_controller.domain import controller as ctl
from signal_controller.domain.commands import apply_command
from signal_controller.domain.controller import initial_state, step
from signal_controller.domain.detectors import DetectorEvent, DetectorWatch
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.learners import MIN_SAMPLES, RATE_TAU_MS, History
from signal_controller.domain.prediction_status import (
    SILENT_MIN_MS,
    STUCK_MS,
    UNHEARD_MS,
    learning,
    prediction_status,
    silent,
)
from signal_controller.domain.state import (
    ActRun,
    Clearing,
    ControllerState,
    FixedRun,
    Inputs,
    Outputs,
    PredictionStatus,
)
from signal_controller.wiring import build_controller
from tests.unit.signal_controller.conftest import two_phase_data
from tests.unit.signal_controller.scenarios import EPOCH, config_of
from tests.unit.signal_controller.test_scheduler import FakeAgent

OK = PredictionStatus("ok")
REF = Topics().parse(Topics().topic("detector", "ks-1"))
Traffic = Callable[[int], tuple[DetectorEvent, ...]]


def traffic(d1_every_s: int = 7, d2_every_s: int = 20) -> Traffic:
    """A vehicle on D1 every ``d1_every_s`` and on D2 every ``d2_every_s`` (0: none), each
    occupying its loop for half a second."""

    def events(now: int) -> tuple[DetectorEvent, ...]:
        out = []
        for det, every in (("D1", d1_every_s), ("D2", d2_every_s)):
            if every and (now - EPOCH) % (every * 1000) == 0:
                out.append(DetectorEvent(det, True))
            elif every and (now - EPOCH) % (every * 1000) == 500:
                out.append(DetectorEvent(det, False))
        return tuple(out)

    return events


def run(state: ControllerState, seconds: float,
        events: Traffic | None = None) -> tuple[ControllerState, list[Outputs]]:
    outs = []
    now = state.kernel.last_tick
    for _ in range(round(seconds * 10)):
        now += 100
        state, out = step(state, Inputs(detectors=events(now) if events else ()), now)
        outs.append(out)
    return state, outs


def states(outs: list[Outputs]) -> list[PredictionStatus]:
    """The prediction statuses of ``outs`` as they changed."""
    seen: list[PredictionStatus] = []
    for o in outs:
        assert o.prediction is not None
        if not seen or seen[-1] != o.prediction:
            seen.append(o.prediction)
    return seen


@pytest.fixture(scope="module")
def learned() -> ControllerState:
    """Two-phase actuated control after 12 min of traffic: learned, every loop heard, both
    loops free at the end."""
    state, outs = run(initial_state(config_of(two_phase_data()), EPOCH), 12 * 60 + 2,
                      traffic())
    assert outs[-1].prediction == OK and not state.detectors.occupied
    return state


# --- stale --------------------------------------------------------------------------------------


def test_the_all_red_before_a_program_is_stale_then_actuated_control_is_learning(
        two_phase: IntersectionConfig) -> None:
    state, outs = run(initial_state(two_phase, EPOCH), 30)
    assert isinstance(outs[0], Outputs) and outs[0].prediction == PredictionStatus(
        "stale", ("clearing",))
    assert states(outs) == [PredictionStatus("stale", ("clearing",)),
                            PredictionStatus("degraded", ("learning",))]
    assert isinstance(state.program, ActRun)


def test_fail_safe_is_stale_on_its_own_tick_and_an_operator_flash_says_flash(
        learned: ControllerState) -> None:
    now = learned.kernel.last_tick + 100
    failed, out = ctl.fail_safe(learned, "lamp driver", now)
    assert out.status == "flashing" and out.prediction == PredictionStatus("stale", ("fail_safe",))
    flashed, _ = apply_command(learned, "flash", {}, now)
    _, outs = run(flashed, 1)
    assert states(outs) == [PredictionStatus("stale", ("flash",))]
    # resume: the start-up all-red is stale, then the learned controller is ok again
    resumed, _ = apply_command(failed, "resume", {}, failed.kernel.last_tick + 100)
    _, outs = run(resumed, 30, traffic())
    assert states(outs) == [PredictionStatus("stale", ("clearing",)), OK]


def test_fixed_time_is_ok_whatever_the_detectors_say() -> None:
    state, outs = run(initial_state(config_of(two_phase_data(mode="fixed_time")), EPOCH), 20)
    assert isinstance(state.program, FixedRun)
    assert states(outs) == [PredictionStatus("stale", ("clearing",)), OK]
    _, outs = run(state, 1, lambda now: (DetectorEvent("D1", True, fault=True),))
    assert states(outs) == [OK]  # exact timings do not rest on the loops
    later = replace(state, watch=DetectorWatch(EPOCH))
    assert prediction_status(later, EPOCH + UNHEARD_MS + 1) == OK


# --- degraded: learning -------------------------------------------------------------------------


def test_learning_needs_every_stage_and_the_loops_occupancies(
        learned: ControllerState) -> None:
    model, flow = learned.model, learned.detectors.flow
    assert not learning(model, learned.history, flow)
    assert learning(model, History(), flow)
    few = History()
    for k in range(MIN_SAMPLES):
        few = few.record("S1", EPOCH + k * 60_000, 20_000)
        if k < MIN_SAMPLES - 1:
            few = few.record("S2", EPOCH + k * 60_000 + 30_000, 10_000)
    assert learning(model, few, flow)  # S2 has one green too few
    assert not learning(model, few.record("S2", EPOCH + 600_000, 10_000), flow)
    assert learning(model, learned.history, replace(flow, occupancies=flow.occupancies[:2]))


# --- degraded: detectors ------------------------------------------------------------------------


def test_a_card_fault_degrades_at_once_and_clears_with_the_next_message(
        learned: ControllerState) -> None:
    first = learned.kernel.last_tick + 100
    state, outs = run(learned, 2, lambda now: (
        (DetectorEvent("D2", True, fault=True),) if now == first else ()))
    assert outs[0].prediction == PredictionStatus("degraded", ("fault:D2",))
    assert state.watch.faults == {"D2"}
    _, outs = run(state, 2, lambda now: (
        (DetectorEvent("D2", False),) if now == first + 2_100 else ()))
    assert states(outs) == [PredictionStatus("degraded", ("fault:D2",)), OK]


def test_a_loop_occupied_for_5_min_through_green_is_stuck_until_it_is_free(
        learned: ControllerState) -> None:
    d2 = traffic(d1_every_s=0)  # D1 stays occupied, D2 calls its stage every 20 s

    def stuck(now: int) -> tuple[DetectorEvent, ...]:
        return (DetectorEvent("D1", True), *d2(now))

    state, outs = run(learned, STUCK_MS / 1000 + 5, stuck)
    on = state.detectors.last_on["D1"]
    assert states(outs) == [OK, PredictionStatus("degraded", ("stuck:D1",))]
    changed = next(o.now for o in outs if o.prediction != OK)
    assert on + STUCK_MS <= changed < on + STUCK_MS + 1_100  # judged once a second
    state, outs = run(state, 3, lambda now: (DetectorEvent("D1", False),))
    assert states(outs)[-1] == OK


def test_a_long_occupancy_without_green_is_a_queue_not_a_stuck_loop(
        learned: ControllerState) -> None:
    now = learned.kernel.last_tick
    held = replace(learned, detectors=replace(
        learned.detectors, occupied=learned.detectors.occupied | {"D2"},
        last_on={**learned.detectors.last_on, "D2": now}))
    k2 = held.kernel.heads["K2"]
    red = replace(held, kernel=replace(held.kernel, heads={
        **held.kernel.heads, "K2": replace(k2, lamp=Lamp.RED, since=now - 1_000,
                                           last_green=now - 1_000)}))
    later = now + STUCK_MS + 1_000
    assert "stuck:D2" not in prediction_status(red, later).reasons  # no green since: a queue
    greened = replace(red, kernel=replace(red.kernel, heads={
        **red.kernel.heads, "K2": replace(k2, lamp=Lamp.RED, since=now + 60_000,
                                          last_green=now + 60_000)}))
    assert "stuck:D2" in prediction_status(greened, later).reasons


def test_a_loop_silent_for_implausibly_long_under_its_rate_is_reported_until_it_counts(
        learned: ControllerState) -> None:
    lf = learned.detectors.flow.loops["D2"]
    rate = lf.rate(lf.at)
    assert 0.04 < rate < 0.06  # one vehicle every 20 s
    # P(no vehicle) < 1e-4 after ln(1e4)/rate ≈ 184 s; the floor of 5 min comes later
    state, outs = run(learned, SILENT_MIN_MS / 1000 + 2, traffic(d2_every_s=0))
    last = max(lf.at, learned.detectors.last_off["D2"])
    assert states(outs) == [OK, PredictionStatus("degraded", ("silent:D2",))]
    changed = next(o.now for o in outs if o.prediction != OK)
    assert last + SILENT_MIN_MS <= changed < last + SILENT_MIN_MS + 1_100
    assert silent(state.detectors, "D2", changed) and not silent(state.detectors, "D1", changed)
    first = state.kernel.last_tick + 100
    _, outs = run(state, 2, lambda now: (
        (DetectorEvent("D2", True), DetectorEvent("D2", False)) if now == first else ()))
    assert states(outs)[-1] == OK


def test_a_quiet_loop_is_silent_when_no_vehicle_had_a_chance_below_1e_4(
        learned: ControllerState) -> None:
    """Beyond the 5 min floor the learned rate decides: at 0.01 veh/s no vehicle for
    ln(1e4)/0.01 s ≈ 921 s has a chance of 1e-4."""
    lf = learned.detectors.flow.loops["D2"]
    at = lf.at
    quiet = replace(lf, weight=6.0, first=at - 10 * RATE_TAU_MS)  # 6 per 10 min: 0.01 veh/s
    assert quiet.rate(at) == pytest.approx(0.01, rel=1e-3)
    dets = replace(learned.detectors, last_off={**learned.detectors.last_off, "D2": at},
                   flow=replace(learned.detectors.flow,
                                loops={**learned.detectors.flow.loops, "D2": quiet}))
    assert not silent(dets, "D2", at + 900_000)
    assert silent(dets, "D2", at + 930_000)


def test_a_young_rate_is_not_judged(learned: ControllerState) -> None:
    lf = learned.detectors.flow.loops["D2"]
    young = replace(lf, first=lf.at - 60_000)  # as many vehicles, but in 1 min only
    dets = replace(learned.detectors, flow=replace(
        learned.detectors.flow, loops={**learned.detectors.flow.loops, "D2": young}))
    assert not silent(dets, "D2", lf.at + 3_600_000)
    few = replace(lf, count=5)
    dets = replace(dets, flow=replace(dets.flow, loops={**dets.flow.loops, "D2": few}))
    assert not silent(dets, "D2", lf.at + 3_600_000)


def test_a_configured_loop_never_heard_is_reported_after_15_min_buttons_never(
        two_phase: IntersectionConfig) -> None:
    # D1 only: D2 is never heard; the button P2 is never pressed and never reported
    state, outs = run(initial_state(two_phase, EPOCH), UNHEARD_MS / 1000 + 2,
                      traffic(d2_every_s=0))
    assert state.watch.heard == {"D1"}
    unheard = [o for o in outs if o.prediction is not None and "unheard:D2" in
               o.prediction.reasons]
    assert unheard and EPOCH + UNHEARD_MS <= unheard[0].now < EPOCH + UNHEARD_MS + 1_100
    # a new plan gives its loops the full time again
    at = state.kernel.last_tick + 100
    state, _ = apply_command(state, "set_plan", {"control": two_phase_data()["control"]}, at)
    assert state.watch.since == at and isinstance(state.program, Clearing)
    _, outs = run(state, 30, traffic(d2_every_s=0))
    assert all("unheard:D2" not in (o.prediction.reasons if o.prediction else ())
               for o in outs)


def test_reasons_are_bounded_and_valid_contract_values() -> None:
    data = two_phase_data()
    data["detectors"] += [{"id": f"L{k}", "sg": "K1", "kind": "loop"} for k in range(20)]
    state, _ = run(initial_state(config_of(data), EPOCH), 30)
    faults = frozenset(f"L{k}" for k in range(20))
    state = replace(state, watch=replace(state.watch, faults=faults))
    status = prediction_status(state, state.kernel.last_tick)
    assert status.state == "degraded" and len(status.reasons) == MAX_PREDICTION_REASONS
    assert status.reasons[:3] == ("learning", "fault:L0", "fault:L1")
    assert status.reasons[-1] == "more"
    SpatPrediction(state=status.state, reasons=list(status.reasons))  # valid on the wire


def test_the_status_object_is_kept_while_it_does_not_change(learned: ControllerState) -> None:
    """The SPaT encoder reuses the encoded status while the object is the same."""
    _, outs = run(learned, 20, traffic())
    assert len({id(o.prediction) for o in outs}) == 1


def test_every_tick_publishes_a_valid_spat_with_its_prediction(learned: ControllerState) -> None:
    _, outs = run(learned, 5, traffic())
    for i, o in enumerate(outs):
        spat = Spat(seq=i, **spat_fields(o, "ks-1"))  # type: ignore[arg-type]
        assert spat.prediction == SpatPrediction(state="ok", reasons=[])


def test_the_adapter_passes_a_card_fault_on_and_publishes_the_status_in_spat(
        two_phase: IntersectionConfig) -> None:
    agent = FakeAgent()
    controller = build_controller(two_phase, agent=agent)  # type: ignore[arg-type]
    now = controller.state.kernel.last_tick

    def tick(n: int) -> SpatPrediction | None:
        nonlocal now
        for _ in range(n):
            now += 100
            controller.tick(now)
        return decode(Spat, agent.spat["ks-1"][-1]).prediction

    assert tick(1) == SpatPrediction(state="stale", reasons=["clearing"])
    assert tick(300) == SpatPrediction(state="degraded", reasons=["learning"])
    controller._on_detector(REF, Detector(ts=now, detector="D2", occupied=False, fault=True))
    assert tick(1) == SpatPrediction(state="degraded", reasons=["learning", "fault:D2"])
    controller._on_detector(REF, Detector(ts=now, detector="D2", occupied=False))
    assert tick(1) == SpatPrediction(state="degraded", reasons=["learning"])

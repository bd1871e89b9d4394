"""The transducer: fixed-time exactness, actuated stage logic, commands, fail-safe paths."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.payloads import Spat
from edge_agent.contract.spat_wire import spat_fields
from signal_controller.domain import controller as ctl
from signal_controller.domain import spat_timing
from signal_controller.domain.commands import CommandError, apply_command
from signal_controller.domain.controller import initial_state, step
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.state import (
    ActRun,
    ControllerState,
    FixedRun,
    Halted,
    Inputs,
    Outputs,
)
from tests.unit.signal_controller.conftest import two_phase_data
from tests.unit.signal_controller.scenarios import EPOCH, config_of

InputFn = Callable[[int], Inputs]


def run(
    state: ControllerState, seconds: float, inputs: InputFn | None = None
) -> tuple[ControllerState, list[Outputs]]:
    outs = []
    now = state.kernel.last_tick
    for _ in range(int(seconds * 10)):
        now += 100
        state, out = step(state, inputs(now) if inputs else Inputs(), now)
        outs.append(out)
    return state, outs


def lamp_changes(outs: list[Outputs], sg: str) -> list[tuple[int, Lamp]]:
    seen: list[tuple[int, Lamp]] = []
    for o in outs:
        if not seen or seen[-1][1] is not o.lamps[sg]:
            seen.append((o.now, o.lamps[sg]))
    return seen


def test_fixed_time_is_exact(two_phase: IntersectionConfig) -> None:
    cfg = config_of(two_phase_data(mode="fixed_time"))
    state, outs = run(initial_state(cfg, EPOCH), 200)
    assert isinstance(state.program, FixedRun)
    assert all(o.status == "fixed_time" for o in outs)
    # Every change happens exactly at the min_end = max_end = likely_end announced before it.
    for prev, o in itertools.pairwise(outs):
        for g_prev, g in zip(prev.groups, o.groups, strict=True):
            if g.lamp is not g_prev.lamp and prev.status == "fixed_time":
                assert g_prev.min_end == g_prev.max_end == g_prev.likely_end == o.now
                assert g_prev.confidence == 100
    # In steady state K1 is green exactly in its window [0, 30) of the 60 s cycle.
    greens = [t for t, lamp in lamp_changes(outs, "K1") if lamp is Lamp.GREEN]
    assert greens and all(t % 60_000 == 0 for t in greens[1:])


def test_actuated_rests_in_green_without_demand(two_phase: IntersectionConfig) -> None:
    state, outs = run(initial_state(two_phase, EPOCH), 120)
    assert isinstance(state.program, ActRun) and state.program.stage == 0
    assert outs[-1].lamps["K1"] is Lamp.GREEN and outs[-1].lamps["K2"] is Lamp.RED
    k1 = next(g for g in outs[-1].groups if g.sg == "K1")
    assert k1.max_end is None  # no conflicting demand: no announced latest end


def test_a_call_gaps_out_the_main_road_and_serves_the_side_road(
    two_phase: IntersectionConfig,
) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 30)
    t_call = state.kernel.last_tick + 100

    def call(now: int) -> Inputs:
        if now == t_call:
            return Inputs(detectors=(DetectorEvent("D2", True), DetectorEvent("D2", False)))
        return Inputs()

    state, outs = run(state, 40, call)
    k1 = lamp_changes(outs, "K1")
    # Past min green with D1 empty: gap-out on the tick after the call was latched.
    assert k1[1][1] is Lamp.AMBER and k1[1][0] == t_call + 100
    k2 = lamp_changes(outs, "K2")
    # K1 -> K2 intergreen is 5 s from the end of K1's green.
    assert (k2[1][1], k2[2][1]) == (Lamp.RED_AMBER, Lamp.GREEN)
    assert k2[2][0] == t_call + 100 + 5_000
    # Stage-based: the parallel pedestrians F2 get green with S2 (after K1 -> F2 = 3 s).
    f2 = lamp_changes(outs, "F2")
    assert f2[1] == (t_call + 100 + 3_000, Lamp.GREEN)


def test_a_busy_loop_extends_up_to_max_green(two_phase: IntersectionConfig) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 30)
    start = state.program.start if isinstance(state.program, ActRun) else 0

    def busy(now: int) -> Inputs:
        return Inputs(detectors=(DetectorEvent("D1", True), DetectorEvent("D2", True)))

    state, outs = run(state, 40, busy)
    end = next(t for t, lamp in lamp_changes(outs, "K1") if lamp is Lamp.AMBER)
    assert end == start + 30_000  # max-out (the extension budget is only for buses)
    k1_rows = [next(g for g in o.groups if g.sg == "K1") for o in outs if o.now < end]
    # The announced latest end included the still-grantable bus extension (honest bound).
    assert k1_rows[-1].max_end == start + 30_000 + 10_000


def three_stage() -> IntersectionConfig:
    """The two-phase junction plus a left-turn-like stage S3 (K3, loop D3 only) between S1
    and S2, conflicting with both."""
    data = two_phase_data()
    data["signal_groups"].append({"sg": "K3", "kind": "vehicle", "approach": "S",
                                  "min_green_s": 5, "amber_s": 3, "red_amber_s": 1})
    data["intergreen_s"]["K3"] = {"K1": 4, "K2": 4}
    data["intergreen_s"]["K1"]["K3"] = 4
    data["intergreen_s"]["K2"]["K3"] = 4
    data["control"]["stages"].insert(1, {"id": "S3", "groups": ["K3"], "min_green_s": 5,
                                         "max_green_s": 20, "gap_s": 3})
    data["detectors"].append({"id": "D3", "sg": "K3", "kind": "loop"})
    return config_of(data)


def test_skipping_stages_without_demand() -> None:
    cfg = three_stage()
    state, _ = run(initial_state(cfg, EPOCH), 30)
    t_call = state.kernel.last_tick + 100
    state, outs = run(state, 30, lambda now: Inputs(
        detectors=(DetectorEvent("D2", True), DetectorEvent("D2", False)))
        if now == t_call else Inputs())
    assert all(o.lamps["K3"] is Lamp.RED for o in outs)  # S3 had no call: skipped
    assert any(o.lamps["K2"] is Lamp.GREEN for o in outs)


def test_push_button_serves_pedestrians(two_phase: IntersectionConfig) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 30)
    t = state.kernel.last_tick + 100
    state, outs = run(state, 40, lambda now: Inputs(detectors=(DetectorEvent("P2", True),))
                      if now == t else Inputs())
    f2 = lamp_changes(outs, "F2")
    assert f2[1][1] is Lamp.GREEN
    assert f2[1][0] - t >= 3_000  # K1 -> F2 intergreen


def test_internal_exception_goes_to_fail_safe(
    two_phase: IntersectionConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 20)

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(ctl, "advance", boom)
    now = state.kernel.last_tick + 100
    state, out = step(state, Inputs(), now)
    assert out.status == "flashing" and out.fault is not None
    assert out.fault.rule == "internal_error" and "bug" in out.fault.message
    assert out.lamps["K1"] is Lamp.FLASHING_AMBER and out.lamps["F2"] is Lamp.DARK
    assert isinstance(state.program, Halted)


@pytest.mark.parametrize(("gap", "inputs", "rule"), [
    (700, Inputs(), "late_tick"), (100, Inputs(lag_ms=600), "late_tick"),
    (-100, Inputs(), "clock_jump"), (100, Inputs(clock_jump=True), "clock_jump"),
])
def test_watchdog_and_clock_jumps_fail_safe(
    two_phase: IntersectionConfig, gap: int, inputs: Inputs, rule: str
) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 20)
    state, out = step(state, inputs, state.kernel.last_tick + gap)
    assert out.fault is not None and out.fault.rule == rule and out.status == "flashing"


@pytest.mark.parametrize("jump_ms", [30_000, -30_000])
def test_resume_right_after_a_clock_step_starts_in_the_new_time(
    two_phase: IntersectionConfig, jump_ms: int
) -> None:
    """A step of the wall clock (either way) fails safe; a resume arriving before the next
    tick must take effect in the new time frame, not trip the watchdog a second time."""
    state, _ = run(initial_state(two_phase, EPOCH), 30)
    now = state.kernel.last_tick + 100 + jump_ms
    state, out = step(state, Inputs(clock_jump=True), now)
    assert out.fault is not None and out.fault.rule == "clock_jump"
    assert state.kernel.last_tick == now
    t = state.kernel.last_tick + 100  # what the adapter passes: the next tick
    state, res = apply_command(state, "resume", {}, t)
    assert res["all_red_until"] == t + 3_000 + 9_000
    state, outs = run(state, 150)
    assert all(o.fault is None for o in outs)
    assert outs[-1].status == "operational"


def test_flash_and_resume_use_the_start_up_sequence(two_phase: IntersectionConfig) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 30)
    rev = state.revision
    state, res = apply_command(state, "flash", {}, state.kernel.last_tick + 100)
    assert res == {"status": "flashing"} and state.revision == rev + 1
    state, outs = run(state, 10)
    assert all(o.status == "flashing" and o.lamps["K1"] is Lamp.FLASHING_AMBER for o in outs)
    t = state.kernel.last_tick + 100
    state, res = apply_command(state, "resume", {}, t)
    assert res["all_red_until"] == t + 3_000 + 9_000
    state, outs = run(state, 30)
    first_green = min(o.now for o in outs if Lamp.GREEN in o.lamps.values())
    assert first_green >= t + 12_000
    assert outs[-1].status == "operational"


def test_set_mode_switches_through_all_red(two_phase: IntersectionConfig) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 30)
    state, res = apply_command(state, "set_mode", {"mode": "fixed_time"},
                               state.kernel.last_tick + 100)
    assert res == {"mode": "fixed_time"}
    state, outs = run(state, 90)
    assert isinstance(state.program, FixedRun) and outs[-1].status == "fixed_time"
    with pytest.raises(CommandError, match="mode must be"):
        apply_command(state, "set_mode", {"mode": "chaos"}, state.kernel.last_tick + 100)
    with pytest.raises(CommandError, match="unknown command"):
        apply_command(state, "self_destruct", {}, state.kernel.last_tick + 100)


def test_set_plan_is_validated_like_a_config(two_phase: IntersectionConfig) -> None:
    state = initial_state(two_phase, EPOCH)
    bad = dict(two_phase_data()["control"], greens={"K1": [[0, 30]], "K2": [[33, 50]]})
    with pytest.raises(CommandError, match=r"K1 -> K2: .* below the required 5 s"):
        apply_command(state, "set_plan", {"control": bad}, EPOCH + 100)
    with pytest.raises(CommandError, match=r"control\.mode"):
        apply_command(state, "set_plan", {"control": {"mode": "warp"}}, EPOCH + 100)
    good = dict(two_phase_data()["control"], mode="fixed_time")
    new, res = apply_command(state, "set_plan", {"control": good}, EPOCH + 100)
    assert res["mode"] == "fixed_time" and new.model.plan is not None
    assert new.revision == state.revision + 1


def test_spat_rows_are_valid_contract_payloads(two_phase: IntersectionConfig) -> None:
    _, outs = run(initial_state(two_phase, EPOCH), 60)
    for o in outs[::37]:
        spat = Spat(seq=1, **spat_fields(o, "ks-1"))  # type: ignore[arg-type]
        assert spat.groups[0].sg == "K1"


def test_likely_end_follows_the_gap_timer_once_the_queue_is_gone(
    two_phase: IntersectionConfig,
) -> None:
    """Sparse traffic on the main road (one vehicle every 20 s, learned from the loop): when
    the side road calls just after a vehicle left D1 in a fresh green, the most likely end of
    K1 is the gap-out instant, and the green ends there."""
    state, _ = run(initial_state(two_phase, EPOCH), 30)
    first = state.kernel.last_tick + 100
    calls: set[int] = set()

    def traffic(now: int) -> Inputs:
        k = (now - first) % 20_000
        events = []
        if k == 0:
            events.append(DetectorEvent("D1", True))
        elif k == 600:
            events.append(DetectorEvent("D1", False))
        if now in calls:
            events += [DetectorEvent("D2", True), DetectorEvent("D2", False)]
        return Inputs(detectors=tuple(events))

    state, _ = run(state, 600, traffic)  # ten minutes to learn the arrival rate
    assert 0.04 < state.detectors.flow.rate("D1", state.kernel.last_tick) < 0.06
    calls.add(state.kernel.last_tick + 100)  # K1 (resting past max green) ends, K2 served
    for _ in range(60):  # ... until a D1 vehicle has called K1 back
        state, _ = run(state, 1, traffic)
        if isinstance(state.program, ActRun) and state.program.stage == 0:
            break
    assert isinstance(state.program, ActRun) and state.program.stage == 0
    # The first vehicle leaving D1 at least 8 s (min green) into this green: call K2 then.
    t_off = state.program.start + 8_000
    t_off += (first + 600 - t_off) % 20_000
    assert t_off > state.kernel.last_tick
    state, _ = run(state, (t_off - state.kernel.last_tick) / 1000, traffic)
    calls.add(t_off + 100)
    state, outs = run(state, 10, traffic)
    end = next(t for t, lamp in lamp_changes(outs, "K1") if lamp is Lamp.AMBER)
    assert end == t_off + 3_000  # gap-out
    rows = [next(g for g in o.groups if g.sg == "K1") for o in outs if o.now < end]
    assert rows[-1].likely_end == end and rows[1].likely_end == end


def test_an_uncalled_loop_stage_is_expected_by_its_arrival_rate() -> None:
    """A left-turn-like stage S3 (loop D3 only) sees one vehicle a minute: a walk that
    reaches it within seconds expects no call yet, one that reaches it a minute ahead does;
    its red group K3 gets a likely green even when the walk skips S3 in this cycle."""
    state, _ = run(initial_state(three_stage(), EPOCH), 30)
    first = state.kernel.last_tick + 100
    periods = (("D1", 20_000), ("D2", 30_000), ("D3", 60_000))

    def traffic(now: int) -> Inputs:
        events = [DetectorEvent(det, k == 5_000) for det, period in periods
                  if (k := (now - first) % period) in (5_000, 5_600)]
        return Inputs(detectors=tuple(events))

    state, _ = run(state, 1000, traffic)
    s3 = state.model.stages[1]
    checked = 0
    for _ in range(3000):  # five more minutes: check every tick that K1 rests in green
        state, out = step(state, traffic(state.kernel.last_tick + 100),
                          state.kernel.last_tick + 100)
        now = out.now
        run_ = state.program
        if not (isinstance(run_, ActRun) and run_.stage == 0 and run_.deadline is None
                and out.lamps["K1"] is Lamp.GREEN and 1 not in state.detectors.calls):
            continue
        assert 0.012 < state.detectors.flow.rate("D3", now) < 0.022
        assert not spat_timing.likely_called(state, s3, now, now + 10_000)  # P(call) ≈ 15 %
        assert spat_timing.likely_called(state, s3, now, now + 60_000)  # P(call) ≈ 63 %
        row = {g.sg: g for g in out.groups}
        k3 = row["K3"].likely_end
        assert k3 is not None and row["K3"].lamp is Lamp.RED
        checked += 1
    assert checked > 100

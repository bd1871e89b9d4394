"""The safety kernel refuses every rule break and goes to fail-safe; start-up and watchdog."""

from __future__ import annotations

import pytest

from edge_agent.contract.configs import IntersectionConfig
from signal_controller.domain import safety
from signal_controller.domain.intersection import Intersection
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.safety import Head, KernelState
from tests.unit.signal_controller.conftest import two_phase_data
from tests.unit.signal_controller.scenarios import config_of

T0 = 1_000_000


def running(model: Intersection, **heads: Head) -> KernelState:
    """A kernel past start-up with every group red since long ago, except ``heads``."""
    base = {g.sg: Head(Lamp.RED, T0 - 60_000, T0 - 60_000) for g in model.groups}
    base.update(heads)
    return KernelState(base, False, None, T0 - 60_000, T0)


@pytest.fixture
def model(two_phase: IntersectionConfig) -> Intersection:
    return Intersection.from_config(two_phase)


def test_legal_sequence_is_applied(model: Intersection) -> None:
    k = running(model)
    k, v = safety.apply(k, model, {"K1": Lamp.RED_AMBER}, T0 + 100)
    assert v is None and k.lamp("K1") is Lamp.RED_AMBER
    k, v = safety.apply(k, model, {"K1": Lamp.GREEN}, T0 + 1100)
    assert v is None and k.lamp("K1") is Lamp.GREEN
    k, v = safety.apply(k, model, {"K1": Lamp.AMBER}, T0 + 6100)
    assert v is None and k.heads["K1"].last_green == T0 + 6100
    k, v = safety.apply(k, model, {"K1": Lamp.RED}, T0 + 9100)
    assert v is None and k.lamp("K1") is Lamp.RED


@pytest.mark.parametrize(
    ("heads", "wanted", "rule", "words"),
    [
        ({"K1": Head(Lamp.GREEN, T0 - 10_000, None)}, {"K2": Lamp.GREEN}, "sequence",
         "not a legal lamp sequence"),
        ({"K1": Head(Lamp.GREEN, T0 - 10_000, None), "K2": Head(Lamp.RED_AMBER, T0 - 1000, 0)},
         {"K2": Lamp.GREEN}, "conflict", "K2 and K1 conflict"),
        ({"K1": Head(Lamp.AMBER, T0 - 3000, T0 - 3000), "K2": Head(Lamp.RED_AMBER, T0 - 1000, 0)},
         {"K2": Lamp.GREEN}, "intergreen", "K1 -> K2: intergreen 3 s < 5 s"),
        ({"K1": Head(Lamp.GREEN, T0 - 4000, None)}, {"K1": Lamp.AMBER}, "sequence",
         "green 4 s < minimum green 5 s"),
        ({"K1": Head(Lamp.AMBER, T0 - 2000, T0 - 2000)}, {"K1": Lamp.RED}, "sequence",
         "amber 2 s < 3 s"),
        ({"K1": Head(Lamp.RED_AMBER, T0 - 500, None)}, {"K1": Lamp.GREEN}, "sequence",
         "red-amber 0.5 s < 1 s"),
        ({"K1": Head(Lamp.RED_AMBER, T0 - 500, None)}, {"K1": Lamp.RED}, "sequence",
         "not a legal lamp sequence"),
        ({}, {"F2": Lamp.RED_AMBER}, "sequence", "not a legal lamp sequence"),
        ({}, {"K1": Lamp.FLASHING_AMBER}, "sequence", "only allowed to the kernel"),
        ({}, {"X9": Lamp.GREEN}, "unknown_group", "X9"),
    ],
)
def test_rule_breaks_are_refused_with_fail_safe(
    model: Intersection, heads: dict[str, Head], wanted: dict[str, Lamp], rule: str, words: str
) -> None:
    k = running(model, **heads)
    k2, v = safety.apply(k, model, wanted, T0)
    assert v is not None and v.rule == rule and words in v.message
    assert k2.failed and k2.fault == v
    assert k2.lamp("K1") is Lamp.FLASHING_AMBER and k2.lamp("K2") is Lamp.FLASHING_AMBER
    assert k2.lamp("F2") is Lamp.DARK
    # In fail-safe every further request is ignored.
    k3, v3 = safety.apply(k2, model, {"K1": Lamp.GREEN}, T0 + 100)
    assert v3 is None and k3.lamp("K1") is Lamp.FLASHING_AMBER


def test_start_up_holds_all_red_for_the_longest_intergreen(model: Intersection) -> None:
    k = safety.fail_safe(running(model), model, safety.Violation("test", "x"), T0)
    k = safety.start_up(k, model, T0)
    assert not k.failed
    assert k.lamp("K1") is Lamp.AMBER and k.lamp("F2") is Lamp.RED
    assert k.hold_red_until == T0 + 3000 + 9000  # amber, then the longest intergreen (F2->K1)
    k, v = safety.apply(k, model, {"K1": Lamp.RED, "K2": Lamp.RED}, T0 + 3000)
    assert v is None
    _, v = safety.apply(k, model, {"F2": Lamp.GREEN}, T0 + 11_900)
    assert v is not None and "start-up all-red" in v.message
    k2, v = safety.apply(k, model, {"F2": Lamp.GREEN}, T0 + 12_000)
    assert v is None and k2.lamp("F2") is Lamp.GREEN


def test_power_up_is_the_start_up_sequence(model: Intersection) -> None:
    k = safety.power_up(model, T0)
    assert not k.failed and k.hold_red_until == T0 + 12_000
    assert {k.lamp(sg) for sg in ("K1", "K2")} == {Lamp.AMBER}


@pytest.mark.parametrize(
    ("now", "lag", "jump", "rule"),
    [(T0 + 600, 0, False, "late_tick"), (T0 - 100, 0, False, "clock_jump"),
     (T0 + 100, 700, False, "late_tick"), (T0 + 100, 0, True, "clock_jump"),
     (T0 + 100, 400, False, None), (T0 + 500, 0, False, None)],
)
def test_watchdog(model: Intersection, now: int, lag: int, jump: bool, rule: str | None) -> None:
    v = safety.check_tick(running(model), now, lag, jump)
    assert (v.rule if v else None) == rule


def test_tram_heads_go_dark_in_fail_safe() -> None:
    data = two_phase_data()
    data["signal_groups"][1]["kind"] = "tram"
    model = Intersection.from_config(config_of(data))
    k = safety.fail_safe(running(model), model, safety.Violation("t", "x"), T0)
    assert k.lamp("K2") is Lamp.DARK and k.lamp("K1") is Lamp.FLASHING_AMBER

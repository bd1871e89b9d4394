"""Evaluation metrics, the lamp safety audit and the goal table (pure)."""

from __future__ import annotations

import pytest

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.glosa import BICYCLE_LIMITS, advise
from signal_controller.domain.intersection import Intersection
from signal_controller.domain.lamps import Lamp
from simulations.evaluation.domain.audit import LampAudit
from simulations.evaluation.domain.goals import GOALS, MIN_BUS_TRIPS, evaluate_goals, sample_verdict
from simulations.evaluation.domain.metrics import (
    RUN_KEYS,
    SignalZoneTracker,
    SpatErrorTracker,
    TripRecord,
    ZoneAccount,
    change_pct,
    in_signal_zone,
    run_summary,
)
from simulations.evaluation.sumo_parts import SimController
from simulations.scenario.domain.arterial import (
    SignalTiming,
    build_network,
    intersection_config_data,
)


def test_signal_zone_bounds():
    assert in_signal_zone(100.0, None)
    assert not in_signal_zone(100.1, None)
    assert in_signal_zone(None, 20.0)
    assert not in_signal_zone(None, 20.5)
    assert not in_signal_zone(None, None)


def test_delay_is_lost_time_against_free_speed_only_in_zone():
    t = SignalZoneTracker()
    t.observe("b", 1.0, 5.0, 10.0, in_zone=True, at_bus_stop=False)  # half speed: 0.5 s lost
    t.observe("b", 1.0, 0.0, 10.0, in_zone=False, at_bus_stop=False)  # outside: not counted
    t.observe("b", 1.0, 0.0, 10.0, in_zone=True, at_bus_stop=True)  # at a stop: not counted
    assert t.accounts["b"].delay_s == pytest.approx(0.5)
    assert t.accounts["b"].stops == 0


def test_a_creeping_queue_is_one_stop_and_restart_counts_again():
    t = SignalZoneTracker()
    for speed in (3.0, 0.05, 0.5, 0.0, 0.05):  # never faster than 1 m/s in between
        t.observe("b", 0.5, speed, 13.9, in_zone=True, at_bus_stop=False)
    assert t.accounts["b"].stops == 1
    t.observe("b", 0.5, 2.0, 13.9, in_zone=True, at_bus_stop=False)
    t.observe("b", 0.5, 0.0, 13.9, in_zone=True, at_bus_stop=False)
    assert t.accounts["b"].stops == 2


def test_spat_error_compares_each_sample_with_the_actual_switch():
    s = SpatErrorTracker()
    s.observe(("J1", "K1"), 0, "green", 10_000, sample=True)
    s.observe(("J1", "K1"), 1_000, "green", 13_000, sample=True)
    s.observe(("J1", "K1"), 2_000, "green", None, sample=True)  # no prediction: ignored
    assert s.mae_s() is None
    s.observe(("J1", "K1"), 12_000, "amber", None, sample=False)
    assert s.errors_ms == [2_000, 1_000]
    assert s.mae_s() == pytest.approx(1.5)


def test_run_summary_has_exactly_the_contract_keys():
    trips = [
        TripRecord("bus1", "bus", 400.0, 80.0, 4000.0),
        TripRecord("bus2", "bus", 300.0, 60.0, 3000.0),
        TripRecord("car1", "car", 100.0, 30.0, None),
    ]
    zones = {"bus1": ZoneAccount(20.0, 2), "bus2": ZoneAccount(10.0, 1)}
    r = run_summary(trips, zones, safety_violations=0, spat_mae_s=1.23456)
    assert tuple(r) == RUN_KEYS
    assert r["bus_signal_delay_s"] == 15.0
    assert r["bus_signal_stops"] == 1.5
    assert r["bus_travel_time_s"] == 350.0
    assert r["car_delay_s"] == 30.0
    assert r["bus_co2_g"] == 3500.0
    assert r["safety_violations"] == 0
    assert r["spat_mae_s"] == 1.235


def test_run_summary_without_trips_gives_nulls():
    r = run_summary([], {}, safety_violations=0, spat_mae_s=None)
    assert r["bus_signal_delay_s"] is None and r["car_delay_s"] is None
    assert r["cyclist_signal_stops"] is None and r["cyclist_time_loss_s"] is None


def test_cyclists_are_neither_cars_nor_buses():
    """A cyclist's time loss must not enter the car delay (goal: cars no worse than +5 %),
    and their stops come from the same zone accounts as the buses'."""
    trips = [
        TripRecord("car1", "car", 100.0, 30.0, None),
        TripRecord("bike1", "bike", 500.0, 60.0, None),
        TripRecord("bike2", "bike", 480.0, 40.0, None),
    ]
    zones = {"bike1": ZoneAccount(12.0, 3), "bike2": ZoneAccount(0.0, 0)}
    r = run_summary(trips, zones, safety_violations=0, spat_mae_s=None)
    assert r["car_delay_s"] == 30.0
    assert r["cyclist_signal_stops"] == 1.5
    assert r["cyclist_time_loss_s"] == 50.0
    assert r["bus_signal_delay_s"] is None


def test_goals_compare_priority_with_baseline():
    base = {"bus_signal_delay_s": 100.0, "bus_signal_stops": 4.0, "bus_co2_g": 1000.0,
            "car_delay_s": 50.0}
    prio = {"bus_signal_delay_s": 60.0, "bus_signal_stops": 3.5, "bus_co2_g": 880.0,
            "car_delay_s": 52.0}
    res = {g.goal.metric: g for g in evaluate_goals(base, prio)}
    assert len(res) == len(GOALS)
    assert res["bus_signal_delay_s"].change_pct == pytest.approx(-40.0)
    assert res["bus_signal_delay_s"].reached
    assert not res["bus_signal_stops"].reached
    assert res["bus_co2_g"].reached
    assert res["car_delay_s"].change_pct == pytest.approx(4.0)
    assert res["car_delay_s"].reached
    worse = evaluate_goals(base, {**prio, "car_delay_s": 53.0})
    assert not next(g for g in worse if g.goal.metric == "car_delay_s").reached
    assert change_pct(0.0, 1.0) is None


@pytest.fixture(scope="module")
def model():
    net = build_network()
    cfg = IntersectionConfig.model_validate(
        intersection_config_data(net, net.junctions[0], SignalTiming(), priority=False)
    )
    return Intersection.from_config(cfg)


def _all(model, **lamps):
    out = {g.sg: Lamp.RED for g in model.groups}
    out.update(lamps)
    return out


def test_audit_accepts_a_legal_sequence(model):
    a = LampAudit(model)
    a.record(0, _all(model, K1=Lamp.GREEN, K2=Lamp.GREEN, F1=Lamp.GREEN, F3=Lamp.GREEN))
    a.record(20_000, _all(model, K1=Lamp.AMBER, K2=Lamp.AMBER))
    a.record(23_000, _all(model))
    a.record(26_000, _all(model, K3=Lamp.RED_AMBER, K4=Lamp.RED_AMBER))
    a.record(27_000, _all(model, K3=Lamp.GREEN, K4=Lamp.GREEN))
    assert a.violations == 0, a.messages


def test_audit_counts_conflicts_cut_intergreens_and_short_greens(model):
    a = LampAudit(model)
    a.record(0, _all(model, K1=Lamp.GREEN))
    a.record(2_000, _all(model, K1=Lamp.AMBER))  # green 2 s < 5 s minimum
    a.record(5_000, _all(model))
    a.record(6_000, _all(model, K3=Lamp.RED_AMBER))
    a.record(7_000, _all(model, K3=Lamp.GREEN, F2=Lamp.GREEN))  # K1->K3 6 s needed: 5 s
    a.record(8_000, _all(model, K3=Lamp.GREEN, F2=Lamp.GREEN, F1=Lamp.GREEN))  # F1 vs K3
    text = " | ".join(a.messages)
    assert "K1: green lasted 2 s < 5 s" in text
    assert "K1 -> K3: intergreen 5 s < 6 s" in text
    assert "conflict" in text
    assert a.violations >= 3


def test_audit_flags_fail_safe_aspects(model):
    a = LampAudit(model)
    a.record(0, _all(model))
    a.record(1_000, _all(model, K1=Lamp.FLASHING_AMBER))
    assert a.violations == 1


def test_goals_are_not_judged_on_a_handful_of_bus_trips():
    assert sample_verdict(MIN_BUS_TRIPS) is None
    verdict = sample_verdict(1)
    assert verdict is not None
    assert "Too few bus trips to judge" in verdict and "1 finished" in verdict


def test_simulated_riders_read_the_prediction_state_of_the_spat() -> None:
    """The SUMO runs advise from the SPaT as a receiver reads it, ``prediction`` included:
    while the start-up sequence runs the prediction is stale and no advice is given."""
    net = build_network()
    cfg = IntersectionConfig.model_validate(
        intersection_config_data(net, net.junctions[0], SignalTiming(), priority=False)
    )
    ctl = SimController(cfg, None, 0)  # type: ignore[arg-type]  # lamps are not driven here
    assert ctl.spat_prediction() is None  # no tick yet
    ctl.tick(100)
    prediction = ctl.spat_prediction()
    assert prediction is not None and prediction.state == "stale"
    assert "clearing" in prediction.reasons
    assert ctl.spat_prediction() is prediction  # the same object while it does not change
    group = ctl.spat_group("K1")
    advice = advise(50.0, 8.0, group, 100, BICYCLE_LIMITS, prediction=prediction)
    assert advice.kind == "none" and "stale" in advice.reason

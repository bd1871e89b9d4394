"""GLOSA advice from SPaT timing."""

from __future__ import annotations

import pytest

from edge_agent.contract.glosa import BICYCLE_LIMITS, BUS_LIMITS, GlosaLimits, advise
from edge_agent.contract.payloads import SpatGroup, SpatPrediction

NOW = 1_767_225_600_000


def group(state, min_end=None, max_end=None, likely_end=None, confidence=90, next_green=None,
          green_end=None):
    return SpatGroup(sg="K1", state=state, min_end=min_end, max_end=max_end,
                     likely_end=likely_end, confidence=confidence, next_green=next_green,
                     green_end=green_end)


def test_green_reachable_keeps_speed():
    a = advise(100, 10.0, group("protected-Movement-Allowed", min_end=NOW + 20_000), NOW)
    assert a.kind == "keep"


def test_green_needs_a_faster_but_legal_speed():
    a = advise(200, 8.0, group("protected-Movement-Allowed", min_end=NOW + 20_000), NOW)
    assert a.kind == "adjust" and a.speed_mps == pytest.approx(10.0)


def test_green_not_reachable_within_limit_says_stop():
    a = advise(400, 10.0, group("permissive-Movement-Allowed", min_end=NOW + 20_000), NOW)
    assert a.kind == "stop"


def test_a_green_out_of_reach_glides_to_the_next_green():
    # 150 m, green over in 20 s (27 km/h: beyond a cyclist); green again in 45 s: 12 km/h
    g = group("protected-Movement-Allowed", min_end=NOW + 20_000, next_green=NOW + 45_000)
    a = advise(150, 5.0, g, NOW, BICYCLE_LIMITS)
    assert a.kind == "adjust" and a.speed_mps == pytest.approx(150 / 45)
    assert "next" in a.reason
    # the next green starts on the line itself (no red-amber to add: it is the green's start)
    assert advise(150, 5.0, group("protected-Movement-Allowed", min_end=NOW + 20_000,
                                  next_green=NOW + 60_000), NOW, BICYCLE_LIMITS).kind == "stop"
    # even at 25 km/h the next green has begun on arrival: ride on
    assert advise(250, 5.0, group("protected-Movement-Allowed", min_end=NOW + 5_000,
                                  next_green=NOW + 30_000), NOW, BICYCLE_LIMITS).kind == "keep"
    # a green that can be made is made; the next green changes nothing then
    near = group("protected-Movement-Allowed", min_end=NOW + 20_000, next_green=NOW + 45_000)
    assert advise(80, 5.0, near, NOW, BICYCLE_LIMITS).kind == "keep"


def test_a_green_ending_or_amber_glides_to_the_next_green_too():
    for g in (group("protected-Movement-Allowed", min_end=NOW - 500, next_green=NOW + 40_000),
              group("protected-clearance", likely_end=NOW + 2_000, next_green=NOW + 40_000)):
        a = advise(140, 5.0, g, NOW, BICYCLE_LIMITS)
        assert a.kind == "adjust" and a.speed_mps == pytest.approx(3.5)
        # without the next green: the old answer
        old = advise(140, 5.0, group(g.state, min_end=g.min_end, likely_end=g.likely_end),
                     NOW, BICYCLE_LIMITS)
        assert old.kind == "stop"


def test_a_bus_never_gives_up_a_green_its_priority_may_extend():
    g = group("protected-Movement-Allowed", min_end=NOW + 5_000, next_green=NOW + 40_000)
    assert advise(200, 10.0, g, NOW, BUS_LIMITS).kind == "stop"  # drive on as usual
    assert advise(200, 10.0, g, NOW, GlosaLimits()).kind == "adjust"  # a bus without priority


def test_a_red_whose_coming_green_ends_before_arrival_glides_to_the_green_after():
    # red for 5 s more, then 7 s of green; at 250 m even 25 km/h (6.9 m/s) arrives after
    # 36 s: too late for that green. The green after it begins in 60 s: 15 km/h.
    red = group("stop-And-Remain", min_end=NOW + 5_000, max_end=NOW + 20_000,
                likely_end=NOW + 5_000, green_end=NOW + 12_000, next_green=NOW + 60_000)
    a = advise(250, 5.0, red, NOW, BICYCLE_LIMITS)
    assert a.kind == "adjust" and a.speed_mps == pytest.approx(250 / 60)
    assert "coming green ends before arrival" in a.reason
    # without what comes after the red: the red's own advice (its green begins before arrival)
    plain = group("stop-And-Remain", min_end=NOW + 5_000, max_end=NOW + 20_000,
                  likely_end=NOW + 5_000)
    assert advise(250, 5.0, plain, NOW, BICYCLE_LIMITS).kind == "keep"
    # near enough to make the coming green: the red's own advice
    assert advise(60, 5.0, red, NOW, BICYCLE_LIMITS) == advise(60, 5.0, plain, NOW,
                                                                BICYCLE_LIMITS)
    # the green after is too far to glide to (12 km/h would need 300 s): the red's own advice
    far = group("stop-And-Remain", min_end=NOW + 5_000, max_end=NOW + 20_000,
                likely_end=NOW + 5_000, green_end=NOW + 12_000, next_green=NOW + 300_000)
    assert advise(250, 5.0, far, NOW, BICYCLE_LIMITS).kind == "keep"
    # a bus keeps riding for the coming green (its priority request may extend it)
    assert advise(250, 5.0, red, NOW, BUS_LIMITS) == advise(250, 5.0, plain, NOW, BUS_LIMITS)


def test_red_glide_to_arrive_at_green():
    g = group("stop-And-Remain", min_end=NOW + 10_000, max_end=NOW + 40_000,
              likely_end=NOW + 20_000)
    a = advise(200, 12.0, g, NOW, GlosaLimits(arrive_after_red_s=0))
    assert a.kind == "adjust" and a.speed_mps == pytest.approx(10.0)


def test_the_advice_aims_at_the_green_after_the_red_amber():
    """A red ends when its red-amber (1 s) begins: arriving then means braking for it."""
    g = group("stop-And-Remain", likely_end=NOW + 20_000)
    a = advise(210, 12.0, g, NOW)
    assert a.kind == "adjust" and a.speed_mps == pytest.approx(10.0)  # 210 m in 20 + 1 s


def test_a_red_is_expected_at_its_likely_end_whatever_the_confidence():
    g = group("stop-And-Remain", max_end=NOW + 40_000, likely_end=NOW + 20_000, confidence=20)
    a = advise(200, 12.0, g, NOW, GlosaLimits(arrive_after_red_s=0))
    assert a.kind == "adjust" and a.speed_mps == pytest.approx(10.0)


def test_a_confidence_gate_falls_back_to_the_latest_end():
    g = group("stop-And-Remain", max_end=NOW + 40_000, likely_end=NOW + 20_000, confidence=20)
    a = advise(200, 12.0, g, NOW, GlosaLimits(min_confidence=60, arrive_after_red_s=0))
    assert a.kind == "adjust" and a.speed_mps == pytest.approx(5.0)


def test_red_too_long_and_amber_say_stop_and_unknown_says_none():
    assert advise(20, 10.0, group("stop-And-Remain", likely_end=NOW + 60_000), NOW).kind == "stop"
    assert advise(50, 10.0, group("protected-clearance"), NOW).kind == "stop"
    assert advise(50, 10.0, None, NOW).kind == "none"
    assert advise(50, 10.0, group("dark"), NOW).kind == "none"


def test_red_ending_before_arrival_at_limit_keeps():
    g = group("pre-Movement", likely_end=NOW + 1_000)
    assert advise(300, 10.0, g, NOW, GlosaLimits()).kind == "keep"


def test_no_advice_from_a_stale_prediction_and_it_says_why():
    """Issue 18: a controller in fail-safe (or before a program runs) has no prediction; its
    timings must not become a speed."""
    g = group("stop-And-Remain", max_end=NOW + 40_000, likely_end=NOW + 20_000)
    stale = SpatPrediction(state="stale", reasons=["fail_safe"])
    a = advise(200, 12.0, g, NOW, prediction=stale)
    assert (a.kind, a.speed_mps) == ("none", None)
    assert a.reason == "SPaT prediction stale (fail_safe)"
    green = group("protected-Movement-Allowed", min_end=NOW + 20_000)
    assert advise(100, 10.0, green, NOW, prediction=stale).kind == "none"


def test_a_degraded_prediction_still_advises_and_says_so():
    g = group("stop-And-Remain", max_end=NOW + 40_000, likely_end=NOW + 20_000)
    plain = advise(200, 12.0, g, NOW)
    degraded = advise(200, 12.0, g, NOW, prediction=SpatPrediction(
        state="degraded", reasons=["learning", "stuck:D1"]))
    assert (degraded.kind, degraded.speed_mps) == (plain.kind, plain.speed_mps) == (
        "adjust", pytest.approx(200 / 21))  # arrives 1 s after the red ends
    assert degraded.reason == f"{plain.reason}; prediction degraded (learning, stuck:D1)"
    ok = advise(200, 12.0, g, NOW, prediction=SpatPrediction(state="ok", reasons=[]))
    assert ok == plain


def test_a_cyclist_gets_the_same_rule_within_12_to_25_kmh():
    """One rule for buses and cyclists: only the speed range differs (BICYCLE_LIMITS)."""
    red = group("stop-And-Remain", likely_end=NOW + 20_000)
    # 105 m in 20 s plus the red-amber: 18 km/h, inside the cyclists' range
    a = advise(105, 6.0, red, NOW, BICYCLE_LIMITS)
    assert a.kind == "adjust" and a.speed_mps == pytest.approx(5.0)
    # 50 m in 21 s would be 8.6 km/h: below 12 km/h no advice is given, the cyclist rides on
    assert advise(50, 5.0, red, NOW, BICYCLE_LIMITS).kind == "stop"
    # nor a bus: its floor is 15 km/h
    assert advise(50, 5.0, red, NOW, BUS_LIMITS).kind == "stop"
    # 150 m of green left for 20 s: 27 km/h, beyond a cyclist, easy for a bus
    green = group("protected-Movement-Allowed", min_end=NOW + 20_000)
    assert advise(150, 5.0, green, NOW, BICYCLE_LIMITS).kind == "stop"
    bus = advise(150, 5.0, green, NOW, BUS_LIMITS)
    assert bus.kind == "adjust" and bus.speed_mps == pytest.approx(7.5)


def test_cyclist_advice_never_leaves_the_range():
    for distance in range(5, 400, 15):
        for wait_ms in range(1_000, 90_000, 3_000):
            for state, fields in (("stop-And-Remain", {"likely_end": NOW + wait_ms}),
                                  ("protected-Movement-Allowed", {"min_end": NOW + wait_ms}),
                                  ("protected-Movement-Allowed", {
                                      "min_end": NOW + wait_ms // 4,
                                      "next_green": NOW + wait_ms})):
                a = advise(distance, 4.0, group(state, **fields), NOW, BICYCLE_LIMITS)
                if a.kind == "adjust":
                    assert a.speed_mps is not None
                    assert 12 / 3.6 - 1e-9 <= a.speed_mps <= 25 / 3.6 + 1e-9

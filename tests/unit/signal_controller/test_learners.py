"""The learners behind SPaT predictions (``domain/learners.py``): stage-length history
(conditional median, confidence, hour buckets), loop flow and gap-out."""

from __future__ import annotations

import math

from signal_controller.domain.learners import (
    DEFAULT_HEADWAY_MS,
    HOUR_MS,
    MAX_SAMPLES,
    MIN_SCORED,
    Flow,
    History,
    gap_out_cdf,
    gap_out_median,
    gap_out_median_from,
    horizon_band,
)

T = 1_750_000_000_000 - 1_750_000_000_000 % (24 * HOUR_MS)  # midnight UTC


def test_conditional_median_and_confidence() -> None:
    h = History()
    for d in (10_000, 10_500, 11_000, 20_000, 30_000):
        h = h.record("S1", T, d)
    est = h.estimate("S1", T, 0)
    assert est is not None and est.duration == 11_000 and est.confidence == 60
    later = h.estimate("S1", T, 15_000)  # 15 s elapsed: only the long greens remain
    assert later is None  # two samples are too few to predict from
    assert h.estimate("S2", T, 0) is None


def test_hour_buckets_fall_back_to_the_day_pool() -> None:
    h = History()
    for _ in range(5):
        h = h.record("S1", T + 8 * HOUR_MS, 40_000)
    for _ in range(5):
        h = h.record("S1", T + 17 * HOUR_MS, 12_000)
    rush = h.estimate("S1", T + 8 * HOUR_MS + 60_000, 0)
    evening = h.estimate("S1", T + 17 * HOUR_MS, 0)
    assert rush is not None and rush.duration == 40_000
    assert evening is not None and evening.duration == 12_000
    night = h.estimate("S1", T + 3 * HOUR_MS, 0)  # empty bucket: all-day pool
    assert night is not None and night.duration in (12_000, 40_000)


def test_history_is_bounded() -> None:
    h = History()
    for i in range(3 * MAX_SAMPLES):
        h = h.record("S1", T, 1000 + i)
    assert len(h.by_stage["S1"]) == MAX_SAMPLES
    assert h.by_stage["S1"][-1] == (1000 + 3 * MAX_SAMPLES - 1, 0)


def test_the_wait_selects_the_nearest_greens() -> None:
    """Long waits (long queues) come with long greens: the k nearest waits decide."""
    h = History()
    for i in range(40):
        short = i % 2 == 0
        wait = 5_000 + 100 * i if short else 60_000 + 100 * i
        h = h.record("S1", T, 10_000 if short else 35_000, wait)
    queue = h.estimate("S1", T, 0, wait_ms=58_000)
    empty = h.estimate("S1", T, 0, wait_ms=4_000)
    assert queue is not None and queue.duration == 35_000 and queue.confidence == 100
    assert empty is not None and empty.duration == 10_000
    unconditional = h.estimate("S1", T, 0)
    assert unconditional is not None and unconditional.confidence == 50


def test_call_delays_say_when_an_uncalled_stage_will_be_called() -> None:
    h = History().record("S2", T, 8_000)  # S2's green ended at T + 8 s
    assert not h.likely_called("S2", T + 60_000)  # no call delays learned yet
    for delay in (3_000, 4_000, 5_000, 6_000, 30_000):
        h = h.record_call("S2", T + 8_000 + delay)
    assert not h.likely_called("S2", T + 8_000 + 4_000)
    assert h.likely_called("S2", T + 8_000 + 5_000)  # the median delay has passed
    assert History().record_call("S9", T) == History()  # never served: nothing to learn


# --- the loop-flow learner and the gap-out model --------------------------------------------


def test_gap_out_mean_matches_the_closed_form() -> None:
    """From a loop going free, E[T] = (exp(λ·gap) - 1)·(1/λ + occupancy) for Poisson
    arrivals; the tick-grid table must agree within the grid's resolution."""
    for rate in (0.05, 0.16, 0.4):
        cdf = gap_out_cdf(round(rate * 1000), 3000, 600)
        mean_s = sum(1.0 - c for c in cdf) * 0.1
        closed = (math.exp(rate * 3.0) - 1.0) * (1.0 / rate + 0.6)
        assert abs(mean_s - closed) / closed < 0.05, (rate, mean_s, closed)
        assert cdf[-1] > 0.999 and len(cdf) <= 1201
    # Rates are shared in 0.005 veh/s steps, occupancies in ticks: few tables per process.
    assert gap_out_median(0.1612, 3000, 640) == gap_out_median(0.16, 3000, 600)


def test_gap_out_median() -> None:
    # Sparse traffic: the gap most likely completes undisturbed.
    assert gap_out_median(0.05, 3000, 600) == 3000
    assert gap_out_median_from(0.05, 3000, 600, 2000) == 1000
    assert gap_out_median_from(0.05, 3000, 600, 5000) == 0
    # Dense traffic: the median lies beyond the undisturbed gap and grows with the rate.
    dense = [gap_out_median(r, 3000, 600) for r in (0.3, 0.5, 0.8)]
    assert 3000 < dense[0] < dense[1] < dense[2]
    fresh = gap_out_median_from(0.5, 3000, 600, 0)
    assert fresh == dense[1]
    assert gap_out_median_from(0.5, 3000, 600, 2500) < fresh


def test_flow_learns_rate_headway_and_occupancy() -> None:
    f = Flow()
    t = T
    last_on: int | None = None
    last_off: int | None = None
    # 40 min of one vehicle every 5 s (0.2 veh/s), each on the loop for 600 ms.
    for _ in range(480):
        f = f.on("D1", t, last_on, last_off)
        last_on = t
        f = f.off(t, t + 600)
        last_off = t + 600
        t += 5000
    assert abs(f.rate("D1", t) - 0.2) < 0.02
    assert f.occupancy == 600 and f.count("D1") == 480
    assert f.headway == DEFAULT_HEADWAY_MS  # no closely following vehicles seen yet
    free = f.loops["D1"].free_at
    assert free == t - 5000  # every vehicle came after a long empty spell
    # A discharging queue: on-edges 2 s apart teach the saturation headway.
    for _ in range(10):
        f = f.on("D1", t, last_on, last_off)
        last_on, last_off = t, t + 600
        f = f.off(t, t + 600)
        t += 2000
    assert f.headway == 2000
    assert f.loops["D1"].free_at == free + 5000  # queued vehicles are not free arrivals
    assert f.rate("D9", t) == 0.0 and f.count("D9") == 0


def test_flow_carries_an_uncleared_queue() -> None:
    f = Flow().green_ended("D1", 8.0)
    assert f.loops["D1"].carry == 8.0
    assert f.green_ended("D1", 8.0) is f
    assert f.green_ended("D1", 0.0).loops["D1"].carry == 0.0


def test_competing_predictions_are_scored_and_the_closer_one_is_preferred() -> None:
    """While a queue discharges, the queue model and the history both predict; every green
    scores them (per stage and horizon band) and the model is taken where it was closer."""
    h = History()
    for i in range(MIN_SCORED // 3 + 2):
        start = T + i * 60_000
        # one prediction a second; the model (25 s) is right, the history (29 s) is not.
        for k in range(3):
            made = start + k * 1000
            h = h.observe(made, start + 25_000, start + 29_000)
            h = h.observe(made + 400, start + 25_000, start + 29_000)  # throttled
        assert len(h.pending) == 3
        if 3 * i < MIN_SCORED:
            assert not h.prefer_model("S1", 20_000)  # too few scored predictions yet
        h = h.record("S1", start, 25_000)
        assert h.pending == ()
    assert h.prefer_model("S1", 20_000) and h.prefer_model("S1", 24_000)
    assert not h.prefer_model("S1", 5_000)  # the <= 10 s band has its own score (none yet)
    assert not h.prefer_model("S2", 20_000)  # so has another stage
    assert not h.prefer_model("S1", 31_000)  # beyond 30 s the history always predicts
    em, eh, n = h.errors[("S1", horizon_band(25_000))]
    assert n == 3 * (MIN_SCORED // 3 + 2) and em == 0.0 and eh == 4_000.0
    # predictions made before the green started (an earlier program) are not scored
    stale = History().observe(T - 5_000, T + 1_000, T + 2_000).record("S1", T, 1_000)
    assert stale.errors == {}

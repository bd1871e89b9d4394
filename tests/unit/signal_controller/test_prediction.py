"""The stage-length learner: conditional median, confidence, hour buckets."""

from __future__ import annotations

from signal_controller.domain.prediction import HOUR_MS, MAX_SAMPLES, History

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

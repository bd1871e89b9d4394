"""The prediction scorer (domain/prediction.py) on hand-built SPaT sequences with known errors,
bands, bounds and confidence buckets; the sliding hour; the fixed memory; and the
``prediction_degraded`` alarm: raised on a doubled error, never at start-up or on few rows."""

from __future__ import annotations

from collections.abc import Iterable

from central_hub.domain.alarms import AlarmEngine
from central_hub.domain.live_state import LiveState
from central_hub.domain.prediction import (
    MAX_GROUPS,
    MAX_PENDING,
    DriftRules,
    PredictionScorer,
)
from edge_agent.contract.payloads import Spat, SpatGroup, encode

T0 = 1_700_002_800_000  # an hour boundary (hub and controller clocks agree in these tests)
MIN = 60_000
HOUR = 3_600_000
RED, GREEN = "stop-And-Remain", "protected-Movement-Allowed"
#: (state, likely_end, min_end, max_end, confidence) of one group in one row
Row = tuple[str, int | None, int | None, int | None, int]


def _spat(ts: int, groups: dict[str, Row], status: str = "operational", seq: int = 1) -> Spat:
    return Spat(ts=ts, seq=seq, intersection_id="ks-1", revision=1, status=status,  # type: ignore[arg-type]
                groups=[SpatGroup(sg=sg, state=st, likely_end=le, min_end=lo,  # type: ignore[arg-type]
                                  max_end=hi, confidence=c)
                        for sg, (st, le, lo, hi, c) in groups.items()])


def _feed(scorer: PredictionScorer, spats: Iterable[Spat]) -> int:
    return sum(scorer.observe(s, s.ts) for s in spats)


def _two_groups() -> list[Spat]:
    """10 Hz rows for 46 s. K1 red until +45 s: likely end +40 s (5 s early, confidence 30)
    until +20 s, then +45.5 s (0.5 s late, confidence 90); bounds +10..+60 s (kept). K2 green
    until +35 s: likely end exactly right (confidence 100); latest end +30 s (broken)."""
    out = []
    for ts in range(T0, T0 + 46_000, 100):
        t = ts - T0
        k1: Row = (RED, T0 + 40_000, T0 + 10_000, T0 + 60_000, 30) if t < 20_000 else \
            (RED, T0 + 45_500, T0 + 10_000, T0 + 60_000, 90)
        if t >= 45_000:
            k1 = ("pre-Movement", T0 + 46_000, None, None, 100)
        k2: Row = (GREEN, T0 + 35_000, None, T0 + 30_000, 100) if t < 35_000 else \
            ("protected-clearance", T0 + 38_000, None, None, 100)
        out.append(_spat(ts, {"K1": k1, "K2": k2}))
    return out


def test_a_switch_scores_the_samples_of_its_aspect_by_band_bounds_and_bucket() -> None:
    sc = PredictionScorer()
    assert _feed(sc, _two_groups()) == 2
    w = sc.window(T0 + 46_000)
    # sampled once a second, not per 10 Hz row: 45 samples of K1, 35 of K2
    assert (w.switches, w.rows) == (2, 80)
    bands = {b.band: (b.rows, b.mae_ms) for b in w.bands}
    # > 30 s ahead: K1 at 0..14 s (5 s off), K2 at 0..4 s (right)
    assert bands["gt30s"] == (20, 15 * 5_000 / 20)
    # 10-30 s: K1 at 15..19 s (5 s off) and 20..34 s (0.5 s), K2 at 5..24 s
    assert bands["10to30s"] == (40, (5 * 5_000 + 15 * 500) / 40)
    # <= 10 s: K1 at 35..44 s (0.5 s), K2 at 25..34 s
    assert bands["le10s"] == (20, 10 * 500 / 20)
    # K1 switched within its bounds, K2 after its latest end
    assert (w.bounded_switches, w.inside_bounds, w.inside_pct) == (2, 1, 50.0)
    buckets = {b.lo: b for b in w.buckets}
    assert (buckets[30].hi, buckets[30].rows, buckets[30].mean_confidence,
            buckets[30].observed_pct) == (39, 20, 30.0, 0.0)
    # 90-100 holds 100: K1's 25 samples at 90 and K2's 35 at 100, all right within 1 s
    assert (buckets[90].hi, buckets[90].rows, buckets[90].observed_pct) == (100, 60, 100.0)
    assert buckets[90].mean_confidence == (25 * 90 + 35 * 100) / 60
    assert sum(b.rows for b in w.buckets) == w.rows
    assert [b.lo for b in w.buckets] == list(range(0, 100, 10))


def test_a_hit_is_within_one_second_and_only_red_and_green_are_judged() -> None:
    sc = PredictionScorer()
    for ts, state, likely in ((T0, RED, T0 + 3_000), (T0 + 1_000, RED, T0 + 3_000),
                              (T0 + 2_000, "pre-Movement", T0 + 3_000),  # red ends 1 s early
                              (T0 + 3_000, GREEN, T0 + 5_000),
                              (T0 + 4_000, "protected-clearance", T0 + 7_000),  # 1 s early
                              (T0 + 7_500, RED, T0 + 9_000)):  # amber ended late: not judged
        sc.observe(_spat(ts, {"K1": (state, likely, None, None, 55)}), ts)
    w = sc.window(T0 + 8_000)
    assert (w.switches, w.rows, w.bounded_switches) == (2, 3, 0)
    assert w.inside_pct is None
    (b50,) = [b for b in w.buckets if b.rows]
    assert (b50.lo, b50.observed_pct) == (50, 100.0)  # exactly 1 s off is a hit


def test_switches_after_a_silence_or_under_a_degraded_controller_are_not_scored() -> None:
    sc = PredictionScorer()
    red: Row = (RED, T0 + 5_000, None, None, 80)
    green: Row = (GREEN, T0 + 20_000, None, None, 80)
    sc.observe(_spat(T0, {"K1": red}), T0)
    # no SPaT for 3 s, then green: the switch was somewhere in the silence
    assert sc.observe(_spat(T0 + 3_100, {"K1": green}), T0 + 3_100) == 0
    # flashing ends the green unannounced: not a prediction error
    assert sc.observe(_spat(T0 + 3_200, {"K1": ("caution-Conflicting-Traffic", None, None,
                                                  None, 0)}, status="flashing"),
                      T0 + 3_200) == 0
    # no likely end, no sample
    sc.observe(_spat(T0 + 4_000, {"K1": (RED, None, None, None, 0)}), T0 + 4_000)
    assert sc.observe(_spat(T0 + 5_000, {"K1": green}), T0 + 5_000) == 0
    assert sc.window(T0 + 5_000).switches == 0


def _one_switch(sc: PredictionScorer, at: int, error_ms: int, samples: int = 1) -> None:
    """A red aspect sampled ``samples`` times in its last seconds, ``error_ms`` late."""
    for k in range(samples, 0, -1):
        ts = at - 1_000 * k
        sc.observe(_spat(ts, {"K1": (RED, at - error_ms, None, None, 70)}), ts)
    sc.observe(_spat(at, {"K1": ("pre-Movement", at + 1_000, None, None, 100)}), at)


def test_the_last_hour_slides_by_the_minute() -> None:
    sc = PredictionScorer()
    _one_switch(sc, T0 + 5_000, 0)  # in minute 0
    assert sc.window(T0 + 30_000).switches == 1
    _one_switch(sc, T0 + 30 * MIN + 5_000, 0)
    _one_switch(sc, T0 + 59 * MIN + 5_000, 0)
    assert sc.window(T0 + 59 * MIN + 30_000).switches == 3
    assert sc.window(T0 + 60 * MIN).switches == 2  # minute 0 has left the hour
    _one_switch(sc, T0 + 60 * MIN + 5_000, 0)  # reuses minute 0's bin
    assert [sc.window(T0 + m * MIN + 30_000).switches for m in (60, 89, 90, 119, 120)] \
        == [3, 3, 2, 1, 0]
    assert sc.window(T0 + 1000 * HOUR).rows == 0
    # the running sum stays exact through the bins it recycles
    for minute in range(61, 200):
        _one_switch(sc, T0 + minute * MIN + 5_000, 2_000)
    w = sc.window(T0 + 199 * MIN + 10_000)
    assert (w.switches, w.rows) == (60, 60)
    assert w.bands[0].mae_ms == 2_000


def test_hourly_values_are_kept_for_a_day() -> None:
    sc = PredictionScorer()
    for h in range(30):
        _one_switch(sc, T0 + h * HOUR + 5_000, 100 * h, samples=3)
    hours = sc.hours(T0 + 29 * HOUR + MIN)
    assert [f.start_ms for f in hours] == [T0 + h * HOUR for h in range(5, 29)]
    assert (hours[-1].rows, hours[-1].mae_ms) == (3, 2_800)


def test_memory_is_bounded_per_group_and_per_intersection() -> None:
    sc = PredictionScorer()
    # a red of 400 s keeps its last MAX_PENDING samples (the nearest ones)
    for ts in range(T0, T0 + 400_000, 100):
        sc.observe(_spat(ts, {"K1": (RED, T0 + 400_000, None, None, 50)}), ts)
    sc.observe(_spat(T0 + 400_000, {"K1": ("pre-Movement", None, None, None, 0)}),
               T0 + 400_000)
    w = sc.window(T0 + 400_000)
    assert w.rows == MAX_PENDING
    assert [b.rows for b in w.bands] == [10, 20, MAX_PENDING - 30]
    # a flood of made-up group ids: the first MAX_GROUPS are followed, the rest counted
    many = {f"X{k}": (RED, T0 + 500_000, None, None, 50) for k in range(MAX_GROUPS + 8)}
    sc.observe(_spat(T0 + 401_000, many), T0 + 401_000)
    assert sc.ignored == 9  # K1 is one of the MAX_GROUPS


def test_live_state_feeds_each_intersections_scorer() -> None:
    st = LiveState()
    for n, spat in enumerate(_two_groups()):
        m = spat.model_copy(update={"seq": n + 1})
        st.apply_spat(m, encode(m), m.ts)
    assert st.intersections["ks-1"].quality.window(T0 + 46_000).switches == 2


# --- the alarm ----------------------------------------------------------------------------------

def _run(sc: PredictionScorer, start_min: int, minutes: int, error_ms: int) -> int:
    """One switch a minute, each with ten samples 10..1 s ahead (600 an hour), ``error_ms``
    off; returns the last hub ms of the last minute."""
    for minute in range(start_min, start_min + minutes):
        _one_switch(sc, T0 + minute * MIN + 20_000, error_ms, samples=10)
    return T0 + (start_min + minutes) * MIN - 1


def test_the_alarm_fires_on_a_doubled_error_and_clears_when_back() -> None:
    sc, engine, rules = PredictionScorer(), AlarmEngine(), DriftRules()
    engine.on_spat("ks-1", "operational", T0)
    now = _run(sc, 0, 8 * 60, 1_000)
    d = sc.drift(now, rules)
    assert (d.judged, d.degraded, d.baseline_ms, d.hours, d.rows) == (True, False, 1_000, 7,
                                                                      600)
    assert engine.on_prediction("ks-1", d, now=now) == []
    # half an hour at twice the usual error: the last hour is 1.5x, not yet
    now = _run(sc, 480, 30, 2_000)
    d = sc.drift(now, rules)
    assert (d.mae_ms, d.degraded) == (1_500, False)
    assert engine.on_prediction("ks-1", d, now=now) == []
    now = _run(sc, 510, 30, 2_000)
    d = sc.drift(now, rules)
    assert (d.mae_ms, d.baseline_ms, d.hours, d.degraded) == (2_000, 1_000, 8, True)
    (raised,) = engine.on_prediction("ks-1", d, now=now)
    assert (raised.kind, raised.device_id, raised.active, raised.severity) == (
        "prediction_degraded", "ks-1", True, "warning")
    assert "2.0 s" in raised.message and "2.0x the usual 1.0 s" in raised.message
    assert engine.on_prediction("ks-1", sc.drift(now, rules), now=now) == []  # once
    # the usual error again for an hour: back under twice the median (still 1 s), cleared
    now = _run(sc, 540, 60, 1_000)
    d = sc.drift(now, rules)
    assert (d.mae_ms, d.baseline_ms, d.hours) == (1_000, 1_000, 9)
    (cleared,) = engine.on_prediction("ks-1", d, now=now)
    assert (cleared.kind, cleared.active) == ("prediction_degraded", False)


def test_no_alarm_at_start_up() -> None:
    sc, engine, rules = PredictionScorer(), AlarmEngine(), DriftRules()
    engine.on_spat("ks-1", "operational", T0)
    _run(sc, 0, 120, 500)
    now = _run(sc, 120, 60, 5_000)  # ten times worse, but only two hours to compare with
    d = sc.drift(now, rules)
    assert (d.judged, d.degraded, d.hours, d.mae_ms) == (False, False, 2, 5_000)
    assert engine.on_prediction("ks-1", d, now=now) == []


def test_no_alarm_on_few_predictions_or_a_small_error() -> None:
    sc, engine, rules = PredictionScorer(), AlarmEngine(), DriftRules()
    engine.on_spat("ks-1", "operational", T0)
    _run(sc, 0, 8 * 60, 200)
    # a quiet hour, then three bad switches: 30 predictions are not enough to judge
    now = _run(sc, 9 * 60, 3, 9_000)
    d = sc.drift(now, rules)
    assert (d.rows, d.mae_ms, d.hours, d.judged, d.degraded) == (30, 9_000, 8, False, False)
    assert engine.on_prediction("ks-1", d, now=now) == []
    # three times the usual 0.2 s is still under the 1 s floor
    sc = PredictionScorer()
    _run(sc, 0, 8 * 60, 200)
    d = sc.drift(_run(sc, 8 * 60, 60, 600), rules)
    assert (d.mae_ms, d.judged, d.degraded) == (600, True, False)


def test_a_removed_intersection_clears_and_raises_nothing() -> None:
    sc, engine, rules = PredictionScorer(), AlarmEngine(), DriftRules()
    _run(sc, 0, 8 * 60, 1_000)
    now = _run(sc, 8 * 60, 60, 4_000)
    d = sc.drift(now, rules)
    assert d.degraded
    assert engine.on_prediction("ks-1", d, now=now) == []  # its SPaT was never watched
    engine.on_spat("ks-1", "operational", now)
    assert [c.active for c in engine.on_prediction("ks-1", d, now=now)] == [True]
    cleared = engine.forget_intersection("ks-1", now + 1)
    assert ("prediction_degraded", False) in [(c.kind, c.active) for c in cleared]
    assert engine.on_prediction("ks-1", d, now=now + 2) == []

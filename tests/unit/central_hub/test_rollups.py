"""Roll-up arithmetic and retention cut-offs."""

from __future__ import annotations

from central_hub.domain.rollups import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Aggregate,
    RetentionPolicy,
    metrics_of,
    rollup_buckets,
    rollup_raw,
)


def test_metrics_reach_nested_fields_and_skip_non_numbers() -> None:
    health = {"cpu_pct": 12.5, "mem_pct": 3, "rss_mb": 1.0, "disk_pct": True,
              "queue": {"depth": 4, "dropped": 0}}
    assert dict(metrics_of("health", health)) == {
        "health.cpu_pct": 12.5, "health.mem_pct": 3.0, "health.rss_mb": 1.0,
        "health.queue.depth": 4.0, "health.queue.dropped": 0.0}
    assert metrics_of("spat", {"x": 1}) == []


def test_minute_buckets_then_hour_buckets() -> None:
    rows = [("bus", "position", i * 20_000, {"speed_mps": float(i)}) for i in range(9)]
    minutes = rollup_raw(rows)
    assert sorted(k[2] for k in minutes) == [0, MINUTE_MS, 2 * MINUTE_MS]
    assert minutes[("bus", "position.speed_mps", 0)] == Aggregate(3, 3.0, 0.0, 2.0)
    hours = rollup_buckets((d, m, b, a) for (d, m, b), a in minutes.items())
    agg = hours[("bus", "position.speed_mps", 0)]
    assert (agg.count, agg.total, agg.minimum, agg.maximum, agg.mean) == (9, 36.0, 0.0, 8.0, 4.0)


def test_retention_cutoffs() -> None:
    now = 100 * DAY_MS
    cuts = RetentionPolicy().cutoffs(now)
    assert cuts == {"raw": 86 * DAY_MS, "minute": 10 * DAY_MS, "hour": None}
    assert RetentionPolicy(raw_days=1, hour_days=365).cutoffs(now)["hour"] == now - 365 * DAY_MS
    assert HOUR_MS == 60 * MINUTE_MS

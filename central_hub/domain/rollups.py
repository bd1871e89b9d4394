"""Time-series roll-ups: which numbers of which payload are kept, and how buckets aggregate.

WHY recompute whole buckets instead of incrementing them: messages arrive late (store-and-
forward replays are marked ``historical``) and twice (QoS 1 redelivery, several workers), so a
bucket is recomputed from the raw rows it covers; the result is the same however often and by
however many workers it is computed. Roll-ups of roll-ups (1 min -> 1 h) merge
count/sum/min/max, which is exact for those four.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

#: numeric fields rolled up per topic; dotted names reach into nested objects.
METRICS: dict[str, tuple[str, ...]] = {
    "position": ("speed_mps",),
    "occupancy": ("passengers", "occupancy_percentage"),
    "wlan": ("clients_associated", "clients_authenticated", "uplink_kbps"),
    "health": ("cpu_pct", "mem_pct", "rss_mb", "disk_pct", "queue.depth", "queue.dropped"),
}


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each tier is kept; ``None`` keeps it for ever (defaults: 14 d/90 d/kept)."""

    raw_days: float | None = 14.0
    minute_days: float | None = 90.0
    hour_days: float | None = None

    def cutoffs(self, now_ms: int) -> dict[str, int | None]:
        """Per tier, the oldest timestamp (ms) to keep, or ``None`` to keep everything."""

        def cut(days: float | None) -> int | None:
            return None if days is None else now_ms - int(days * DAY_MS)

        return {"raw": cut(self.raw_days), "minute": cut(self.minute_days),
                "hour": cut(self.hour_days)}


@dataclass(slots=True)
class Aggregate:
    """count/sum/min/max of one metric in one bucket; mean is ``total / count``."""

    count: int
    total: float
    minimum: float
    maximum: float

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def merge(self, other: Aggregate) -> None:
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


BucketKey = tuple[str, str, int]  # (device_id, metric, bucket start ms)


def bucket_start(ts_ms: int, width_ms: int) -> int:
    """Start of the bucket of width ``width_ms`` that holds ``ts_ms``."""
    return ts_ms - ts_ms % width_ms


def metrics_of(topic: str, payload: Mapping[str, object]) -> list[tuple[str, float]]:
    """``(metric, value)`` pairs of one payload; metric names are ``topic.field``."""
    out: list[tuple[str, float]] = []
    for name in METRICS.get(topic, ()):
        value: object = payload
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((f"{topic}.{name}", float(value)))
    return out


def rollup_raw(
    rows: Iterable[tuple[str, str, int, Mapping[str, object]]], width_ms: int = MINUTE_MS
) -> dict[BucketKey, Aggregate]:
    """Aggregate raw rows ``(device_id, topic, ts_ms, payload)`` into buckets."""
    out: dict[BucketKey, Aggregate] = {}
    for device, topic, ts, payload in rows:
        start = bucket_start(ts, width_ms)
        for metric, value in metrics_of(topic, payload):
            key = (device, metric, start)
            agg = out.get(key)
            if agg is None:
                out[key] = Aggregate(1, value, value, value)
            else:
                agg.add(value)
    return out


def rollup_buckets(
    rows: Iterable[tuple[str, str, int, Aggregate]], width_ms: int = HOUR_MS
) -> dict[BucketKey, Aggregate]:
    """Merge finer buckets ``(device_id, metric, start_ms, aggregate)`` into coarser ones."""
    out: dict[BucketKey, Aggregate] = {}
    for device, metric, start, agg in rows:
        key = (device, metric, bucket_start(start, width_ms))
        cur = out.get(key)
        if cur is None:
            out[key] = Aggregate(agg.count, agg.total, agg.minimum, agg.maximum)
        else:
            cur.merge(agg)
    return out

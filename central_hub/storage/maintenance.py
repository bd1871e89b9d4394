"""Roll-ups and tiered retention, run periodically by the primary hub process.

WHY driven by ``received_ms`` and recomputing whole buckets: a watermark on the time rows were
*received* finds every bucket that got new rows, including late ones (replays from a bus that
was out of coverage for an hour); recomputing those buckets from the raw tier is idempotent
(see :mod:`central_hub.domain.rollups`), so a crash between steps or two primaries at once
cannot double count. Retention then deletes each tier past its age.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from central_hub.domain.rollups import (
    HOUR_MS,
    METRICS,
    MINUTE_MS,
    Aggregate,
    RetentionPolicy,
    bucket_start,
    rollup_buckets,
    rollup_raw,
)
from central_hub.storage.db import upsert
from central_hub.storage.schema import (
    events,
    rollup_hour,
    rollup_minute,
    samples,
    signal_changes,
    watermarks,
)

WATERMARK = "rollup_received_ms"
SETTLE_MS = 2_000  # rows younger than this may still be in an uncommitted batch of a worker


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one run did."""

    minute_buckets: int
    hour_buckets: int
    deleted: dict[str, int]


class Maintenance:
    """Computes roll-ups and applies retention on one engine."""

    def __init__(self, engine: Engine, policy: RetentionPolicy) -> None:
        self.engine = engine
        self.policy = policy
        self._minute = upsert(engine, rollup_minute, ("device_id", "metric", "bucket"))
        self._hour = upsert(engine, rollup_hour, ("device_id", "metric", "bucket"))

    def run(self, now_ms: int) -> MaintenanceReport:
        """Roll up everything received since the last run, then delete expired rows."""
        minutes, hours = self.rollup(now_ms)
        return MaintenanceReport(minutes, hours, self.retain(now_ms))

    def rollup(self, now_ms: int) -> tuple[int, int]:
        upto = now_ms - SETTLE_MS
        topics = list(METRICS)
        raw_cut = self.policy.cutoffs(now_ms)["raw"]
        with self.engine.begin() as conn:
            row = conn.execute(select(watermarks.c.value)
                               .where(watermarks.c.name == WATERMARK)).first()
            since = row[0] if row else -1
            touched = sorted({bucket_start(ts, MINUTE_MS) for (ts,) in conn.execute(
                select(samples.c.ts).where(samples.c.received_ms > since,
                                           samples.c.received_ms <= upto,
                                           samples.c.topic.in_(topics)))})
            if raw_cut is not None:
                touched = [b for b in touched if b >= bucket_start(raw_cut, MINUTE_MS)
                           + MINUTE_MS]
            minute_rows = 0
            for b in touched:
                rows = conn.execute(select(samples.c.device_id, samples.c.topic, samples.c.ts,
                                           samples.c.payload)
                                    .where(samples.c.ts >= b, samples.c.ts < b + MINUTE_MS,
                                           samples.c.topic.in_(topics)))
                aggs = rollup_raw((d, t, ts, json.loads(p)) for d, t, ts, p in rows)
                values = [_values(k, a) for k, a in aggs.items()]
                if values:
                    conn.execute(self._minute, values)
                    minute_rows += len(values)
            hours = sorted({bucket_start(b, HOUR_MS) for b in touched})
            hour_rows = 0
            for h in hours:
                m = rollup_minute.c
                rows2 = conn.execute(select(m.device_id, m.metric, m.bucket, m.count, m.total,
                                            m.minimum, m.maximum)
                                     .where(m.bucket >= h, m.bucket < h + HOUR_MS))
                aggs = rollup_buckets((d, met, b, Aggregate(n, tot, lo, hi))
                                      for d, met, b, n, tot, lo, hi in rows2)
                values = [_values(k, a) for k, a in aggs.items()]
                if values:
                    conn.execute(self._hour, values)
                    hour_rows += len(values)
            wm = upsert(self.engine, watermarks, ("name",))
            conn.execute(wm, [{"name": WATERMARK, "value": max(since, upto)}])
        return minute_rows, hour_rows

    def retain(self, now_ms: int) -> dict[str, int]:
        cut = self.policy.cutoffs(now_ms)
        deleted: dict[str, int] = {}
        with self.engine.begin() as conn:
            if cut["raw"] is not None:
                deleted["samples"] = conn.execute(
                    delete(samples).where(samples.c.ts < cut["raw"])).rowcount
                deleted["events"] = conn.execute(
                    delete(events).where(events.c.ts < cut["raw"])).rowcount
                deleted["signal_changes"] = conn.execute(
                    delete(signal_changes).where(signal_changes.c.start_ms < cut["raw"])).rowcount
            if cut["minute"] is not None:
                deleted["rollup_minute"] = conn.execute(
                    delete(rollup_minute).where(rollup_minute.c.bucket < cut["minute"])).rowcount
            if cut["hour"] is not None:
                deleted["rollup_hour"] = conn.execute(
                    delete(rollup_hour).where(rollup_hour.c.bucket < cut["hour"])).rowcount
        return deleted


def _values(key: tuple[str, str, int], agg: Aggregate) -> dict[str, object]:
    device, metric, bucket = key
    return {"device_id": device, "metric": metric, "bucket": bucket, "count": agg.count,
            "total": agg.total, "minimum": agg.minimum, "maximum": agg.maximum}

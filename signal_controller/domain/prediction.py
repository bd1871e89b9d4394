"""Learning stage lengths per stage and time of day, for SPaT ``likely_end`` and ``confidence``.

Why a learner and not a formula: under actuated control the end of a green depends on traffic
that has not arrived yet. The controller keeps the recent realised green lengths of every stage
in hour-of-day buckets and predicts with the *conditional median* given the green time already
elapsed (the median minimises the mean absolute error); ``confidence`` is the share of those
samples within ±1 s of the prediction, i.e. an empirical estimate of what the contract asks.
Buckets with too few samples fall back to the stage's all-day pool. State is immutable and
bounded (``MAX_SAMPLES`` per key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_SAMPLES = 64
MIN_SAMPLES = 5
HOUR_MS = 3_600_000
DAY_HOURS = 24
WINDOW_MS = 1000  # the contract's ±1 s for confidence


def hour_bucket(now_ms: int) -> int:
    """Hour of day (UTC) of ``now_ms``."""
    return (now_ms // HOUR_MS) % DAY_HOURS


@dataclass(frozen=True, slots=True)
class Estimate:
    """A predicted duration (ms) and the confidence (0-100) that it is right within ±1 s."""

    duration: int
    confidence: int


@dataclass(frozen=True, slots=True)
class History:
    """Recent realised green lengths (ms) per ``(stage id, hour)`` and per stage."""

    by_hour: Mapping[tuple[str, int], tuple[int, ...]] = field(default_factory=dict)
    by_stage: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def record(self, stage: str, started_ms: int, duration_ms: int) -> History:
        """A history that also knows one realised green of ``stage``."""
        key = (stage, hour_bucket(started_ms))
        hours = dict(self.by_hour)
        hours[key] = (*hours.get(key, ())[-(MAX_SAMPLES - 1):], duration_ms)
        stages = dict(self.by_stage)
        stages[stage] = (*stages.get(stage, ())[-(MAX_SAMPLES - 1):], duration_ms)
        return History(hours, stages)

    def samples(self, stage: str, now_ms: int) -> tuple[int, ...]:
        """The samples to predict from: the hour's bucket, or the all-day pool."""
        own = self.by_hour.get((stage, hour_bucket(now_ms)), ())
        if len(own) >= MIN_SAMPLES:
            return own
        return self.by_stage.get(stage, ())

    def estimate(self, stage: str, now_ms: int, elapsed_ms: int) -> Estimate | None:
        """Conditional median of the stage length given ``elapsed_ms``; ``None`` if unknown."""
        pool = [d for d in self.samples(stage, now_ms) if d > elapsed_ms]
        if len(pool) < MIN_SAMPLES // 2 + 1:
            return None
        pool.sort()
        median = pool[len(pool) // 2]
        hits = sum(1 for d in pool if abs(d - median) <= WINDOW_MS)
        return Estimate(median, round(100 * hits / len(pool)))

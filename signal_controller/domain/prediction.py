"""Learning stage lengths per stage, time of day and queue, for SPaT ``likely_end``/``confidence``.

Why a learner and not a formula: under actuated control the end of a green depends on traffic
that has not arrived yet. The controller keeps the recent realised green lengths of every stage
in hour-of-day buckets, each with the *wait* observed when the stage was chosen: how long the
stage's longest-waiting loop had been occupied while red (the first vehicle's waiting time, a
queue proxy that every stop-line loop gives for free; 0 without a waiting vehicle). A
prediction is the empirical *conditional distribution* of the stage length given

* the hour of day (the bucket; the stage's all-day pool while the hour has < ``MIN_SAMPLES``),
* the wait: the ``NEIGHBOURS`` samples with the nearest wait (k-nearest neighbours, a
  non-parametric regression that needs no traffic model), and
* the green time already elapsed (only samples longer than it),

whose *median* is ``likely_end`` (the median minimises the mean absolute error) and whose share
of samples within ±1 s of it is ``confidence`` — an empirical estimate of what the contract
asks. State is immutable and bounded (``MAX_SAMPLES`` per key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_SAMPLES = 96
MIN_SAMPLES = 5
#: samples with the nearest wait that form the conditional distribution.
NEIGHBOURS = 15
HOUR_MS = 3_600_000
DAY_HOURS = 24
WINDOW_MS = 1000  # the contract's ±1 s for confidence

#: one realised green: ``(duration ms, wait ms when the stage was chosen)``.
Sample = tuple[int, int]


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
    """Recent realised greens per ``(stage id, hour)`` and per stage."""

    by_hour: Mapping[tuple[str, int], tuple[Sample, ...]] = field(default_factory=dict)
    by_stage: Mapping[str, tuple[Sample, ...]] = field(default_factory=dict)
    #: per stage: when its latest green ended, and how long after such an end calls arrived.
    last_end: Mapping[str, int] = field(default_factory=dict)
    call_delays: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def record(self, stage: str, started_ms: int, duration_ms: int, wait_ms: int = 0) -> History:
        """A history that also knows one realised green of ``stage``."""
        sample = (duration_ms, wait_ms)
        key = (stage, hour_bucket(started_ms))
        hours = dict(self.by_hour)
        hours[key] = (*hours.get(key, ())[-(MAX_SAMPLES - 1):], sample)
        stages = dict(self.by_stage)
        stages[stage] = (*stages.get(stage, ())[-(MAX_SAMPLES - 1):], sample)
        ends = {**self.last_end, stage: started_ms + duration_ms}
        return History(hours, stages, ends, self.call_delays)

    def record_call(self, stage: str, now_ms: int) -> History:
        """A call on ``stage`` was latched at ``now_ms``: learn its delay after the last green."""
        end = self.last_end.get(stage)
        if end is None:
            return self
        delays = dict(self.call_delays)
        delays[stage] = (*delays.get(stage, ())[-(MAX_SAMPLES - 1):], now_ms - end)
        return History(self.by_hour, self.by_stage, self.last_end, delays)

    def likely_called(self, stage: str, at_ms: int) -> bool:
        """Whether ``stage``, not called now, more likely than not has a call by ``at_ms``:
        the time since its last green reaches the median learned call delay."""
        delays = self.call_delays.get(stage, ())
        end = self.last_end.get(stage)
        if end is None or len(delays) < MIN_SAMPLES:
            return False
        return at_ms - end >= sorted(delays)[len(delays) // 2]

    def samples(self, stage: str, now_ms: int) -> tuple[Sample, ...]:
        """The samples to predict from: the hour's bucket, or the all-day pool."""
        own = self.by_hour.get((stage, hour_bucket(now_ms)), ())
        if len(own) >= MIN_SAMPLES:
            return own
        return self.by_stage.get(stage, ())

    def estimate(
        self, stage: str, now_ms: int, elapsed_ms: int, wait_ms: int | None = None
    ) -> Estimate | None:
        """Conditional median of the stage length given the hour, ``elapsed_ms`` and (if
        given) the wait when the stage was chosen; ``None`` while too little is known."""
        pool = [s for s in self.samples(stage, now_ms) if s[0] > elapsed_ms]
        if len(pool) < MIN_SAMPLES // 2 + 1:
            return None
        if wait_ms is not None and len(pool) > NEIGHBOURS:
            pool.sort(key=lambda s: abs(s[1] - wait_ms))
            pool = pool[:NEIGHBOURS]
        durations = sorted(d for d, _ in pool)
        median = durations[len(durations) // 2]
        hits = sum(1 for d in durations if abs(d - median) <= WINDOW_MS)
        return Estimate(median, round(100 * hits / len(durations)))

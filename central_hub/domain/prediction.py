"""Prediction quality: how well an intersection's SPaT foretold its switches over the last
hour, and whether that got worse than usual (the ``prediction_degraded`` alarm).

WHY a scorer of its own, pure and of fixed size: every 10 Hz SPaT row of every red or green
group carries a prediction (``likely_end``, ``[min_end, max_end]``, ``confidence``), but it can
only be judged once the group switches. :class:`PredictionScorer` samples each group's
prediction about once a second, keeps the samples of the group's current aspect (at most
:data:`MAX_PENDING`) and scores them at the switch: the error by how far ahead the prediction
was made (GLOSA and priority need the near ones right), whether the switch kept the published
bounds, and how often a prediction with a claimed confidence was right within ±1 s (the
reliability diagram). Scores are summed into per-minute bins, so "the last hour" is a running
sum and not a list of rows, and the ≤ 10 s error of each clock hour is kept for a day: the
baseline the alarm compares the last hour with. No clock is read here: rows carry controller
time (errors), callers pass the hub's receive time (which minute and hour a score falls in).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from statistics import median
from typing import Literal

from edge_agent.contract.payloads import Spat, SpatGroup

#: the states whose end a prediction is judged on: red and green (amber and red-amber have
#: fixed lengths, their ends are always right and would flatter the figure).
JUDGED_STATES = frozenset({"stop-And-Remain", "stop-Then-Proceed", "permissive-Movement-Allowed",
                           "protected-Movement-Allowed"})
#: controller statuses under which predictions are sampled and switches scored: a controller
#: going to flashing, dark or fault ends its groups' aspects unannounced (``signal_degraded``
#: says so already); that is not a prediction error.
SCORED_STATUSES = frozenset({"operational", "fixed_time"})
#: a group's prediction is sampled at most this often (controller time).
SAMPLE_MS = 1_000
#: samples kept per group for its current aspect (3 min at one a second; a longer aspect
#: keeps its latest ones, the oldest were the farthest ahead).
MAX_PENDING = 180
#: groups scored per intersection; more are ignored and counted (a flood of made-up ids).
MAX_GROUPS = 32
#: a switch first seen after a silence longer than this happened at an unknown time: the
#: samples of that aspect are dropped, not scored.
MAX_GAP_MS = 2_000
#: a prediction is a hit within this of the switch: the ±1 s the confidence is claimed for.
HIT_MS = 1_000
#: the switch is seen with the first SPaT that shows the new state, up to one 10 Hz period
#: after it happened: a switch this much after ``max_end`` still kept the bound.
BOUNDS_SLACK_MS = 100
#: an error counts at most this much (a likely end days off must not swamp an hour's mean).
MAX_ERROR_MS = 3_600_000
#: how far ahead of the switch a sample was made: upper limits of the first two bands (ms).
BAND_LIMITS_MS = (10_000, 30_000)
Band = Literal["le10s", "10to30s", "gt30s"]
BANDS: tuple[Band, ...] = ("le10s", "10to30s", "gt30s")
#: confidence buckets of the reliability diagram: 0-9, 10-19, ..., 90-100.
BUCKETS = 10
BIN_MS = 60_000
#: the window the figures cover: this many bins (the current minute included).
WINDOW_BINS = 60
HOUR_MS = 3_600_000
#: completed clock hours whose ≤ 10 s error is kept (the alarm's baseline).
HOURS_KEPT = 24

_INT32 = 2**31 - 1
# the counters of one bin (int64 each)
_SWITCHES, _BOUNDED, _INSIDE, _BAND0 = 0, 1, 2, 3  # then rows, error sum per band
_BUCKET0 = _BAND0 + 2 * len(BANDS)  # then rows, confidence sum, hits per bucket
FIELDS = _BUCKET0 + 3 * BUCKETS
_UNUSED = -1


@dataclass(slots=True)
class _Group:
    """One signal group as the scorer follows it: its current state and that aspect's samples
    (``(ts - base, likely_end - ts, confidence)`` as int32 triples)."""

    state: str
    last_ts: int
    base: int = 0
    sample_ts: int = -(2**62)
    #: the latest ``min_end`` and the earliest ``max_end`` the aspect's samples announced
    lo: int | None = None
    hi: int | None = None
    samples: array[int] = field(default_factory=lambda: array("i"))

    def restart(self, state: str) -> None:
        self.state, self.sample_ts, self.lo, self.hi = state, -(2**62), None, None
        if self.samples:
            self.samples = array("i")


@dataclass(frozen=True, slots=True)
class BandFigures:
    """The samples of one band (how far ahead of the switch they were made) and their mean
    absolute error."""

    band: Band
    rows: int
    mae_ms: float | None


@dataclass(frozen=True, slots=True)
class BucketFigures:
    """Samples whose claimed confidence was ``lo``..``hi`` %: their mean confidence and the
    share that was right within ±1 s (a reliable controller's points lie on the diagonal)."""

    lo: int
    hi: int
    rows: int
    mean_confidence: float | None
    observed_pct: float | None


@dataclass(frozen=True, slots=True)
class QualityWindow:
    """An intersection's prediction quality over the window (the last hour)."""

    switches: int
    rows: int
    bands: tuple[BandFigures, ...]
    #: switches whose aspect announced a bound, and those that kept every one of them
    bounded_switches: int
    inside_bounds: int
    buckets: tuple[BucketFigures, ...]

    @property
    def inside_pct(self) -> float | None:
        b = self.bounded_switches
        return 100 * self.inside_bounds / b if b else None


@dataclass(frozen=True, slots=True)
class HourFigures:
    """The ≤ 10 s band of one completed clock hour (hub time)."""

    start_ms: int
    rows: int
    mae_ms: float


@dataclass(frozen=True, slots=True)
class DriftRules:
    """When the last hour's ≤ 10 s error counts as worse than usual (``prediction_degraded``):
    at least ``factor`` times the median of the hourly values of the last day, and at least
    ``floor_ms`` (a controller right to a tenth of a second is not "degraded" at two tenths).
    The last hour and each hour of the baseline need ``min_rows`` samples, and the baseline
    ``min_hours`` such hours, so that noise or a hub that just started cannot raise it."""

    factor: float = 2.0
    min_rows: int = 300
    min_hours: int = 6
    floor_ms: int = 1_000


@dataclass(frozen=True, slots=True)
class Drift:
    """The last hour's ≤ 10 s error against its own baseline, and the verdict."""

    mae_ms: float | None
    rows: int
    baseline_ms: float | None
    hours: int
    #: enough samples in the last hour and enough hours in the baseline to judge
    judged: bool
    degraded: bool


class PredictionScorer:
    """Scores one intersection's predictions. Fixed memory, whatever the stream: per group
    (at most :data:`MAX_GROUPS`) at most :data:`MAX_PENDING` samples of 12 bytes (2.2 KB), and
    once something was scored :data:`WINDOW_BINS` bins of :data:`FIELDS` int64 counters
    (18.7 KB) plus the hour's running sum and :data:`HOURS_KEPT` + 1 hourly values (under 1 KB).

    :meth:`observe` runs on the hub's event loop; :meth:`window` may run in a request thread
    at the same time: it only reads, and a read in the middle of a score is off by that score.
    """

    __slots__ = ("_bins", "_groups", "_hours", "_stamps", "_totals", "ignored")

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}
        self._bins: array[int] | None = None  # WINDOW_BINS x FIELDS, allocated at first score
        self._stamps = array("q", [_UNUSED] * WINDOW_BINS)  # the minute each bin holds
        self._totals = array("q", bytes(8 * FIELDS))  # the sum of all bins
        self._hours = array("q", [_UNUSED, 0, 0] * (HOURS_KEPT + 1))  # hour, rows, error sum
        #: group rows ignored because the intersection already had MAX_GROUPS groups
        self.ignored = 0

    # --- the stream -------------------------------------------------------------------------

    def observe(self, spat: Spat, now_ms: int) -> int:
        """Sample and score one SPaT (rows in order; ``now_ms``: hub receive time). Returns
        the number of switches scored."""
        ts = spat.ts
        scoring = spat.status in SCORED_STATUSES
        scored = 0
        groups = self._groups
        for row in spat.groups:
            g = groups.get(row.sg)
            if g is None:
                if len(groups) >= MAX_GROUPS:
                    self.ignored += 1
                    continue
                g = groups[row.sg] = _Group(row.state, ts)
            elif row.state != g.state:
                if g.samples and scoring and ts - g.last_ts <= MAX_GAP_MS:
                    self._score(g, ts, now_ms)
                    scored += 1
                g.restart(row.state)
            elif ts < g.last_ts:
                continue
            g.last_ts = ts
            if scoring and row.likely_end is not None and ts - g.sample_ts >= SAMPLE_MS \
                    and row.state in JUDGED_STATES:
                _sample(g, ts, row, row.likely_end)
        return scored

    def _score(self, g: _Group, switch: int, now_ms: int) -> None:
        d = [0] * FIELDS
        d[_SWITCHES] = 1
        if g.lo is not None or g.hi is not None:
            d[_BOUNDED] = 1
            d[_INSIDE] = int((g.lo is None or switch >= g.lo)
                             and (g.hi is None or switch <= g.hi + BOUNDS_SLACK_MS))
        s, base = g.samples, g.base
        near, far = BAND_LIMITS_MS
        for k in range(0, len(s), 3):
            ts = base + s[k]
            err = min(abs(ts + s[k + 1] - switch), MAX_ERROR_MS)
            ahead = switch - ts
            i = _BAND0 if ahead <= near else _BAND0 + 2 if ahead <= far else _BAND0 + 4
            d[i] += 1
            d[i + 1] += err
            conf = s[k + 2]
            j = _BUCKET0 + 3 * min(conf // 10, BUCKETS - 1)
            d[j] += 1
            d[j + 1] += conf
            d[j + 2] += err <= HIT_MS
        self._add(d, now_ms)

    def _add(self, d: list[int], now_ms: int) -> None:
        bins = self._bins
        if bins is None:
            bins = self._bins = array("q", bytes(8 * FIELDS * WINDOW_BINS))
        minute = now_ms // BIN_MS
        slot = minute % WINDOW_BINS
        at = slot * FIELDS
        totals = self._totals
        if self._stamps[slot] != minute:  # a new minute: its slot's old minute leaves the sums
            self._stamps[slot] = minute
            for k in range(FIELDS):
                totals[k] -= bins[at + k]
                bins[at + k] = 0
        for k, v in enumerate(d):
            if v:
                bins[at + k] += v
                totals[k] += v
        if d[_BAND0]:
            hour = now_ms // HOUR_MS
            h = 3 * (hour % (HOURS_KEPT + 1))
            hours = self._hours
            if hours[h] != hour:
                hours[h], hours[h + 1], hours[h + 2] = hour, 0, 0
            hours[h + 1] += d[_BAND0]
            hours[h + 2] += d[_BAND0 + 1]

    # --- figures ----------------------------------------------------------------------------

    def _sums(self, now_ms: int) -> list[int]:
        """The counters of the bins within the window ending at ``now_ms`` (read only)."""
        sums = list(self._totals)
        bins = self._bins
        if bins is None:
            return sums
        oldest = now_ms // BIN_MS - WINDOW_BINS  # this minute and older are outside
        for slot, stamp in enumerate(self._stamps):
            if stamp != _UNUSED and stamp <= oldest:  # not overwritten yet: take it out
                at = slot * FIELDS
                for k in range(FIELDS):
                    sums[k] -= bins[at + k]
        return sums

    def window(self, now_ms: int) -> QualityWindow:
        """The figures of the last hour (:data:`WINDOW_BINS` minutes) before ``now_ms``."""
        c = self._sums(now_ms)
        bands = tuple(BandFigures(name, c[_BAND0 + 2 * b],
                                  _mean(c[_BAND0 + 2 * b + 1], c[_BAND0 + 2 * b]))
                      for b, name in enumerate(BANDS))
        buckets = []
        for k in range(BUCKETS):
            rows, conf, hits = c[_BUCKET0 + 3 * k:_BUCKET0 + 3 * k + 3]
            buckets.append(BucketFigures(10 * k, 100 if k == BUCKETS - 1 else 10 * k + 9, rows,
                                         _mean(conf, rows), _mean(100 * hits, rows)))
        return QualityWindow(c[_SWITCHES], sum(b.rows for b in bands), bands, c[_BOUNDED],
                             c[_INSIDE], tuple(buckets))

    def hours(self, now_ms: int) -> list[HourFigures]:
        """The ≤ 10 s band of each completed clock hour of the last :data:`HOURS_KEPT` that has
        samples, oldest first."""
        current = now_ms // HOUR_MS
        h = self._hours
        out = [HourFigures(h[i] * HOUR_MS, h[i + 1], h[i + 2] / h[i + 1])
               for i in range(0, len(h), 3)
               if current - HOURS_KEPT <= h[i] < current and h[i + 1] > 0]
        return sorted(out, key=lambda f: f.start_ms)

    def drift(self, now_ms: int, rules: DriftRules) -> Drift:
        """The last hour's ≤ 10 s error against the median of the last day's hourly values."""
        c = self._sums(now_ms)
        rows = c[_BAND0]
        mae = _mean(c[_BAND0 + 1], rows)
        hourly = [f.mae_ms for f in self.hours(now_ms) if f.rows >= rules.min_rows]
        baseline = median(hourly) if hourly else None
        judged = rows >= rules.min_rows and len(hourly) >= rules.min_hours
        degraded = judged and mae is not None and baseline is not None \
            and mae >= max(rules.factor * baseline, rules.floor_ms)
        return Drift(mae, rows, baseline, len(hourly), judged, degraded)


def _sample(g: _Group, ts: int, row: SpatGroup, likely_end: int) -> None:
    s = g.samples
    if not s or ts - g.base > _INT32:  # the first sample, or an aspect of 24 days: start over
        if s:
            s = g.samples = array("i")
        g.base = ts
    elif len(s) >= 3 * MAX_PENDING:
        del s[:3]
    s.extend((ts - g.base, max(-_INT32, min(_INT32, likely_end - ts)), row.confidence))
    g.sample_ts = ts
    if row.min_end is not None:
        g.lo = row.min_end if g.lo is None else max(g.lo, row.min_end)
    if row.max_end is not None:
        g.hi = row.max_end if g.hi is None else min(g.hi, row.max_end)


def _mean(total: int, n: int) -> float | None:
    return total / n if n else None

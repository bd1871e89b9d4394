"""Our absolute times and confidences on the DSRC scales: TimeMark, MinuteOfTheYear, DSecond
and TimeIntervalConfidence (ISO TS 19091 / SAE J2735). Pure functions, no toolkit.

Why a module: the JSON payloads carry epoch milliseconds and a 0-100 confidence, the standard
carries tenths of a second within the UTC hour and a 16-step probability class. The rules
(docs/c-its.md, "Times and confidence") are the ones a receiver depends on, so they are
written once and tested on their edges:

* a TimeMark is the tenth of a second since the start of the current UTC hour, 0..35999, and
  wraps: 5 s after hh:59:58 is TimeMark 30; 36000 means more than an hour away, 36001 unknown
  (our ``null``). Times are rounded to the nearest tenth; a time already past counts as now.
* ``minEndTime <= likelyTime <= maxEndTime`` holds on the wrapped scale: the three are ordered
  as times ahead of now before they are wrapped (``likely`` is clamped into the bounds).
* confidence: the largest class whose probability does not exceed ours (never claim more than
  we have); below the first class (21 %) no class is sent.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime
from functools import lru_cache

MS_PER_TENTH = 100
#: tenths of a second in an hour: TimeMarks 0..35999 name an instant within the next hour.
HOUR_TENTHS = 36_000
#: TimeMark "more than an hour away".
FAR = 36_000
#: TimeMark "unknown" (our ``null``).
UNKNOWN = 36_001
MS_PER_MINUTE = 60_000
#: TimeIntervalConfidence code -> its probability in percent (ISO TS 19091 / SAE J2735).
CONFIDENCE_PERCENT: tuple[int, ...] = (
    21, 36, 47, 56, 62, 68, 73, 77, 81, 85, 88, 91, 94, 96, 98, 100,
)


def _tenths_ahead(at_ms: int | None, now_ms: int) -> int | None:
    """Tenths of a second from ``now_ms``'s tenth to ``at_ms`` rounded to the nearest tenth
    (0 for a time already past); ``None`` for unknown."""
    if at_ms is None:
        return None
    return max((at_ms + MS_PER_TENTH // 2) // MS_PER_TENTH - now_ms // MS_PER_TENTH, 0)


def _wrap(ahead: int | None, now_ms: int) -> int:
    if ahead is None:
        return UNKNOWN
    if ahead >= HOUR_TENTHS:
        return FAR
    return (now_ms // MS_PER_TENTH + ahead) % HOUR_TENTHS


def time_mark(at_ms: int | None, now_ms: int) -> int:
    """The TimeMark of the absolute time ``at_ms`` (epoch ms, ``None``: unknown) seen at
    ``now_ms``."""
    return _wrap(_tenths_ahead(at_ms, now_ms), now_ms)


def time_marks(min_end: int | None, likely_end: int | None, max_end: int | None,
               now_ms: int) -> tuple[int, int, int]:
    """``(minEndTime, likelyTime, maxEndTime)`` of one signal group's change, ordered
    ``min <= likely <= max`` on the wrapped scale whatever the rounding did: an earliest end
    after the latest is pulled down to it, the likely end is clamped into the bounds."""
    lo, likely, hi = (_tenths_ahead(t, now_ms) for t in (min_end, likely_end, max_end))
    if lo is not None and hi is not None and lo > hi:
        lo = hi
    if likely is not None:
        if lo is not None:
            likely = max(likely, lo)
        if hi is not None:
            likely = min(likely, hi)
    return _wrap(lo, now_ms), _wrap(likely, now_ms), _wrap(hi, now_ms)


def mark_to_ms(mark: int, ref_ms: int) -> int | None:
    """The epoch ms a TimeMark names for a message sent at ``ref_ms``: the first instant at or
    after ``ref_ms``'s tenth of a second that carries ``mark``; ``None`` for unknown and for
    more than an hour away (the standard's leap-second reading of 35991..35999 does not apply
    to UTC epoch milliseconds, which have no leap seconds)."""
    if not 0 <= mark < HOUR_TENTHS:
        return None
    now_tenth = ref_ms // MS_PER_TENTH
    return (now_tenth + (mark - now_tenth) % HOUR_TENTHS) * MS_PER_TENTH


def interval_confidence(percent: int) -> int | None:
    """The TimeIntervalConfidence code for our ``confidence`` (0-100): the largest class whose
    probability is at most ``percent``; ``None`` below 21 % (send no class)."""
    code = bisect_right(CONFIDENCE_PERCENT, percent) - 1
    return code if code >= 0 else None


@lru_cache(maxsize=8)
def _year_start_ms(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) * 1000


def minute_of_year(ts_ms: int) -> tuple[int, int]:
    """``(moy, dsecond)`` of the epoch time ``ts_ms``: the minute of the UTC year
    (MinuteOfTheYear) and the milliseconds within that minute (DSecond)."""
    year = datetime.fromtimestamp(ts_ms // 1000, tz=UTC).year
    since = ts_ms - _year_start_ms(year)
    return since // MS_PER_MINUTE, since % MS_PER_MINUTE


def epoch_ms(year: int, moy: int, dsecond: int) -> int:
    """The epoch ms of minute ``moy`` and millisecond ``dsecond`` of the UTC year ``year``
    (the receiver knows the year from its own clock)."""
    return _year_start_ms(year) + moy * MS_PER_MINUTE + dsecond

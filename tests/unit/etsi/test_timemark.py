"""TimeMark, MinuteOfTheYear/DSecond and confidence on their edges (docs/c-its.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.contract.etsi.timemark import (
    CONFIDENCE_PERCENT,
    FAR,
    UNKNOWN,
    epoch_ms,
    interval_confidence,
    mark_to_ms,
    minute_of_year,
    time_mark,
    time_marks,
)

HOUR_MS = 3_600_000


def at(h: int, m: int, s: int, ms: int = 0) -> int:
    return int(datetime(2025, 6, 1, h, m, s, tzinfo=UTC).timestamp()) * 1000 + ms


def test_the_last_tenth_of_the_hour_and_the_first_of_the_next() -> None:
    now = at(9, 59, 50)
    assert time_mark(at(9, 59, 59, 900), now) == 35999
    assert time_mark(at(10, 0, 0), now) == 0
    assert time_mark(at(10, 0, 0, 100), now) == 1


def test_a_switch_5_s_after_59_58_wraps_to_30() -> None:
    assert time_mark(at(9, 59, 58) + 5000, at(9, 59, 58)) == 30


def test_more_than_an_hour_away_is_36000_and_unknown_is_36001() -> None:
    now = at(9, 30, 0)
    assert time_mark(now + HOUR_MS - 100, now) == (now // 100 + 35999) % 36000
    assert time_mark(now + HOUR_MS, now) == FAR
    assert time_mark(now + 5 * HOUR_MS, now) == FAR
    assert time_mark(None, now) == UNKNOWN


def test_rounding_to_the_nearest_tenth_and_a_past_time_counts_as_now() -> None:
    now = at(12, 0, 0)
    assert time_mark(now + 149, now) == 1
    assert time_mark(now + 150, now) == 2
    assert time_mark(now - 5000, now) == 0


def test_min_likely_max_stay_ordered_across_the_hour_after_rounding() -> None:
    now = at(9, 59, 59, 870)
    # 9:59:59.950 rounds up to 10:00:00.0, 9:59:59.910 down: likely must not fall below min
    lo, likely, hi = time_marks(now + 80, now + 40, now + 5000, now)
    assert (lo, likely, hi) == (0, 0, 49)
    # likely beyond max is clamped to max, across the wrap
    assert time_marks(now, now + 9000, now + 3000, now) == (35999, 29, 29)
    # an earliest end after the latest one is pulled down to it
    assert time_marks(now + 4000, None, now + 2000, now) == (19, UNKNOWN, 19)
    # unknown bounds do not constrain; a far minimum makes everything after it far
    assert time_marks(None, now + 1000, None, now) == (UNKNOWN, 9, UNKNOWN)
    assert time_marks(now + 2 * HOUR_MS, now, None, now) == (FAR, FAR, UNKNOWN)


def _ahead(mark: int, now: int) -> int:
    return {FAR: 10**9}.get(mark, (mark - now // 100) % 36000)


@given(now=st.integers(0, 2**41), d=st.lists(st.integers(-10_000, 2 * HOUR_MS), min_size=3,
                                               max_size=3))
def test_ordering_holds_for_any_times(now: int, d: list[int]) -> None:
    lo, likely, hi = time_marks(now + d[0], now + d[1], now + d[2], now)
    assert _ahead(lo, now) <= _ahead(likely, now) <= _ahead(hi, now)


@given(now=st.integers(0, 2**41), ahead=st.integers(0, HOUR_MS - 200))
def test_a_mark_reads_back_within_the_tenth(now: int, ahead: int) -> None:
    back = mark_to_ms(time_mark(now + ahead, now), now)
    assert back is not None
    assert abs(back - (now + ahead)) <= 100


def test_mark_to_ms_has_no_time_for_far_and_unknown() -> None:
    assert mark_to_ms(FAR, 0) is None
    assert mark_to_ms(UNKNOWN, 0) is None


def test_minute_of_the_year_and_millisecond_within_the_minute() -> None:
    ts = int(datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()) * 1000 + 900
    assert minute_of_year(ts) == (366 * 1440 - 1, 59_900)  # 2024 is a leap year
    assert minute_of_year(int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * 1000) == (0, 0)
    assert epoch_ms(2024, 366 * 1440 - 1, 59_900) == ts


def test_confidence_table_is_the_standards() -> None:
    assert CONFIDENCE_PERCENT == (21, 36, 47, 56, 62, 68, 73, 77, 81, 85, 88, 91, 94, 96, 98,
                                  100)


def test_confidence_takes_the_largest_class_not_above_ours() -> None:
    assert [interval_confidence(p) for p in (0, 20, 21, 35, 36, 50, 97, 98, 99, 100)] == [
        None, None, 0, 0, 1, 2, 13, 14, 14, 15]
    for code, percent in enumerate(CONFIDENCE_PERCENT):
        assert interval_confidence(percent) == code
        assert CONFIDENCE_PERCENT[interval_confidence(percent + 1) or 0] <= percent + 1
    for percent in range(21, 101):
        code = interval_confidence(percent)
        assert code is not None and CONFIDENCE_PERCENT[code] <= percent
        assert code == 15 or CONFIDENCE_PERCENT[code + 1] > percent

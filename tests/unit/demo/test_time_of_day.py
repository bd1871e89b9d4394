"""``kassel demo --time``: the day's timetable and demand moved onto the clock."""

from __future__ import annotations

import argparse
import random
from itertools import pairwise

import pytest

from simulations.demo.cli import time_of_day
from simulations.demo.domain.demand import time_of_day_factor
from simulations.gtfs_synth import KASSEL_DAY, departures, shifted_day

DAY = 24 * 3600


def _headway(periods: tuple[tuple[int, int], ...], t: int) -> int:
    return next(h for start, h in sorted(periods, reverse=True) if start <= t)


@pytest.mark.parametrize("shift_h", [0, 1, 7.5, 13, 23.99])
def test_every_clock_second_gets_the_headway_of_the_shifted_hour(shift_h: float) -> None:
    shift = int(shift_h * 3600)
    moved = shifted_day(KASSEL_DAY, shift)
    assert moved[0][0] == 0  # the clock's midnight has a period
    for t in range(0, DAY, 60):
        assert _headway(moved, t) == _headway(KASSEL_DAY, (t + shift) % DAY), t


def test_the_morning_peak_at_one_in_the_night() -> None:
    # started at 01:00 with --time 08:00: the next hours run every 5 minutes
    moved = shifted_day(KASSEL_DAY, 7 * 3600)
    starts = departures(3600, 2 * 3600, moved)
    assert len(starts) == 12
    assert {b - a for a, b in pairwise(starts)} == {300}
    assert time_of_day_factor(3600 + 7 * 3600) == pytest.approx(time_of_day_factor(8 * 3600))
    assert time_of_day_factor(8 * 3600) > 5 * time_of_day_factor(3600)


def test_no_shift_is_the_day_itself() -> None:
    assert shifted_day(KASSEL_DAY, 0) == KASSEL_DAY
    assert shifted_day(KASSEL_DAY, DAY) == KASSEL_DAY
    with pytest.raises(ValueError, match="no timetable"):
        shifted_day((), 10)


@pytest.mark.parametrize(("text", "seconds"), [("08:00", 28800), ("0:05", 300),
                                               ("23:59", 86340)])
def test_times_of_day_are_read(text: str, seconds: int) -> None:
    assert time_of_day(text) == seconds


@pytest.mark.parametrize("text", ["24:00", "8", "08:60", "08:5", "-1:00", "aa:bb", "",
                                  "08:00:00", "１２:00", "123:00"])
def test_bad_times_of_day_are_refused_with_the_form(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="HH:MM"):
        time_of_day(text)


def test_a_random_shift_keeps_one_period_per_start() -> None:
    rng = random.Random(5)
    for _ in range(200):
        moved = shifted_day(KASSEL_DAY, rng.randrange(DAY))
        starts = [s for s, _ in moved]
        assert starts == sorted(set(starts)) and all(0 <= s < DAY for s in starts)

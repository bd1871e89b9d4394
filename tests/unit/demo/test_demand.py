"""Passenger demand: main stations busy, the ends quiet, peaks full, nights empty."""

from __future__ import annotations

import random
import statistics

import pytest

from simulations.demo.domain.demand import (
    StopDemand,
    at_stop,
    dwell_s,
    poisson,
    stop_weight,
    time_of_day_factor,
)

LINE_7 = ["Kirchditmold", "Rolandstraße", "Bebelplatz", "Friedrich-Ebert-Straße",
          "Hauptbahnhof", "Königsplatz", "Unterneustadt", "Leipziger Platz"]
H = 3600


def test_main_stations_are_busy_and_the_ends_quiet() -> None:
    assert stop_weight("Königsplatz", is_end=False) > stop_weight("Rolandstraße", is_end=False)
    assert stop_weight("Hauptbahnhof", is_end=False) >= 5
    assert stop_weight("Bahnhof Wilhelmshöhe", is_end=True) >= 5  # an end, but a station
    assert stop_weight("Kirchditmold", is_end=True) < stop_weight("Kirchditmold", is_end=False)


def test_the_day_has_two_peaks_and_a_quiet_night() -> None:
    assert time_of_day_factor(7.5 * H) > time_of_day_factor(11 * H) > time_of_day_factor(3 * H)
    assert time_of_day_factor(16.5 * H) > 1.5
    assert time_of_day_factor(0) == pytest.approx(time_of_day_factor(24 * H))


def _mean_board(index: int, t_s: float, n: int = 400) -> float:
    rng = random.Random(7)
    return statistics.mean(at_stop(rng, LINE_7, index, on_board=0, capacity=90, t_s=t_s).board
                           for _ in range(n))


def test_boarding_follows_stop_and_hour() -> None:
    assert _mean_board(5, 7.5 * H) > 4 * _mean_board(1, 7.5 * H)  # Königsplatz vs Rolandstr.
    assert _mean_board(5, 7.5 * H) > 5 * _mean_board(5, 3 * H)  # peak vs night
    assert _mean_board(0, 7.5 * H) < _mean_board(1, 7.5 * H)  # the quiet end


def test_riders_leave_where_the_activity_is_and_all_at_the_end() -> None:
    rng = random.Random(3)
    off_main = statistics.mean(at_stop(rng, LINE_7, 5, on_board=40, capacity=90,
                                       t_s=12 * H).alight for _ in range(300))
    off_small = statistics.mean(at_stop(rng, LINE_7, 3, on_board=40, capacity=90,
                                        t_s=12 * H).alight for _ in range(300))
    assert off_main > 2 * off_small
    assert at_stop(rng, LINE_7, 7, on_board=33, capacity=90, t_s=12 * H) == StopDemand(33, 0)


def test_never_more_than_the_vehicle_holds() -> None:
    rng = random.Random(1)
    for _ in range(200):
        d = at_stop(rng, LINE_7, 5, on_board=88, capacity=90, t_s=7.5 * H)
        assert 88 - d.alight + d.board <= 90


def test_poisson_and_dwell() -> None:
    rng = random.Random(5)
    assert statistics.mean(poisson(rng, 4.0) for _ in range(2000)) == pytest.approx(4.0, rel=0.1)
    assert statistics.mean(poisson(rng, 50.0) for _ in range(2000)) == pytest.approx(50, rel=0.05)
    assert poisson(rng, 0) == 0
    assert dwell_s(StopDemand(0, 0)) == 8
    assert dwell_s(StopDemand(2, 20)) > dwell_s(StopDemand(2, 2))
    assert dwell_s(StopDemand(0, 200)) == 60

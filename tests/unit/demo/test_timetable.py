"""Trip assignment: distinct trips under way, blocks at the terminals, standby otherwise."""

from __future__ import annotations

import pytest

from simulations.demo.domain.timetable import (
    DAY_S,
    HORIZON_S,
    TURN_S,
    Dispatcher,
    ScheduledTrip,
    scheduled_progress,
)

H = 3600


@pytest.mark.parametrize("hour", [0.5, 7.0, 8.25, 12.75, 17.5, 23.9])
def test_every_bus_gets_a_distinct_trip_under_way_or_about_to_leave(
        trips: list[ScheduledTrip], hour: float) -> None:
    now = int(hour * H)
    starts = Dispatcher(trips).initial(20, now)
    assert len(starts) == 20
    on_trips = [a for a in starts if a.trip is not None]
    keys = [a.trip.key for a in on_trips if a.trip is not None]
    assert len(keys) == len(set(keys))
    for a in on_trips:
        assert a.trip is not None
        if a.running:
            assert a.trip.start_s <= now < a.trip.end_s
        else:
            assert now < a.trip.start_s <= now + HORIZON_S
    for a in starts:
        assert a.terminal.stop_id.startswith(f"S{a.route_id}-")


def test_daytime_needs_nearly_all_twenty_and_the_night_few(
        trips: list[ScheduledTrip]) -> None:
    day = Dispatcher(trips).initial(20, 12 * H)
    night = Dispatcher(trips).initial(20, 3 * H)
    assert sum(a.trip is not None for a in day) >= 18
    assert sum(a.running for a in day) >= 15
    assert sum(a.trip is not None for a in night) <= 8
    # every line and direction is served in the daytime
    assert {(a.trip.route_id, a.trip.direction) for a in day if a.trip} == {
        (r, d) for r in ("1", "4", "7") for d in (0, 1)}


def test_after_a_trip_the_bus_takes_the_next_free_one_from_that_terminal(
        trips: list[ScheduledTrip]) -> None:
    d = Dispatcher(trips)
    ended = next(t for t in trips if t.trip_id == "1-0-1200")
    first = d.after(ended, ended.end_s)
    assert first is not None
    assert first.route_id == "1" and first.direction == 1
    assert first.stops[0].stop_id == ended.stops[-1].stop_id
    assert first.start_s >= ended.end_s + TURN_S
    second = d.after(ended, ended.end_s)  # another bus arriving at the same time
    assert second is not None and second.start_s > first.start_s
    assert d.next_trip("1", ended.stops[-1].stop_id, ended.end_s, ended.end_s + 60) is None


def test_tomorrows_trips_follow_after_midnight(trips: list[ScheduledTrip]) -> None:
    d = Dispatcher(trips)
    last = max((t for t in trips if t.route_id == "4" and t.direction == 0),
               key=lambda t: t.start_s)
    nxt = d.after(last, last.end_s + 10 * 60)
    assert nxt is not None and nxt.start_s >= DAY_S
    assert nxt.key[1] == 1


def test_progress_along_a_trip(trips: list[ScheduledTrip]) -> None:
    t = next(t for t in trips if t.trip_id == "7-1-1000")
    assert scheduled_progress(t, t.start_s - 100).standing
    halfway = scheduled_progress(t, t.departures_s[2] + 45)
    assert (halfway.leg, halfway.standing) == (3, False)
    assert halfway.fraction == pytest.approx(0.5)
    at_stop = scheduled_progress(t, t.arrivals_s[3] + 5)
    assert (at_stop.leg, at_stop.standing) == (3, True)


def test_bad_timetables_are_refused(trips: list[ScheduledTrip]) -> None:
    with pytest.raises(ValueError, match="negative"):
        Dispatcher(trips).initial(-1, 0)
    with pytest.raises(ValueError, match="no trips"):
        Dispatcher([]).initial(1, 0)
    broken = ScheduledTrip("x", "1", 0, trips[0].stops, (0,), (0,))
    with pytest.raises(ValueError, match="two stops"):
        Dispatcher([broken])

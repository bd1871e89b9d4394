"""A bus on the street: follows its trip's stops in order, roughly on time, counts riders."""

from __future__ import annotations

import random

from simulations.demo.domain.street import BusRun, DoorCount, TripStarted, distance_m
from simulations.demo.domain.timetable import Assignment, Dispatcher, ScheduledTrip

H = 3600


def _run(trips: list[ScheduledTrip], trip_id: str, now: float, *, delay: float = 0.0,
         running: bool = True, seed: int = 1) -> tuple[BusRun, Dispatcher]:
    d = Dispatcher(trips)
    trip = next(t for t in trips if t.trip_id == trip_id)
    d.claimed.add(trip.key)
    bus = BusRun.start(Assignment(trip, running, trip.route_id, trip.stops[0]), d,
                       random.Random(seed), now, delay_s=delay)
    return bus, d


def test_a_bus_found_mid_trip_stands_where_the_timetable_puts_it(
        trips: list[ScheduledTrip]) -> None:
    trip = next(t for t in trips if t.trip_id == "4-1-0800")
    now = trip.departures_s[2] + 45 + 60  # halfway to stop 3, a minute late
    bus, _ = _run(trips, "4-1-0800", now, delay=60)
    fix = bus.fix(now)
    a, b = trip.stops[2], trip.stops[3]
    assert abs(fix.lat - (a.lat + b.lat) / 2) < 1e-4 and abs(fix.lon - (a.lon + b.lon) / 2) < 1e-4
    assert fix.speed_mps > 3
    events = bus.advance(now)
    assert events[0] == TripStarted(trip)
    doors = [e for e in events if isinstance(e, DoorCount)]
    assert doors and [e.stop_index for e in doors] == sorted(e.stop_index for e in doors)
    assert bus.passengers == sum(e.board - e.alight for e in doors)
    assert bus.delay_s() == 60


def test_the_bus_serves_every_stop_in_order_then_takes_its_next_trip(
        trips: list[ScheduledTrip]) -> None:
    start = 17 * H
    bus, _ = _run(trips, "1-0-1700", start - 120, running=False)
    trip = bus.trip
    assert trip is not None
    visited: list[str] = []
    new_trips: list[ScheduledTrip | None] = []
    stood_at: list[str] = []
    delays: list[float] = []
    for t in range(int(start - 120), int(start + 1800)):
        for e in bus.advance(t):
            if isinstance(e, TripStarted):
                new_trips.append(e.trip)
            elif bus.trip is trip:
                visited.append(trip.stops[e.stop_index].stop_id)
        fix = bus.fix(t)
        if fix.speed_mps == 0 and bus.trip is trip:
            stop = min(trip.stops, key=lambda s: distance_m(s.lat, s.lon, fix.lat, fix.lon))
            if distance_m(stop.lat, stop.lon, fix.lat, fix.lon) < 1 and (
                    not stood_at or stood_at[-1] != stop.stop_id):
                stood_at.append(stop.stop_id)
        if bus.trip is trip and (late := bus.delay_s()) is not None:
            delays.append(late)
    # every stop in the trip's order (at the last one the next trip begins at once)
    assert stood_at == [s.stop_id for s in trip.stops[:-1]]
    assert visited == sorted(set(visited), key=visited.index)
    assert new_trips[0] is trip
    after = new_trips[1]
    assert after is not None
    assert after.route_id == "1" and after.direction == 1
    assert after.stops[0] == trip.stops[-1]
    assert max(delays) < 240  # roughly on time: minutes, not a quarter of an hour
    assert min(delays) >= -30


def test_riders_fill_up_at_peak_and_everybody_leaves_at_the_end(
        trips: list[ScheduledTrip]) -> None:
    peak = 0
    for seed in range(5):
        bus, _ = _run(trips, "7-0-0800", 8 * H - 120, running=False, seed=seed)
        trip = bus.trip
        for t in range(8 * H - 120, 8 * H + 900):
            bus.advance(t)
            if bus.trip is trip:
                peak = max(peak, bus.passengers)
            else:
                break
        assert bus.passengers == 0 or bus.trip is not trip
    assert peak > 40  # standing room at the morning peak


def test_phones_join_and_leave_with_their_riders(trips: list[ScheduledTrip]) -> None:
    bus, _ = _run(trips, "1-1-1600", 16 * H - 120, running=False, seed=4)
    joined: set[str] = set()
    left: set[str] = set()
    for t in range(16 * H - 120, 16 * H + 700):
        for e in bus.advance(t):
            if isinstance(e, DoorCount):
                assert not set(e.joined) & joined
                joined |= set(e.joined)
                left |= set(e.left)
        assert set(bus.phones) == joined - left
    assert joined
    assert all(int(m[:2], 16) & 0x02 for m in joined)  # locally administered (randomised)


def test_a_bus_without_a_trip_stands_by_until_one_leaves_soon(
        trips: list[ScheduledTrip]) -> None:
    d = Dispatcher(trips)
    night = 3 * H + 60
    first = next(t for t in trips if t.route_id == "4" and t.direction == 0)
    bus = BusRun.start(Assignment(None, False, "4", first.stops[0]), d, random.Random(1),
                       night, delay_s=0)
    assert bus.advance(night) == [TripStarted(None)]
    assert bus.fix(night).speed_mps == 0
    taken = None
    for t in range(int(night), int(night) + 3600, 10):
        for e in bus.advance(t):
            if isinstance(e, TripStarted):
                taken = e.trip
        if taken:
            assert taken.start_s - t <= 900
            break
    assert taken is not None and taken.stops[0] == first.stops[0]

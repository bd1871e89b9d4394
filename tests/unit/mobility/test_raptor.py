"""The planner's rules on a network small enough to know every answer by hand.

Line 1 runs A → B → C, line 2 runs C → D, and line 3 starts at E, 80 m from C. Trips of
line 1 reach C at 08:10:00; line 2 leaves C at 08:11:59 and at 08:12:00; line 3 leaves E at
08:11:30. A passenger on line 1 needs the 2-minute change time at C, and 80 m × 1.3 at
1.25 m/s (84 s) to walk to E.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from google.transit import gtfs_realtime_pb2 as rt

from central_hub.domain.schedule import Schedule, parse
from central_hub.mobility.domain import raptor, realtime, timetable
from central_hub.mobility.domain.departures import departures
from simulations.gtfs_synth import csv_text

DAY = date(2026, 12, 7)
TZ = ZoneInfo("Europe/Berlin")
MIDNIGHT = int(datetime(2026, 12, 7, tzinfo=TZ).timestamp())


def _t(hms: str) -> int:
    h, m, s = (int(x) for x in hms.split(":"))
    return MIDNIGHT + h * 3600 + m * 60 + s


def _schedule() -> Schedule:
    stops = [["A", "A", 51.30, 9.40, 1], ["B", "B", 51.31, 9.40, 1], ["C", "C", 51.32, 9.40, 1],
             ["D", "D", 51.33, 9.40, 1], ["E", "E", 51.32072, 9.40, 2], ["F", "F", 51.33, 9.42, 1]]
    trips = [["1", "daily", "1a", 1], ["1", "daily", "1b", 1], ["2", "daily", "2a", 2],
             ["2", "daily", "2b", 1], ["3", "daily", "3a", 1]]
    times = [["1a", "08:00:00", "08:00:00", "A", 1], ["1a", "08:05:00", "08:05:00", "B", 2],
             ["1a", "08:10:00", "08:10:00", "C", 3],
             ["1b", "08:20:00", "08:20:00", "A", 1], ["1b", "08:25:00", "08:25:00", "B", 2],
             ["1b", "08:30:00", "08:30:00", "C", 3],
             ["2a", "08:11:59", "08:11:59", "C", 1], ["2a", "08:20:00", "08:20:00", "D", 2],
             ["2b", "08:12:00", "08:12:00", "C", 1], ["2b", "08:21:00", "08:21:00", "D", 2],
             ["3a", "08:11:30", "08:11:30", "E", 1], ["3a", "08:18:00", "08:18:00", "F", 2]]
    return parse({
        "agency.txt": csv_text(["agency_id", "agency_name", "agency_url", "agency_timezone"],
                               [["X", "X", "https://example.invalid/", "Europe/Berlin"]]),
        "stops.txt": csv_text(["stop_id", "stop_name", "stop_lat", "stop_lon",
                               "wheelchair_boarding"], stops),
        "routes.txt": csv_text(["route_id", "route_short_name", "route_type"],
                               [["1", "1", 0], ["2", "2", 3], ["3", "3", 3]]),
        "trips.txt": csv_text(["route_id", "service_id", "trip_id", "wheelchair_accessible"],
                              trips),
        "stop_times.txt": csv_text(["trip_id", "arrival_time", "departure_time", "stop_id",
                                    "stop_sequence"], times),
        "calendar.txt": csv_text(["service_id", "monday", "tuesday", "wednesday", "thursday",
                                  "friday", "saturday", "sunday", "start_date", "end_date"],
                                 [["daily", 1, 1, 1, 1, 1, 1, 1, "20260101", "20271231"]]),
    })


def _net(live: realtime.Realtime | None = None) -> timetable.Network:
    return timetable.build(_schedule(), DAY, live or realtime.Realtime())


def _search(net: timetable.Network, a: str, b: str, at: str, **kw: object) -> list[raptor.Journey]:
    """The journeys of the morning (the network also holds the day before and after)."""
    found = raptor.search(net, raptor.Search([(net.index[a], 0)], {net.index[b]: 0}, _t(at),
                                             **kw))  # type: ignore[arg-type]
    return [j for j in found if j.arrival_s < _t("12:00:00")]


def _trips(net: timetable.Network, j: raptor.Journey) -> list[str]:
    return [net.runs[leg.run].trip.trip_id for leg in j.legs if isinstance(leg, raptor.Ride)]


def test_a_change_at_the_same_stop_takes_two_minutes() -> None:
    net = _net()
    (j,) = _search(net, "A", "D", "07:55:00")
    assert _trips(net, j) == ["1a", "2b"]  # 2a leaves 119 s after 1a arrives: too tight
    assert j.arrival_s == _t("08:21:00")
    (j,) = _search(net, "A", "D", "07:55:00", change_s=119)
    assert _trips(net, j) == ["1a", "2a"]


def test_a_walk_to_a_nearby_stop_takes_its_street_distance() -> None:
    net = _net()
    (j,) = _search(net, "A", "F", "07:55:00")
    assert _trips(net, j) == ["1a", "3a"]  # 84 s walk ≤ 90 s gap
    walk = next(leg for leg in j.legs if isinstance(leg, raptor.Walk) and leg.seconds > 0)
    assert walk.seconds == 84
    assert _search(net, "A", "F", "07:55:00", walk_speed_mps=0.8) == []


def test_a_wheelchair_search_rides_step_free_vehicles_and_stops_only() -> None:
    net = _net()
    (j,) = _search(net, "A", "D", "07:55:00", wheelchair=True)
    assert _trips(net, j) == ["1a", "2b"]  # 2a is not step-free anyway; 2b is
    assert _search(net, "A", "F", "07:55:00", wheelchair=True) == []  # E is not step-free


def test_overtaking_in_real_time_is_found() -> None:
    """1a is held 25 minutes at B: 1b, leaving A 20 minutes after it, now reaches C first."""
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    tu = feed.entity.add().trip_update
    tu.trip.trip_id = "1a"
    tu.trip.start_date = "20261207"
    stu = tu.stop_time_update.add()
    stu.stop_sequence = 2
    stu.arrival.delay = 25 * 60
    net = _net(realtime.merge([feed]))
    (j,) = _search(net, "A", "C", "07:55:00")
    assert _trips(net, j) == ["1b"] and j.arrival_s == _t("08:30:00")
    # line 1 is split in two patterns: on the 7th its trips cross (on the days around, not)
    assert sum(1 for p in net.patterns if net.stop_ids[p.stops[0]] == "A") == 2


def test_a_cancelled_trip_and_a_skipped_call_are_not_used() -> None:
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    tu = feed.entity.add().trip_update
    tu.trip.trip_id = "2b"
    tu.trip.start_date = "20261207"
    tu.trip.schedule_relationship = rt.TripDescriptor.CANCELED
    tu = feed.entity.add().trip_update
    tu.trip.trip_id = "1b"
    tu.trip.start_date = "20261207"
    stu = tu.stop_time_update.add()
    stu.stop_sequence = 2
    stu.schedule_relationship = rt.TripUpdate.StopTimeUpdate.SKIPPED
    net = _net(realtime.merge([feed]))
    assert _search(net, "A", "D", "07:55:00") == []
    assert [_trips(net, j) for j in _search(net, "B", "C", "08:06:00")] == []


def test_arrive_by_finds_the_latest_departure() -> None:
    net = _net()
    mirror = timetable.mirrored(net)
    found = raptor.search(mirror, raptor.Search([(net.index["D"], 0)], {net.index["A"]: 0},
                                                -_t("08:30:00")))
    (j,) = [raptor.unmirror(net, x) for x in found]
    assert j.arrival_s == -found[0].arrival_s
    assert _trips(net, j) == ["1a", "2b"]
    first = next(leg for leg in j.legs if isinstance(leg, raptor.Ride))
    assert net.runs[first.run].dep[first.board] == _t("08:00:00")


def test_departures_board_in_expected_order() -> None:
    net = _net()
    board = departures(net, net.index["C"], _t("08:00:00"), 2)
    assert [d.run.trip.trip_id for d in board] == ["2a", "2b"]  # line 1 ends at C
    assert [d.expected_s for d in board] == [_t("08:11:59"), _t("08:12:00")]

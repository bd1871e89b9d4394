"""The planner's real time: one reading serves the queries of a second, and the timetable is
rebuilt when real time changed, not when a bus merely reported the same again."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from google.transit import gtfs_realtime_pb2 as rt

from central_hub.gtfs_static import load_schedule
from central_hub.mobility.domain.realtime import Realtime, merge
from central_hub.mobility.mount import reuse_for
from central_hub.mobility.planner import Planner
from central_hub.mobility.settings import MobilitySettings

GTFS = Path(__file__).resolve().parents[3] / "firmware_configs/gtfs/kassel-demo.zip"
DAY = date(2026, 12, 7)


def test_one_reading_serves_until_it_is_a_second_old() -> None:
    now = [100.0]
    reads: list[float] = []

    def read() -> int:
        reads.append(now[0])
        return len(reads)

    cached = reuse_for(1.0, read, clock=lambda: now[0])
    assert [cached(), cached()] == [1, 1]
    now[0] = 100.9
    assert cached() == 1
    now[0] = 101.0
    assert cached() == 2
    now[0] = 101.5
    assert cached() == 2 and reads == [100.0, 101.0]


def _feed(trip_id: str, delay_s: int, timestamp: int) -> rt.FeedMessage:
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = timestamp
    tu = feed.entity.add(id=trip_id).trip_update
    tu.trip.trip_id = trip_id
    tu.trip.start_date = DAY.strftime("%Y%m%d")
    tu.timestamp = timestamp
    tu.delay = delay_s
    return feed


def test_the_timetable_is_rebuilt_when_a_delay_changes_not_when_a_report_repeats() -> None:
    schedule = load_schedule(GTFS)
    trip = sorted(schedule.trips)[0]
    live = [merge([_feed(trip, 120, 1_796_630_000)])]
    planner = Planner(schedule, MobilitySettings(), lambda: live[0])
    before = planner.network(DAY)
    live[0] = merge([_feed(trip, 120, 1_796_630_030)])  # the same delay, reported again
    assert planner.refresh() is False and planner.network(DAY) is before
    live[0] = merge([_feed(trip, 300, 1_796_630_060)])
    assert planner.refresh() is True
    rebuilt = planner.network(DAY)
    assert rebuilt is not before
    (run,) = [r for r in rebuilt.runs if r.trip.trip_id == trip and r.service_date == DAY]
    assert run.realtime and run.delay[0] == 300
    live[0] = Realtime()
    assert planner.refresh() is True  # the delay was withdrawn

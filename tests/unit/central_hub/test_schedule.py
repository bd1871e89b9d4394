"""Static GTFS parsing, service days and schedule deviation; the GTFS-RT builders."""

from __future__ import annotations

from datetime import date

import pytest
from google.transit import gtfs_realtime_pb2 as rt

from central_hub.domain.gtfs_rt import VehicleSnapshot, trip_updates, vehicle_positions
from central_hub.domain.schedule import (
    Schedule,
    ScheduleError,
    deviation,
    parse,
    reference_ms,
    service_date,
)
from edge_agent.contract.payloads import Occupancy, OccupancySources, Position
from simulations.gtfs_synth import feed_files

DAY = date(2025, 3, 30)  # the day Germany switches to summer time: noon - 12 h is 23:00 CET


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return parse(feed_files(first_s=6 * 3600, last_s=25 * 3600, headway_s=3600))


def test_reference_is_noon_minus_twelve_hours_local() -> None:
    # 2025-03-30 12:00 CEST = 10:00 UTC; minus 12 h = 22:00 UTC the day before
    assert reference_ms(DAY, "Europe/Berlin") == 1743285600000


def test_parse_reads_trips_in_sequence_order(schedule: Schedule) -> None:
    trip = schedule.trips["1-0-0600"]
    assert [c.stop_sequence for c in trip.stop_times] == list(range(1, 9))
    assert trip.stop_times[1].departure_s - trip.stop_times[1].arrival_s == 20
    assert len(schedule.shapes[trip.shape_id or ""]) > len(trip.stop_times)
    assert schedule.runs_on("daily", DAY)


def test_parse_names_what_is_missing() -> None:
    with pytest.raises(ScheduleError, match=r"stops\.txt"):
        parse({"agency.txt": "agency_timezone\nEurope/Berlin\n"})


def test_trip_after_midnight_belongs_to_the_previous_service_day(schedule: Schedule) -> None:
    trip = schedule.trips["1-0-2400"]  # departs 24:00:00, i.e. 00:00 the next morning
    ref = reference_ms(DAY, schedule.timezone)
    assert service_date(schedule, trip, ref + 24 * 3600 * 1000 + 60_000) == DAY


def _at(schedule: Schedule, trip_id: str, idx: int, offset_s: int, status: str) -> int:
    trip = schedule.trips[trip_id]
    stop = schedule.stops[trip.stop_times[idx].stop_id]
    ts = reference_ms(DAY, schedule.timezone) + (trip.stop_times[idx].departure_s + offset_s) \
        * 1000
    dev = deviation(schedule, trip_id, lat=stop.lat, lon=stop.lon, stop_id=stop.stop_id,
                    stop_status=status, ts_ms=ts)
    assert dev is not None
    return dev.delay_s


def test_delay_at_a_stop(schedule: Schedule) -> None:
    assert _at(schedule, "4-1-0900", 3, 75, "STOPPED_AT") == 75  # still there 75 s late
    assert _at(schedule, "4-1-0900", 3, -10, "STOPPED_AT") == 0  # dwelling on time
    assert _at(schedule, "4-1-0900", 3, -60, "STOPPED_AT") == -40  # arrived 40 s early


def test_a_bus_waiting_at_the_first_stop_is_on_time_until_its_departure(
        schedule: Schedule) -> None:
    assert _at(schedule, "4-1-0900", 0, -240, "STOPPED_AT") == 0  # laying over: not early
    assert _at(schedule, "4-1-0900", 0, 30, "STOPPED_AT") == 30


def test_delay_between_stops_is_interpolated(schedule: Schedule) -> None:
    trip = schedule.trips["7-0-1000"]
    a, b = (schedule.stops[trip.stop_times[i].stop_id] for i in (2, 3))
    lat, lon = (a.lat + b.lat) / 2, (a.lon + b.lon) / 2
    halfway = trip.stop_times[2].departure_s + 45  # 90 s between stops
    ts = reference_ms(DAY, schedule.timezone) + (halfway + 120) * 1000
    for stop_id in (b.stop_id, None):  # with the next stop named, and found by geometry
        dev = deviation(schedule, trip.trip_id, lat=lat, lon=lon, stop_id=stop_id,
                        stop_status="IN_TRANSIT_TO", ts_ms=ts)
        assert dev is not None and abs(dev.delay_s - 120) <= 3 and dev.next_index == 3


def _pos(ts: int, trip: str, stop: str, lat: float, lon: float) -> Position:
    return Position(ts=ts, seq=1, vehicle_id="1234", lat=lat, lon=lon, bearing=0.0,
                    speed_mps=0.0, route_id="1", trip_id=trip, stop_id=stop,
                    stop_status="STOPPED_AT")


def test_feeds_follow_best_practices(schedule: Schedule) -> None:
    trip = schedule.trips["1-0-0600"]
    st = trip.stop_times[2]
    stop = schedule.stops[st.stop_id]
    ts = reference_ms(DAY, schedule.timezone) + (st.departure_s + 30) * 1000
    occ = Occupancy(ts=ts, seq=1, vehicle_id="1234", passengers=60, capacity_seated=40,
                    capacity_total=90, occupancy_percentage=67,
                    occupancy_status="CRUSHED_STANDING_ROOM_ONLY", quality="HIGH",
                    sources=OccupancySources(door_in=0, door_out=0, wlan_clients=0,
                                             probe_devices=0))
    fresh = VehicleSnapshot("1234", _pos(ts, trip.trip_id, stop.stop_id, stop.lat, stop.lon), occ)
    stale = VehicleSnapshot("9999", _pos(ts - 91_000, trip.trip_id, stop.stop_id, 0.0, 0.0), None)
    vp = vehicle_positions([stale, fresh], ts + 1000, schedule)
    assert [e.id for e in vp.entity] == ["1234"]  # older than 90 s: left out
    v = vp.entity[0].vehicle
    assert v.occupancy_status == rt.VehiclePosition.CRUSHED_STANDING_ROOM_ONLY
    assert v.occupancy_percentage == 67 and v.current_stop_sequence == 3
    assert v.trip.start_date == DAY.strftime("%Y%m%d")
    assert vp.header.timestamp == (ts + 1000) // 1000
    tu = trip_updates([fresh], ts + 1000, schedule).entity[0].trip_update
    assert tu.delay == 30
    assert [u.stop_sequence for u in tu.stop_time_update] == list(range(3, 9))
    unknown = VehicleSnapshot("1", _pos(ts, "no-such-trip", "x", 51.0, 9.0), None)
    assert not vehicle_positions([unknown], ts, schedule).entity[0].vehicle.trip.trip_id
    assert len(trip_updates([unknown], ts, schedule).entity) == 0

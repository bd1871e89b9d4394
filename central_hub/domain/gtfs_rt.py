"""GTFS-Realtime VehiclePositions and TripUpdates built from the latest bus payloads.

WHY a pure builder: the feed is a function of (latest payloads, static timetable, now), which
makes the gtfs.org best practices testable: persistent entity ids (the vehicle id), the header
timestamp is the build time, every vehicle carries the time its position was measured, data
older than 90 s is left out, trip ids are only those of the static feed, and predicted stop
times never run backwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from google.transit import gtfs_realtime_pb2 as rt

from central_hub.domain.schedule import Schedule, deviation, service_date
from edge_agent.contract.payloads import Occupancy, Position

MAX_AGE_MS = 90_000


@dataclass(frozen=True, slots=True)
class VehicleSnapshot:
    """The latest position and occupancy of one vehicle as received."""

    vehicle_id: str
    position: Position | None
    occupancy: Occupancy | None


def _header(feed: rt.FeedMessage, now_ms: int) -> None:
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = rt.FeedHeader.FULL_DATASET
    feed.header.timestamp = now_ms // 1000


def _fresh(v: VehicleSnapshot, now_ms: int, max_age_ms: int) -> Position | None:
    pos = v.position
    if pos is None or now_ms - pos.ts > max_age_ms:
        return None
    return pos


def _trip(desc: rt.TripDescriptor, pos: Position, schedule: Schedule | None) -> bool:
    """Fill the trip descriptor; ``True`` when the trip is in the static feed."""
    if pos.route_id:
        desc.route_id = pos.route_id
    if not pos.trip_id:
        return False
    if schedule is None:
        desc.trip_id = pos.trip_id
        return False
    trip = schedule.trips.get(pos.trip_id)
    if trip is None:
        return False
    desc.trip_id = trip.trip_id
    desc.route_id = trip.route_id
    if trip.direction_id is not None:
        desc.direction_id = trip.direction_id
    day = service_date(schedule, trip, pos.ts)
    if day is not None:
        desc.start_date = day.strftime("%Y%m%d")
    desc.schedule_relationship = rt.TripDescriptor.SCHEDULED
    return True


def vehicle_positions(vehicles: Iterable[VehicleSnapshot], now_ms: int,
                      schedule: Schedule | None = None,
                      max_age_ms: int = MAX_AGE_MS) -> rt.FeedMessage:
    """The VehiclePositions feed: position, stop state and occupancy of every fresh vehicle."""
    feed = rt.FeedMessage()
    _header(feed, now_ms)
    for v in sorted(vehicles, key=lambda s: s.vehicle_id):
        pos = _fresh(v, now_ms, max_age_ms)
        if pos is None:
            continue
        ent = feed.entity.add()
        ent.id = v.vehicle_id
        vp = ent.vehicle
        known = _trip(vp.trip, pos, schedule)
        vp.vehicle.id = v.vehicle_id
        vp.vehicle.label = v.vehicle_id
        vp.position.latitude = pos.lat
        vp.position.longitude = pos.lon
        vp.position.bearing = pos.bearing
        vp.position.speed = pos.speed_mps
        vp.timestamp = pos.ts // 1000
        vp.current_status = rt.VehiclePosition.VehicleStopStatus.Value(  # type: ignore[assignment]
            pos.stop_status)
        if pos.stop_id:
            vp.stop_id = pos.stop_id
            if known and schedule is not None and pos.trip_id:
                seq = next((c.stop_sequence for c in schedule.trips[pos.trip_id].stop_times
                            if c.stop_id == pos.stop_id), None)
                if seq is not None:
                    vp.current_stop_sequence = seq
        occ = v.occupancy
        if occ is not None and now_ms - occ.ts <= max_age_ms:
            vp.occupancy_status = rt.VehiclePosition.OccupancyStatus.Value(  # type: ignore[assignment]
                occ.occupancy_status)
            vp.occupancy_percentage = occ.occupancy_percentage
    return feed


def trip_updates(vehicles: Iterable[VehicleSnapshot], now_ms: int, schedule: Schedule,
                 max_age_ms: int = MAX_AGE_MS) -> rt.FeedMessage:
    """The TripUpdates feed: the current delay and predictions for every remaining call."""
    feed = rt.FeedMessage()
    _header(feed, now_ms)
    for v in sorted(vehicles, key=lambda s: s.vehicle_id):
        pos = _fresh(v, now_ms, max_age_ms)
        if pos is None or not pos.trip_id:
            continue
        dev = deviation(schedule, pos.trip_id, lat=pos.lat, lon=pos.lon, stop_id=pos.stop_id,
                        stop_status=pos.stop_status, ts_ms=pos.ts)
        if dev is None:
            continue
        ent = feed.entity.add()
        ent.id = v.vehicle_id
        tu = ent.trip_update
        _trip(tu.trip, pos, schedule)
        tu.vehicle.id = v.vehicle_id
        tu.vehicle.label = v.vehicle_id
        tu.timestamp = pos.ts // 1000
        tu.delay = dev.delay_s
        last = 0
        for i in range(dev.next_index, len(dev.trip.stop_times)):
            call = dev.trip.stop_times[i]
            stu = tu.stop_time_update.add()
            stu.stop_sequence = call.stop_sequence
            stu.stop_id = call.stop_id
            stu.schedule_relationship = rt.TripUpdate.StopTimeUpdate.SCHEDULED
            arrival = max(dev.predicted_arrival_ms(i) // 1000, last)
            stu.arrival.time = arrival
            stu.arrival.delay = dev.delay_s
            departure = max(dev.predicted_departure_ms(i) // 1000, arrival)
            stu.departure.time = departure
            stu.departure.delay = dev.delay_s
            last = departure
    return feed

"""Acceptance: the GTFS-RT feeds parse with the official bindings and carry occupancy and
delays from simulated buses."""

from __future__ import annotations

from pathlib import Path

import httpx
from google.transit import gtfs_realtime_pb2 as rt

from central_hub.broker import MosquittoBroker
from central_hub.domain.schedule import reference_ms, service_date
from central_hub.gtfs_static import load_schedule
from simulations.gtfs_synth import write_feed
from tests.integration.central_hub.helpers import (
    TOPICS,
    client,
    hub_config,
    now_ms,
    occupancy,
    position,
    start_hub,
    wait_for,
)


def test_feeds_carry_occupancy_and_delay(broker: MosquittoBroker, tmp_path: Path) -> None:
    gtfs = write_feed(tmp_path / "gtfs.zip", first_s=0, last_s=24 * 3600, headway_s=600)
    schedule = load_schedule(gtfs)
    now = now_ms()
    pick = None
    for trip in sorted(schedule.trips.values(), key=lambda t: t.trip_id):
        day = service_date(schedule, trip, now)
        if day is None:
            continue
        dep = reference_ms(day, schedule.timezone) + trip.stop_times[3].departure_s * 1000
        if 60_000 <= now - dep < 660_000:  # a 600 s window always holds one departure
            pick = (trip, dep)
            break
    assert pick is not None, "the synthetic feed runs every 10 minutes all day"
    trip, dep = pick
    stop = schedule.stops[trip.stop_times[3].stop_id]
    expected_delay = round((now - dep) / 1000)

    srv = start_hub(hub_config(tmp_path, broker, gtfs=str(gtfs)))
    try:
        pub = client(broker, "bus-sim")
        pub.publish(TOPICS.topic("position", "1234"), position(
            "1234", 1, now, lat=stop.lat, lon=stop.lon, trip_id=trip.trip_id,
            route_id=trip.route_id, stop_id=stop.stop_id, stop_status="STOPPED_AT"),
            qos=1).wait_for_publish()
        pub.publish(TOPICS.topic("occupancy", "1234"), occupancy("1234", 1, 42, now),
                    qos=1).wait_for_publish()
        with httpx.Client(base_url=srv.url, timeout=10) as http:
            def vp() -> rt.FeedMessage:
                r = http.get("/gtfs-rt/vehicle-positions")
                assert r.headers["content-type"] == "application/x-protobuf"
                feed = rt.FeedMessage()
                feed.ParseFromString(r.content)
                return feed

            wait_for(lambda: any(e.vehicle.HasField("occupancy_status") for e in vp().entity),
                     what="vehicle with occupancy")
            feed = vp()
            assert feed.header.gtfs_realtime_version == "2.0"
            (ent,) = feed.entity
            v = ent.vehicle
            assert ent.id == v.vehicle.id == "1234"
            assert v.trip.trip_id == trip.trip_id and v.trip.start_date
            assert v.current_status == rt.VehiclePosition.STOPPED_AT
            assert v.current_stop_sequence == trip.stop_times[3].stop_sequence
            assert v.occupancy_status == rt.VehiclePosition.STANDING_ROOM_ONLY  # 42 of 40 seats
            assert v.occupancy_percentage == round(100 * 42 / 90)
            assert v.timestamp == now // 1000 <= feed.header.timestamp

            tu_feed = rt.FeedMessage()
            tu_feed.ParseFromString(http.get("/gtfs-rt/trip-updates").content)
            (tent,) = tu_feed.entity
            tu = tent.trip_update
            assert tu.trip.trip_id == trip.trip_id
            assert abs(tu.delay - expected_delay) <= 1
            updates = list(tu.stop_time_update)
            assert updates[0].stop_sequence == trip.stop_times[3].stop_sequence
            assert len(updates) == len(trip.stop_times) - 3
            times = [t for u in updates for t in (u.arrival.time, u.departure.time)]
            assert times == sorted(times)
            assert all(abs(u.arrival.delay - expected_delay) <= 1 for u in updates)

            js = http.get("/gtfs-rt/trip-updates", params={"format": "json"}).json()
            assert js["entity"][0]["trip_update"]["trip"]["trip_id"] == trip.trip_id
            vj = http.get("/gtfs-rt/vehicle-positions", params={"format": "json"}).json()
            assert vj["entity"][0]["vehicle"]["occupancy_status"] == "STANDING_ROOM_ONLY"
        pub.disconnect()
        pub.loop_stop()
    finally:
        srv.stop()

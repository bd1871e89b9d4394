"""The statistics roll-up on the hub's real data path: a bus's position, occupancy and WLAN
messages and a controller's SSEM go through Mosquitto into the hub's samples; the roll-up
reads them back, with the schedule's delays and the signal history, and the producers' tables
show what happened."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import paho.mqtt.client as mqtt
from sqlalchemy import func, insert, select

from central_hub.broker import MosquittoBroker
from central_hub.domain.rollups import HOUR_MS
from central_hub.domain.schedule import reference_ms
from central_hub.opendata import store
from central_hub.opendata.domain.rollup import local
from central_hub.opendata.service import OpendataService
from central_hub.storage.schema import samples, signal_changes
from edge_agent.contract.payloads import RequestStatus, Ssem, SsemRequest, Wlan, encode
from tests.integration.central_hub.helpers import (
    TOPICS,
    client,
    hub_config,
    occupancy,
    position,
    start_hub,
    wait_for,
)
from tests.integration.opendata.conftest import GTFS, QUIET


def _wlan(vid: str, seq: int, ts: int, authenticated: int, volume: int) -> bytes:
    return encode(Wlan(ts=ts, seq=seq, vehicle_id=vid, clients_associated=authenticated + 1,
                       clients_authenticated=authenticated, rx_bytes=volume, tx_bytes=0,
                       uplink_kbps=5000, per_client_kbps=500))


def _ssem(ix: str, seq: int, ts: int, status: RequestStatus) -> bytes:
    return encode(Ssem(ts=ts, seq=seq, intersection_id=ix, requests=[
        SsemRequest(request_id="r1", vehicle_id="bus-7", sg="K1", status=status)]))


def test_a_bus_hour_becomes_rows_of_the_datasets(broker: MosquittoBroker, tmp_path: object
                                                 ) -> None:
    server = start_hub(hub_config(tmp_path, broker, gtfs=str(GTFS)), opendata=QUIET)  # type: ignore[arg-type]
    try:
        hub = server.hub
        service: OpendataService = server.app.state.opendata
        schedule = hub.schedule
        assert schedule is not None and service.rollup is not None
        # a trip of yesterday's timetable (its messages are in the past, as the hub requires);
        # the bus is 2 minutes late at its third stop
        today = date.today() - timedelta(days=1)
        trip = next(t for t in schedule.trips.values()
                    if schedule.runs_on(t.service_id, today) and len(t.stop_times) > 3)
        call = trip.stop_times[2]
        ref = reference_ms(today, schedule.timezone)
        arrive = ref + (call.arrival_s + 120) * 1000
        leave = ref + (call.departure_s + 120) * 1000
        stop = schedule.stops[call.stop_id]
        hour = local(arrive).replace(minute=0, second=0, microsecond=0)
        hour_ms = int(hour.timestamp() * 1000)
        vid = "bus-7"
        at = {"route_id": trip.route_id, "trip_id": trip.trip_id, "stop_id": call.stop_id,
              "lat": stop.lat, "lon": stop.lon}
        msgs = [
            (TOPICS.topic("position", vid), position(vid, 1, arrive - 30_000,
                                                     route_id=trip.route_id,
                                                     trip_id=trip.trip_id, lat=stop.lat,
                                                     lon=stop.lon)),
            (TOPICS.topic("occupancy", vid), occupancy(vid, 1, 20, arrive - 20_000)),
            (TOPICS.topic("wlan", vid), _wlan(vid, 1, arrive - 10_000, 2, 1_000_000)),
            (TOPICS.topic("position", vid), position(vid, 2, arrive, stop_status="STOPPED_AT",
                                                     **at)),  # type: ignore[arg-type]
            (TOPICS.topic("occupancy", vid), occupancy(vid, 2, 26, arrive + 10_000)),
            (TOPICS.topic("occupancy", vid), occupancy(vid, 3, 23, arrive + 15_000)),
            (TOPICS.topic("position", vid), position(vid, 3, leave, stop_status="STOPPED_AT",
                                                     **at)),  # type: ignore[arg-type]
            (TOPICS.topic("wlan", vid), _wlan(vid, 2, leave, 5, 4_000_000)),
            (TOPICS.topic("position", vid), position(vid, 4, leave + 20_000,
                                                     route_id=trip.route_id,
                                                     trip_id=trip.trip_id)),
            (TOPICS.topic("ssem", "ks-0042"), _ssem("ks-0042", 1, arrive, "requested")),
            (TOPICS.topic("ssem", "ks-0042"), _ssem("ks-0042", 2, arrive + 5_000, "granted")),
        ]
        bus: mqtt.Client = client(broker, "bus-7-test")
        for topic, payload in msgs:
            bus.publish(topic, payload, qos=1).wait_for_publish(5)
        bus.disconnect()
        with hub.engine.begin() as conn:
            conn.execute(insert(signal_changes), [
                {"intersection_id": "ks-0042", "sg": "K1", "state": s, "start_ms": hour_ms + t}
                for s, t in (("stop-And-Remain", -60_000),
                             ("protected-Movement-Allowed", 0),
                             ("stop-And-Remain", 1_800_000))])

        def stored() -> bool:
            with hub.engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(samples)).scalar() == 11

        wait_for(stored, what="the messages stored")
        service.rollup.roll_hour(hour_ms)
        day = hour.date()
        with service.engine.connect() as conn:
            [(route, stop_id, h, sums)] = store.occupancy(conn, day, day)
            histogram = store.delay_histograms(conn, day, day)
            wlan = store.wlan(conn, day, day)
            [(_, iid, signal)] = store.signals(conn, day, day)
        assert (route, stop_id, h) == (trip.route_id, call.stop_id, hour.hour)
        assert (sums.calls, sums.boardings, sums.alightings, sums.load_sum) == (1, 6, 3, 23)
        assert histogram == [(trip.route_id, call.stop_id, {120: 1})]
        assert wlan == [(day, trip.route_id, 3, 3_000_000)]
        assert iid == "ks-0042" and signal.granted == 1 and signal.rejected == 0
        assert signal.green_ms == {"K1": 1_800_000}
        assert signal.observed_ms == {"K1": HOUR_MS}
        # rolled up again (the schedule does for the current hour), nothing doubles
        service.rollup.roll_hour(hour_ms)
        with service.engine.connect() as conn:
            assert store.occupancy(conn, day, day)[0][3].boardings == 6
        # the producers read it: the stop's row is there, its few people suppressed
        with httpx.Client(base_url=server.url, timeout=30) as http:
            from central_hub.core.identity import Role  # noqa: PLC0415
            from central_hub.core.tokens import TokenStore  # noqa: PLC0415

            _, token = TokenStore(hub.engine).issue("p", {Role.OPENDATA_PUBLISHER})
            made = http.post("/api/v1/opendata/datasets/kassel-occupancy-stop-hour/runs",
                             headers={"Authorization": f"Bearer {token}"})
            assert made.status_code == 201, made.text
            review = made.json()
            assert review["rows"] == 1
            row = dict(zip(review["columns"], review["preview"][0], strict=True))
            assert row["stop_calls"] == "1" and row["mean_load"] == "23.0"
            # six boarded (published), three alighted (fewer than 5: suppressed)
            assert row["boardings"] == "6" and row["alightings"] == ""
            assert review["report"]["suppressed"]["primary"]["count"] == 1
    finally:
        server.stop()

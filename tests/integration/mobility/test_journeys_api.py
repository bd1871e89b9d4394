"""Acceptance: journeys and departures over HTTP from a real hub, with real time from a bus
that reports over a real Mosquitto; crowding is flagged and a calmer option offered.

A bus stands at the fourth stop of its trip with 42 passengers (standing room only): the
leg of a journey that rides it carries exactly that occupancy, the option is flagged
crowded, and the next trip of the line, ten minutes later, is offered beside it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from google.transit import gtfs_realtime_pb2 as rt

from central_hub.broker import MosquittoBroker
from central_hub.domain.schedule import Schedule, Trip, reference_ms, service_date
from central_hub.gtfs_static import load_schedule
from central_hub.mobility.settings import MobilitySettings, RealtimeFeedConfig
from simulations.gtfs_synth import write_feed
from tests.integration.central_hub.helpers import (
    ADMIN,
    TOPICS,
    HubServer,
    client,
    hub_config,
    now_ms,
    occupancy,
    position,
    start_hub,
    wait_for,
)


@dataclass
class Scene:
    """A hub with a bus on a trip, standing at the trip's fourth stop."""

    srv: HubServer
    http: httpx.Client
    schedule: Schedule
    trip: Trip
    now: int
    #: the regional operator's GTFS-Realtime feed, as the hub fetches it
    external: FeedServer
    #: the trip that feed delays by 7 minutes
    delayed: Trip


class FeedServer:
    """Another operator's GTFS-Realtime feed over HTTP, whose body a test can change."""

    def __init__(self) -> None:
        self.body = b""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rt.pb"


def _delay_feed(trip: Trip, day: str, delay_s: int) -> bytes:
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = now_ms() // 1000
    ent = feed.entity.add()
    ent.id = trip.trip_id
    tu = ent.trip_update
    tu.trip.trip_id = trip.trip_id
    tu.trip.start_date = day
    stu = tu.stop_time_update.add()
    stu.stop_sequence = trip.stop_times[0].stop_sequence
    stu.departure.delay = delay_s
    return feed.SerializeToString()


def _trip_at_fourth_stop(schedule: Schedule, now: int) -> Trip:
    for trip in sorted(schedule.trips.values(), key=lambda t: t.trip_id):
        day = service_date(schedule, trip, now)
        if day is None:
            continue
        dep = reference_ms(day, schedule.timezone) + trip.stop_times[3].departure_s * 1000
        if 0 <= now - dep < 600_000:  # a 600 s headway always holds one departure
            return trip
    raise AssertionError("the synthetic feed runs every 10 minutes all day")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("mobility")
    with MosquittoBroker(tmp / "mosquitto") as broker:
        yield from _scene(tmp, broker)


def _scene(tmp: Path, broker: MosquittoBroker) -> Iterator[Scene]:
    gtfs = write_feed(tmp / "gtfs.zip", first_s=0, last_s=24 * 3600, headway_s=600)
    schedule = load_schedule(gtfs)
    now = now_ms()
    trip = _trip_at_fourth_stop(schedule, now)
    stop = schedule.stops[trip.stop_times[3].stop_id]
    # the regional operator delays the next trip of another line leaving its first stop
    day = service_date(schedule, trip, now)
    assert day is not None
    ref = reference_ms(day, schedule.timezone)
    delayed = min((t for t in schedule.trips.values() if t.route_id != trip.route_id
                   and ref + t.stop_times[0].departure_s * 1000 > now + 120_000),
                  key=lambda t: t.stop_times[0].departure_s)
    external = FeedServer()
    external.body = _delay_feed(delayed, day.strftime("%Y%m%d"), 420)
    srv = start_hub(hub_config(tmp, broker, gtfs=str(gtfs)),
                    mobility=MobilitySettings(realtime_refresh_s=0.2, realtime_feeds=(
                        RealtimeFeedConfig(name="nvv", url=external.url, poll_s=1),)))
    pub = client(broker, "bus-sim-mobility")
    try:
        pub.publish(TOPICS.topic("position", "2001"), position(
            "2001", 1, now, lat=stop.lat, lon=stop.lon, trip_id=trip.trip_id,
            route_id=trip.route_id, stop_id=stop.stop_id, stop_status="STOPPED_AT"),
            qos=1).wait_for_publish()
        pub.publish(TOPICS.topic("occupancy", "2001"), occupancy("2001", 1, 42, now),
                    qos=1).wait_for_publish()
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            yield Scene(srv, http, schedule, trip, now, external, delayed)
    finally:
        pub.disconnect()
        srv.stop()
        external.server.shutdown()


def _journeys(http: httpx.Client, **params: object) -> httpx.Response:
    return http.get("/api/v1/journeys", params=params)


def test_a_crowded_bus_is_flagged_and_a_calmer_trip_offered(scene: Scene) -> None:
    calls = scene.trip.stop_times
    origin, target = f"stop:{calls[3].stop_id}", f"stop:{calls[6].stop_id}"

    def riding() -> list[dict[str, object]]:
        r = _journeys(scene.http, **{"from": origin, "to": target, "time": scene.now - 60_000})
        assert r.status_code == 200, r.text
        return [it for it in r.json()["itineraries"]
                if any(leg["trip_id"] == scene.trip.trip_id for leg in it["legs"])]

    wait_for(lambda: any(it["crowded"] for it in riding()), what="the crowded bus on a leg")
    body = _journeys(scene.http, **{"from": origin, "to": target,
                                    "time": scene.now - 60_000}).json()
    options = body["itineraries"]
    crowded = [it for it in options if it["crowded"]]
    calm = [it for it in options if not it["crowded"]]
    assert len(crowded) == 1 and calm, options
    (leg,) = [leg for leg in crowded[0]["legs"] if leg["trip_id"] == scene.trip.trip_id]
    # the occupancy the bus reported, unchanged, and its real time
    assert leg["occupancy_status"] == "STANDING_ROOM_ONLY"
    assert leg["occupancy_percentage"] == round(100 * 42 / 90)
    assert leg["realtime"] is True and leg["mode"] == "BUS"
    assert leg["from"]["stop_id"] == calls[3].stop_id and leg["to"]["stop_id"] == calls[6].stop_id
    # the calmer option rides the line's next trip and arrives within the slack
    assert calm[0]["arrival"] > crowded[0]["arrival"]
    assert calm[0]["arrival"] - crowded[0]["arrival"] <= 600_000
    for it in options:
        assert it["departure"] <= it["legs"][0]["from"]["time"] + 1
        assert it["duration_s"] == (it["arrival"] - it["departure"]) // 1000
        times = [p["time"] for leg in it["legs"] for p in (leg["from"], leg["to"])]
        assert times == sorted(times)


def test_departures_board_shows_real_time_and_occupancy(scene: Scene) -> None:
    stop_id = scene.trip.stop_times[3].stop_id

    def board() -> list[dict[str, object]]:
        r = scene.http.get(f"/api/v1/stops/{stop_id}/departures",
                           params={"time": scene.now - 60_000, "limit": 5})
        assert r.status_code == 200, r.text
        return list(r.json())

    wait_for(lambda: any(d["trip_id"] == scene.trip.trip_id and d["realtime"]
                         for d in board()), what="the bus on the board")
    rows = board()
    assert len(rows) == 5
    expected = [d["expected"] for d in rows]
    assert expected == sorted(expected)
    (bus,) = [d for d in rows if d["trip_id"] == scene.trip.trip_id]
    assert bus["occupancy_status"] == "STANDING_ROOM_ONLY"
    assert bus["expected"] - bus["scheduled"] == bus["delay_s"] * 1000
    assert bus["headsign"]


@pytest.mark.parametrize(("params", "fragment"), [
    ({"from": "52.52,13.40", "to": "stop:S1-01"}, "outside the network area"),
    ({"from": "stop:NOPE", "to": "stop:S1-01"}, "unknown stop"),
    ({"from": "here", "to": "stop:S1-01"}, "must be stop:"),
    ({"from": "stop:S1-01", "to": "stop:S1-05", "time": 946_684_800_000},
     "outside the timetable's validity"),
    ({"from": "stop:S1-01", "to": "stop:S1-05", "modes": "transit,bike_sharing"},
     "no sharing operator"),
    ({"from": "stop:S1-01", "to": "stop:S1-05", "modes": "teleport"}, "unknown modes"),
])
def test_queries_the_planner_cannot_take_get_a_clear_422(
        scene: Scene, params: dict[str, object], fragment: str) -> None:
    r = _journeys(scene.http, **params)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]


def test_an_unknown_stop_has_no_board(scene: Scene) -> None:
    r = scene.http.get("/api/v1/stops/NOPE/departures")
    assert r.status_code == 404
    assert "unknown stop" in r.json()["detail"]


def test_arrive_by_leaves_as_late_as_it_can(scene: Scene) -> None:
    calls = scene.trip.stop_times
    by = scene.now + 3_600_000
    r = _journeys(scene.http, **{"from": f"stop:{calls[0].stop_id}",
                                 "to": f"stop:{calls[5].stop_id}", "time": by,
                                 "arrive_by": "true"})
    assert r.status_code == 200, r.text
    options = r.json()["itineraries"]
    assert options and all(it["arrival"] <= by for it in options)
    # the line runs every 10 minutes: the latest trip arriving in time leaves < 10 min before
    latest = max(it["arrival"] for it in options)
    assert by - latest < 600_000



def test_a_window_gives_every_later_connection_of_the_hour(scene: Scene) -> None:
    calls = scene.trip.stop_times
    params = {"from": f"stop:{calls[0].stop_id}", "to": f"stop:{calls[5].stop_id}",
              "time": scene.now}
    first = _journeys(scene.http, **params)
    ranged = _journeys(scene.http, **params, window=3600)
    assert first.status_code == ranged.status_code == 200, ranged.text
    options = ranged.json()["itineraries"]
    departures = [it["departure"] for it in options]
    # the line runs every 10 minutes: about six rides leave in the hour, each its own option
    assert len(options) >= 5 and len(set(departures)) == len(departures)
    assert all(scene.now <= d for d in departures)
    assert sorted(departures) == departures  # sorted by arrival: on one line, by departure
    assert first.json()["itineraries"][0]["departure"] == departures[0]
    too_long = _journeys(scene.http, **params, window=7201)
    assert too_long.status_code == 422


def test_the_network_for_the_map_is_geojson(scene: Scene) -> None:
    r = scene.http.get("/api/v1/mobility/network")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    features = r.json()["features"]
    stops = [f for f in features if f["properties"]["kind"] == "stop"]
    lines = [f for f in features if f["properties"]["kind"] == "line"]
    assert len(stops) == len(scene.schedule.stops)
    assert {f["properties"]["route_id"] for f in lines} == set(scene.schedule.routes)
    lon, lat = stops[0]["geometry"]["coordinates"]
    assert 9 < lon < 10 and 51 < lat < 52  # longitude first (RFC 7946)


def test_another_operators_feed_delays_its_trip_and_a_broken_one_is_refused(
        scene: Scene) -> None:
    first = scene.delayed.stop_times[0].stop_id

    def board() -> list[dict[str, object]]:
        r = scene.http.get(f"/api/v1/stops/{first}/departures",
                           params={"time": scene.now, "limit": 10})
        assert r.status_code == 200, r.text
        return [d for d in r.json() if d["trip_id"] == scene.delayed.trip_id]

    wait_for(lambda: any(d["delay_s"] == 420 for d in board()), what="the external delay")
    (row,) = board()
    assert row["realtime"] is True and row["expected"] - row["scheduled"] == 420_000
    scene.external.body = b"\x0a\xff not a feed"
    headers = {"Authorization": f"Bearer {ADMIN}"}

    def alarmed() -> bool:
        rows = scene.http.get("/api/v1/alarms", headers=headers).json()
        return ("realtime_feed_refused", "realtime:nvv") in {(a["kind"], a["device_id"])
                                                             for a in rows}

    wait_for(alarmed, what="the realtime feed alarm")
    # planning goes on, with the last good word of the feed
    assert [d["delay_s"] for d in board()] == [420]

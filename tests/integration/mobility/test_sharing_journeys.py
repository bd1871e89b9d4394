"""Acceptance: a real hub reads a bike-sharing operator's GBFS feed over HTTP, plans bike legs
(all the way, and bike and ride) with their price, hands over to the operator's app, and
refuses a broken feed with an alarm while routing goes on with the last good data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from central_hub.broker import MosquittoBroker
from central_hub.gtfs_static import load_schedule
from central_hub.mobility.settings import FeedLimits, MobilitySettings, OperatorConfig
from simulations.demo.bike_operator import BikeOperatorServer, Fault
from simulations.gtfs_synth import write_feed
from tests.integration.central_hub.helpers import (
    ADMIN,
    HubServer,
    hub_config,
    now_ms,
    start_hub,
    wait_for,
)


@dataclass
class Scene:
    """A hub polling the simulated operator, whose stations stand beside the demo's stops."""

    srv: HubServer
    http: httpx.Client
    operator: BikeOperatorServer


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("sharing")
    gtfs = write_feed(tmp / "gtfs.zip", first_s=0, last_s=24 * 3600, headway_s=600)
    schedule = load_schedule(gtfs)
    stops = [(s.stop_id, s.name, s.lat, s.lon) for s in schedule.stops.values()]
    with MosquittoBroker(tmp / "mosquitto") as broker, \
            BikeOperatorServer(stops, seed=3) as operator:
        # files re-read every second, whatever their ttl: the test waits for no real ttl
        settings = MobilitySettings(sharing_operators=(OperatorConfig(
            name="kasselrad", url=operator.discovery_url()),),
            sharing_limits=FeedLimits(min_ttl_s=0.5, max_ttl_s=1.0))
        srv = start_hub(hub_config(tmp, broker, gtfs=str(gtfs)), mobility=settings)
        try:
            with httpx.Client(base_url=srv.url, timeout=30) as http:
                yield Scene(srv, http, operator)
        finally:
            srv.stop()


def _plan(scene: Scene, origin: str, target: str) -> list[dict[str, object]]:
    r = scene.http.get("/api/v1/journeys", params={
        "from": origin, "to": target, "time": now_ms(), "modes": "transit,walk,bike_sharing"})
    assert r.status_code == 200, r.text
    return list(r.json()["itineraries"])


def _bike_legs(options: list[dict[str, object]]) -> list[dict[str, object]]:
    return [leg for it in options for leg in it["legs"]  # type: ignore[attr-defined]
            if leg["mode"] == "BIKE_SHARING"]


def test_bike_legs_with_their_price_and_the_operators_app(scene: Scene) -> None:
    # across town: Bahnhof Wilhelmshöhe (line 1) to Auestadion (line 4)
    origin, target = "51.3131,9.4470", "51.2986,9.4952"
    wait_for(lambda: _bike_legs(_plan(scene, origin, target)), what="a bike leg")
    options = _plan(scene, origin, target)
    (bike, *_) = _bike_legs(options)
    assert bike["operator"] == "kasselrad"
    price = bike["price"]
    assert isinstance(price, dict) and price["currency"] == "EUR"
    minutes = -(-(bike["to"]["time"] - bike["from"]["time"]) // 60_000)  # type: ignore[index]
    # the demo's plan for a classic bike: 1 € to unlock, 0.10 € per started minute
    assert Decimal(price["amount"]) >= Decimal("1.00") + Decimal("0.10") * (minutes - 1)
    rental = bike["rental"]
    assert isinstance(rental, dict) and str(rental["web"]).startswith("https://")
    assert rental["android"] or rental["ios"]
    # transit options stay: a bike all the way does not hide the bus
    assert any(not _bike_legs([it]) for it in options)
    # every option's times run forwards, leg after leg
    for it in options:
        times = [p["time"] for leg in it["legs"] for p in (leg["from"], leg["to"])]  # type: ignore[attr-defined]
        assert times == sorted(times)


def test_a_broken_feed_raises_an_alarm_and_the_last_good_data_stays(scene: Scene) -> None:
    origin, target = "51.3131,9.4470", "51.2986,9.4952"
    wait_for(lambda: _bike_legs(_plan(scene, origin, target)), what="a bike leg")
    scene.operator.break_file("station_status", Fault.INVALID)
    headers = {"Authorization": f"Bearer {ADMIN}"}

    def alarm(active: bool) -> bool:
        """Whether the hub lists the alarm (active alarms are listed; cleared ones not)."""
        rows = scene.http.get("/api/v1/alarms", headers=headers).json()
        listed = {(a["kind"], a["device_id"]) for a in rows}
        return (("sharing_feed_refused", "sharing:kasselrad") in listed) == active

    try:
        wait_for(lambda: alarm(True), timeout=20, what="the sharing feed alarm")
        assert _bike_legs(_plan(scene, origin, target)), "the last good stations stay in use"
    finally:
        scene.operator.repair()
    wait_for(lambda: alarm(False), timeout=20, what="the alarm cleared")


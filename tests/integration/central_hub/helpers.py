"""Payload factories, an MQTT publisher and an in-thread hub server for the hub's tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import uvicorn
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion

from central_hub.app import create_app
from central_hub.broker import MosquittoBroker, free_port
from central_hub.core.config import HubSettings
from central_hub.hub import Hub
from central_hub.learning.settings import LearningSettings
from central_hub.mobility.settings import BookingSettings, MobilitySettings
from central_hub.registry import Reload
from edge_agent.contract.configs import HubConfig
from edge_agent.contract.payloads import (
    Health,
    Occupancy,
    OccupancySources,
    Position,
    QueueStats,
    Spat,
    SpatGroup,
    Status,
    UplinkStats,
    encode,
    occupancy_status_for,
)
from edge_agent.contract.topics import Topics
from simulations.demo.payment_provider import StripeStandIn
from simulations.fares_synth import write_fares

TOPICS = Topics()
#: the browser of the page tests (Debian's chromium) and how they start it
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ADMIN = "admin-token-for-tests"
ENGINEER = "engineer-token-for-tests"


def now_ms() -> int:
    return int(time.time() * 1000)


def position(vid: str, seq: int, ts: int | None = None, *, lat: float = 51.3155,
             lon: float = 9.49, trip_id: str | None = None, route_id: str | None = None,
             stop_id: str | None = None, stop_status: str = "IN_TRANSIT_TO") -> bytes:
    return encode(Position(ts=ts or now_ms(), seq=seq, vehicle_id=vid, lat=lat, lon=lon,
                           bearing=90.0, speed_mps=8.0, route_id=route_id, trip_id=trip_id,
                           stop_id=stop_id, stop_status=stop_status))  # type: ignore[arg-type]


def occupancy(vid: str, seq: int, passengers: int, ts: int | None = None) -> bytes:
    return encode(Occupancy(
        ts=ts or now_ms(), seq=seq, vehicle_id=vid, passengers=passengers, capacity_seated=40,
        capacity_total=90, occupancy_percentage=round(100 * passengers / 90),
        occupancy_status=occupancy_status_for(passengers, 40), quality="HIGH",
        sources=OccupancySources(door_in=passengers, door_out=0, wlan_clients=0,
                                 probe_devices=0)))


def spat(ix: str, seq: int, status: str = "operational", ts: int | None = None,
         state: str = "protected-Movement-Allowed") -> bytes:
    t = ts or now_ms()
    return encode(Spat(ts=t, seq=seq, intersection_id=ix, revision=1, status=status,  # type: ignore[arg-type]
                       groups=[SpatGroup(sg="K1", state=state, min_end=t + 1000,  # type: ignore[arg-type]
                                         max_end=t + 5000, likely_end=t + 3000, confidence=80),
                               SpatGroup(sg="K2", state="stop-And-Remain", min_end=None,
                                         max_end=None, likely_end=None, confidence=0)]))


def status(device_id: str, state: str, bdseq: int = 1, kind: str = "intersection") -> bytes:
    return encode(Status(ts=now_ms(), device_id=device_id, kind=kind, state=state,  # type: ignore[arg-type]
                         bdseq=bdseq, sw="test"))


def health(seq: int, cpu: float = 10.0) -> bytes:
    return encode(Health(ts=now_ms(), seq=seq, cpu_pct=cpu, mem_pct=20.0, rss_mb=50.0,
                         disk_pct=30.0, uptime_s=100.0,
                         queue=QueueStats(depth=0, dropped=0, oldest_age_s=0.0),
                         uplink=UplinkStats(iface="wwan0", up=True, rx_bps=1.0, tx_bps=1.0)))


def client(broker: MosquittoBroker, client_id: str, *, username: str | None = None,
           password: str | None = None) -> mqtt.Client:
    """A connected MQTT 5 client with its network loop running."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if username is not None:
        c.username_pw_set(username, password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def wait_for(predicate: object, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate()`` until it is true; fail the test with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class HubServer:
    """A hub app served by uvicorn in a thread."""

    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.state.hub
        return hub

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


def hub_config(tmp_path: Path, broker: MosquittoBroker, *, database: str | None = None,
               gtfs: str | None = None, username: str | None = None) -> HubConfig:
    # the test's local broker has no TLS: plain MQTT is asked for explicitly
    mqtt_cfg: dict[str, object] = {"broker": broker.url, "insecure": True,
                                   "session_expiry_s": 3600}
    if username is not None:
        mqtt_cfg["username"] = username
    return HubConfig.model_validate({
        "device_id": "hub-1", "kind": "hub",
        "database": database or f"sqlite:///{tmp_path / 'hub.db'}",
        "gtfs": {"static": gtfs}, "mqtt": mqtt_cfg,
        "agent": {"state_dir": str(tmp_path / "state")}})


#: the learning platform as hubs in tests start it unless a test asks for more: no starter
#: content loaded and one checker process (loading 260 items and starting a checker per CPU
#: cost every hub start and stop about 4 s; the learning tests start theirs as shipped)
LIGHT_LEARNING = LearningSettings(seed_starter_content=False, check_workers=1)


def start_hub(config: HubConfig, *, broker_url: str | None = None,
              reload_broker: Reload | None = None, port: int | None = None,
              **settings: object) -> HubServer:
    base: dict[str, object] = {"admin_token": ADMIN, "engineer_token": ENGINEER,
                               "learning": LIGHT_LEARNING}
    base.update(settings)
    app = create_app(config, settings=HubSettings(**base),  # type: ignore[arg-type]
                     broker_url=broker_url, reload_broker=reload_broker)
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="hub-uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="uvicorn start")
    srv = HubServer(app, server, thread, f"http://127.0.0.1:{port}")
    # subscribed, not only connected: a message published before the SUBACK reaches
    # neither path (a test that publishes at once would race the subscriptions)
    wait_for(srv.hub.live.subscribed.is_set, what="hub live subscription")
    if srv.hub.ingest is not None:
        wait_for(lambda: srv.hub.ingest is not None and srv.hub.ingest.subscribed.is_set(),
                 what="hub ingest subscription")
    return srv


@contextmanager
def selling_hub(tmp_path: Path, broker: MosquittoBroker, gtfs: Path,
                **settings: object) -> Iterator[HubServer]:
    """A hub that sells tickets: the synthetic fare table (``simulations.fares_synth``) beside
    ``gtfs``, and a local Stripe stand-in as its payment provider, so that the booking routes
    answer as in production instead of 503."""
    port = free_port()
    with StripeStandIn(webhook_url=f"http://127.0.0.1:{port}/api/v1/payments/webhook") \
            as stripe:
        bookings = BookingSettings(
            fares=str(write_fares(tmp_path / "fares.zip")), stripe_api_key=stripe.api_key,
            stripe_webhook_secrets=(stripe.webhook_secret,), stripe_base_url=stripe.base_url)
        srv = start_hub(hub_config(tmp_path, broker, gtfs=str(gtfs)), port=port,
                        mobility=MobilitySettings(bookings=bookings), **settings)
        try:
            yield srv
        finally:
            srv.stop()

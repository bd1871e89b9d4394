"""Start and stop the demo city: Mosquitto, hub, controllers, buses, the simulated street.

Everything runs in one asyncio loop except Mosquitto (its own process): the hub's FastAPI app
under uvicorn, every ``SignalController`` and ``BusGateway`` with its own edge agent and MQTT
session. The street is simulated through the same interfaces the field uses: detector calls
arrive over MQTT on ``signal/{id}/detector``, passengers board through the simulated door
counters, buses drive with the simulated GPS.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import random
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from bus_gateway.app import BusGateway
from bus_gateway.clock import WallClock
from bus_gateway.domain.stops import RouteStop
from bus_gateway.gps import SimulatedGps
from central_hub.app import create_app
from central_hub.broker import MosquittoBroker, free_port, port_is_free
from central_hub.gtfs_static import load_schedule
from edge_agent.contract.configs import (
    AgentConfig,
    BusConfig,
    GtfsConfig,
    HttpConfig,
    HubConfig,
    IntersectionConfig,
    MqttConfig,
    QueueConfig,
    load_config,
)
from edge_agent.contract.payloads import Detector, encode
from edge_agent.contract.topics import Topics
from edge_agent.errors import KasselError
from edge_agent.mqtt import BrokerAddress, MqttConnection
from signal_controller.app import SignalController, TickScheduler
from signal_controller.heads import FakeSignalHeads
from simulations.demo.domain.city import CityPlan, LineStop, LineTrip, PlannedBus, plan_city
from simulations.gtfs_synth import write_feed

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "firmware_configs" / "intersections"
TIMEZONE = ZoneInfo("Europe/Berlin")


class DemoError(KasselError):
    """The demo cannot start (port taken, Mosquitto missing, broken templates)."""


@dataclass(frozen=True)
class DemoOptions:
    """What ``kassel demo`` was asked for."""

    buses: int = 20
    intersections: int = 10
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    duration_s: float | None = None
    workdir: Path | None = None
    seed: int = 1


@dataclass
class DemoCity:
    """The running parts, for the status line and the tests."""

    broker: MosquittoBroker
    url: str
    controllers: list[SignalController]
    buses: list[BusGateway]
    plan: CityPlan


def load_templates() -> list[IntersectionConfig]:
    """The shipped intersection configs the demo's intersections are copied from."""
    templates = []
    for path in sorted(TEMPLATES_DIR.glob("*.yaml")):
        cfg = load_config(path)
        if isinstance(cfg, IntersectionConfig):
            templates.append(cfg)
    if not templates:
        raise DemoError(f"no intersection configs in {TEMPLATES_DIR}")
    return templates


def _lines_and_trips(gtfs: Path) -> tuple[dict[str, list[LineStop]], list[LineTrip]]:
    schedule = load_schedule(gtfs)
    lines: dict[str, list[LineStop]] = {}
    trips: list[LineTrip] = []
    for trip in schedule.trips.values():
        direction = trip.direction_id or 0
        trips.append(LineTrip(trip.trip_id, trip.route_id, direction,
                              tuple(st.departure_s for st in trip.stop_times)))
        if direction == 0 and trip.route_id not in lines:
            lines[trip.route_id] = [
                LineStop(st.stop_id, schedule.stops[st.stop_id].name,
                         schedule.stops[st.stop_id].lat, schedule.stops[st.stop_id].lon)
                for st in trip.stop_times
            ]
    return lines, trips


def _now_local_s() -> int:
    now = dt.datetime.now(TIMEZONE)
    return now.hour * 3600 + now.minute * 60 + now.second


def _agent(state_dir: Path) -> AgentConfig:
    return AgentConfig(state_dir=str(state_dir), health_interval_s=10.0,
                       queue=QueueConfig(synchronous="normal"))


def _controller_config(template: IntersectionConfig, *, device_id: str, name: str,
                       lat: float, lon: float, url: str, state_dir: Path) -> IntersectionConfig:
    data = template.model_dump(mode="json")
    data.update(device_id=device_id, name=name, location={"lat": lat, "lon": lon},
                mqtt={"broker": url}, agent=_agent(state_dir).model_dump(mode="json"))
    return IntersectionConfig.model_validate(data)


def _bus_config(bus: PlannedBus, templates: list[IntersectionConfig], url: str,
                state_dir: Path) -> BusConfig:
    points = []
    for p in bus.intersections:
        template = templates[p.template]
        groups = template.priority.groups or [template.signal_groups[0].sg]
        points.append({"intersection_id": p.device_id, "sg": groups[0], "lat": p.lat,
                       "lon": p.lon})
    return BusConfig.model_validate({
        "device_id": bus.device_id,
        "kind": "bus",
        "vehicle": {"id": bus.vehicle_id, "capacity_seated": 40, "capacity_total": 90},
        "wlan": {"backend": "simulated", "interface": "sim0", "uplink": "sim1",
                 "portal_port": free_port(), "per_client_kbps": 2000, "uplink_kbps": 20000},
        "occupancy": {"door_counters": "sim"},
        "gps": {"source": "sim"},
        "route": {"route_id": bus.route_id, "trip_id": bus.trip_id, "priority_points": points},
        "mqtt": {"broker": url},
        "agent": _agent(state_dir).model_dump(mode="json"),
    })


async def _detector_calls(city: DemoCity, rng: random.Random, stop: asyncio.Event) -> None:
    """The street: vehicles and pedestrians call and extend green through the detectors."""
    conn = MqttConnection(client_id="demo-fieldbus", address=BrokerAddress.parse(city.url),
                          settings=MqttConfig(broker=city.url), will=None,
                          on_message=lambda _m: None, on_puback=lambda _mid, _code: None)
    await conn.connect()
    topics = Topics()
    occupied: dict[tuple[str, str], bool] = {}
    try:
        while not stop.is_set():
            for ctl in city.controllers:
                for det in ctl.config.detectors:
                    key = (ctl.config.device_id, det.id)
                    rate = 0.5 if det.kind == "loop" else 0.05  # per second
                    now_occupied = occupied.get(key, False)
                    if now_occupied or rng.random() < rate:
                        occupied[key] = not now_occupied
                        payload = encode(Detector(ts=int(time.time() * 1000), detector=det.id,
                                                  occupied=occupied[key]))
                        conn.publish(topics.topic("detector", ctl.config.device_id), payload,
                                     0, False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        conn.disconnect()


async def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + "api/v1/devices")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise DemoError(f"the hub did not answer on {url} within {timeout:.0f} s")


async def _status_line(base_url: str, opts: DemoOptions, started: float,
                       progress: Callable[[str], None], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)
            with contextlib.suppress(httpx.HTTPError, ValueError):
                vehicles = (await client.get(base_url + "api/v1/vehicles")).json()
                crossings = (await client.get(base_url + "api/v1/intersections")).json()
                alarms = (await client.get(base_url + "api/v1/alarms")).json()
                live_buses = sum(1 for v in vehicles if v.get("online") and v.get("position"))
                live_x = sum(1 for i in crossings if i.get("online"))
                progress(f"t={time.monotonic() - started:5.0f} s  buses live {live_buses}/"
                         f"{opts.buses}  intersections live {live_x}/{opts.intersections}  "
                         f"alarms {len(alarms)}")


async def run_demo(opts: DemoOptions, progress: Callable[[str], None]) -> None:
    """Run the demo until Ctrl-C/SIGTERM or ``opts.duration_s``; stop everything cleanly."""
    started = time.monotonic()
    if not port_is_free(opts.http_port, opts.http_host):
        raise DemoError(f"HTTP port {opts.http_port} on {opts.http_host} is taken; "
                        "choose another with --http-port")
    # a private temporary folder (mode 0700: it holds the admin token) unless one was given;
    # ours is removed on exit, a given one is kept
    own_workdir = opts.workdir is None
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="kassel-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    templates = load_templates()
    broker = MosquittoBroker(workdir / "mosquitto")
    await asyncio.to_thread(broker.start)
    progress(f"broker   {broker.url} (private Mosquitto, {workdir / 'mosquitto'})")
    tasks: list[asyncio.Task[Any]] = []
    server: uvicorn.Server | None = None
    city: DemoCity | None = None
    try:
        gtfs = write_feed(workdir / "gtfs" / "kassel-demo.zip", first_s=0, last_s=24 * 3600,
                          headway_s=600)
        lines, trips = _lines_and_trips(gtfs)
        plan = plan_city(lines, trips, n_intersections=opts.intersections, n_buses=opts.buses,
                         templates=len(templates), now_local_s=_now_local_s())
        hub_cfg = HubConfig(
            device_id="hub-demo", kind="hub",
            http=HttpConfig(host=opts.http_host, port=opts.http_port),
            database=f"sqlite:///{workdir / 'hub.db'}", gtfs=GtfsConfig(static=str(gtfs)),
            mqtt=MqttConfig(broker=broker.url), agent=_agent(workdir / "state"),
        )
        server = uvicorn.Server(uvicorn.Config(
            create_app(hub_cfg, broker_url=broker.url), host=opts.http_host,
            port=opts.http_port, log_level="warning", access_log=False))
        tasks.append(asyncio.create_task(server.serve(), name="hub"))
        base_url = f"http://{opts.http_host}:{opts.http_port}/"
        await _wait_http(base_url, 15.0)
        progress(f"hub      {base_url} (SQLite {workdir / 'hub.db'}; admin token in "
                 f"{workdir / 'state' / 'hub-admin-token'})")

        state = workdir / "state"
        scheduler = TickScheduler()  # one timer ticks every controller on the 100 ms grid
        controllers = [
            SignalController(
                _controller_config(templates[p.template], device_id=p.device_id,
                                   name=f"{templates[p.template].name} (Demo {i + 1})",
                                   lat=p.lat, lon=p.lon, url=broker.url, state_dir=state),
                broker_url=broker.url, heads=FakeSignalHeads(), scheduler=scheduler)
            for i, p in enumerate(plan.intersections)
        ]
        clock = WallClock()
        rng = random.Random(opts.seed)
        buses = []
        for b in plan.buses:
            stops = [RouteStop(s.stop_id, s.name, s.lat, s.lon) for s in b.stops]
            ahead = stops[b.start_index:] + stops[:b.start_index]
            buses.append(BusGateway(
                _bus_config(b, templates, broker.url, state), broker.url, config_dir=workdir,
                stops=stops, clock=clock, rng=random.Random(rng.random()),
                gps=SimulatedGps(ahead, clock, start=b.start),
            ))
        city = DemoCity(broker, broker.url, controllers, buses, plan)
        # Start-up objects live as long as the demo: keep them out of the collector's full
        # scans, which would otherwise pause the controllers' 10 Hz loop.
        gc.collect()
        gc.freeze()
        tasks += [asyncio.create_task(c.run(), name=c.config.device_id) for c in controllers]
        progress(f"signals  {len(controllers)} controllers (actuated, SPaT 10 Hz)")
        tasks += [asyncio.create_task(b.run(), name=b.config.device_id) for b in buses]
        progress(f"buses    {len(buses)} on lines {', '.join(sorted(lines))} "
                 "(simulated GPS, doors, WLAN)")
        tasks.append(asyncio.create_task(_detector_calls(city, rng, stop), name="street"))
        tasks.append(asyncio.create_task(
            _status_line(base_url, opts, started, progress, stop), name="status"))
        progress(f"ready in {time.monotonic() - started:.1f} s — dashboard: {base_url}  "
                 "(Ctrl-C to stop)")
        if opts.duration_s is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), opts.duration_s)
        else:
            await stop.wait()
    finally:
        stop.set()
        progress("stopping …")
        if city is not None:
            for bus in city.buses:
                bus.stop()
            for ctl in city.controllers:
                ctl.stop()
        others = [t for t in tasks if t.get_name() != "hub"]
        if others:
            await asyncio.wait(others, timeout=15)
        for t in others:
            t.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if server is not None:
            server.should_exit = True
        hub = [t for t in tasks if t.get_name() == "hub"]
        if hub:
            await asyncio.wait(hub, timeout=15)
        await asyncio.to_thread(broker.stop)
        if own_workdir:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
        progress("stopped")

"""Start and stop the demo city: Mosquitto, hub, controllers, buses, the simulated street.

Mosquitto runs as its own process. The hub's FastAPI app under uvicorn and every
``BusGateway`` with its own edge agent and MQTT session share the main asyncio loop; the signal
controllers run on a :class:`~signal_controller.host.ControllerHost` (their own loop and
thread, with a deployed controller's CPU weight), so that the busy main loop never makes a tick
late enough to trip the safety kernel's watchdog. The street is simulated through the same
interfaces the field uses: detector calls arrive over MQTT on ``signal/{id}/detector``,
passengers board through the simulated door counters, buses drive with the simulated GPS.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import os
import random
import secrets
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from bus_gateway.app import BusGateway
from bus_gateway.clock import WallClock
from bus_gateway.domain.nmea import GpsFix
from bus_gateway.domain.stops import RouteStop
from bus_gateway.doors import DoorEvent
from bus_gateway.wiring import build_gateway
from bus_gateway.wlan import SimulatedDataplane
from central_hub.app import create_app
from central_hub.broker import MosquittoBroker, free_port, port_is_free
from central_hub.core.config import KITA_STAFF_TOKEN_ENV as STAFF_TOKEN_ENV
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
from edge_agent.health import HealthSampler
from edge_agent.mqtt import BrokerAddress, MqttConnection
from signal_controller.app import SignalController
from signal_controller.heads import FakeSignalHeads
from signal_controller.host import ControllerHost
from signal_controller.scheduler import TickScheduler
from signal_controller.wiring import build_controller
from simulations.demo.domain.city import (
    LineStop,
    PlannedBus,
    PlannedIntersection,
    plan_buses,
    plan_intersections,
)
from simulations.demo.domain.incidents import (
    Controller,
    Incident,
    incident_round,
    lte_buses,
)
from simulations.demo.domain.street import BusRun, DoorCount, TripStarted
from simulations.demo.domain.timetable import Dispatcher, ScheduledTrip
from simulations.demo.kita_seed import PREFIX as KITA_PREFIX
from simulations.demo.kita_seed import seed_kita_round
from simulations.demo.street_io import CuttableLink, StreetDoors, StreetGps
from simulations.gtfs_synth import KASSEL_DAY, write_feed

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "firmware_configs" / "intersections"
TIMEZONE = ZoneInfo("Europe/Berlin")
#: a standard city bus: 40 seats, 90 people in all.
SEATS, CAPACITY = 40, 90


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
    incidents: bool = True

#: the file in the demo's state folder that holds the Kita staff token.
KITA_TOKEN_FILE = "kita-staff-token"


@dataclass
class DemoCity:
    """The running parts, for the status line and the tests."""

    broker: MosquittoBroker
    url: str
    controllers: list[SignalController]
    buses: list[BusGateway]
    intersections: tuple[PlannedIntersection, ...]
    street: list[StreetBus] = field(default_factory=list)
    links: dict[str, CuttableLink] = field(default_factory=dict)


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


def _timetable(gtfs: Path) -> tuple[dict[str, list[LineStop]], list[ScheduledTrip]]:
    """The lines (stops in direction 0) and every trip of the feed with its stops."""
    schedule = load_schedule(gtfs)
    stops = {sid: LineStop(sid, s.name, s.lat, s.lon) for sid, s in schedule.stops.items()}
    lines: dict[str, list[LineStop]] = {}
    trips: list[ScheduledTrip] = []
    for trip in sorted(schedule.trips.values(), key=lambda t: t.trip_id):
        calls = trip.stop_times
        trips.append(ScheduledTrip(
            trip.trip_id, trip.route_id, trip.direction_id or 0,
            tuple(stops[c.stop_id] for c in calls), tuple(c.arrival_s for c in calls),
            tuple(c.departure_s for c in calls)))
        if (trip.direction_id or 0) == 0 and trip.route_id not in lines:
            lines[trip.route_id] = [stops[c.stop_id] for c in calls]
    return lines, trips


def _local_midnight(now: float) -> float:
    """The epoch second of the local midnight that began the day of ``now``."""
    local = dt.datetime.fromtimestamp(now, TIMEZONE)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _agent(state_dir: Path) -> AgentConfig:
    return AgentConfig(state_dir=str(state_dir), health_interval_s=10.0,
                       queue=QueueConfig(synchronous="normal"))


def _kita_staff_token(state: Path) -> str:
    """The demo's Kita staff token: the configured one, else a fresh one in a file only the
    owner may read; the hub's settings take it from the environment at start (a static token
    holding the role ``kita_staff``)."""
    token = os.environ.get(STAFF_TOKEN_ENV)
    if not token:
        token = secrets.token_urlsafe(32)
        os.environ[STAFF_TOKEN_ENV] = token
    state.mkdir(parents=True, exist_ok=True)
    path = state / KITA_TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token


def _process_cpu() -> tuple[float, float]:
    """``(busy, total)`` CPU seconds of this process: its own CPU time, and the wall time
    times the cores since boot of the monotonic clock (what the process could have used)."""
    t = os.times()
    return t.user + t.system, time.monotonic() * (os.cpu_count() or 1)


def _demo_health(state_dir: Path) -> HealthSampler:
    """Health of a simulated device: CPU is the demo process's share of the machine.

    Why: every simulated device lives in this one process on a machine shared with other
    work; the host's CPU is not theirs (two busy processes beside the demo would put every
    device over the alarm limit). The demo's own share is what its devices cost."""
    return HealthSampler(str(state_dir), None, cpu_reading=_process_cpu)


def _demo_mqtt(url: str) -> dict[str, Any]:
    """The demo's broker section: its private Mosquitto speaks plain MQTT on loopback, which a
    config must ask for (``insecure: true``); production configs use ``mqtts://``."""
    return {"broker": url, "insecure": True}


def _controller_config(template: IntersectionConfig, *, device_id: str, name: str,
                       lat: float, lon: float, url: str, state_dir: Path) -> IntersectionConfig:
    data = template.model_dump(mode="json")
    data.update(device_id=device_id, name=name, location={"lat": lat, "lon": lon},
                mqtt=_demo_mqtt(url), agent=_agent(state_dir).model_dump(mode="json"))
    return IntersectionConfig.model_validate(data)


def _bus_config(bus: PlannedBus, trip: ScheduledTrip | None, templates: list[IntersectionConfig],
                url: str, state_dir: Path) -> BusConfig:
    points = []
    for p in bus.intersections:
        template = templates[p.template]
        groups = template.priority.groups or [template.signal_groups[0].sg]
        points.append({"intersection_id": p.device_id, "sg": groups[0], "lat": p.lat,
                       "lon": p.lon})
    return BusConfig.model_validate({
        "device_id": bus.device_id,
        "kind": "bus",
        "vehicle": {"id": bus.vehicle_id, "capacity_seated": SEATS, "capacity_total": CAPACITY},
        "wlan": {"backend": "simulated", "interface": "sim0", "uplink": "sim1",
                 "portal_port": free_port(), "per_client_kbps": 2000, "uplink_kbps": 20000},
        "occupancy": {"door_counters": "sim"},
        "gps": {"source": "sim"},
        "route": {"route_id": bus.route_id, "trip_id": None if trip is None else trip.trip_id,
                  "priority_points": points},
        "mqtt": _demo_mqtt(url),
        "agent": _agent(state_dir).model_dump(mode="json"),
    })


def _route_stops(trip: ScheduledTrip) -> list[RouteStop]:
    return [RouteStop(s.stop_id, s.name, s.lat, s.lon) for s in trip.stops]


def _initial_delay(rng: random.Random) -> float:
    """How late a bus is when the demo finds it: mostly on time, some a few minutes late."""
    band = rng.random()
    if band < 0.55:
        return rng.uniform(-10.0, 45.0)
    if band < 0.9:
        return rng.uniform(45.0, 150.0)
    return rng.uniform(150.0, 300.0)


@dataclass
class StreetBus:
    """A running bus: the real gateway and the street model that drives its sensors."""

    gateway: BusGateway
    run: BusRun
    gps: StreetGps
    doors: StreetDoors
    phone_ips: dict[str, str] = field(default_factory=dict)


async def _drive(city: DemoCity, day0: float, stop: asyncio.Event) -> None:
    """The street, once a second: every bus moves, riders get on and off, trips change."""
    next_ip = 1 << 16  # phones get 10.1.0.1, 10.1.0.2, ...
    while not stop.is_set():
        now = time.time()
        now_s = now - day0
        for bus in city.street:
            for event in bus.run.advance(now_s):
                if isinstance(event, TripStarted):
                    trip = event.trip
                    await bus.gateway.start_trip(
                        None if trip is None else trip.trip_id,
                        None if trip is None else _route_stops(trip))
                    continue
                _count(bus, event, int(now * 1000))
                plane = bus.gateway.wlan.dataplane
                if isinstance(plane, SimulatedDataplane):
                    for mac in event.left:
                        plane.station_left(mac)
                        bus.phone_ips.pop(mac, None)
                    for mac in event.joined:
                        next_ip += 1
                        ip = f"10.{next_ip >> 16 & 255}.{next_ip >> 8 & 255}.{next_ip & 255}"
                        bus.phone_ips[mac] = ip
                        plane.station_joined(mac, ip)
            f = bus.run.fix(now_s)
            bus.gps.put(GpsFix(int(now * 1000), f.lat, f.lon, f.speed_mps, f.course_deg))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0 - (time.time() - now))


def _count(bus: StreetBus, event: DoorCount, ts_ms: int) -> None:
    """The door counters: the riders spread over the doors."""
    doors = bus.run.doors
    for door in range(doors):
        board = event.board // doors + (1 if door < event.board % doors else 0)
        alight = event.alight // doors + (1 if door < event.alight % doors else 0)
        if board or alight:
            bus.doors.put(DoorEvent(ts_ms, door + 1, board, alight))


@dataclass
class Street:
    """Detector calls and the detector faults an incident holds."""

    #: (intersection, detector) -> the card reports a fault
    faults: set[tuple[str, str]] = field(default_factory=set)
    cleared: set[tuple[str, str]] = field(default_factory=set)


async def _detector_calls(city: DemoCity, street: Street, rng: random.Random,
                          stop: asyncio.Event) -> None:
    """The street: vehicles and pedestrians call and extend green through the detectors;
    a faulty detector card repeats its fault every second instead."""
    conn = MqttConnection(client_id="demo-fieldbus", address=BrokerAddress.parse(city.url),
                          settings=MqttConfig(**_demo_mqtt(city.url)), will=None,
                          on_message=lambda _m: None, on_puback=lambda _mid, _code: None)
    await conn.connect()
    topics = Topics()
    occupied: dict[tuple[str, str], bool] = {}
    try:
        while not stop.is_set():
            ts = int(time.time() * 1000)
            for ctl in city.controllers:
                for det in ctl.config.detectors:
                    key = (ctl.config.device_id, det.id)
                    msg: Detector | None = None
                    if key in street.faults:
                        msg = Detector(ts=ts, detector=det.id, occupied=True, fault=True)
                    elif key in street.cleared:
                        street.cleared.discard(key)
                        occupied[key] = False
                        msg = Detector(ts=ts, detector=det.id, occupied=False, fault=False)
                    else:
                        rate = 0.5 if det.kind == "loop" else 0.05  # per second
                        now_occupied = occupied.get(key, False)
                        if now_occupied or rng.random() < rate:
                            occupied[key] = not now_occupied
                            msg = Detector(ts=ts, detector=det.id, occupied=occupied[key])
                    if msg is not None:
                        conn.publish(topics.topic("detector", ctl.config.device_id),
                                     encode(msg), 0, False)
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


def _describe(inc: Incident, city: DemoCity) -> str:
    """One line for the progress output: what happens, and the alarm to look for."""
    names = {p.device_id: p.name for p in city.intersections}
    target = f"{names.get(inc.device_id, inc.device_id)} ({inc.device_id})"
    what = {
        "detector_fault": f"detector {inc.detector} at {target} reports a fault",
        "lte_loss": f"bus {inc.device_id} loses its mobile link (then replays its queue)",
        "flash": f"an operator switches {target} to flashing (fail-safe), then resume",
    }[inc.kind]
    return (f"t={inc.at_s:.0f} s: {what} for {inc.duration_s:.0f} s — alarm {inc.alarm} "
            f"on {inc.device_id}")


async def _command(client: httpx.AsyncClient, base_url: str, token: str, device_id: str,
                   name: str) -> str:
    """An operator's command through the hub's API; the outcome in a few words."""
    try:
        r = await client.post(f"{base_url}api/v1/devices/{device_id}/commands",
                              json={"name": name, "timeout_s": 10},
                              headers={"Authorization": f"Bearer {token}"}, timeout=15)
    except httpx.HTTPError as exc:
        return f"{name} failed: {exc}"
    if r.status_code != 200:
        return f"{name} refused: HTTP {r.status_code} {r.text[:120]}"
    ack = r.json().get("ack", {})
    return f"{name} acknowledged" if ack.get("ok") else f"{name} failed: {ack.get('error')}"


@dataclass(frozen=True)
class Session:
    """What the demo's own tasks share: the city, the street, where the hub is."""

    city: DemoCity
    street: Street
    opts: DemoOptions
    base_url: str
    token: str
    started: float
    progress: Callable[[str], None]
    stop: asyncio.Event


async def _incident(inc: Incident, s: Session) -> None:
    """Start one incident at its time, end it when it is over."""
    city, street, base_url, token = s.city, s.street, s.base_url, s.token
    started, progress, stop = s.started, s.progress, s.stop

    async def until(t: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, started + t - time.monotonic()))
        return not stop.is_set()

    if not await until(inc.at_s):
        return
    progress(f"incident {_describe(inc, city)}")
    async with httpx.AsyncClient() as client:
        key = (inc.device_id, inc.detector)
        if inc.kind == "detector_fault":
            street.faults.add(key)
        elif inc.kind == "lte_loss":
            city.links[inc.device_id].cut()
        else:
            progress(f"incident {inc.device_id}: "
                     f"{await _command(client, base_url, token, inc.device_id, 'flash')}")
        ended = await until(inc.ends_s)
        if inc.kind == "detector_fault":
            street.faults.discard(key)
            street.cleared.add(key)
        elif inc.kind == "lte_loss":
            city.links[inc.device_id].restore()
        elif ended:
            progress(f"incident {inc.device_id}: "
                     f"{await _command(client, base_url, token, inc.device_id, 'resume')}")
        if ended:
            progress(f"incident over: {inc.kind} on {inc.device_id}")


async def _incidents(s: Session) -> None:
    """Round after round of incidents (:mod:`.domain.incidents`)."""
    city, opts, started, progress, stop = s.city, s.opts, s.started, s.progress, s.stop
    controllers = [Controller(c.config.device_id,
                              tuple(d.id for d in c.config.detectors if d.kind == "loop"))
                   for c in city.controllers]
    buses = sorted(city.links)
    tasks: list[asyncio.Task[None]] = []
    number = 0
    try:
        while not stop.is_set():
            plan = incident_round(opts.seed, number, controllers, buses)
            if not plan:
                return
            if number > 0:
                progress("incidents next: " + "; ".join(_describe(i, city) for i in plan))
            tasks += [asyncio.create_task(_incident(i, s)) for i in plan]
            number += 1
            next_round = incident_round(opts.seed, number, controllers, buses)[0].at_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), next_round - 30 - (time.monotonic() - started))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _status_line(s: Session) -> None:
    """Every 10 s: who is live, how late the buses run, how full they are, open alarms."""
    base_url, city, opts, started, progress, stop = (s.base_url, s.city, s.opts, s.started,
                                                     s.progress, s.stop)
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 10.0)
            with contextlib.suppress(httpx.HTTPError, ValueError):
                vehicles = (await client.get(base_url + "api/v1/vehicles")).json()
                crossings = (await client.get(base_url + "api/v1/intersections")).json()
                alarms = (await client.get(base_url + "api/v1/alarms")).json()
                live_buses = sum(1 for v in vehicles if v.get("online") and v.get("position"))
                live_x = sum(1 for i in crossings if i.get("online"))
                loads = Counter(_SHORT.get((v.get("occupancy") or {}).get(
                    "occupancy_status", ""), "?") for v in vehicles if v.get("occupancy"))
                delays = sorted(d for b in city.street if (d := b.run.delay_s()) is not None)
                late = (f"delay median {delays[len(delays) // 2]:.0f} s, max {delays[-1]:.0f} s"
                        if delays else "no trips")
                progress(f"t={time.monotonic() - started:4.0f} s  buses live {live_buses}/"
                         f"{opts.buses} ({late}; load "
                         f"{' '.join(f'{k} {n}' for k, n in sorted(loads.items())) or '-'})  "
                         f"intersections live {live_x}/{opts.intersections}  "
                         f"alarms {len(alarms)}")


_SHORT = {"EMPTY": "empty", "MANY_SEATS_AVAILABLE": "seats", "FEW_SEATS_AVAILABLE": "few",
          "STANDING_ROOM_ONLY": "standing", "CRUSHED_STANDING_ROOM_ONLY": "crushed",
          "FULL": "full"}


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

    tasks: list[asyncio.Task[Any]] = []
    server: uvicorn.Server | None = None
    city: DemoCity | None = None
    broker: MosquittoBroker | None = None
    host: ControllerHost | None = None
    try:
        templates = load_templates()
        broker = MosquittoBroker(workdir / "mosquitto")
        await asyncio.to_thread(broker.start)
        progress(f"broker   {broker.url} (private Mosquitto, {workdir / 'mosquitto'})")
        gtfs = write_feed(workdir / "gtfs" / "kassel-demo.zip", first_s=0, last_s=24 * 3600,
                          headway_s=KASSEL_DAY)
        lines, trips = _timetable(gtfs)
        day0 = _local_midnight(time.time())
        now_s = time.time() - day0
        intersections = plan_intersections(lines, opts.intersections,
                                           [t.device_id for t in templates])
        dispatcher = Dispatcher(trips)
        try:
            assignments = dispatcher.initial(opts.buses, int(now_s))
        except ValueError as exc:
            raise DemoError(f"--buses {opts.buses}: {exc}") from exc
        planned = plan_buses([a.route_id for a in assignments], intersections)
        state = workdir / "state"
        hub_cfg = HubConfig(
            device_id="hub-demo", kind="hub",
            http=HttpConfig(host=opts.http_host, port=opts.http_port),
            database=f"sqlite:///{workdir / 'hub.db'}", gtfs=GtfsConfig(static=str(gtfs)),
            mqtt=MqttConfig(**_demo_mqtt(broker.url)), agent=_agent(state),
        )
        kita_token = _kita_staff_token(state)
        server = uvicorn.Server(uvicorn.Config(
            create_app(hub_cfg, broker_url=broker.url), host=opts.http_host,
            port=opts.http_port, log_level="warning", access_log=False))
        tasks.append(asyncio.create_task(server.serve(), name="hub"))
        base_url = f"http://{opts.http_host}:{opts.http_port}/"
        await _wait_http(base_url, 15.0)
        token_file = state / "hub-admin-token"
        progress(f"hub      {base_url} (SQLite {workdir / 'hub.db'}; admin token in "
                 f"{token_file})")

        kita = await seed_kita_round(base_url, kita_token)
        progress(f"kita     {kita.kitas} Kitas ({kita.places} places), applications open until "
                 f"{kita.deadline}, {kita.applications} applications of {kita.families} sample "
                 "families")
        progress(f"kita     as a family: curl -X POST {base_url}{KITA_PREFIX}/families, then "
                 f"POST /{KITA_PREFIX}/applications with its token (docs/kita.md)")
        progress(f"kita     as staff: token in {state / KITA_TOKEN_FILE}; "
                 f"POST /{KITA_PREFIX}/rounds allocates round 1")

        scheduler = TickScheduler()  # one timer ticks every controller on the 100 ms grid
        controllers = []
        for p in intersections:
            ctl = build_controller(
                _controller_config(templates[p.template], device_id=p.device_id, name=p.name,
                                   lat=p.lat, lon=p.lon, url=broker.url, state_dir=state),
                broker_url=broker.url, heads=FakeSignalHeads(), scheduler=scheduler)
            ctl.agent.health_sampler = _demo_health(state)
            controllers.append(ctl)
        city = DemoCity(broker, broker.url, controllers, [], intersections)
        address = BrokerAddress.parse(broker.url)
        for device_id in (lte_buses(opts.seed, [b.device_id for b in planned])
                          if opts.incidents else ()):
            city.links[device_id] = CuttableLink(address.host, address.port)
        clock = WallClock()
        for k, (b, a) in enumerate(zip(planned, assignments, strict=True)):
            rng = random.Random(f"{opts.seed}:bus:{k}")
            delay = _initial_delay(rng) if a.running else 0.0
            run = BusRun.start(a, dispatcher, rng, now_s, delay_s=delay, capacity=CAPACITY)
            link = city.links.get(b.device_id)
            url = broker.url if link is None else f"mqtt://127.0.0.1:{await link.start()}"
            gps, doors = StreetGps(), StreetDoors()
            gateway = build_gateway(
                _bus_config(b, a.trip, templates, url, state), url, config_dir=workdir,
                stops=[] if a.trip is None else _route_stops(a.trip), clock=clock,
                rng=random.Random(rng.random()),
                gps=gps, doors=doors)
            gateway.agent.health_sampler = _demo_health(state)
            city.buses.append(gateway)
            city.street.append(StreetBus(gateway, run, gps, doors))
        # Start-up objects live as long as the demo: keep them out of the collector's full
        # scans, which would otherwise pause the controllers' 10 Hz loop.
        gc.collect()
        gc.freeze()
        host = ControllerHost(controllers)
        await asyncio.to_thread(host.start)
        progress(f"signals  {len(controllers)} controllers (actuated, SPaT 10 Hz): "
                 + ", ".join(p.name for p in intersections))
        tasks += [asyncio.create_task(b.run(), name=b.config.device_id) for b in city.buses]
        running = sum(1 for a in assignments if a.running)
        waiting = sum(1 for a in assignments if a.trip is not None and not a.running)
        progress(f"buses    {len(city.buses)} on lines {', '.join(sorted(lines))} by the "
                 f"timetable: {running} under way, {waiting} laying over until their trip, "
                 f"{len(assignments) - running - waiting} on standby (simulated GPS, doors, "
                 "WLAN)")
        street = Street()
        # the operator's token: the configured one, else the one the hub generated
        token = os.environ.get("KASSEL_HUB_ADMIN_TOKEN") or (
            await asyncio.to_thread(token_file.read_text, encoding="utf-8")).strip()
        session = Session(city, street, opts, base_url, token, started, progress, stop)
        tasks.append(asyncio.create_task(_drive(city, day0, stop), name="traffic"))
        tasks.append(asyncio.create_task(
            _detector_calls(city, street, random.Random(opts.seed), stop), name="street"))
        tasks.append(asyncio.create_task(_status_line(session), name="status"))
        if opts.incidents:
            first = incident_round(opts.seed, 0, [
                Controller(c.config.device_id,
                           tuple(d.id for d in c.config.detectors if d.kind == "loop"))
                for c in controllers], sorted(city.links))
            for inc in first:
                progress(f"planned  {_describe(inc, city)}")
            if first:
                progress("planned  (a new round with other devices every 20 min; no other "
                         "alarm is expected)")
            tasks.append(asyncio.create_task(_incidents(session), name="incidents"))
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
            for link in city.links.values():
                link.restore()  # a bus in an outage still says goodbye
        if host is not None:
            await asyncio.to_thread(host.stop)
        others = [t for t in tasks if t.get_name() != "hub"]
        if others:
            await asyncio.wait(others, timeout=15)
        for t in others:
            t.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        if city is not None:
            for link in city.links.values():
                await link.close()
        if server is not None:
            server.should_exit = True
        hub = [t for t in tasks if t.get_name() == "hub"]
        if hub:
            await asyncio.wait(hub, timeout=15)
        if broker is not None:
            await asyncio.to_thread(broker.stop)
        if own_workdir:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
        progress("stopped")

"""Start and stop the demo city: Mosquitto, hub, controllers, buses, the simulated street.

Mosquitto runs as its own process. The hub's FastAPI app under uvicorn and every
``BusGateway`` with its own edge agent and MQTT session share the main asyncio loop; the signal
controllers run on a :class:`~signal_controller.host.ControllerHost` (their own loop and
thread, with a deployed controller's CPU weight), so that the busy main loop never makes a tick
late enough to trip the safety kernel's watchdog. The street is simulated through the same
interfaces the field uses: detector calls arrive over MQTT on ``signal/{id}/detector``,
passengers board through the simulated door counters, buses drive with the simulated GPS.

This module holds the orchestration: what each device is configured with is in
:mod:`.device_configs`, the street's loops are in :mod:`.street_traffic`, the incidents and
the status line in :mod:`.session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from fastapi import FastAPI

from bus_gateway.clock import WallClock
from bus_gateway.wiring import build_gateway
from central_hub.app import create_app
from central_hub.broker import MosquittoBroker, port_is_free
from central_hub.core.config import KITA_STAFF_TOKEN_ENV as STAFF_TOKEN_ENV
from central_hub.core.identity import Role
from central_hub.core.tokens import TokenStore
from central_hub.gtfs_static import load_schedule
from edge_agent.heap import freeze_start_up_heap
from edge_agent.mqtt import BrokerAddress
from signal_controller.heads import FakeSignalHeads
from signal_controller.host import ControllerHost
from signal_controller.scheduler import TickScheduler
from signal_controller.wiring import build_controller
from simulations.demo.bike_operator import BikeOperatorServer
from simulations.demo.device_configs import (
    CAPACITY,
    SEATS,
    TEMPLATES_DIR,
    app_url,
    bus_config,
    controller_config,
    demo_health,
    hub_config,
    learning_url,
    load_templates,
    route_stops,
)
from simulations.demo.domain.city import LineStop, plan_buses, plan_intersections
from simulations.demo.domain.incidents import incident_round, lte_buses
from simulations.demo.domain.street import BusRun
from simulations.demo.domain.timetable import Dispatcher, ScheduledTrip
from simulations.demo.kita_seed import PREFIX as KITA_PREFIX
from simulations.demo.kita_seed import seed_kita_round
from simulations.demo.learning_tour import PREFIX as LEARNING_PREFIX
from simulations.demo.learning_tour import seed_class, seed_draft, tour_learning
from simulations.demo.mobility_tour import demo_settings, tour_mobility
from simulations.demo.opendata_seed import OPENDATA_TOKEN_FILE, seed_open_data
from simulations.demo.options import DemoError, DemoOptions
from simulations.demo.payment_provider import StripeStandIn
from simulations.demo.session import (
    DemoCity,
    Session,
    describe,
    incident_controllers,
    incidents,
    status_line,
)
from simulations.demo.street_io import CuttableLink, StreetDoors, StreetGps
from simulations.demo.street_traffic import (
    Street,
    StreetBus,
    detector_calls,
    drive,
    initial_delay,
)
from simulations.fares_synth import write_feed_with_fares
from simulations.gtfs_synth import KASSEL_DAY, shifted_day

#: importable from here as before the demo's parts moved to modules of their own
__all__ = [
    "CAPACITY", "KITA_TOKEN_FILE", "SEATS", "TEMPLATES_DIR", "DemoCity", "DemoError",
    "DemoOptions", "Session", "Street", "StreetBus", "load_templates", "run_demo",
]

log = logging.getLogger(__name__)

TIMEZONE = ZoneInfo("Europe/Berlin")
DAY_S = 24 * 3600
#: the file in the demo's state folder that holds the Kita staff token.
KITA_TOKEN_FILE = "kita-staff-token"
#: the demo's learning teacher-and-reviewer key, and its volunteer author's
LEARNING_TOKEN_FILE = "learning-teacher-token"
LEARNING_AUTHOR_FILE = "learning-author-token"


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


def _kita_staff_token(state: Path) -> str:
    """The demo's Kita staff token: the configured one, else a fresh one in a file only the
    owner may read; the hub's settings take it from the environment at start (a static token
    holding the role ``kita_staff``)."""
    token = os.environ.get(STAFF_TOKEN_ENV)
    if not token:
        token = secrets.token_urlsafe(32)
        os.environ[STAFF_TOKEN_ENV] = token
    state.mkdir(parents=True, exist_ok=True)
    _secret_file(state / KITA_TOKEN_FILE, token)
    return token


def _secret_file(path: Path, token: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")


def _learning_staff_tokens(app: FastAPI, state: Path) -> tuple[str, str]:
    """The demo's learning staff, as issued tokens in the hub's database, each in a file only
    the owner may read: a teacher who also reviews, and a volunteer author (two people, so
    the review queue has an item the reviewer may approve)."""
    tokens = TokenStore(app.state.hub.engine)
    _, teacher = tokens.issue("demo-lehrkraft", {Role.LEARNING_TEACHER, Role.LEARNING_REVIEWER},
                              expires_days=30)
    _, author = tokens.issue("demo-autorin", {Role.LEARNING_AUTHOR}, expires_days=30)
    _secret_file(state / LEARNING_TOKEN_FILE, teacher)
    _secret_file(state / LEARNING_AUTHOR_FILE, author)
    return teacher, author


async def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + "api/v1/devices")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise DemoError(f"the hub did not answer on {url} within {timeout:.0f} s")


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
    bikes: BikeOperatorServer | None = None
    payments: StripeStandIn | None = None
    try:
        templates = load_templates()
        broker = MosquittoBroker(workdir / "mosquitto")
        await asyncio.to_thread(broker.start)
        progress(f"broker   {broker.url} (private Mosquitto, {workdir / 'mosquitto'})")
        day0 = _local_midnight(time.time())
        now_s = time.time() - day0
        # --time: the timetable and the demand of that hour, moved to the clock the hub reads
        shift_s = 0 if opts.time_of_day_s is None else int(opts.time_of_day_s - now_s) % DAY_S
        gtfs = write_feed_with_fares(workdir / "gtfs" / "kassel-demo.zip", first_s=0,
                                     last_s=DAY_S, headway_s=shifted_day(KASSEL_DAY, shift_s))
        lines, trips = _timetable(gtfs)
        intersections = plan_intersections(lines, opts.intersections,
                                           [t.device_id for t in templates])
        dispatcher = Dispatcher(trips)
        try:
            assignments = dispatcher.initial(opts.buses, int(now_s))
        except ValueError as exc:
            raise DemoError(f"--buses {opts.buses}: {exc}") from exc
        planned = plan_buses([a.route_id for a in assignments], intersections)
        state = workdir / "state"
        hub_cfg = hub_config(opts, workdir, gtfs, broker.url, state)
        kita_token = _kita_staff_token(state)
        schedule = load_schedule(gtfs)
        bikes = BikeOperatorServer([(s.stop_id, s.name, s.lat, s.lon)
                                    for s in schedule.stops.values()],
                                   seed=opts.seed, clock=time.monotonic).start()
        progress(f"sharing  bike operator 'kasselrad': {len(bikes.fleet.stations)} stations "
                 f"beside the stops, GBFS {bikes.discovery_url()} (and v2.3)")
        base_url = f"http://{opts.http_host}:{opts.http_port}/"
        payments = StripeStandIn(webhook_url=f"{base_url}api/v1/payments/webhook")
        payments.start()
        progress(f"payments the city's payment provider: a local Stripe stand-in at "
                 f"{payments.base_url} (its hosted checkout page; signed webhooks)")
        app = create_app(hub_cfg, settings=demo_settings(bikes.discovery_url(), payments),
                         broker_url=broker.url)
        server = uvicorn.Server(uvicorn.Config(
            app, host=opts.http_host,
            port=opts.http_port, log_level="warning", access_log=False))
        tasks.append(asyncio.create_task(server.serve(), name="hub"))
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
        learning = await tour_learning(base_url)
        progress(f"learning {learning.items} published items ({', '.join(learning.subjects)}); "
                 f"browse {base_url}{LEARNING_PREFIX}/items?grade=6&q=Brüche (docs/learning.md)")
        progress(f"learning a pupil's answer checked: {learning.checked}")
        progress(f"learning pupils' pages {learning_url(opts)}, linked from every bus's WLAN "
                 "portal before its terms are accepted (walled garden)")
        teacher, author = await asyncio.to_thread(_learning_staff_tokens, app, state)
        klass = await seed_class(base_url, teacher, opts.seed)
        draft = await seed_draft(base_url, author)
        progress(f"learning class {klass.title}: code {klass.code}, {len(klass.pseudonyms)} "
                 f"pupils practised as {', '.join(klass.pseudonyms)}; draft {draft} waits for "
                 "review")
        progress(f"learning as a teacher and reviewer: key in {state / LEARNING_TOKEN_FILE}; "
                 f"open {learning_url(opts)}#/lehrkraft or #/redaktion (the volunteer's key: "
                 f"{state / LEARNING_AUTHOR_FILE})")

        tour = await tour_mobility(base_url, schedule)
        progress(f"mobility {tour.summary}")
        progress(f"mobility journeys {tour.url} (docs/mobility.md)")
        progress(f"mobility {tour.ticket}")
        opendata = await asyncio.to_thread(
            seed_open_data, app, lines, intersections=intersections, templates=templates,
            state=state, base_url=base_url, seed=opts.seed)
        published = sum(1 for v in opendata.states.values() if v == "published")
        progress(f"opendata {published} of {len(opendata.states)} datasets published from "
                 f"{opendata.hours} hours of city statistics and {opendata.applications} "
                 f"Kita applications; portal {base_url}opendata/")
        progress(f"opendata CKAN API {base_url}opendata/api/3/action/package_list, DCAT-AP.de "
                 f"{base_url}opendata/catalog.ttl; publisher's key in "
                 f"{state / OPENDATA_TOKEN_FILE} ({base_url}opendata/#/redaktion)")
        for dataset, outcome in opendata.states.items():
            if outcome != "published":
                progress(f"opendata {dataset}: {outcome}")

        scheduler = TickScheduler()  # one timer ticks every controller on the 100 ms grid
        controllers = []
        for p in intersections:
            ctl = build_controller(
                controller_config(templates[p.template], device_id=p.device_id, name=p.name,
                                  lat=p.lat, lon=p.lon, url=broker.url, state_dir=state),
                broker_url=broker.url, heads=FakeSignalHeads(), scheduler=scheduler)
            ctl.agent.health_sampler = demo_health(state)
            controllers.append(ctl)
        city = DemoCity(broker, broker.url, controllers, [], intersections)
        address = BrokerAddress.parse(broker.url)
        for device_id in (lte_buses(opts.seed, [b.device_id for b in planned])
                          if opts.incidents else ()):
            city.links[device_id] = CuttableLink(address.host, address.port)
        clock = WallClock()
        for k, (b, a) in enumerate(zip(planned, assignments, strict=True)):
            rng = random.Random(f"{opts.seed}:bus:{k}")
            delay = initial_delay(rng) if a.running else 0.0
            run = BusRun.start(a, dispatcher, rng, now_s, delay_s=delay, capacity=CAPACITY,
                               day_shift_s=shift_s)
            link = city.links.get(b.device_id)
            url = broker.url if link is None else f"mqtt://127.0.0.1:{await link.start()}"
            gps, doors = StreetGps(), StreetDoors()
            gateway = build_gateway(
                bus_config(b, a.trip, templates, url, state, learning=learning_url(opts),
                           app=app_url(opts)), url,
                config_dir=workdir,
                stops=[] if a.trip is None else route_stops(a.trip), clock=clock,
                rng=random.Random(rng.random()),
                gps=gps, doors=doors)
            gateway.agent.health_sampler = demo_health(state)
            city.buses.append(gateway)
            city.street.append(StreetBus(gateway, run, gps, doors))
        # Start-up objects live as long as the demo: keep them out of the collector's full
        # scans, which would otherwise pause the controllers' 10 Hz loop.
        freeze_start_up_heap()
        host = ControllerHost(controllers)
        await asyncio.to_thread(host.start)
        progress(f"signals  {len(controllers)} controllers (actuated, SPaT 10 Hz): "
                 + ", ".join(p.name for p in intersections))
        tasks += [asyncio.create_task(b.run(), name=b.config.device_id) for b in city.buses]
        running = sum(1 for a in assignments if a.running)
        waiting = sum(1 for a in assignments if a.trip is not None and not a.running)
        hour = "" if opts.time_of_day_s is None else (
            f" of {opts.time_of_day_s // 3600:02d}:{opts.time_of_day_s % 3600 // 60:02d}")
        progress(f"buses    {len(city.buses)} on lines {', '.join(sorted(lines))} by the "
                 f"timetable{hour}: {running} under way, {waiting} laying over until their trip, "
                 f"{len(assignments) - running - waiting} on standby (simulated GPS, doors, "
                 "WLAN)")
        street = Street()
        # the operator's token: the configured one, else the one the hub generated
        token = os.environ.get("KASSEL_HUB_ADMIN_TOKEN") or (
            await asyncio.to_thread(token_file.read_text, encoding="utf-8")).strip()
        session = Session(city, street, opts, base_url, token, started, progress, stop)
        tasks.append(asyncio.create_task(drive(city.street, day0, stop), name="traffic"))
        tasks.append(asyncio.create_task(
            detector_calls(city.controllers, city.url, street, random.Random(opts.seed),
                           stop), name="street"))
        tasks.append(asyncio.create_task(status_line(session), name="status"))
        if opts.incidents:
            first = incident_round(opts.seed, 0, incident_controllers(controllers),
                                   sorted(city.links))
            for inc in first:
                progress(f"planned  {describe(inc, city)}")
            if first:
                progress("planned  (a new round with other devices every 20 min; no other "
                         "alarm is expected)")
            tasks.append(asyncio.create_task(incidents(session), name="incidents"))
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
        if bikes is not None:
            await asyncio.to_thread(bikes.close)
        if payments is not None:
            await asyncio.to_thread(payments.stop)
        if own_workdir:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
        progress("stopped")

"""A simulated bike-sharing operator for the demo: a real GBFS feed over HTTP.

WHY simulated but real: the hub reads sharing operators only through their public GBFS
feeds (:mod:`central_hub.mobility.sharing_feeds`), so the demo city's operator publishes
exactly such a feed, GBFS v3.0 and v2.3 side by side as operators in transition do, valid
against the official schemas, over real HTTP: the hub's poller, its limits and its schema
checks run as they would against a real operator. Its stations stand beside given stops
(bike and ride), its bikes are rented and returned over time, seeded and deterministic, and
it can break a file on purpose (:class:`Fault`) so that the demo and the tests can show a
refused feed raising an alarm while the last good data stays in use.

Two halves: the fleet is pure (:func:`initial_fleet`, :func:`step`, :func:`documents`:
same seed, same day), and :class:`BikeOperatorServer` serves it with the standard
library's threaded HTTP server (as the tests' stand-in OpenID provider does), advancing the
simulation on the wall clock or when told to.

The vehicle ids it publishes rotate after every trip, as GBFS requires for privacy (a
vehicle's trips cannot be chained through its id); the serial numbers stay internal.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

#: the GBFS versions served, each at ``/gbfs/v<version>/<file>.json``
VERSIONS = ("3.0", "2.3")
SYSTEM_ID = "kasselrad-demo"
LANGUAGE = "de"
#: where a passenger would rent (never resolves: ``.invalid`` is reserved, RFC 2606)
WEB = "https://rad.example.invalid"
#: the operator app's deep links
APP_SCHEME = "kasselrad"
#: the files' ttl in seconds: the status every minute, the descriptions every hour
STATUS_TTL_S = 60
STATIC_TTL_S = 3600
#: simulated time advances in steps of this many seconds (the feed's update interval)
STEP_S = 30
#: a parked, working bike is rented with this probability per second (about every 40 min)
RENT_PER_S = 1 / 2400
#: share of returns left free-floating near a station instead of docked
FREE_FLOATING_SHARE = 0.2
EBIKE_RANGE_M = 60_000

#: the vehicle types: (id, propulsion, name, pricing plan)
BIKE, EBIKE = "rad", "e-rad"


class Fault(enum.Enum):
    """How a file can be broken on purpose (:meth:`BikeOperatorServer.break_file`)."""

    #: HTTP 500 instead of the file
    HTTP_500 = "http-500"
    #: valid JSON that breaks the schema (a negative count, a missing field)
    INVALID = "invalid"
    #: not JSON at all
    NOT_JSON = "not-json"
    #: a body larger than any limit, with an honest Content-Length
    OVERSIZE = "oversize"
    #: a body without Content-Length that does not end until the client hangs up
    ENDLESS = "endless"


@dataclass(frozen=True, slots=True)
class BikeStation:
    """A station of the operator, a few dozen metres from the stop it is named after."""

    station_id: str
    name: str
    lat: float
    lon: float
    capacity: int


@dataclass(frozen=True, slots=True)
class Bike:
    """A bike: docked (``station_id``), parked free-floating (``lat``/``lon``) or rented
    (``rented_until``, simulated seconds). ``trips`` rotates its public id."""

    serial: int
    type_id: str
    station_id: str | None
    lat: float | None
    lon: float | None
    rented_until: int | None
    trips: int
    disabled: bool

    @property
    def rented(self) -> bool:
        """Whether a passenger has it now (it is then in no file)."""
        return self.rented_until is not None


@dataclass(frozen=True, slots=True)
class Fleet:
    """The operator's state at simulated second ``now_s`` after the start: pure data."""

    seed: int
    tick: int
    now_s: int
    stations: tuple[BikeStation, ...]
    bikes: tuple[Bike, ...]


def _offset(lat: float, lon: float, metres: float, bearing: float) -> tuple[float, float]:
    d_lat = metres * math.cos(bearing) / 111_320.0
    d_lon = metres * math.sin(bearing) / (111_320.0 * math.cos(math.radians(lat)))
    return round(lat + d_lat, 6), round(lon + d_lon, 6)


def place_stations(stops: Sequence[tuple[str, str, float, float]], seed: int,
                   ) -> tuple[BikeStation, ...]:
    """One station 20 to 60 m from each stop ``(stop_id, name, lat, lon)``."""
    rng = random.Random(f"stations:{seed}")
    stations = []
    for stop_id, name, lat, lon in stops:
        s_lat, s_lon = _offset(lat, lon, rng.uniform(20, 60), rng.uniform(0, 2 * math.pi))
        stations.append(BikeStation(f"st-{stop_id}", f"{name} (KasselRad)", s_lat, s_lon,
                                    rng.randint(8, 16)))
    return tuple(stations)


def initial_fleet(stops: Sequence[tuple[str, str, float, float]], *, seed: int = 1,
                  ) -> Fleet:
    """The fleet at the start: stations part full, a few bikes parked between them, every
    29th bike broken (disabled), three in ten electric."""
    rng = random.Random(f"fleet:{seed}")
    stations = place_stations(stops, seed)
    bikes: list[Bike] = []

    def add(station_id: str | None, lat: float | None, lon: float | None) -> None:
        serial = len(bikes) + 1
        bikes.append(Bike(serial=serial, type_id=EBIKE if rng.random() < 0.3 else BIKE,
                          station_id=station_id, lat=lat, lon=lon, rented_until=None,
                          trips=0, disabled=serial % 29 == 0))

    for station in stations:
        for _ in range(rng.randint(station.capacity // 3, station.capacity - 2)):
            add(station.station_id, None, None)
    for station in stations[::3]:
        add(None, *_offset(station.lat, station.lon, rng.uniform(40, 150),
                           rng.uniform(0, 2 * math.pi)))
    return Fleet(seed=seed, tick=0, now_s=0, stations=stations, bikes=tuple(bikes))


def step(fleet: Fleet, dt_s: int) -> Fleet:
    """The fleet ``dt_s`` seconds later: rentals that ended are returned (to a station with a
    free dock, or parked near one), and parked working bikes are rented for 5 to 30 minutes.
    Deterministic: the random draws depend only on the seed and the step's number."""
    rng = random.Random(f"step:{fleet.seed}:{fleet.tick}")
    now = fleet.now_s + dt_s
    capacity = {s.station_id: s.capacity for s in fleet.stations}
    docked = Counter(b.station_id for b in fleet.bikes if b.station_id is not None)
    p_rent = 1.0 - (1.0 - RENT_PER_S) ** dt_s
    bikes = []
    for bike in fleet.bikes:
        after = bike
        if bike.rented_until is not None:
            if bike.rented_until <= now and fleet.stations:
                after = _returned(bike, rng, fleet.stations, docked, capacity)
        elif not bike.disabled and rng.random() < p_rent:
            if bike.station_id is not None:
                docked[bike.station_id] -= 1
            after = replace(bike, station_id=None, lat=None, lon=None,
                            rented_until=now + 60 * rng.randint(5, 30))
        bikes.append(after)
    return replace(fleet, tick=fleet.tick + 1, now_s=now, bikes=tuple(bikes))


def _returned(bike: Bike, rng: random.Random, stations: Sequence[BikeStation],
              docked: Counter[str], capacity: dict[str, int]) -> Bike:
    station = rng.choice(stations)
    ended = replace(bike, rented_until=None, trips=bike.trips + 1)
    if rng.random() < FREE_FLOATING_SHARE or docked[station.station_id] >= capacity[
            station.station_id]:
        lat, lon = _offset(station.lat, station.lon, rng.uniform(30, 150),
                           rng.uniform(0, 2 * math.pi))
        return replace(ended, station_id=None, lat=lat, lon=lon)
    docked[station.station_id] += 1
    return replace(ended, station_id=station.station_id, lat=None, lon=None)


def advance_to(fleet: Fleet, time_s: float) -> Fleet:
    """The fleet at simulated second ``time_s``: whole steps of :data:`STEP_S` (the state at
    a time depends only on the seed, not on how often it was looked at)."""
    while fleet.now_s + STEP_S <= time_s:
        fleet = step(fleet, STEP_S)
    return fleet


# ---------------------------------------------------------------------------------------
# the GBFS documents


def public_id(fleet: Fleet, bike: Bike) -> str:
    """The bike's published id: rotated after each trip, not derivable from the serial."""
    raw = f"{fleet.seed}:{bike.serial}:{bike.trips}".encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def _text(version: str, text: str) -> object:
    return text if version == "2.3" else [{"text": text, "language": LANGUAGE}]


def _stamp(version: str, when: datetime) -> object:
    if version == "2.3":
        return int(when.timestamp())
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _uris(kind: str, ident: str) -> dict[str, str]:
    return {"android": f"{APP_SCHEME}://{kind}/{ident}", "ios": f"{APP_SCHEME}://{kind}/{ident}",
            "web": f"{WEB}/{kind}/{ident}"}


def documents(fleet: Fleet, *, version: str, base_url: str, started: datetime,
              ) -> dict[str, dict[str, Any]]:
    """Every file of the feed of GBFS ``version`` at the fleet's time, by base name:
    ``gbfs``, ``gbfs_versions``, ``system_information``, ``vehicle_types``,
    ``system_pricing_plans``, ``station_information``, ``station_status`` and
    ``vehicle_status`` (v3.0) or ``free_bike_status`` (v2.3). ``base_url`` is the folder of
    this version's files (``http://host:port/gbfs/v3.0``)."""
    if version not in VERSIONS:
        raise ValueError(f"GBFS {version} is not served (only {', '.join(VERSIONS)})")
    now = started + timedelta(seconds=fleet.now_s)
    vehicles_file = "free_bike_status" if version == "2.3" else "vehicle_status"
    data: dict[str, Any] = {
        "system_information": _system_information(version),
        "vehicle_types": {"vehicle_types": _vehicle_types(version)},
        "system_pricing_plans": {"plans": _plans(version)},
        "station_information": {"stations": [_station_information(version, s)
                                             for s in fleet.stations]},
        "station_status": {"stations": _station_status(version, fleet, now)},
        vehicles_file: {"bikes" if version == "2.3" else "vehicles":
                        _vehicles(version, fleet, now)},
    }
    names = ["system_information", "vehicle_types", "system_pricing_plans",
             "station_information", "station_status", vehicles_file]
    feeds = [{"name": name, "url": f"{base_url}/{name}.json"}
             for name in ["gbfs_versions", *names]]
    root = base_url.rsplit("/", 1)[0]
    data["gbfs_versions"] = {"versions": [{"version": v, "url": f"{root}/v{v}/gbfs.json"}
                                          for v in sorted(VERSIONS)]}
    data["gbfs"] = {LANGUAGE: {"feeds": feeds}} if version == "2.3" else {"feeds": feeds}
    static = {"gbfs", "gbfs_versions", "system_information", "vehicle_types",
              "system_pricing_plans", "station_information"}
    return {name: {"last_updated": _stamp(version, now),
                   "ttl": STATIC_TTL_S if name in static else STATUS_TTL_S,
                   "version": version, "data": body}
            for name, body in data.items()}


def _system_information(version: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "system_id": SYSTEM_ID, "name": _text(version, "KasselRad (Demo)"),
        "operator": _text(version, "KasselRad Demo-Betrieb"),
        "url": f"{WEB}/", "timezone": "Europe/Berlin",
        "rental_apps": {
            "android": {"store_uri": f"{WEB}/app/android", "discovery_uri": f"{APP_SCHEME}://"},
            "ios": {"store_uri": f"{WEB}/app/ios", "discovery_uri": f"{APP_SCHEME}://"}},
    }
    if version == "2.3":
        info["language"] = LANGUAGE
    else:
        info.update(languages=[LANGUAGE], opening_hours="24/7",
                    feed_contact_email="gbfs@example.invalid")
    return info


def _vehicle_types(version: str) -> list[dict[str, Any]]:
    return [
        {"vehicle_type_id": BIKE, "form_factor": "bicycle", "propulsion_type": "human",
         "name": _text(version, "Fahrrad"), "wheel_count": 2, "return_constraint": "hybrid",
         "default_pricing_plan_id": "rad", "pricing_plan_ids": ["rad"]},
        {"vehicle_type_id": EBIKE, "form_factor": "bicycle",
         "propulsion_type": "electric_assist", "max_range_meters": EBIKE_RANGE_M,
         "name": _text(version, "E-Bike"), "wheel_count": 2, "return_constraint": "hybrid",
         "default_pricing_plan_id": "e-rad", "pricing_plan_ids": ["e-rad"]},
    ]


def _plans(version: str) -> list[dict[str, Any]]:
    return [
        {"plan_id": "rad", "name": _text(version, "Fahrrad"), "currency": "EUR",
         "price": 1.0, "is_taxable": False,
         "description": _text(version, "1 € Ausleihe, dann 0,10 € je angefangene Minute"),
         "per_min_pricing": [{"start": 0, "rate": 0.1, "interval": 1}]},
        {"plan_id": "e-rad", "name": _text(version, "E-Bike"), "currency": "EUR",
         "price": 1.0, "is_taxable": False,
         "description": _text(version, "1 € Ausleihe, 0,20 € je Minute bis 30 Minuten, "
                                       "danach 3 € je angefangene halbe Stunde"),
         "per_min_pricing": [{"start": 0, "rate": 0.2, "interval": 1, "end": 30},
                             {"start": 30, "rate": 3.0, "interval": 30}]},
    ]


def _station_information(version: str, station: BikeStation) -> dict[str, Any]:
    info: dict[str, Any] = {
        "station_id": station.station_id, "name": _text(version, station.name),
        "lat": station.lat, "lon": station.lon, "capacity": station.capacity,
        "is_virtual_station": False, "rental_uris": _uris("stationen", station.station_id)}
    if version == "2.3":
        info["vehicle_type_capacity"] = {BIKE: station.capacity, EBIKE: station.capacity}
    else:
        info["vehicle_docks_capacity"] = [{"vehicle_type_ids": [BIKE, EBIKE],
                                           "count": station.capacity}]
    return info


def _station_status(version: str, fleet: Fleet, now: datetime) -> list[dict[str, Any]]:
    count_key = "num_bikes_available" if version == "2.3" else "num_vehicles_available"
    out = []
    for station in fleet.stations:
        here = [b for b in fleet.bikes if b.station_id == station.station_id]
        working = [b for b in here if not b.disabled]
        out.append({
            "station_id": station.station_id, count_key: len(working),
            "vehicle_types_available": [
                {"vehicle_type_id": t, "count": sum(1 for b in working if b.type_id == t)}
                for t in (BIKE, EBIKE)],
            "num_vehicles_disabled" if version == "3.0" else "num_bikes_disabled":
                len(here) - len(working),
            "num_docks_available": max(0, station.capacity - len(here)),
            "is_installed": True, "is_renting": True, "is_returning": True,
            "last_reported": _stamp(version, now)})
    return out


def _vehicles(version: str, fleet: Fleet, now: datetime) -> list[dict[str, Any]]:
    out = []
    for bike in fleet.bikes:
        if bike.rented:
            continue
        ident = public_id(fleet, bike)
        entry: dict[str, Any] = {
            "bike_id" if version == "2.3" else "vehicle_id": ident,
            "is_reserved": False, "is_disabled": bike.disabled,
            "vehicle_type_id": bike.type_id, "pricing_plan_id": bike.type_id,
            "rental_uris": _uris("raeder", ident), "last_reported": _stamp(version, now)}
        if bike.station_id is not None:
            entry["station_id"] = bike.station_id
        else:
            entry.update(lat=bike.lat, lon=bike.lon)
        if bike.type_id == EBIKE:
            entry["current_range_meters"] = EBIKE_RANGE_M - 5_000 * (bike.trips % 10)
        out.append(entry)
    return out


def broken(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` made invalid against its schema: a negative ``ttl``."""
    return {**document, "ttl": -1}


# ---------------------------------------------------------------------------------------
# the HTTP server


class _Server(ThreadingHTTPServer):
    """A thread per request, and a listen backlog for a poller's burst of parallel requests
    (the default of 5 drops connections, which the client retries only a second later)."""

    request_queue_size = 128
    daemon_threads = True


class BikeOperatorServer:
    """Serves the fleet's feeds at ``http://host:port/gbfs/v3.0/gbfs.json`` (and ``v2.3``).

    With ``clock`` (seconds, e.g. ``time.monotonic``) the simulation follows it from
    :meth:`start`; without, it moves only by :meth:`advance` (the tests).
    ``started`` is the wall-clock time of simulated second 0 (``last_updated``).
    """

    #: the size of an OVERSIZE body and the most an ENDLESS one writes
    OVERSIZE_BYTES = 8 * 1024 * 1024
    ENDLESS_LIMIT_BYTES = 256 * 1024 * 1024

    def __init__(self, stops: Sequence[tuple[str, str, float, float]], *, seed: int = 1,
                 host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] | None = None,
                 started: datetime | None = None) -> None:
        self._fleet = initial_fleet(stops, seed=seed)
        self._lock = threading.Lock()
        self._clock = clock
        self._t0 = clock() if clock is not None else 0.0
        self._time_s = 0.0
        self._started = (started or datetime.now(UTC)).replace(microsecond=0)
        self._faults: dict[str, Fault] = {}
        self.requests: Counter[str] = Counter()
        operator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                operator._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def discovery_url(self, version: str = "3.0") -> str:
        """The ``gbfs.json`` of GBFS ``version``."""
        return f"{self.base_url}/gbfs/v{version}/gbfs.json"

    def start(self) -> BikeOperatorServer:
        """Serve in a background thread."""
        if self._clock is not None:
            self._t0 = self._clock()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="bike-operator", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> BikeOperatorServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def fleet(self) -> Fleet:
        """The fleet now."""
        with self._lock:
            return self._fleet

    def advance(self, seconds: float) -> Fleet:
        """Move the simulation on by ``seconds`` (the fleet by the whole steps reached)."""
        with self._lock:
            self._time_s += seconds
            self._fleet = advance_to(self._fleet, self._time_s)
            return self._fleet

    def break_file(self, name: str, fault: Fault) -> None:
        """Serve file ``name`` (base name, any version) broken in the way ``fault`` says."""
        with self._lock:
            self._faults[name] = fault

    def repair(self, name: str | None = None) -> None:
        """Serve file ``name`` (every file when None) correctly again."""
        with self._lock:
            if name is None:
                self._faults.clear()
            else:
                self._faults.pop(name, None)

    def documents(self, version: str) -> dict[str, dict[str, Any]]:
        """Every file of ``version`` as it would be served now."""
        with self._lock:
            if self._clock is not None:
                self._time_s = self._clock() - self._t0
                self._fleet = advance_to(self._fleet, self._time_s)
            return documents(self._fleet, version=version,
                             base_url=f"{self.base_url}/gbfs/v{version}",
                             started=self._started)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        parts = request.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "gbfs" or parts[1][1:] not in VERSIONS \
                or not parts[1].startswith("v") or not parts[2].endswith(".json"):
            request.send_error(404)
            return
        version, name = parts[1][1:], parts[2].removesuffix(".json")
        docs = self.documents(version)
        if name not in docs:
            request.send_error(404)
            return
        with self._lock:
            fault = self._faults.get(name)
            self.requests[f"v{version}/{name}"] += 1
        if fault is Fault.HTTP_500:
            request.send_error(500)
            return
        if fault is Fault.ENDLESS:
            self._endless(request)
            return
        if fault is Fault.OVERSIZE:
            body = b" " * self.OVERSIZE_BYTES
        elif fault is Fault.NOT_JSON:
            body = b"<html>Wartungsarbeiten</html>"
        else:
            body = json.dumps(broken(docs[name]) if fault is Fault.INVALID
                              else docs[name]).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        with suppress(ConnectionError):
            request.wfile.write(body)

    def _endless(self, request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.end_headers()
        chunk = b'{"data": [' + b"0," * 32_000
        written = 0
        with suppress(ConnectionError):
            while written < self.ENDLESS_LIMIT_BYTES:
                request.wfile.write(chunk)
                written += len(chunk)

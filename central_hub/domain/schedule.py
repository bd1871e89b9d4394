"""The static GTFS timetable and schedule deviation of a vehicle against it.

WHY here and pure: delay prediction is the part of the TripUpdates feed that is easy to get
wrong (service days that start at noon minus 12 h, trips past midnight, a bus between two
stops), so it is a function of (trip, position, time) that unit tests pin down without a zip
file, a broker or a clock. :mod:`central_hub.gtfs_static` reads the zip and calls :func:`parse`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from edge_agent.errors import KasselError

EARTH_M = 6_371_000.0


class ScheduleError(KasselError, ValueError):
    """The static GTFS feed misses a file or a field the hub needs."""


@dataclass(frozen=True, slots=True)
class Stop:
    """A GTFS stop."""

    stop_id: str
    name: str
    lat: float
    lon: float
    #: GTFS ``wheelchair_boarding``: 0 no information, 1 step-free, 2 not step-free
    wheelchair: int = 0


@dataclass(frozen=True, slots=True)
class StopTime:
    """One scheduled call; times are seconds after the service day's reference (noon - 12 h)."""

    stop_id: str
    stop_sequence: int
    arrival_s: int
    departure_s: int


@dataclass(frozen=True, slots=True)
class Trip:
    """A GTFS trip with its calls in stop_sequence order."""

    trip_id: str
    route_id: str
    service_id: str
    shape_id: str | None
    direction_id: int | None
    stop_times: tuple[StopTime, ...]
    #: GTFS ``wheelchair_accessible``: 0 no information, 1 yes, 2 no
    wheelchair: int = 0


@dataclass(frozen=True, slots=True)
class Route:
    """A GTFS route (line)."""

    route_id: str
    short_name: str
    long_name: str
    color: str
    #: GTFS ``route_type`` (0 tram, 1 subway, 2 rail, 3 bus, ...)
    route_type: int = 3


#: service_id -> (weekday flags Mon..Sun, start, end), as ``calendar.txt`` says
Calendar = Mapping[str, tuple[tuple[bool, ...], date, date]]
#: (service_id, date) -> runs or not, as ``calendar_dates.txt`` says
CalendarExceptions = Mapping[tuple[str, date], bool]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def service_runs(calendar: Calendar, exceptions: CalendarExceptions, service_id: str,
                 day: date) -> bool:
    """Whether ``service_id`` runs on ``day``: a ``calendar_dates.txt`` exception first, else
    the ``calendar.txt`` period and weekday (GTFS's rule, for the timetable and the fares)."""
    exc = exceptions.get((service_id, day))
    if exc is not None:
        return exc
    entry = calendar.get(service_id)
    if entry is None:
        return False
    days, start, end = entry
    return start <= day <= end and days[day.weekday()]


def parse_calendar(calendar_rows: Iterable[Mapping[str, str]],
                   date_rows: Iterable[Mapping[str, str]]) -> tuple[Calendar,
                                                                     CalendarExceptions]:
    """``calendar.txt`` and ``calendar_dates.txt`` rows as (calendar, exceptions)."""
    calendar = {r["service_id"]: (tuple(r[d].strip() == "1" for d in WEEKDAYS),
                                  _date(r["start_date"]), _date(r["end_date"]))
                for r in calendar_rows}
    exceptions = {(r["service_id"], _date(r["date"])): r["exception_type"].strip() == "1"
                  for r in date_rows}
    return calendar, exceptions


@dataclass(frozen=True, slots=True)
class Schedule:
    """The parts of a static GTFS feed the hub uses."""

    timezone: str
    stops: Mapping[str, Stop]
    routes: Mapping[str, Route]
    trips: Mapping[str, Trip]
    shapes: Mapping[str, tuple[tuple[float, float], ...]]
    calendar: Calendar = field(default_factory=dict)
    exceptions: CalendarExceptions = field(default_factory=dict)

    def runs_on(self, service_id: str, day: date) -> bool:
        """Whether ``service_id`` runs on ``day`` (calendar plus calendar_dates)."""
        return service_runs(self.calendar, self.exceptions, service_id, day)


@dataclass(frozen=True, slots=True)
class Deviation:
    """Where a vehicle is on its trip and how late it is (negative: early)."""

    trip: Trip
    service_date: date
    delay_s: int
    #: index in ``trip.stop_times`` of the next call (or the current one when stopped there).
    next_index: int
    reference_ms: int  # the service day's reference instant (noon - 12 h, local time)

    def predicted_arrival_ms(self, index: int) -> int:
        """Predicted arrival at call ``index``: the schedule plus the current delay."""
        return self.reference_ms + (self.trip.stop_times[index].arrival_s + self.delay_s) * 1000

    def predicted_departure_ms(self, index: int) -> int:
        """Predicted departure from call ``index``."""
        st = self.trip.stop_times[index]
        return self.reference_ms + (st.departure_s + self.delay_s) * 1000


# --- parsing ------------------------------------------------------------------------------


def _gtfs_time(text: str) -> int:
    h, m, s = (int(x) for x in text.strip().split(":"))
    return h * 3600 + m * 60 + s


def _rows(files: Mapping[str, str], name: str, required: bool = True) -> list[dict[str, str]]:
    text = files.get(name)
    if text is None:
        if required:
            raise ScheduleError(f"{name} is missing from the GTFS feed")
        return []
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _flag(row: Mapping[str, str], name: str) -> int:
    """A GTFS 0/1/2 accessibility field; empty or absent is 0 (no information)."""
    value = int((row.get(name) or "0").strip() or "0")
    if value not in (0, 1, 2):
        raise ScheduleError(f"{name} must be 0, 1 or 2, not {value}")
    return value


def _date(text: str) -> date:
    return datetime.strptime(text.strip(), "%Y%m%d").date()


def parse(files: Mapping[str, str]) -> Schedule:
    """Build a :class:`Schedule` from the text of the feed's files (name -> CSV text)."""
    try:
        agency = _rows(files, "agency.txt")
        tz = agency[0]["agency_timezone"] if agency else "Europe/Berlin"
        stops = {r["stop_id"]: Stop(r["stop_id"], r.get("stop_name", ""), float(r["stop_lat"]),
                                    float(r["stop_lon"]), _flag(r, "wheelchair_boarding"))
                 for r in _rows(files, "stops.txt")}
        routes = {r["route_id"]: Route(r["route_id"], r.get("route_short_name", ""),
                                       r.get("route_long_name", ""), r.get("route_color", ""),
                                       int(r.get("route_type") or 3))
                  for r in _rows(files, "routes.txt")}
        calls: dict[str, list[StopTime]] = {}
        for r in _rows(files, "stop_times.txt"):
            arr = _gtfs_time(r["arrival_time"] or r["departure_time"])
            dep = _gtfs_time(r["departure_time"] or r["arrival_time"])
            calls.setdefault(r["trip_id"], []).append(
                StopTime(r["stop_id"], int(r["stop_sequence"]), arr, dep))
        trips: dict[str, Trip] = {}
        for r in _rows(files, "trips.txt"):
            st = tuple(sorted(calls.get(r["trip_id"], []), key=lambda c: c.stop_sequence))
            direction = r.get("direction_id") or None
            trips[r["trip_id"]] = Trip(r["trip_id"], r["route_id"], r["service_id"],
                                       r.get("shape_id") or None,
                                       int(direction) if direction is not None else None, st,
                                       _flag(r, "wheelchair_accessible"))
        pts: dict[str, list[tuple[int, float, float]]] = {}
        for r in _rows(files, "shapes.txt", required=False):
            pts.setdefault(r["shape_id"], []).append(
                (int(r["shape_pt_sequence"]), float(r["shape_pt_lat"]), float(r["shape_pt_lon"])))
        shapes = {k: tuple((lat, lon) for _, lat, lon in sorted(v)) for k, v in pts.items()}
        calendar, exceptions = parse_calendar(
            _rows(files, "calendar.txt", required=False),
            _rows(files, "calendar_dates.txt", required=False))
    except (KeyError, ValueError, IndexError) as exc:
        if isinstance(exc, ScheduleError):
            raise
        raise ScheduleError(f"malformed GTFS feed: {exc!r}") from exc
    return Schedule(tz, stops, routes, trips, shapes, calendar, exceptions)


# --- geometry and delay ---------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance in metres (exact enough within a city)."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return EARTH_M * math.hypot(x, y)


def reference_ms(day: date, tz: str) -> int:
    """The GTFS service day's reference instant: noon local time minus 12 hours."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(tz))
    # absolute hours, not wall-clock arithmetic: on DST days midnight is not noon - 12 h
    return int(noon.timestamp() * 1000) - 12 * 3_600_000


def service_date(schedule: Schedule, trip: Trip, ts_ms: int) -> date | None:
    """The service day the trip is running on at ``ts_ms`` (today or yesterday, for trips
    past midnight), or ``None`` when no day's instance of the trip is near ``ts_ms``."""
    if not trip.stop_times:
        return None
    local = datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(schedule.timezone)).date()
    first, last = trip.stop_times[0].departure_s, trip.stop_times[-1].arrival_s
    best: tuple[int, date] | None = None
    for day in (local, local - timedelta(days=1), local + timedelta(days=1)):
        if schedule.calendar and not schedule.runs_on(trip.service_id, day):
            continue
        ref = reference_ms(day, schedule.timezone)
        start, end = ref + (first - 3600) * 1000, ref + (last + 3 * 3600) * 1000
        if start <= ts_ms <= end:
            off = abs(ts_ms - (ref + first * 1000))
            if best is None or off < best[0]:
                best = (off, day)
    return None if best is None else best[1]


def _segment_fraction(lat: float, lon: float, a: Stop, b: Stop) -> tuple[float, float]:
    """(distance from the segment a-b in m, fraction 0..1 of the way from a to b)."""
    kx = math.cos(math.radians(lat)) * EARTH_M * math.pi / 180
    ky = EARTH_M * math.pi / 180
    ax, ay = (a.lon - lon) * kx, (a.lat - lat) * ky
    bx, by = (b.lon - lon) * kx, (b.lat - lat) * ky
    dx, dy = bx - ax, by - ay
    seg2 = dx * dx + dy * dy
    f = 0.0 if seg2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / seg2))
    px, py = ax + f * dx, ay + f * dy
    return math.hypot(px, py), f


def deviation(schedule: Schedule, trip_id: str, *, lat: float, lon: float,
              stop_id: str | None, stop_status: str, ts_ms: int) -> Deviation | None:
    """Schedule deviation of a vehicle on ``trip_id`` seen at (lat, lon) at ``ts_ms``.

    At a stop (``STOPPED_AT``) a vehicle is late once it is still there after the scheduled
    departure and early when it arrived before the scheduled arrival — except at the first
    stop, where a vehicle waits for its departure (it lays over there): on time until the
    departure, late after it. Between stops the
    scheduled time at the vehicle's position is interpolated by distance between the previous
    call's departure and the next call's arrival.
    """
    trip = schedule.trips.get(trip_id)
    if trip is None or len(trip.stop_times) < 2:
        return None
    day = service_date(schedule, trip, ts_ms)
    if day is None:
        return None
    ref = reference_ms(day, schedule.timezone)
    now_s = (ts_ms - ref) / 1000
    calls = trip.stop_times
    idx = next((i for i, c in enumerate(calls) if c.stop_id == stop_id), None)
    if idx is not None and stop_status == "STOPPED_AT":
        c = calls[idx]
        if idx == 0:
            return Deviation(trip, day, round(max(0.0, now_s - c.departure_s)), 0, ref)
        if now_s > c.departure_s:
            delay = now_s - c.departure_s
        elif now_s < c.arrival_s:
            delay = now_s - c.arrival_s
        else:
            delay = 0.0
        return Deviation(trip, day, round(delay), idx, ref)
    if idx is None:
        best: tuple[float, int, float] | None = None
        for i in range(1, len(calls)):
            a, b = schedule.stops.get(calls[i - 1].stop_id), schedule.stops.get(calls[i].stop_id)
            if a is None or b is None:
                continue
            dist, f = _segment_fraction(lat, lon, a, b)
            if best is None or dist < best[0]:
                best = (dist, i, f)
        if best is None:
            return None
        _, idx, frac = best
    elif idx == 0:
        return Deviation(trip, day, round(max(0.0, now_s - calls[0].departure_s)), 0, ref)
    else:
        a, b = schedule.stops.get(calls[idx - 1].stop_id), schedule.stops.get(calls[idx].stop_id)
        frac = 0.0 if a is None or b is None else _segment_fraction(lat, lon, a, b)[1]
    prev, nxt = calls[idx - 1], calls[idx]
    scheduled = prev.departure_s + frac * (nxt.arrival_s - prev.departure_s)
    return Deviation(trip, day, round(now_s - scheduled), idx, ref)

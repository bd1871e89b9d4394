"""Bike- and car-sharing operators' GBFS feeds (v2.3 and v3.0), normalised into one model, pure.

WHY pure and in one place: the planner offers a shared bike or car as one leg of a journey
and prices it, so whatever an operator publishes must become the same :class:`SharingSystem`
whichever GBFS version it speaks, and a feed that breaks the specification must be refused
as a whole (:class:`~central_hub.mobility.errors.FeedError`, naming the file and where),
never half-read into a wrong answer. The adapter (:mod:`central_hub.mobility.sharing_feeds`)
fetches the files; this module only reads documents already parsed from JSON, so it is
tested without a network (and with random JSON: it either reads a file or refuses it).

What differs between the versions, and is hidden here:

==========================  =============================  ==================================
                            v2.3                           v3.0
==========================  =============================  ==================================
free-floating vehicles      ``free_bike_status.json``,     ``vehicle_status.json``,
                            ``bikes[].bike_id``            ``vehicles[].vehicle_id``
vehicles at a station       ``num_bikes_available``        ``num_vehicles_available``
names, descriptions         strings                        ``[{"text", "language"}]``
``last_updated``            POSIX seconds                  RFC 3339 date-time
``gbfs.json``               ``data.<language>.feeds``      ``data.feeds``
==========================  =============================  ==================================

Schema validation against the official GBFS JSON schemas is injected (:class:`SchemaCheck`;
loading them is I/O, :mod:`central_hub.mobility.gbfs_schemas`); the reading below checks
every value it uses itself as well, so it never fails with anything but a ``FeedError``.

Prices follow the specification's ``system_pricing_plans.json`` exactly (:func:`trip_cost`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from central_hub.mobility.errors import FeedError, MobilityError

#: the GBFS versions the hub reads
VERSIONS: tuple[str, ...] = ("2.3", "3.0")

#: the files the hub reads, per version (base names, as ``gbfs.json`` lists them)
FILES: Mapping[str, tuple[str, ...]] = {
    "2.3": ("system_information", "station_information", "station_status", "free_bike_status",
            "vehicle_types", "system_pricing_plans"),
    "3.0": ("system_information", "station_information", "station_status", "vehicle_status",
            "vehicle_types", "system_pricing_plans"),
}

#: the auto-discovery file
DISCOVERY = "gbfs"

#: form factor of every vehicle when a system publishes no ``vehicle_types.json`` (the
#: specification: "all vehicles in the feed are assumed to be non-motorized bicycles")
DEFAULT_FORM_FACTOR = "bicycle"

#: an RFC 3339 date-time (``datetime.fromisoformat`` alone also takes other ISO 8601 forms)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
#: the longest trip :func:`trip_cost` prices, in minutes or kilometres
_TRIP_LIMIT = Decimal(10) ** 9


class PricingError(MobilityError, ValueError):
    """A trip :func:`trip_cost` cannot price: a negative, endless or not-a-number length."""


class SchemaCheck(Protocol):
    """Validates one file of a version against its schema; raises ``FeedError`` naming the
    file and the first schema error's path (the adapter injects the official schemas)."""

    def __call__(self, version: str, feed: str, document: object) -> None:
        """Return if ``document`` is a valid ``<feed>.json`` of GBFS ``version``."""


def vehicles_file(version: str) -> str:
    """The file of the vehicles not in a rental: renamed in v3.0."""
    return "free_bike_status" if version == "2.3" else "vehicle_status"


def rfc3339(text: str) -> datetime | None:
    """``text`` as an aware UTC datetime if it is an RFC 3339 date-time, else None."""
    if not _RFC3339.fullmatch(text):
        return None
    normal = text.upper().replace(" ", "T")
    try:
        return datetime.fromisoformat(normal).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# ---------------------------------------------------------------------------------------
# the model


@dataclass(frozen=True, slots=True)
class FeedFile:
    """One file's header: the consumer re-reads it after ``ttl`` seconds and judges its age
    by ``last_updated`` (a system's files are published, and can fail, independently)."""

    name: str
    ttl: int
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class RentalUris:
    """Where a passenger rents this station's or vehicle's vehicles: an Android intent, an iOS
    app link, a web page (each optional); the planner hands them to the app unchanged."""

    android: str | None = None
    ios: str | None = None
    web: str | None = None


@dataclass(frozen=True, slots=True)
class Discovery:
    """``gbfs.json``: the version of a system's feed and the URL of each file it publishes."""

    version: str
    file: FeedFile
    feeds: tuple[tuple[str, str], ...]

    def url(self, name: str) -> str | None:
        """The URL of file ``name``, if the system publishes it."""
        return next((url for feed, url in self.feeds if feed == name), None)


@dataclass(frozen=True, slots=True)
class SystemInformation:
    """Who runs the system and where: its name is what a passenger recognises."""

    system_id: str
    name: str
    operator: str | None
    timezone: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StationInformation:
    """A station as ``station_information.json`` describes it (where, how big)."""

    station_id: str
    name: str
    lat: float
    lon: float
    capacity: int | None
    is_virtual_station: bool
    rental_uris: RentalUris
    vehicle_type_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StationStatus:
    """A station as ``station_status.json`` describes it now (what can be rented, returned)."""

    station_id: str
    num_vehicles_available: int
    num_docks_available: int | None
    is_installed: bool
    is_renting: bool
    is_returning: bool
    vehicle_types_available: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Station:
    """A station, described and with its status: where to take and leave a vehicle.

    ``num_docks_available`` is None for a virtual station (no docks); a station that
    ``station_status.json`` does not list rents and takes nothing (``is_renting`` False).
    """

    station_id: str
    name: str
    lat: float
    lon: float
    capacity: int | None
    num_vehicles_available: int
    num_docks_available: int | None
    is_installed: bool
    is_renting: bool
    is_returning: bool
    is_virtual_station: bool
    rental_uris: RentalUris
    #: the vehicle types the station holds or has (capacity and availability, sorted)
    vehicle_type_ids: tuple[str, ...]
    #: (vehicle_type_id, count) available now, if the system says so per type
    vehicle_types_available: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A vehicle not in a rental: free-floating (``lat``/``lon`` of its own) or at a station
    (``station_id``; its position is the station's when the station is known, else None).
    """

    vehicle_id: str
    lat: float | None
    lon: float | None
    station_id: str | None
    vehicle_type_id: str | None
    is_reserved: bool
    is_disabled: bool
    rental_uris: RentalUris
    pricing_plan_id: str | None
    current_range_meters: float | None

    @property
    def is_available(self) -> bool:
        """Whether a passenger can rent it now."""
        return not (self.is_reserved or self.is_disabled)


@dataclass(frozen=True, slots=True)
class VehicleType:
    """A kind of vehicle: a bicycle or a car, human-powered or electric, and what it costs."""

    vehicle_type_id: str
    form_factor: str
    propulsion_type: str
    name: str | None
    max_range_meters: float | None
    return_constraint: str | None
    default_pricing_plan_id: str | None
    pricing_plan_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PriceSegment:
    """One entry of ``per_min_pricing`` or ``per_km_pricing``: ``rate`` is charged at
    ``start`` and again every ``interval`` after it (once only if ``interval`` is 0), up to
    but not including ``end`` (no ``end``: until the trip ends). See :func:`trip_cost`."""

    start: int
    rate: Decimal
    interval: int
    end: int | None = None


@dataclass(frozen=True, slots=True)
class PricingPlan:
    """What a rental costs: ``price`` once (the unlock), plus the segments by time and by
    distance, all in ``currency``. A plan without segments costs ``price`` in total."""

    plan_id: str
    name: str
    currency: str
    price: Decimal
    is_taxable: bool
    description: str
    per_min_pricing: tuple[PriceSegment, ...] = ()
    per_km_pricing: tuple[PriceSegment, ...] = ()
    surge_pricing: bool = False


@dataclass(frozen=True, slots=True)
class FeedPart:
    """One file read and validated, normalised; the field of its kind is set, the rest empty.

    The adapter keeps the latest good part of each file (a refused file keeps the previous
    one) and assembles the system from them (:func:`assemble`).
    """

    file: FeedFile
    system: SystemInformation | None = None
    station_information: tuple[StationInformation, ...] = ()
    station_status: tuple[StationStatus, ...] = ()
    vehicles: tuple[Vehicle, ...] = ()
    vehicle_types: tuple[VehicleType, ...] = ()
    pricing_plans: tuple[PricingPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class SharingSystem:
    """One operator's system as the planner uses it: stations with their status, the
    vehicles free to rent, their types and prices, and the header of every file read (so a
    stale file is visible). ``default_form_factor`` is the form factor of a vehicle whose type
    is unknown: a bicycle (the specification), or the operator's as configured.
    """

    system_id: str
    name: str
    operator: str | None
    timezone: str
    feed_version: str
    default_form_factor: str
    stations: tuple[Station, ...]
    vehicles: tuple[Vehicle, ...]
    vehicle_types: tuple[VehicleType, ...]
    pricing_plans: tuple[PricingPlan, ...]
    files: tuple[FeedFile, ...]

    def station(self, station_id: str) -> Station | None:
        """The station ``station_id``, if any."""
        return next((s for s in self.stations if s.station_id == station_id), None)

    def vehicle_type(self, vehicle_type_id: str | None) -> VehicleType | None:
        """The vehicle type ``vehicle_type_id``, if any."""
        return next((t for t in self.vehicle_types if t.vehicle_type_id == vehicle_type_id),
                    None)

    def pricing_plan(self, plan_id: str | None) -> PricingPlan | None:
        """The pricing plan ``plan_id``, if any."""
        return next((p for p in self.pricing_plans if p.plan_id == plan_id), None)

    def file(self, name: str) -> FeedFile | None:
        """The header of file ``name`` as last read, if it was read."""
        return next((f for f in self.files if f.name == name), None)

    def form_factor(self, vehicle_type_id: str | None) -> str:
        """The form factor of vehicles of type ``vehicle_type_id`` (bicycle, car...)."""
        kind = self.vehicle_type(vehicle_type_id)
        return kind.form_factor if kind is not None else self.default_form_factor

    def plan_for(self, vehicle: Vehicle) -> PricingPlan | None:
        """The plan a rental of ``vehicle`` is charged by: its own, else its type's default."""
        plan = self.pricing_plan(vehicle.pricing_plan_id)
        if plan is None:
            kind = self.vehicle_type(vehicle.vehicle_type_id)
            plan = self.pricing_plan(kind.default_pricing_plan_id if kind else None)
        return plan


# ---------------------------------------------------------------------------------------
# pricing


def trip_cost(plan: PricingPlan, minutes: Decimal | float, km: Decimal | float,
              ) -> Decimal:
    """The cost of a rental of ``minutes`` and ``km`` under ``plan``, in its currency, exact
    (the caller rounds for display), before any tax (``plan.is_taxable``).

    As the specification defines it: ``price`` once, plus every segment of
    ``per_min_pricing`` and ``per_km_pricing``. A segment charges ``rate`` at ``start``
    (inclusive) and again every ``interval`` after it, up to but not including ``end``; an
    ``interval`` of 0 charges once; without ``end`` it charges until the trip ends, in
    addition to later segments (they overlap and add up). A point is charged when the trip
    goes beyond it, so each started interval is charged: per minute from 0, a trip of 10:00
    pays 10 minutes and one of 10:01 pays 11; a segment starting at 30 is not charged for a
    trip of exactly 30:00 (the specification's "first half-hour" plan). Rates may be
    negative (a discount).
    """
    used_min = _trip_amount(minutes, "minutes")
    used_km = _trip_amount(km, "km")
    total = plan.price
    total += sum((_segment_cost(s, used_min) for s in plan.per_min_pricing), Decimal(0))
    total += sum((_segment_cost(s, used_km) for s in plan.per_km_pricing), Decimal(0))
    return total


def _trip_amount(value: Decimal | float, what: str) -> Decimal:
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or amount < 0 or amount >= _TRIP_LIMIT:
        raise PricingError(f"a trip of {value} {what} cannot be priced")
    return amount


def _segment_cost(segment: PriceSegment, used: Decimal) -> Decimal:
    """``rate`` times the charge points ``start + k * interval`` (k >= 0) below ``end`` that
    the trip went beyond."""
    limit = used if segment.end is None else min(used, Decimal(segment.end))
    reach = limit - segment.start
    if reach <= 0:
        return Decimal(0)
    if segment.interval == 0:
        return segment.rate
    whole, rest = divmod(reach, segment.interval)  # both exact: reach < 10**9 + start
    return segment.rate * (whole + (1 if rest else 0))


# ---------------------------------------------------------------------------------------
# reading files


def feed_version(document: object) -> str:
    """The GBFS version of ``gbfs.json``; a version the hub does not read is refused."""
    version = document.get("version") if isinstance(document, dict) else None
    if version not in VERSIONS:
        shown = version if isinstance(version, str) else type(version).__name__
        raise FeedError(f"gbfs.json: version: {str(shown)[:40]!r} is not one the hub reads "
                        f"({', '.join(VERSIONS)})")
    return str(version)


def parse_discovery(document: object, *, validate: SchemaCheck | None = None,
                    language: str = "de") -> Discovery:
    """``gbfs.json``: its version and the URL of every file (v2.3 lists them per language:
    ``language``'s, else the first)."""
    version = feed_version(document)
    if validate is not None:
        validate(version, DISCOVERY, document)
    read = _Reader(DISCOVERY, version, language)
    root = read.obj(document, "$")
    header = read.header(root)
    data = read.obj(read.field(root, "data", "$"), "data")
    if version == "2.3":
        if not data:
            raise read.fail("data", "no language lists feeds")
        key = _pick_key(list(data), language)
        feeds_at = f"data.{key}.feeds"
        feeds_value = read.field(read.obj(data[key], f"data.{key}"), "feeds", f"data.{key}")
    else:
        feeds_at = "data.feeds"
        feeds_value = read.field(data, "feeds", "data")
    feeds: list[tuple[str, str]] = []
    for i, entry in enumerate(read.arr(feeds_value, feeds_at)):
        at = f"{feeds_at}[{i}]"
        item = read.obj(entry, at)
        feeds.append((read.string(item, "name", at), read.string(item, "url", at)))
    return Discovery(version=version, file=header, feeds=tuple(feeds))


def parse_file(version: str, name: str, document: object, *,
               validate: SchemaCheck | None = None, language: str = "de") -> FeedPart:
    """File ``<name>.json`` of a GBFS ``version`` system, read into a :class:`FeedPart`;
    refused with a ``FeedError`` naming the file (and the path) if anything is wrong.
    ``language`` chooses among v3.0's translations (else the first is taken)."""
    if version not in FILES or name not in FILES[version]:
        raise FeedError(f"{name}.json: not a file the hub reads from GBFS {version}")
    if validate is not None:
        validate(version, name, document)
    read = _Reader(name, version, language)
    root = read.obj(document, "$")
    header = read.header(root)
    data = read.obj(read.field(root, "data", "$"), "data")
    if name == "system_information":
        return FeedPart(header, system=_system(read, data))
    if name == "station_information":
        return FeedPart(header, station_information=tuple(
            _station_information(read, item, at)
            for item, at in read.each(data, "stations")))
    if name == "station_status":
        return FeedPart(header, station_status=tuple(
            _station_status(read, item, at) for item, at in read.each(data, "stations")))
    if name == "vehicle_types":
        return FeedPart(header, vehicle_types=tuple(
            _vehicle_type(read, item, at) for item, at in read.each(data, "vehicle_types")))
    if name == "system_pricing_plans":
        return FeedPart(header, pricing_plans=tuple(
            _plan(read, item, at) for item, at in read.each(data, "plans")))
    key = "bikes" if version == "2.3" else "vehicles"
    return FeedPart(header, vehicles=tuple(
        _vehicle(read, item, at) for item, at in read.each(data, key)))


def assemble(version: str, parts: Mapping[str, FeedPart], *,
             default_form_factor: str | None = None) -> SharingSystem:
    """The system from the latest good part of each file: stations joined with their
    status, vehicles at a station placed at it. ``system_information`` and a status file
    (stations or vehicles) are needed; the others may be missing (no stations, no types, no
    prices). A status for a station that is not described is left out."""
    info_part = parts.get("system_information")
    if info_part is None or info_part.system is None:
        raise FeedError("system_information.json: not read yet")
    if "station_status" not in parts and vehicles_file(version) not in parts:
        raise FeedError(f"station_status.json and {vehicles_file(version)}.json: neither read "
                        "yet")
    info = info_part.system
    statuses = {s.station_id: s for s in _part(parts, "station_status").station_status}
    stations = tuple(_station(described, statuses.get(described.station_id))
                     for described in _part(parts, "station_information").station_information)
    where = {s.station_id: (s.lat, s.lon) for s in stations}
    vehicles = tuple(_placed(v, where) for v in _part(parts, vehicles_file(version)).vehicles)
    return SharingSystem(
        system_id=info.system_id, name=info.name, operator=info.operator,
        timezone=info.timezone, feed_version=version,
        default_form_factor=default_form_factor or DEFAULT_FORM_FACTOR,
        stations=stations, vehicles=vehicles,
        vehicle_types=_part(parts, "vehicle_types").vehicle_types,
        pricing_plans=_part(parts, "system_pricing_plans").pricing_plans,
        files=tuple(parts[name].file for name in FILES[version] if name in parts))


_NO_PART = FeedPart(FeedFile("", 0, datetime.fromtimestamp(0, UTC)))


def _part(parts: Mapping[str, FeedPart], name: str) -> FeedPart:
    return parts.get(name, _NO_PART)


def _station(described: StationInformation, status: StationStatus | None) -> Station:
    available = status.vehicle_types_available if status is not None else ()
    type_ids = tuple(sorted(set(described.vehicle_type_ids)
                            | {type_id for type_id, _ in available}))
    return Station(
        station_id=described.station_id, name=described.name, lat=described.lat,
        lon=described.lon, capacity=described.capacity,
        num_vehicles_available=status.num_vehicles_available if status else 0,
        num_docks_available=status.num_docks_available if status else None,
        is_installed=status.is_installed if status else False,
        is_renting=status.is_renting if status else False,
        is_returning=status.is_returning if status else False,
        is_virtual_station=described.is_virtual_station, rental_uris=described.rental_uris,
        vehicle_type_ids=type_ids, vehicle_types_available=available)


def _placed(vehicle: Vehicle, where: Mapping[str, tuple[float, float]]) -> Vehicle:
    if vehicle.lat is not None or vehicle.station_id is None \
            or vehicle.station_id not in where:
        return vehicle
    lat, lon = where[vehicle.station_id]
    return replace(vehicle, lat=lat, lon=lon)


def _system(read: _Reader, data: Mapping[str, object]) -> SystemInformation:
    if read.version == "2.3":
        languages: tuple[str, ...] = (read.string(data, "language", "data"),)
    else:
        languages = tuple(read.string_item(v, f"data.languages[{i}]") for i, v in
                          enumerate(read.arr(read.field(data, "languages", "data"),
                                             "data.languages")))
    return SystemInformation(
        system_id=read.string(data, "system_id", "data"),
        name=read.text(data, "name", "data"),
        operator=read.opt_text(data, "operator", "data"),
        timezone=read.string(data, "timezone", "data"),
        languages=languages)


def _station_information(read: _Reader, item: Mapping[str, object], at: str,
                         ) -> StationInformation:
    lat, lon = read.position(item, at)
    return StationInformation(
        station_id=read.string(item, "station_id", at),
        name=read.text(item, "name", at),
        lat=lat, lon=lon,
        capacity=read.opt_integer(item, "capacity", at),
        is_virtual_station=read.opt_boolean(item, "is_virtual_station", at) or False,
        rental_uris=read.rental_uris(item, at),
        vehicle_type_ids=_capacity_types(read, item, at))


def _capacity_types(read: _Reader, item: Mapping[str, object], at: str) -> tuple[str, ...]:
    """The vehicle types a station can hold: v2.3 maps them (``vehicle_capacity``,
    ``vehicle_type_capacity``), v3.0 lists them (``vehicle_types_capacity``,
    ``vehicle_docks_capacity``)."""
    found: set[str] = set()
    if read.version == "2.3":
        for key in ("vehicle_capacity", "vehicle_type_capacity"):
            if key in item:
                counts = read.obj(item[key], f"{at}.{key}")
                for type_id, count in counts.items():
                    read.number_value(count, f"{at}.{key}.{type_id}")
                    found.add(type_id)
        return tuple(sorted(found))
    for key in ("vehicle_types_capacity", "vehicle_docks_capacity"):
        if key not in item:
            continue
        for i, entry in enumerate(read.arr(item[key], f"{at}.{key}")):
            entry_at = f"{at}.{key}[{i}]"
            group = read.obj(entry, entry_at)
            read.integer(group, "count", entry_at)
            ids_at = f"{entry_at}.vehicle_type_ids"
            for j, listed in enumerate(read.arr(read.field(group, "vehicle_type_ids",
                                                           entry_at), ids_at)):
                found.add(read.string_item(listed, f"{ids_at}[{j}]"))
    return tuple(sorted(found))


def _station_status(read: _Reader, item: Mapping[str, object], at: str) -> StationStatus:
    count_key = "num_bikes_available" if read.version == "2.3" else "num_vehicles_available"
    available: list[tuple[str, int]] = []
    if "vehicle_types_available" in item:
        types_at = f"{at}.vehicle_types_available"
        for i, entry in enumerate(read.arr(item["vehicle_types_available"], types_at)):
            entry_at = f"{types_at}[{i}]"
            group = read.obj(entry, entry_at)
            available.append((read.string(group, "vehicle_type_id", entry_at),
                              read.count(group, "count", entry_at)))
    docks = read.opt_integer(item, "num_docks_available", at)
    if docks is not None and docks < 0:
        raise read.fail(f"{at}.num_docks_available", "is negative")
    return StationStatus(
        station_id=read.string(item, "station_id", at),
        num_vehicles_available=read.count(item, count_key, at),
        num_docks_available=docks,
        is_installed=read.boolean(item, "is_installed", at),
        is_renting=read.boolean(item, "is_renting", at),
        is_returning=read.boolean(item, "is_returning", at),
        vehicle_types_available=tuple(available))


def _vehicle(read: _Reader, item: Mapping[str, object], at: str) -> Vehicle:
    id_key = "bike_id" if read.version == "2.3" else "vehicle_id"
    station_id = read.opt_string(item, "station_id", at)
    if "lat" in item or "lon" in item or station_id is None:
        lat, lon = read.position(item, at)
        position: tuple[float | None, float | None] = (lat, lon)
    else:
        position = (None, None)
    range_m = read.opt_number(item, "current_range_meters", at)
    return Vehicle(
        vehicle_id=read.string(item, id_key, at), lat=position[0], lon=position[1],
        station_id=station_id,
        vehicle_type_id=read.opt_string(item, "vehicle_type_id", at),
        is_reserved=read.boolean(item, "is_reserved", at),
        is_disabled=read.boolean(item, "is_disabled", at),
        rental_uris=read.rental_uris(item, at),
        pricing_plan_id=read.opt_string(item, "pricing_plan_id", at),
        current_range_meters=None if range_m is None else float(range_m))


def _vehicle_type(read: _Reader, item: Mapping[str, object], at: str) -> VehicleType:
    plan_ids: tuple[str, ...] = ()
    if "pricing_plan_ids" in item:
        ids_at = f"{at}.pricing_plan_ids"
        plan_ids = tuple(read.string_item(v, f"{ids_at}[{i}]")
                         for i, v in enumerate(read.arr(item["pricing_plan_ids"], ids_at)))
    max_range = read.opt_number(item, "max_range_meters", at)
    return VehicleType(
        vehicle_type_id=read.string(item, "vehicle_type_id", at),
        form_factor=read.string(item, "form_factor", at),
        propulsion_type=read.string(item, "propulsion_type", at),
        name=read.opt_text(item, "name", at),
        max_range_meters=None if max_range is None else float(max_range),
        return_constraint=read.opt_string(item, "return_constraint", at),
        default_pricing_plan_id=read.opt_string(item, "default_pricing_plan_id", at),
        pricing_plan_ids=plan_ids)


def _plan(read: _Reader, item: Mapping[str, object], at: str) -> PricingPlan:
    price = read.decimal(read.field(item, "price", at), f"{at}.price", money=True)
    if price < 0:
        raise read.fail(f"{at}.price", "is negative")
    return PricingPlan(
        plan_id=read.string(item, "plan_id", at),
        name=read.text(item, "name", at),
        currency=read.string(item, "currency", at),
        price=price,
        is_taxable=read.boolean(item, "is_taxable", at),
        description=read.text(item, "description", at),
        per_min_pricing=_segments(read, item, "per_min_pricing", at),
        per_km_pricing=_segments(read, item, "per_km_pricing", at),
        surge_pricing=read.opt_boolean(item, "surge_pricing", at) or False)


def _segments(read: _Reader, item: Mapping[str, object], key: str, at: str,
              ) -> tuple[PriceSegment, ...]:
    if key not in item:
        return ()
    segments = []
    for i, entry in enumerate(read.arr(item[key], f"{at}.{key}")):
        seg_at = f"{at}.{key}[{i}]"
        seg = read.obj(entry, seg_at)
        segments.append(PriceSegment(
            start=read.count(seg, "start", seg_at),
            rate=read.decimal(read.field(seg, "rate", seg_at), f"{seg_at}.rate"),
            interval=read.count(seg, "interval", seg_at),
            end=None if "end" not in seg else read.count(seg, "end", seg_at)))
    return tuple(segments)


def _pick_key(keys: Sequence[str], language: str) -> str:
    """``language``, else a key of the same primary language (``de`` for ``de-DE``), else
    the first."""
    primary = language.split("-", maxsplit=1)[0].lower()
    for key in keys:
        if key == language:
            return key
    for key in keys:
        if key.split("-", maxsplit=1)[0].lower() == primary:
            return key
    return keys[0]


class _Reader:
    """Typed reads of one file's JSON: every value of the wrong type, missing or out of range
    is a ``FeedError`` naming the file and the path (``data.stations[3].lat``)."""

    def __init__(self, feed: str, version: str, language: str) -> None:
        self.feed = feed
        self.version = version
        self.language = language

    def fail(self, path: str, what: str) -> FeedError:
        return FeedError(f"{self.feed}.json: {path}: {what}")

    def obj(self, value: object, path: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, found {_kind(value)}")
        return value

    def arr(self, value: object, path: str) -> list[object]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected an array, found {_kind(value)}")
        return value

    def field(self, parent: Mapping[str, object], key: str, at: str) -> object:
        if key not in parent:
            raise self.fail(f"{at}.{key}", "is missing")
        return parent[key]

    def each(self, data: Mapping[str, object], key: str,
             ) -> list[tuple[dict[str, object], str]]:
        """The objects of array ``data.<key>`` with their paths."""
        items = self.arr(self.field(data, key, "data"), f"data.{key}")
        return [(self.obj(item, f"data.{key}[{i}]"), f"data.{key}[{i}]")
                for i, item in enumerate(items)]

    def header(self, root: Mapping[str, object]) -> FeedFile:
        if root.get("version") != self.version:
            raise self.fail("version", f"expected {self.version!r}, found "
                            f"{str(root.get('version'))[:40]!r}")
        ttl = self.count(root, "ttl", "$")
        stamp = self.field(root, "last_updated", "$")
        when: datetime | None = None
        if self.version == "2.3":
            seconds = self.integer_value(stamp, "last_updated")
            try:
                when = datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                when = None
        elif isinstance(stamp, str):
            when = rfc3339(stamp)
        if when is None:
            form = "POSIX seconds" if self.version == "2.3" else "an RFC 3339 date-time"
            raise self.fail("last_updated", f"expected {form}, found {str(stamp)[:40]!r}")
        return FeedFile(name=self.feed, ttl=ttl, last_updated=when)

    def string_item(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, found {_kind(value)}")
        return value

    def string(self, parent: Mapping[str, object], key: str, at: str) -> str:
        return self.string_item(self.field(parent, key, at), f"{at}.{key}")

    def opt_string(self, parent: Mapping[str, object], key: str, at: str) -> str | None:
        return self.string(parent, key, at) if key in parent else None

    def integer_value(self, value: object, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"expected an integer, found {_kind(value)}")
        if isinstance(value, float):
            if not value.is_integer():  # also refuses inf and nan
                raise self.fail(path, f"expected an integer, found {value!r}")
            return int(value)
        return value

    def integer(self, parent: Mapping[str, object], key: str, at: str) -> int:
        return self.integer_value(self.field(parent, key, at), f"{at}.{key}")

    def opt_integer(self, parent: Mapping[str, object], key: str, at: str) -> int | None:
        return self.integer(parent, key, at) if key in parent else None

    def count(self, parent: Mapping[str, object], key: str, at: str) -> int:
        """A non-negative integer."""
        value = self.integer(parent, key, at)
        if value < 0:
            raise self.fail(f"{at}.{key}", f"expected a non-negative integer, found {value}")
        return value

    def number_value(self, value: object, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"expected a number, found {_kind(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise self.fail(path, "expected a finite number")
        return number

    def opt_number(self, parent: Mapping[str, object], key: str, at: str) -> float | None:
        if key not in parent:
            return None
        return self.number_value(parent[key], f"{at}.{key}")

    def decimal(self, value: object, path: str, *, money: bool = False) -> Decimal:
        """A number as an exact decimal (a float by its shortest form: 0.1 is 0.1); v2.3
        also allows a price as a decimal string (``"2.00"``)."""
        if money and self.version == "2.3" and isinstance(value, str):
            if not re.fullmatch(r"\d{1,12}(\.\d{1,6})?", value, re.ASCII):
                raise self.fail(path, f"expected a decimal amount, found {value[:40]!r}")
            return Decimal(value)
        number = self.number_value(value, path)
        try:
            return Decimal(value if isinstance(value, int) else repr(number))
        except InvalidOperation as exc:  # not reached: number_value allows finite numbers
            raise self.fail(path, "expected a number") from exc

    def boolean(self, parent: Mapping[str, object], key: str, at: str) -> bool:
        value = self.field(parent, key, at)
        if not isinstance(value, bool):
            raise self.fail(f"{at}.{key}", f"expected a boolean, found {_kind(value)}")
        return value

    def opt_boolean(self, parent: Mapping[str, object], key: str, at: str) -> bool | None:
        return self.boolean(parent, key, at) if key in parent else None

    def position(self, item: Mapping[str, object], at: str) -> tuple[float, float]:
        lat = self.number_value(self.field(item, "lat", at), f"{at}.lat")
        lon = self.number_value(self.field(item, "lon", at), f"{at}.lon")
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise self.fail(at, f"({lat}, {lon}) is not a position on the Earth")
        return lat, lon

    def text(self, parent: Mapping[str, object], key: str, at: str) -> str:
        """A name or description: a string in v2.3, translations in v3.0 (the reader's
        language, else the same primary language, else the first)."""
        value = self.field(parent, key, at)
        path = f"{at}.{key}"
        if self.version == "2.3":
            return self.string_item(value, path)
        translations: dict[str, str] = {}
        for i, entry in enumerate(self.arr(value, path)):
            one = self.obj(entry, f"{path}[{i}]")
            translations.setdefault(self.string(one, "language", f"{path}[{i}]"),
                                    self.string(one, "text", f"{path}[{i}]"))
        if not translations:
            raise self.fail(path, "has no translation")
        return translations[_pick_key(list(translations), self.language)]

    def opt_text(self, parent: Mapping[str, object], key: str, at: str) -> str | None:
        return self.text(parent, key, at) if key in parent else None

    def rental_uris(self, item: Mapping[str, object], at: str) -> RentalUris:
        if "rental_uris" not in item:
            return RentalUris()
        uris = self.obj(item["rental_uris"], f"{at}.rental_uris")
        path = f"{at}.rental_uris"
        return RentalUris(android=self.opt_string(uris, "android", path),
                          ios=self.opt_string(uris, "ios", path),
                          web=self.opt_string(uris, "web", path))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

"""The GBFS reader, pure: v2.3 and v3.0 read into the same model, refusals that name the file
and the path, the specification's pricing rules, and random JSON that is read or refused
(never anything else).

The official schemas are loaded once per module (:class:`GbfsSchemas`); everything else
runs without I/O.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.mobility.domain.gbfs import (
    FILES,
    FeedPart,
    PriceSegment,
    PricingError,
    PricingPlan,
    assemble,
    parse_discovery,
    parse_file,
    rfc3339,
    trip_cost,
)
from central_hub.mobility.errors import FeedError, MobilityError
from central_hub.mobility.gbfs_schemas import GbfsSchemas
from edge_agent.errors import KasselError
from simulations.demo.bike_operator import advance_to, documents, initial_fleet

STAMP_30 = "2026-05-04T10:00:00+02:00"  # 08:00 UTC
STAMP_23 = int(datetime(2026, 5, 4, 8, 0, tzinfo=UTC).timestamp())
STOPS = [(f"s{i}", f"Haltestelle {i}", 51.31 + i * 0.002, 9.48 + i * 0.003) for i in range(9)]


@pytest.fixture(scope="module")
def schemas() -> GbfsSchemas:
    return GbfsSchemas()


def doc(version: str, data: dict[str, Any], ttl: int = 60) -> dict[str, Any]:
    stamp: object = STAMP_23 if version == "2.3" else STAMP_30
    return {"last_updated": stamp, "ttl": ttl, "version": version, "data": data}


def de_en(de: str, en: str) -> list[dict[str, str]]:
    return [{"text": en, "language": "en"}, {"text": de, "language": "de"}]


# a small v3.0 system: one docked station, one e-bike at it, one free-floating car
V30 = {
    "system_information": doc("3.0", {
        "system_id": "ks", "languages": ["en", "de"], "name": de_en("Rad Kassel", "Bike Kassel"),
        "opening_hours": "24/7", "feed_contact_email": "a@example.invalid",
        "timezone": "Europe/Berlin"}, ttl=3600),
    "station_information": doc("3.0", {"stations": [{
        "station_id": "hbf", "name": de_en("Hauptbahnhof", "Central Station"),
        "lat": 51.318, "lon": 9.489, "capacity": 12,
        "rental_uris": {"web": "https://x.example.invalid/hbf", "android": "rad://hbf"},
        "vehicle_docks_capacity": [{"vehicle_type_ids": ["eb"], "count": 12}]}]}),
    "station_status": doc("3.0", {"stations": [{
        "station_id": "hbf", "num_vehicles_available": 1, "num_docks_available": 11,
        "vehicle_types_available": [{"vehicle_type_id": "eb", "count": 1}],
        "is_installed": True, "is_renting": True, "is_returning": False,
        "last_reported": STAMP_30}]}, ttl=0),
    "vehicle_status": doc("3.0", {"vehicles": [
        {"vehicle_id": "v1", "station_id": "hbf", "is_reserved": False, "is_disabled": False,
         "vehicle_type_id": "eb", "current_range_meters": 12000},
        {"vehicle_id": "c7", "lat": 51.3, "lon": 9.5, "is_reserved": False,
         "is_disabled": False, "vehicle_type_id": "car", "pricing_plan_id": "car-day",
         "rental_uris": {"ios": "carapp://v/c7"}}]}),
    "vehicle_types": doc("3.0", {"vehicle_types": [
        {"vehicle_type_id": "eb", "form_factor": "bicycle", "propulsion_type": "electric_assist",
         "max_range_meters": 50000, "default_pricing_plan_id": "bike"},
        {"vehicle_type_id": "car", "form_factor": "car", "propulsion_type": "electric",
         "max_range_meters": 300000, "name": de_en("Kleinwagen", "Small car")}]}),
    "system_pricing_plans": doc("3.0", {"plans": [
        {"plan_id": "bike", "name": de_en("Rad", "Bike"), "currency": "EUR", "price": 1.0,
         "is_taxable": False, "description": de_en("1 € + 0,10 €/min", "1 € + 0.10 €/min"),
         "per_min_pricing": [{"start": 0, "rate": 0.1, "interval": 1}]},
        {"plan_id": "car-day", "name": de_en("Tag", "Day"), "currency": "EUR", "price": 39,
         "is_taxable": True, "description": de_en("Tagespreis", "Day rate")}]}),
}


def read_all(version: str, files: dict[str, Any], validate: GbfsSchemas | None
             ) -> dict[str, FeedPart]:
    return {name: parse_file(version, name, files[name], validate=validate)
            for name in FILES[version] if name in files}


def test_a_v30_system_is_read_with_translations_rfc3339_and_vehicles_placed(
        schemas: GbfsSchemas) -> None:
    system = assemble("3.0", read_all("3.0", V30, schemas))
    assert (system.name, system.feed_version, system.timezone) == ("Rad Kassel", "3.0",
                                                                   "Europe/Berlin")
    [station] = system.stations
    assert station.name == "Hauptbahnhof"  # German chosen, though listed second
    assert (station.num_vehicles_available, station.num_docks_available) == (1, 11)
    assert (station.is_renting, station.is_returning, station.capacity) == (True, False, 12)
    assert station.rental_uris.web == "https://x.example.invalid/hbf"
    assert station.rental_uris.ios is None
    assert station.vehicle_type_ids == ("eb",)
    docked, car = system.vehicles
    assert (docked.lat, docked.lon, docked.station_id) == (51.318, 9.489, "hbf")
    assert (car.lat, car.lon, car.station_id) == (51.3, 9.5, None)
    assert system.form_factor(car.vehicle_type_id) == "car"
    assert system.form_factor("unknown") == "bicycle"
    assert system.vehicle_type("car") is not None
    assert system.vehicle_type("car").name == "Kleinwagen"  # type: ignore[union-attr]
    # the plan: the vehicle's own, else its type's default
    assert system.plan_for(car).plan_id == "car-day"  # type: ignore[union-attr]
    assert system.plan_for(docked).plan_id == "bike"  # type: ignore[union-attr]
    status = system.file("station_status")
    assert status is not None
    assert status.ttl == 0
    assert status.last_updated == datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    assert system.file("system_information").ttl == 3600  # type: ignore[union-attr]


def test_a_v23_system_reads_strings_posix_seconds_and_bikes(schemas: GbfsSchemas) -> None:
    files = {
        "system_information": doc("2.3", {"system_id": "ks", "language": "de",
                                          "name": "Rad Kassel", "timezone": "Europe/Berlin"}),
        "station_information": doc("2.3", {"stations": [{
            "station_id": "hbf", "name": "Hauptbahnhof", "lat": 51.318, "lon": 9.489,
            "capacity": 12, "vehicle_type_capacity": {"b": 12}}]}),
        "station_status": doc("2.3", {"stations": [{
            "station_id": "hbf", "num_bikes_available": 3, "num_docks_available": 9,
            "is_installed": True, "is_renting": True, "is_returning": True,
            "last_reported": STAMP_23}]}),
        "free_bike_status": doc("2.3", {"bikes": [
            {"bike_id": "b1", "lat": 51.31, "lon": 9.47, "is_reserved": True,
             "is_disabled": False}]}),
        "system_pricing_plans": doc("2.3", {"plans": [
            {"plan_id": "p", "name": "Rad", "currency": "EUR", "price": 2.5,
             "is_taxable": False, "description": "2,50 € pro Fahrt"}]}),
    }
    system = assemble("2.3", read_all("2.3", files, schemas))
    [station] = system.stations
    assert (station.name, station.num_vehicles_available, station.vehicle_type_ids) == (
        "Hauptbahnhof", 3, ("b",))
    [bike] = system.vehicles
    assert (bike.vehicle_id, bike.is_reserved, bike.is_available) == ("b1", True, False)
    assert system.file("station_status").last_updated == datetime(  # type: ignore[union-attr]
        2026, 5, 4, 8, 0, tzinfo=UTC)
    # no vehicle_types.json: the specification's default, a bicycle
    assert system.vehicle_types == ()
    assert system.form_factor(None) == "bicycle"
    assert system.pricing_plan("p").price == Decimal("2.5")  # type: ignore[union-attr]


def test_a_v23_price_may_be_a_decimal_string_without_the_schema() -> None:
    plans = doc("2.3", {"plans": [{"plan_id": "p", "name": "Rad", "currency": "EUR",
                                   "price": "2.00", "is_taxable": False,
                                   "description": "d"}]})
    [plan] = parse_file("2.3", "system_pricing_plans", plans).pricing_plans
    assert plan.price == Decimal("2.00")
    plans["data"]["plans"][0]["price"] = "2,00"
    with pytest.raises(FeedError, match=r"data\.plans\[0\]\.price"):
        parse_file("2.3", "system_pricing_plans", plans)


def test_the_discovery_file_of_each_version(schemas: GbfsSchemas) -> None:
    feeds = [{"name": "system_information", "url": "https://x/si.json"},
             {"name": "vehicle_status", "url": "https://x/vs.json"}]
    v30 = parse_discovery(doc("3.0", {"feeds": feeds}), validate=schemas)
    assert (v30.version, v30.url("vehicle_status"), v30.url("station_status")) == (
        "3.0", "https://x/vs.json", None)
    by_language = {
        "en": {"feeds": [{"name": "system_information", "url": "https://x/en/si.json"},
                         {"name": "free_bike_status", "url": "https://x/en/fb.json"}]},
        "de": {"feeds": [{"name": "system_information", "url": "https://x/de/si.json"},
                         {"name": "free_bike_status", "url": "https://x/de/fb.json"}]}}
    v23 = parse_discovery(doc("2.3", by_language), validate=schemas, language="de")
    assert v23.url("free_bike_status") == "https://x/de/fb.json"
    with pytest.raises(FeedError, match=r"gbfs\.json: version: '1\.1' is not one"):
        parse_discovery({**doc("3.0", {"feeds": feeds}), "version": "1.1"})


def test_the_simulated_operator_publishes_the_same_system_in_both_versions(
        schemas: GbfsSchemas) -> None:
    fleet = advance_to(initial_fleet(STOPS, seed=7), 1800)
    assert fleet == advance_to(initial_fleet(STOPS, seed=7), 1800)  # seeded: the same day
    assert fleet != advance_to(initial_fleet(STOPS, seed=8), 1800)
    assert any(b.rented for b in fleet.bikes)
    assert any(b.trips > 0 for b in fleet.bikes)  # rented and returned
    started = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    systems = {}
    for version in ("2.3", "3.0"):
        files = documents(fleet, version=version, base_url=f"http://op/gbfs/v{version}",
                          started=started)
        discovery = parse_discovery(files["gbfs"], validate=schemas)
        assert {name for name, _ in discovery.feeds} >= set(FILES[version])
        systems[version] = assemble(version, read_all(version, files, schemas))
    old, new = systems["2.3"], systems["3.0"]
    assert len(new.stations) == len(STOPS)
    assert new.vehicles  # some parked
    assert (old.stations, old.vehicles, old.pricing_plans, old.vehicle_types) == (
        new.stations, new.vehicles, new.pricing_plans, new.vehicle_types)
    assert [f.last_updated for f in old.files] == [f.last_updated for f in new.files]
    assert all(f.last_updated == datetime(2026, 5, 4, 8, 30, tzinfo=UTC) for f in new.files)
    # the demo's pricing: 1 € + 0.10 €/started minute; the e-bike 0.20 €/min then 3 €/30 min
    bike, ebike = new.pricing_plan("rad"), new.pricing_plan("e-rad")
    assert bike is not None
    assert ebike is not None
    assert trip_cost(bike, 12, 2) == Decimal("2.20")
    assert trip_cost(ebike, 45, 5) == Decimal("10.00")


# --------------------------------------------------------------------------- refusals


def test_a_schema_error_names_the_file_and_the_path(schemas: GbfsSchemas) -> None:
    status = json.loads(json.dumps(V30["station_status"]))
    status["data"]["stations"][0]["num_vehicles_available"] = -1
    with pytest.raises(FeedError) as caught:
        parse_file("3.0", "station_status", status, validate=schemas)
    assert str(caught.value).startswith(
        "station_status.json: schema error at $.data.stations[0].num_vehicles_available")
    assert "minimum" in str(caught.value)
    assert isinstance(caught.value, KasselError)
    assert isinstance(caught.value, MobilityError)


def test_a_v23_file_is_refused_as_v30_and_a_bad_date_time_by_the_schema(
        schemas: GbfsSchemas) -> None:
    info = {"system_id": "ks", "language": "de", "name": "Rad", "timezone": "Europe/Berlin"}
    with pytest.raises(FeedError, match=r"^system_information\.json: schema error at \$"):
        parse_file("3.0", "system_information", doc("2.3", info), validate=schemas)
    late = {**V30["station_status"], "last_updated": "2026-05-04 10:00"}
    with pytest.raises(FeedError, match=r"schema error at \$\.last_updated .*date-time"):
        parse_file("3.0", "station_status", late, validate=schemas)


@pytest.mark.parametrize(("change", "path"), [
    (lambda s: s.update(lat=float("nan")), r"data\.stations\[0\]\.lat: expected a finite"),
    (lambda s: s.update(lat=91.0), r"data\.stations\[0\]: \(91\.0, 9\.489\) is not a"),
    (lambda s: s.update(name=[]), r"data\.stations\[0\]\.name: has no translation"),
    (lambda s: s.update(capacity=True), r"data\.stations\[0\]\.capacity: expected an int"),
    (lambda s: s.pop("station_id"), r"data\.stations\[0\]\.station_id: is missing"),
])
def test_the_reader_refuses_what_it_cannot_use_even_without_a_schema(
        change: Any, path: str) -> None:
    info = json.loads(json.dumps(V30["station_information"]))
    change(info["data"]["stations"][0])
    with pytest.raises(FeedError, match=rf"^station_information\.json: {path}"):
        parse_file("3.0", "station_information", info)


def test_an_rfc3339_time_needs_its_offset() -> None:
    assert rfc3339("2026-05-04T10:00:00.5+02:00") == datetime(2026, 5, 4, 8, 0, 0, 500000,
                                                               tzinfo=UTC)
    assert rfc3339("2026-05-04t08:00:00z") == datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    assert rfc3339("2026-05-04T10:00:00") is None
    assert rfc3339("20260504T100000Z") is None
    assert rfc3339("9999-12-31T23:59:59-23:59") is None  # beyond datetime's range in UTC


def test_a_system_needs_its_information_and_a_status() -> None:
    parts = read_all("3.0", V30, None)
    with pytest.raises(FeedError, match=r"system_information\.json: not read yet"):
        assemble("3.0", {k: v for k, v in parts.items() if k != "system_information"})
    with pytest.raises(FeedError, match="neither read"):
        assemble("3.0", {"system_information": parts["system_information"]})
    unknown = {k: v for k, v in parts.items() if k != "station_information"}
    assert assemble("3.0", unknown, default_form_factor="car").stations == ()


# --------------------------------------------------------------------------- pricing


def plan(price: str, per_min: list[PriceSegment] | None = None,
         per_km: list[PriceSegment] | None = None) -> PricingPlan:
    return PricingPlan("p", "P", "EUR", Decimal(price), False, "",
                       tuple(per_min or ()), tuple(per_km or ()))


def seg(start: int, rate: str, interval: int, end: int | None = None) -> PriceSegment:
    return PriceSegment(start, Decimal(rate), interval, end)


def test_each_started_minute_is_charged_from_start_up_to_end_exclusive() -> None:
    per_minute = plan("1", [seg(0, "0.10", 1)])
    assert trip_cost(per_minute, 0, 0) == Decimal("1")
    assert trip_cost(per_minute, 10, 0) == Decimal("2.00")
    assert trip_cost(per_minute, Decimal("10.01"), 0) == Decimal("2.10")
    capped = plan("0", [seg(0, "1", 1, end=20)])
    assert trip_cost(capped, Decimal("19.5"), 0) == 20  # minute 19 is the last charged
    assert trip_cost(capped, 25, 0) == 20


def test_the_specifications_half_hour_then_per_minute_plan() -> None:
    # gbfs.md (master), system_pricing_plans Example 1: $2 the first half-hour, $3 more for
    # the second, then $0.10 per minute beyond one hour
    example = plan("2.00", [seg(30, "3.00", 0, end=60), seg(60, "0.10", 1)])
    assert trip_cost(example, 30, 0) == Decimal("2.00")
    assert trip_cost(example, 31, 0) == Decimal("5.00")
    assert trip_cost(example, 60, 0) == Decimal("5.00")
    assert trip_cost(example, 61, 0) == Decimal("5.10")
    assert trip_cost(example, 90, 0) == Decimal("8.00")


def test_the_specifications_overlapping_per_km_segments() -> None:
    # gbfs.md v3.0, system_pricing_plans Example 1: base price up to 10 km, $1/km to 25 km,
    # then $0.50/km and an extra $3 every 5 km, both at once
    example = plan("2.00", per_km=[seg(10, "1.00", 1, end=25), seg(25, "0.50", 1),
                                   seg(25, "3.00", 5)])
    assert trip_cost(example, 0, 10) == Decimal("2.00")
    assert trip_cost(example, 0, Decimal("10.5")) == Decimal("3.00")
    assert trip_cost(example, 0, 25) == Decimal("17.00")
    assert trip_cost(example, 0, 26) == Decimal("20.50")
    assert trip_cost(example, 0, 30) == Decimal("22.50")
    assert trip_cost(example, 0, Decimal("30.1")) == Decimal("26.00")


def test_time_and_distance_add_up_and_a_negative_rate_is_a_discount() -> None:
    # gbfs.md v3.0 Example 2: $3 unlock, $0.25/km and $0.50/min, concurrently
    both = plan("3.00", [seg(0, "0.50", 1)], [seg(0, "0.25", 1)])
    assert trip_cost(both, 10, 4) == Decimal("9.00")
    discount = plan("5", [seg(0, "0.2", 1), seg(0, "-2", 0)])
    assert trip_cost(discount, 5, 0) == Decimal("4.0")
    assert trip_cost(discount, 0, 0) == Decimal("5")


@pytest.mark.parametrize("minutes", [-1, float("nan"), float("inf"), Decimal("1e12")])
def test_a_trip_that_is_no_trip_is_not_priced(minutes: Decimal | float) -> None:
    with pytest.raises(PricingError, match="cannot be priced"):
        trip_cost(plan("1", [seg(0, "0.1", 1)]), minutes, 0)


def charged_points(segment: PriceSegment, used: Decimal) -> int:
    """An oracle: walk the charge points one by one."""
    points, point = 0, segment.start
    while point < used and (segment.end is None or point < segment.end):
        points += 1
        if segment.interval == 0:
            break
        point += segment.interval
    return points


segments = st.builds(seg, st.integers(0, 40), st.sampled_from(["0.05", "0.5", "2", "-0.3"]),
                     st.integers(0, 15), st.none() | st.integers(0, 60))


@settings(max_examples=60, deadline=None)
@given(st.lists(segments, max_size=4), st.lists(segments, max_size=3),
       st.decimals(0, 120, places=2), st.decimals(0, 50, places=1))
def test_trip_cost_agrees_with_walking_the_charge_points(
        per_min: list[PriceSegment], per_km: list[PriceSegment], minutes: Decimal,
        km: Decimal) -> None:
    expected = Decimal("1.5")
    expected += sum((s.rate * charged_points(s, minutes) for s in per_min), Decimal(0))
    expected += sum((s.rate * charged_points(s, km) for s in per_km), Decimal(0))
    assert trip_cost(plan("1.5", per_min, per_km), minutes, km) == expected


# --------------------------------------------------------------------------- robustness

KEYS = sorted({"last_updated", "ttl", "version", "data", "stations", "vehicles", "bikes",
               "plans", "vehicle_types", "feeds", "station_id", "vehicle_id", "bike_id", "name",
               "text", "language", "languages", "lat", "lon", "capacity", "system_id",
               "timezone", "num_vehicles_available", "num_bikes_available", "is_installed",
               "is_renting", "is_returning", "is_reserved", "is_disabled", "last_reported",
               "price", "currency", "per_min_pricing", "start", "rate", "interval", "end",
               "form_factor", "propulsion_type", "vehicle_type_ids", "count", "rental_uris",
               "web", "url", "de", "vehicle_types_available", "vehicle_type_capacity",
               "vehicle_docks_capacity", "plan_id", "is_taxable", "description"})
scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from(["2.3", "3.0", STAMP_30, "de", "x", "", "2.00"]) | st.text(max_size=5))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner, max_size=6),
    max_leaves=20)
version_files = st.sampled_from([(v, n) for v in FILES for n in FILES[v]])


@settings(max_examples=80, deadline=None)
@given(version_files, json_values)
def test_random_json_is_read_or_refused(file: tuple[str, str], document: object) -> None:
    version, name = file
    try:
        part = parse_file(version, name, document)
    except FeedError as exc:
        assert f"{name}.json" in str(exc)
    else:
        assert part.file.name == name


@settings(max_examples=50, deadline=None)
@given(version_files, json_values, st.data())
def test_random_json_under_a_real_header_is_read_or_refused_with_the_schema(
        schemas: GbfsSchemas, file: tuple[str, str], data_value: object,
        data: st.DataObject) -> None:
    version, name = file
    document = data.draw(st.sampled_from([
        doc(version, {"x": data_value}), {**doc(version, {}), "data": data_value},
        doc(version, {"stations": [data_value]}), doc(version, {"plans": [data_value]})]))
    try:
        part = parse_file(version, name, document, validate=schemas)
    except FeedError as exc:
        assert str(exc).startswith(f"{name}.json: ")
    else:
        assert part.file.ttl == 60


@settings(max_examples=40, deadline=None)
@given(json_values)
def test_a_random_discovery_file_is_read_or_refused(document: object) -> None:
    try:
        discovery = parse_discovery(document)
    except FeedError as exc:
        assert "gbfs.json" in str(exc)
    else:
        assert discovery.version in FILES

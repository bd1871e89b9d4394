"""A small synthetic GTFS Fares v2 table for the Kassel demo feed, for the tests and the demo.

WHY synthetic: the real NVV tariff is large and published under terms of its own; the
mobility service's fare rules (:mod:`central_hub.mobility.domain.fares`) need a table whose
every price is known, shaped like the real thing (the city zone, neighbouring zones, a
single ticket valid for transfers within a time limit, children and an app discount), so a
test can say "two trams within 60 minutes cost one ticket".

**Every number here is invented**, as are the zones outside Kassel and their stops: "Tarifzone
4000" is the name NVV uses for Kassel, but the prices below are not NVV's. The stops are those
of :mod:`simulations.gtfs_synth` (all in zone 4000) plus two invented regional stops that
exist only in ``stop_areas.txt`` (a leg may also name an area directly)::

    product          adult paper   adult app   child paper   child app   valid
    Einzelfahrt 4000      3.50        3.30          2.10         2.00      60 min, transfers
    Einzelfahrt 1 Zone    2.90         -             -            -        90 min, transfers
    (one zone outside Kassel)
    Einzelfahrt 2 Zonen   4.90        4.70          2.90          -        90 min, transfers
    Einzelfahrt 3 Zonen   6.80         -             -            -        90 min, transfers

Merge with :func:`simulations.gtfs_synth.feed_files` for one feed, or parse alone with
``parse(fare_files(), timezone="Europe/Berlin")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from simulations.gtfs_synth import (
    DEFAULT_ROUTES,
    RouteSpec,
    csv_text,
    feed_files,
    write_zip,
)

CITY = "4000"
SOUTH = "4101"  # invented
NORTH = "4201"  # invented
#: invented regional stops, one per invented zone (not in the synthetic timetable)
REGIONAL_STOPS = {"R-SUED-01": SOUTH, "R-NORD-01": NORTH}

#: (product id, name, rider category, medium, amount) -- invented prices, EUR
PRODUCTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("einzel_4000", "Einzelfahrt Tarifzone 4000", "erwachsene", "papier", "3.50"),
    ("einzel_4000", "Einzelfahrt Tarifzone 4000", "erwachsene", "app", "3.30"),
    ("einzel_4000", "Einzelfahrt Tarifzone 4000 Kind", "kinder", "papier", "2.10"),
    ("einzel_4000", "Einzelfahrt Tarifzone 4000 Kind", "kinder", "app", "2.00"),
    ("einzel_1", "Einzelfahrt 1 Zone Umland", "erwachsene", "papier", "2.90"),
    ("einzel_2", "Einzelfahrt 2 Zonen", "erwachsene", "papier", "4.90"),
    ("einzel_2", "Einzelfahrt 2 Zonen", "erwachsene", "app", "4.70"),
    ("einzel_2", "Einzelfahrt 2 Zonen Kind", "kinder", "papier", "2.90"),
    ("einzel_3", "Einzelfahrt 3 Zonen", "erwachsene", "papier", "6.80"),
)


def _stop_ids(spec: RouteSpec) -> list[str]:
    # the stop ids simulations.gtfs_synth gives a route's stops
    count = len(spec.named) if spec.named else spec.stops
    return [f"S{spec.route_id}-{i + 1:02d}" for i in range(count)]


def fare_files(routes: Sequence[RouteSpec] = DEFAULT_ROUTES, *,
               city_minutes: int = 60, regional_minutes: int = 90) -> dict[str, str]:
    """The fare files as ``{file name: CSV text}`` (deterministic): every route in network
    ``nvv``, its stops in zone 4000; a ticket is valid for any number of transfers within
    ``city_minutes`` (city) or ``regional_minutes`` (across zones) of its first departure."""
    stops = sorted({sid for spec in routes for sid in _stop_ids(spec)})
    zones = (CITY, SOUTH, NORTH)

    leg_rules = []
    for a in zones:
        for b in zones:
            if a == b:
                group, product = ("stadt", "einzel_4000") if a == CITY else ("region", "einzel_1")
            else:
                group, product = "region", "einzel_2" if CITY in (a, b) else "einzel_3"
            leg_rules.append([group, "nvv", a, b, product])
    return {
        "areas.txt": csv_text(["area_id", "area_name"], [
            [CITY, "Kassel (Tarifzone 4000)"], [SOUTH, "Umland Süd (invented)"],
            [NORTH, "Umland Nord (invented)"]]),
        "stop_areas.txt": csv_text(["area_id", "stop_id"],
                                   [[CITY, s] for s in stops]
                                   + [[z, s] for s, z in sorted(REGIONAL_STOPS.items())]),
        "networks.txt": csv_text(["network_id", "network_name"], [["nvv", "NVV (synthetic)"]]),
        "route_networks.txt": csv_text(["network_id", "route_id"],
                                       [["nvv", spec.route_id] for spec in routes]),
        "rider_categories.txt": csv_text(
            ["rider_category_id", "rider_category_name", "is_default_fare_category",
             "eligibility_url"],
            [["erwachsene", "Erwachsene", 1, ""],
             ["kinder", "Kinder (6 bis 14 Jahre)", 0, "https://example.invalid/kinder"]]),
        "fare_media.txt": csv_text(["fare_media_id", "fare_media_name", "fare_media_type"],
                                   [["papier", "Papierfahrschein", 1],
                                    ["app", "Kassel mobil App (invented)", 4]]),
        "fare_products.txt": csv_text(
            ["fare_product_id", "fare_product_name", "rider_category_id", "fare_media_id",
             "amount", "currency"],
            [[pid, name, rider, media, amount, "EUR"]
             for pid, name, rider, media, amount in PRODUCTS]),
        "fare_leg_rules.txt": csv_text(
            ["leg_group_id", "network_id", "from_area_id", "to_area_id", "fare_product_id"],
            leg_rules),
        "fare_transfer_rules.txt": csv_text(
            ["from_leg_group_id", "to_leg_group_id", "transfer_count", "duration_limit",
             "duration_limit_type", "fare_transfer_type", "fare_product_id"],
            [["stadt", "stadt", -1, city_minutes * 60, 1, 0, ""],
             ["region", "region", -1, regional_minutes * 60, 1, 0, ""]]),
    }


def write_feed_with_fares(path: str | Path, routes: Sequence[RouteSpec] = DEFAULT_ROUTES,
                          **kwargs: object) -> Path:
    """Write the synthetic timetable (:func:`simulations.gtfs_synth.feed_files`, ``kwargs``
    passed on) with these fare files in one GTFS zip, as a transport association publishes
    it: the hub prices tickets from its ``gtfs.static`` zip then."""
    files = feed_files(routes, **kwargs)  # type: ignore[arg-type]
    return write_zip(path, files | fare_files(routes))


def write_fares(path: str | Path, routes: Sequence[RouteSpec] = DEFAULT_ROUTES) -> Path:
    """Write only the fare files as a zip of their own (``mobility.bookings.fares``), for a
    hub whose timetable zip has none."""
    return write_zip(path, fare_files(routes))

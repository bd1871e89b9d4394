"""Fares from GTFS Fares v2: the synthetic Kassel table, and the spec's matching rules on small
hand-written tables (empty fields with and without ``rule_priority``, timeframes, the three
``fare_transfer_type`` values, ``transfer_count``, duration limits), and "no fare" rather
than an invented price."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from central_hub.mobility.domain.fares import (
    FareError,
    FareLeg,
    FareModel,
    FareResult,
    NoFare,
    minor_units,
    parse,
    price,
)
from simulations.fares_synth import fare_files

BERLIN = ZoneInfo("Europe/Berlin")
T = datetime(2025, 5, 6, 8, 0, tzinfo=BERLIN)  # a Tuesday


@pytest.fixture(scope="module")
def kassel() -> FareModel:
    return parse(fare_files(), timezone="Europe/Berlin")


def _leg(a: str, b: str, minutes: float = 0, route: str = "1", **kw: object) -> FareLeg:
    return FareLeg(a, b, T + timedelta(minutes=minutes), route_id=route, **kw)  # type: ignore[arg-type]


def _total(result: FareResult | NoFare) -> Decimal:
    assert isinstance(result, FareResult), result
    return result.total


def test_a_city_single_ticket(kassel: FareModel) -> None:
    result = price(kassel, [_leg("S1-01", "S1-05")], fare_media_id="papier")
    assert isinstance(result, FareResult)
    assert (result.total, result.currency) == (Decimal("3.50"), "EUR")
    assert [(p.product.fare_product_id, p.legs) for p in result.products] == [
        ("einzel_4000", (0,))]
    assert minor_units(result.total, result.currency) == 350


def test_the_cheapest_medium_when_none_is_asked_and_the_child_fare(kassel: FareModel) -> None:
    assert _total(price(kassel, [_leg("S1-01", "S1-05")])) == Decimal("3.30")  # the app
    assert _total(price(kassel, [_leg("S1-01", "S1-05")], rider_category_id="kinder",
                        fare_media_id="papier")) == Decimal("2.10")


def test_one_ticket_covers_transfers_within_60_minutes(kassel: FareModel) -> None:
    legs = [_leg("S1-01", "S1-06"), _leg("S4-05", "S4-08", 20, "4"),
            _leg("S4-08", "S7-03", 59, "7")]
    result = price(kassel, legs, fare_media_id="papier")
    assert isinstance(result, FareResult)
    assert result.total == Decimal("3.50")
    assert [p.legs for p in result.products] == [(0, 1, 2)]


def test_a_leg_after_60_minutes_needs_a_new_ticket(kassel: FareModel) -> None:
    legs = [_leg("S1-01", "S1-06"), _leg("S4-05", "S4-08", 30, "4"),
            _leg("S4-08", "S7-03", 61, "7")]
    result = price(kassel, legs, fare_media_id="papier")
    assert isinstance(result, FareResult)
    assert result.total == Decimal("7.00")
    assert [p.legs for p in result.products] == [(0, 1), (2,)]


def test_zones_priced_by_departure_and_arrival_area(kassel: FareModel) -> None:
    to_south = price(kassel, [_leg("S1-01", "R-SUED-01")], fare_media_id="papier")
    north_south = price(kassel, [_leg("4201", "4101")], fare_media_id="papier")
    assert (_total(to_south), _total(north_south)) == (Decimal("4.90"), Decimal("6.80"))


def test_no_rule_means_no_fare_never_a_guess(kassel: FareModel) -> None:
    unknown_stop = price(kassel, [_leg("S1-01", "Nowhere")])
    assert isinstance(unknown_stop, NoFare) and unknown_stop.leg == 0
    other_network = price(kassel, [_leg("S1-01", "S1-05"),
                                   FareLeg("S1-05", "S1-06", T, network_id="db-fernverkehr")])
    assert isinstance(other_network, NoFare) and other_network.leg == 1
    # a child cannot buy the 3-zone ticket (no child product): no fare, not the adult price
    child = price(kassel, [_leg("4201", "4101")], rider_category_id="kinder")
    assert isinstance(child, NoFare)
    assert isinstance(price(kassel, []), NoFare)


# --- the spec's rules on small tables ------------------------------------------------------

PRODUCTS = """fare_product_id,fare_product_name,amount,currency
a,A,2.00,EUR
b,B,3.00,EUR
c,C,5.00,EUR
ab,Transfer,1.00,EUR
peak,Peak,4.00,EUR
"""


def _model(leg_rules: str, transfer_rules: str = "", **extra: str) -> FareModel:
    files = {"fare_products.txt": PRODUCTS, "fare_leg_rules.txt": leg_rules,
             "areas.txt": "area_id\nx\ny\nz\n", **extra}
    if transfer_rules:
        files["fare_transfer_rules.txt"] = transfer_rules
    return parse(files, timezone="Europe/Berlin")


def test_an_empty_field_without_rule_priority_means_every_value_no_rule_names() -> None:
    model = _model("network_id,from_area_id,to_area_id,fare_product_id\n"
                   "n,x,,a\n"    # from x to anywhere not named as a to_area
                   "n,x,y,b\n")  # from x to y: y is named, so only this rule matches
    assert _total(price(model, [FareLeg("x", "z", T, network_id="n")])) == Decimal("2.00")
    assert _total(price(model, [FareLeg("x", "y", T, network_id="n")])) == Decimal("3.00")
    assert isinstance(price(model, [FareLeg("y", "x", T, network_id="n")]), NoFare)


def test_with_rule_priority_an_empty_field_matches_anything_and_the_highest_wins() -> None:
    model = _model("network_id,from_area_id,to_area_id,fare_product_id,rule_priority\n"
                   "n,,,a,0\n"
                   "n,x,y,c,1\n")
    assert _total(price(model, [FareLeg("x", "y", T, network_id="n")])) == Decimal("5.00")
    assert _total(price(model, [FareLeg("y", "x", T, network_id="n")])) == Decimal("2.00")


def test_timeframes_pick_the_peak_fare_by_local_time_and_service_day() -> None:
    model = _model(
        "network_id,from_timeframe_group_id,fare_product_id,rule_priority\n"
        "n,,a,0\nn,rush,peak,1\n",
        **{"timeframes.txt": "timeframe_group_id,start_time,end_time,service_id\n"
                             "rush,07:00:00,09:00:00,weekdays\n",
           "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,"
                           "sunday,start_date,end_date\nweekdays,1,1,1,1,1,0,0,20250101,"
                           "20251231\n"})
    tuesday_8 = FareLeg("x", "y", T, network_id="n")
    tuesday_9 = FareLeg("x", "y", T + timedelta(hours=1), network_id="n")
    saturday_8 = FareLeg("x", "y", T + timedelta(days=4), network_id="n")
    utc_6 = FareLeg("x", "y", T.astimezone(ZoneInfo("UTC")), network_id="n")  # 08:00 local
    assert [_total(price(model, [leg])) for leg in (tuesday_8, tuesday_9, saturday_8, utc_6)] \
        == [Decimal("4.00"), Decimal("2.00"), Decimal("2.00"), Decimal("4.00")]


LEGS = "leg_group_id,network_id,fare_product_id\ng1,n1,a\ng2,n2,b\n"


def _two_legs(minutes: int = 10) -> list[FareLeg]:
    return [FareLeg("x", "y", T, network_id="n1"),
            FareLeg("y", "z", T + timedelta(minutes=minutes), network_id="n2")]


@pytest.mark.parametrize(("transfer_type", "total", "products"), [
    (0, "3.00", ["a", "ab"]),        # A + AB
    (1, "6.00", ["a", "ab", "b"]),   # A + AB + B
    (2, "1.00", ["ab"]),             # AB
])
def test_the_three_fare_transfer_types(transfer_type: int, total: str,
                                       products: list[str]) -> None:
    model = _model(LEGS, "from_leg_group_id,to_leg_group_id,fare_transfer_type,fare_product_id\n"
                         f"g1,g2,{transfer_type},ab\n")
    result = price(model, _two_legs())
    assert isinstance(result, FareResult)
    assert result.total == Decimal(total)
    assert [p.product.fare_product_id for p in result.products] == products


def test_a_transfer_rule_does_not_apply_in_reverse_or_beyond_its_duration() -> None:
    model = _model(LEGS, "from_leg_group_id,to_leg_group_id,duration_limit,"
                         "duration_limit_type,fare_transfer_type,fare_product_id\n"
                         "g1,g2,1800,1,0,\n")
    assert _total(price(model, _two_legs(30))) == Decimal("2.00")    # free transfer
    assert _total(price(model, _two_legs(31))) == Decimal("5.00")    # too late: A + B
    reverse = [FareLeg("y", "z", T, network_id="n2"),
               FareLeg("x", "y", T + timedelta(minutes=5), network_id="n1")]
    assert _total(price(model, reverse)) == Decimal("5.00")


def test_transfer_count_limits_how_many_transfers_one_ticket_covers() -> None:
    model = _model("leg_group_id,network_id,fare_product_id\ng,n,a\n",
                   "from_leg_group_id,to_leg_group_id,transfer_count,fare_transfer_type\n"
                   "g,g,1,0\n")
    legs = [FareLeg("x", "y", T + timedelta(minutes=m), network_id="n") for m in (0, 10, 20)]
    result = price(model, legs)
    assert isinstance(result, FareResult)
    assert result.total == Decimal("4.00")  # one transfer free, the second needs a new ticket
    assert [p.legs for p in result.products] == [(0, 1), (2,)]


def test_an_arrival_based_duration_needs_the_arrival() -> None:
    model = _model(LEGS, "from_leg_group_id,to_leg_group_id,duration_limit,"
                         "duration_limit_type,fare_transfer_type\ng1,g2,3600,0,0\n")
    with pytest.raises(FareError, match="arrival"):
        price(model, _two_legs())
    legs = [FareLeg("x", "y", T, network_id="n1", arrival=T + timedelta(minutes=5)),
            FareLeg("y", "z", T + timedelta(minutes=10), network_id="n2",
                    arrival=T + timedelta(minutes=70))]
    assert _total(price(model, legs)) == Decimal("5.00")  # arrives 70 min after: A + B


@pytest.mark.parametrize(("files", "message"), [
    ({"fare_products.txt": "fare_product_id,amount,currency\na,zwei,EUR\n"}, "malformed"),
    ({"fare_products.txt": "fare_product_id,amount\na,2.00\n"}, "malformed"),
    ({"fare_leg_rules.txt": "fare_product_id\nmissing\n"}, "unknown product"),
    ({"fare_products.txt": PRODUCTS, "fare_leg_rules.txt": "fare_product_id\na\n",
      "fare_transfer_rules.txt": "from_leg_group_id,to_leg_group_id,fare_transfer_type\n"
                                 "g,g,0\n"}, "transfer_count"),
])
def test_malformed_files_are_refused_naming_the_problem(files: dict[str, str],
                                                        message: str) -> None:
    with pytest.raises(FareError, match=message):
        parse(files, timezone="Europe/Berlin")


def test_the_time_zone_comes_from_the_agency_or_must_be_given() -> None:
    agency = "agency_id,agency_name,agency_url,agency_timezone\nk,K,https://k,Europe/Berlin\n"
    assert parse({"agency.txt": agency}).timezone == "Europe/Berlin"
    with pytest.raises(FareError, match="time zone"):
        parse({})


def test_minor_units_refuse_fractions() -> None:
    assert minor_units(Decimal("3.5"), "EUR") == 350
    assert minor_units(Decimal("300"), "JPY") == 300
    with pytest.raises(FareError):
        minor_units(Decimal("3.505"), "EUR")


def test_every_stop_of_the_synthetic_timetable_is_in_the_city_zone(kassel: FareModel) -> None:
    from simulations.gtfs_synth import feed_files  # noqa: PLC0415 - only this test needs it

    stops = {line.split(",")[0] for line in feed_files(
        first_s=5 * 3600, last_s=5 * 3600 + 1)["stops.txt"].splitlines()[1:]}
    assert stops
    assert {s for s in stops if kassel.stop_areas.get(s) != frozenset({"4000"})} == set()

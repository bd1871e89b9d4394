"""Fares from a GTFS Fares v2 feed, pure: what a journey of one or more legs costs.

WHY from the feed and pure: the price a passenger pays is the transport association's rule,
published in the same GTFS feed as the timetable (``fare_products.txt``,
``fare_leg_rules.txt``, ``fare_transfer_rules.txt`` ...); pricing from those files means a new
tariff is a new feed, not a code change, and a function of (fare model, legs) is checked
against the spec's own examples without a zip file or a clock. It never invents a price:
a leg no rule covers gives :class:`NoFare` with the reason, and the app shows "price unknown"
rather than a wrong number.

Follows ``gtfs/spec/en/reference.md`` (google/transit):

* ``fare_leg_rules.txt`` matched on network, departure and arrival area and timeframes. Without
  a ``rule_priority`` column an empty field means "every value no rule of the file names";
  with it, an empty field matches anything and only the rules of the highest priority count;
* ``fare_transfer_rules.txt`` between consecutive legs' leg groups (empty: every group no rule
  names), with ``transfer_count`` (the rule with the smallest count that still covers the
  sub-journey), ``duration_limit``/``duration_limit_type`` measured from the first leg of the
  sub-journey, and ``fare_transfer_type`` 0 (A + AB), 1 (A + AB + B) and 2 (AB);
* ``fare_products.txt`` with ``rider_category_id`` (empty: any rider; none asked: the default
  category) and ``fare_media_id`` (empty: any medium); when several products fit a leg, the
  cheapest is sold;
* areas from ``stop_areas.txt`` (a stop may be in several areas), networks from
  ``route_networks.txt`` or ``routes.txt``'s ``network_id``; timeframes against
  ``calendar.txt``/``calendar_dates.txt`` in the agency's time zone.

Not supported (the parser refuses nothing, the price is then "no fare" or per leg):
``fare_leg_join_rules.txt`` (effective fare legs), parent stations in ``stop_areas.txt``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from central_hub.domain.schedule import (
    Calendar,
    CalendarExceptions,
    parse_calendar,
    service_runs,
)
from central_hub.mobility.errors import MobilityError

#: ISO 4217 currencies whose minor unit is not 1/100 (the payment provider counts minor units)
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "HUF": 2,
                 "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}

class FareError(MobilityError, ValueError):
    """The fare files are malformed (a missing column, a bad amount) or a leg lacks what a
    rule needs to be checked (an arrival time for an arrival timeframe)."""


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's minor unit (3.50 EUR -> 350), refusing fractions of it."""
    digits = _MINOR_DIGITS.get(currency.upper(), 2)
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise FareError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


@dataclass(frozen=True, slots=True)
class FareProduct:
    """One row of ``fare_products.txt``: a product for a rider category and a medium."""

    fare_product_id: str
    name: str
    amount: Decimal
    currency: str
    rider_category_id: str | None = None
    fare_media_id: str | None = None


@dataclass(frozen=True, slots=True)
class RiderCategory:
    """One row of ``rider_categories.txt``."""

    rider_category_id: str
    name: str
    is_default: bool
    eligibility_url: str = ""


@dataclass(frozen=True, slots=True)
class FareMedia:
    """One row of ``fare_media.txt`` (type 0 none, 1 paper, 2 card, 3 cEMV, 4 app)."""

    fare_media_id: str
    name: str
    media_type: int


@dataclass(frozen=True, slots=True)
class LegRule:
    """One row of ``fare_leg_rules.txt`` (empty fields are ``None``)."""

    fare_product_id: str
    leg_group_id: str | None = None
    network_id: str | None = None
    from_area_id: str | None = None
    to_area_id: str | None = None
    from_timeframe_group_id: str | None = None
    to_timeframe_group_id: str | None = None
    rule_priority: int = 0


@dataclass(frozen=True, slots=True)
class TransferRule:
    """One row of ``fare_transfer_rules.txt``."""

    fare_transfer_type: int
    from_leg_group_id: str | None = None
    to_leg_group_id: str | None = None
    #: -1: any number of transfers; ``None`` when the two groups differ
    transfer_count: int | None = None
    duration_limit_s: int | None = None
    duration_limit_type: int | None = None
    fare_product_id: str | None = None


@dataclass(frozen=True, slots=True)
class Timeframe:
    """One row of ``timeframes.txt``: seconds after local midnight, start inclusive."""

    timeframe_group_id: str
    start_s: int
    end_s: int
    service_id: str


@dataclass(frozen=True, slots=True)
class FareModel:
    """The fare files of a feed, parsed."""

    timezone: str
    products: Mapping[str, tuple[FareProduct, ...]]
    leg_rules: tuple[LegRule, ...]
    transfer_rules: tuple[TransferRule, ...] = ()
    rider_categories: Mapping[str, RiderCategory] = field(default_factory=dict)
    media: Mapping[str, FareMedia] = field(default_factory=dict)
    areas: Mapping[str, str] = field(default_factory=dict)
    #: stop_id -> the areas it is in
    stop_areas: Mapping[str, frozenset[str]] = field(default_factory=dict)
    networks: Mapping[str, str] = field(default_factory=dict)
    #: route_id -> network_id
    route_networks: Mapping[str, str] = field(default_factory=dict)
    timeframes: tuple[Timeframe, ...] = ()
    #: whether fare_leg_rules.txt has the rule_priority column (it changes what empty means)
    has_rule_priority: bool = False
    calendar: Calendar = field(default_factory=dict)
    exceptions: CalendarExceptions = field(default_factory=dict)

    def runs_on(self, service_id: str, day: date) -> bool:
        """Whether ``service_id`` is in effect on ``day`` (calendar plus calendar_dates)."""
        return service_runs(self.calendar, self.exceptions, service_id, day)


@dataclass(frozen=True, slots=True)
class FareLeg:
    """One leg of a journey as the fare sees it: where it starts and ends (a stop_id or an
    area_id), on which network (given, or through its route), and when (timezone-aware)."""

    from_place: str
    to_place: str
    departure: datetime
    network_id: str | None = None
    route_id: str | None = None
    arrival: datetime | None = None


@dataclass(frozen=True, slots=True)
class PricedProduct:
    """A product the journey needs, and the legs (indices) it is bought for."""

    product: FareProduct
    legs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FareResult:
    """What the journey costs: the products to buy and their total."""

    products: tuple[PricedProduct, ...]
    total: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class NoFare:
    """The feed does not price this journey (the reason names the leg)."""

    reason: str
    leg: int | None = None


# --- parsing -------------------------------------------------------------------------------


def _rows(files: Mapping[str, str], name: str) -> list[dict[str, str]]:
    text = files.get(name)
    if text is None:
        return []
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]


def _opt(row: Mapping[str, str], name: str) -> str | None:
    return row.get(name) or None


def _opt_int(row: Mapping[str, str], name: str) -> int | None:
    value = row.get(name)
    return int(value) if value else None


def _time_s(text: str, empty: int) -> int:
    if not text:
        return empty
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s


def _header(files: Mapping[str, str], name: str) -> list[str]:
    text = files.get(name, "").lstrip("\ufeff")
    first = next(csv.reader(io.StringIO(text)), [])
    return [h.strip() for h in first]


def parse(files: Mapping[str, str], timezone: str | None = None) -> FareModel:
    """The fare model of a feed's files (file name -> CSV text, as
    :func:`central_hub.domain.schedule.parse` takes them). ``timezone`` defaults to the first
    agency's; :class:`FareError` names what is malformed."""
    try:
        tz = timezone or next((r["agency_timezone"] for r in _rows(files, "agency.txt")), "")
        if not tz:
            raise FareError("no time zone: give one or include agency.txt")
        ZoneInfo(tz)
        products: dict[str, list[FareProduct]] = {}
        for r in _rows(files, "fare_products.txt"):
            amount = Decimal(r["amount"])
            if not amount.is_finite():
                raise FareError(f"fare product {r['fare_product_id']}: amount {amount}")
            products.setdefault(r["fare_product_id"], []).append(FareProduct(
                r["fare_product_id"], r.get("fare_product_name", ""), amount,
                r["currency"].upper(), _opt(r, "rider_category_id"), _opt(r, "fare_media_id")))
        has_priority = "rule_priority" in _header(files, "fare_leg_rules.txt")
        leg_rules = tuple(LegRule(
            r["fare_product_id"], _opt(r, "leg_group_id"), _opt(r, "network_id"),
            _opt(r, "from_area_id"), _opt(r, "to_area_id"), _opt(r, "from_timeframe_group_id"),
            _opt(r, "to_timeframe_group_id"), _opt_int(r, "rule_priority") or 0)
            for r in _rows(files, "fare_leg_rules.txt"))
        transfer_rules = tuple(TransferRule(
            int(r["fare_transfer_type"]), _opt(r, "from_leg_group_id"),
            _opt(r, "to_leg_group_id"), _opt_int(r, "transfer_count"),
            _opt_int(r, "duration_limit"), _opt_int(r, "duration_limit_type"),
            _opt(r, "fare_product_id"))
            for r in _rows(files, "fare_transfer_rules.txt"))
        stop_areas: dict[str, set[str]] = {}
        for r in _rows(files, "stop_areas.txt"):
            stop_areas.setdefault(r["stop_id"], set()).add(r["area_id"])
        route_networks = {r["route_id"]: r["network_id"] for r in _rows(files, "routes.txt")
                          if r.get("network_id")}
        route_networks |= {r["route_id"]: r["network_id"]
                           for r in _rows(files, "route_networks.txt")}
        calendar, exceptions = parse_calendar(_rows(files, "calendar.txt"),
                                              _rows(files, "calendar_dates.txt"))
        model = FareModel(
            timezone=tz,
            products={k: tuple(v) for k, v in products.items()},
            leg_rules=leg_rules,
            transfer_rules=transfer_rules,
            rider_categories={r["rider_category_id"]: RiderCategory(
                r["rider_category_id"], r.get("rider_category_name", ""),
                r.get("is_default_fare_category") == "1", r.get("eligibility_url", ""))
                for r in _rows(files, "rider_categories.txt")},
            media={r["fare_media_id"]: FareMedia(r["fare_media_id"],
                                                 r.get("fare_media_name", ""),
                                                 int(r["fare_media_type"]))
                   for r in _rows(files, "fare_media.txt")},
            areas={r["area_id"]: r.get("area_name", "") for r in _rows(files, "areas.txt")},
            stop_areas={k: frozenset(v) for k, v in stop_areas.items()},
            networks={r["network_id"]: r.get("network_name", "")
                      for r in _rows(files, "networks.txt")},
            route_networks=route_networks,
            timeframes=tuple(Timeframe(r["timeframe_group_id"],
                                       _time_s(r.get("start_time", ""), 0),
                                       _time_s(r.get("end_time", ""), 86_400), r["service_id"])
                             for r in _rows(files, "timeframes.txt")),
            has_rule_priority=has_priority,
            calendar=calendar, exceptions=exceptions,
        )
    except FareError:
        raise
    except (KeyError, ValueError, InvalidOperation, ZoneInfoNotFoundError) as exc:
        raise FareError(f"malformed fare files: {exc!r}") from exc
    _check_references(model)
    return model


def _check_references(model: FareModel) -> None:
    for rule in model.leg_rules:
        if rule.fare_product_id not in model.products:
            raise FareError(f"fare_leg_rules.txt names unknown product {rule.fare_product_id}")
        for group in (rule.from_timeframe_group_id, rule.to_timeframe_group_id):
            if group and not any(t.timeframe_group_id == group for t in model.timeframes):
                raise FareError(f"fare_leg_rules.txt names unknown timeframe group {group}")
    for t in model.transfer_rules:
        if t.fare_product_id and t.fare_product_id not in model.products:
            raise FareError(f"fare_transfer_rules.txt names unknown product {t.fare_product_id}")
        if t.fare_transfer_type not in (0, 1, 2):
            raise FareError(f"fare_transfer_type {t.fare_transfer_type} is not 0, 1 or 2")
        if t.duration_limit_s is not None and t.duration_limit_type not in (0, 1, 2, 3):
            raise FareError("a duration_limit needs a duration_limit_type of 0 to 3")
        same = t.from_leg_group_id == t.to_leg_group_id
        if same and t.transfer_count is None:
            raise FareError("a transfer rule within one leg group needs a transfer_count")


# --- pricing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Leg:
    """A leg matched to its rule and product."""

    rule: LegRule
    product: FareProduct


def _places(model: FareModel, place: str) -> frozenset[str]:
    if place in model.areas:
        return frozenset({place})
    return model.stop_areas.get(place, frozenset())


def _network(model: FareModel, leg: FareLeg) -> str | None:
    if leg.network_id is not None:
        return leg.network_id
    return model.route_networks.get(leg.route_id) if leg.route_id else None


def _in_timeframe(model: FareModel, group: str, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(model.timezone))
    second = local.hour * 3600 + local.minute * 60 + local.second
    return any(t.timeframe_group_id == group and t.start_s <= second < t.end_s
               and model.runs_on(t.service_id, local.date()) for t in model.timeframes)


def _matching_rules(model: FareModel, leg: FareLeg, index: int) -> list[LegRule]:
    network = _network(model, leg)
    origin, destination = _places(model, leg.from_place), _places(model, leg.to_place)
    rules = model.leg_rules
    wildcard = model.has_rule_priority
    named_networks = {r.network_id for r in rules if r.network_id}
    named_from = {r.from_area_id for r in rules if r.from_area_id}
    named_to = {r.to_area_id for r in rules if r.to_area_id}

    def fits(value: str | None, values: frozenset[str], named: set[str]) -> bool:
        if value is not None:
            return value in values
        return wildcard or not (values & named)

    found = []
    for rule in rules:
        if not (fits(rule.network_id, frozenset({network} if network else ()), named_networks)
                and fits(rule.from_area_id, origin, named_from)
                and fits(rule.to_area_id, destination, named_to)):
            continue
        if rule.from_timeframe_group_id and not _in_timeframe(
                model, rule.from_timeframe_group_id, leg.departure):
            continue
        if rule.to_timeframe_group_id:
            if leg.arrival is None:
                raise FareError(f"leg {index} needs its arrival time: a fare rule has an "
                                "arrival timeframe")
            if not _in_timeframe(model, rule.to_timeframe_group_id, leg.arrival):
                continue
        found.append(rule)
    if wildcard and found:
        top = max(r.rule_priority for r in found)
        found = [r for r in found if r.rule_priority == top]
    return found


def _eligible(model: FareModel, product_id: str, rider: str | None,
              media: str | None) -> list[FareProduct]:
    if rider is None:
        defaults = {c for c, cat in model.rider_categories.items() if cat.is_default}
        riders: set[str | None] = {None, *defaults}
    else:
        riders = {None, rider}
    return [p for p in model.products.get(product_id, ())
            if p.rider_category_id in riders
            and (media is None or p.fare_media_id in (None, media))]


def _cheapest(products: Sequence[FareProduct]) -> FareProduct | None:
    return min(products, key=lambda p: (p.amount, p.fare_product_id), default=None)


def _transfer_rule(model: FareModel, from_group: str | None, to_group: str | None,
                   count: int) -> list[TransferRule]:
    if from_group is None or to_group is None:
        return []
    rules = model.transfer_rules
    named_from = {r.from_leg_group_id for r in rules if r.from_leg_group_id}
    named_to = {r.to_leg_group_id for r in rules if r.to_leg_group_id}
    found = [r for r in rules
             if (r.from_leg_group_id == from_group
                 or (r.from_leg_group_id is None and from_group not in named_from))
             and (r.to_leg_group_id == to_group
                  or (r.to_leg_group_id is None and to_group not in named_to))]
    # transfer_count: the smallest count that still covers this many transfers
    limited = [r for r in found if r.transfer_count is None or r.transfer_count == -1
               or r.transfer_count >= count]
    bounded = [r for r in limited if r.transfer_count not in (None, -1)]
    if bounded:
        least = min(r.transfer_count for r in bounded if r.transfer_count is not None)
        return [r for r in bounded if r.transfer_count == least]
    return limited


def _within(rule: TransferRule, first: FareLeg, last: FareLeg, index: int) -> bool:
    if rule.duration_limit_s is None:
        return True
    kind = rule.duration_limit_type
    start = first.departure if kind in (0, 1) else first.arrival
    end = last.arrival if kind in (0, 3) else last.departure
    if start is None or end is None:
        raise FareError(f"leg {index} or the leg its transfer started from needs its arrival "
                        "time: a transfer rule's duration counts from or to an arrival")
    return (end - start).total_seconds() <= rule.duration_limit_s


def price(model: FareModel, legs: Sequence[FareLeg], *, rider_category_id: str | None = None,
          fare_media_id: str | None = None) -> FareResult | NoFare:
    """What ``legs`` (in travel order) cost for a rider category (default: the feed's
    default) paying with a fare medium (default: any): the products to buy and the total, or
    :class:`NoFare` when the feed does not price a leg."""
    if not legs:
        return NoFare("no legs")
    matched: list[_Leg] = []
    for i, leg in enumerate(legs):
        options = [(p, r) for r in _matching_rules(model, leg, i)
                   for p in _eligible(model, r.fare_product_id, rider_category_id,
                                      fare_media_id)]
        if not options:
            return NoFare(f"no fare rule covers leg {i} ({leg.from_place} -> {leg.to_place})",
                          i)
        product, leg_rule = min(options, key=lambda o: (o[0].amount, o[0].fare_product_id))
        matched.append(_Leg(leg_rule, product))

    bought: list[tuple[FareProduct, list[int]]] = [(matched[0].product, [0])]
    # the running transfer: (its two leg groups, index of its first leg, transfers so far)
    current: tuple[tuple[str | None, str | None], int, int] | None = None
    for i in range(1, len(legs)):
        prev, this = matched[i - 1], matched[i]
        groups = (prev.rule.leg_group_id, this.rule.leg_group_id)
        same_run = current is not None and current[0] == groups
        count = current[2] + 1 if current is not None and same_run else 1
        first = current[1] if current is not None and same_run else i - 1
        applicable = [r for r in _transfer_rule(model, *groups, count)
                      if _within(r, legs[first], legs[i], i)]
        if not applicable:
            bought.append((this.product, [i]))
            current = None
            continue
        rule = min(applicable, key=lambda r: (
            _transfer_cost(model, r, rider_category_id, fare_media_id), r.fare_product_id or ""))
        transfer_product = None
        if rule.fare_product_id:
            transfer_product = _cheapest(_eligible(model, rule.fare_product_id,
                                                   rider_category_id, fare_media_id))
            if transfer_product is None:
                return NoFare(f"the transfer to leg {i} needs a product this rider cannot buy",
                              i)
        if rule.fare_transfer_type == 2 and count == 1:
            # AB: the transfer product replaces the first leg's (the spec's literal reading:
            # a type 2 rule without a product makes both legs cost nothing)
            run = [*bought.pop()[1], i] if bought else [i - 1, i]
            if transfer_product is not None:
                bought.append((transfer_product, run))
        else:  # A + AB, and A + AB + B
            if transfer_product is not None:
                bought.append((transfer_product, [i - 1, i]))
            elif bought:
                bought[-1][1].append(i)
            if rule.fare_transfer_type == 1:
                bought.append((this.product, [i]))
        current = (groups, first, count)

    currencies = {p.currency for p, _ in bought} or {matched[0].product.currency}
    if len(currencies) != 1:
        return NoFare(f"the products are in several currencies: {sorted(currencies)}")
    return FareResult(tuple(PricedProduct(p, tuple(sorted(set(ls)))) for p, ls in bought),
                      sum((p.amount for p, _ in bought), Decimal(0)), currencies.pop())


def _transfer_cost(model: FareModel, rule: TransferRule, rider: str | None,
                   media: str | None) -> Decimal:
    if rule.fare_product_id is None:
        return Decimal(0)
    product = _cheapest(_eligible(model, rule.fare_product_id, rider, media))
    return product.amount if product is not None else Decimal("Infinity")

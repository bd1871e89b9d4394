"""The mobility API's response bodies (times in epoch milliseconds).

WHY pydantic models: they are the API's documentation (the OpenAPI file is generated from
them) and the one place the field names of the journeys and departures answers are written.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from central_hub.domain.schedule import Schedule
from central_hub.mobility.domain.departures import Departure
from central_hub.mobility.domain.itineraries import Itinerary, Leg, Place


def network_geojson(schedule: Schedule) -> bytes:
    """The stops and line shapes of the timetable as a GeoJSON FeatureCollection (RFC 7946,
    longitude first); a line without a shape is drawn through its first trip's stops."""
    features: list[dict[str, Any]] = [
        {"type": "Feature", "id": f"stop:{s.stop_id}",
         "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
         "properties": {"kind": "stop", "stop_id": s.stop_id, "name": s.name,
                        "step_free": s.wheelchair == 1}}
        for s in sorted(schedule.stops.values(), key=lambda s: s.stop_id)]
    drawn: set[str] = set()
    for trip in sorted(schedule.trips.values(), key=lambda t: t.trip_id):
        key = trip.shape_id or f"trip:{trip.route_id}:{trip.direction_id}"
        if key in drawn:
            continue
        drawn.add(key)
        points = schedule.shapes.get(trip.shape_id or "") or tuple(
            (schedule.stops[c.stop_id].lat, schedule.stops[c.stop_id].lon)
            for c in trip.stop_times if c.stop_id in schedule.stops)
        route = schedule.routes.get(trip.route_id)
        features.append({
            "type": "Feature", "id": f"shape:{key}",
            "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in points]},
            "properties": {"kind": "line", "route_id": trip.route_id,
                           "name": route.short_name if route else trip.route_id,
                           "color": f"#{route.color}" if route and route.color else None}})
    return json.dumps({"type": "FeatureCollection", "features": features},
                      separators=(",", ":")).encode()


class PlaceOut(BaseModel):
    """Where a leg starts or ends."""

    name: str
    stop_id: str | None
    lat: float
    lon: float
    time: int = Field(description="epoch ms")

    @classmethod
    def of(cls, place: Place) -> PlaceOut:
        """The body of a domain place."""
        return cls(name=place.name, stop_id=place.stop_id, lat=place.lat, lon=place.lon,
                   time=place.time_s * 1000)


class PriceOut(BaseModel):
    """An amount of money (a decimal string, not a float: no rounding on the way)."""

    amount: str
    currency: str


class RentalOut(BaseModel):
    """How to rent a shared vehicle: the operator's app or web page (GBFS ``rental_uris``);
    the platform hands over, it is not the merchant for sharing rides."""

    android: str | None
    ios: str | None
    web: str | None


class LegOut(BaseModel):
    """One leg of an itinerary."""

    model_config = ConfigDict(populate_by_name=True)

    mode: str = Field(description="WALK, BUS, TRAM, RAIL, SUBWAY, FERRY, BIKE_SHARING, "
                                  "CAR_SHARING")
    from_: PlaceOut = Field(alias="from")
    to: PlaceOut
    route_id: str | None
    route_name: str | None
    trip_id: str | None
    headsign: str | None
    realtime: bool = Field(description="real time changed this trip's times")
    delay_s: int
    occupancy_status: str | None = Field(description="GTFS-RT occupancy status its vehicle "
                                                     "reports, if any")
    occupancy_percentage: int | None
    operator: str | None = Field(None, description="a sharing leg's operator")
    price: PriceOut | None = Field(None, description="a sharing leg's price by the "
                                                     "operator's pricing plan")
    rental: RentalOut | None = None

    @classmethod
    def of(cls, leg: Leg) -> LegOut:
        """The body of a domain leg."""
        return cls.model_validate({
            "mode": leg.mode, "from": PlaceOut.of(leg.start), "to": PlaceOut.of(leg.end),
            "route_id": leg.route_id, "route_name": leg.route_name, "trip_id": leg.trip_id,
            "headsign": leg.headsign, "realtime": leg.realtime, "delay_s": leg.delay_s,
            "occupancy_status": leg.occupancy_status,
            "occupancy_percentage": leg.occupancy_percentage, "operator": leg.operator,
            "price": None if leg.price is None or leg.currency is None else PriceOut(
                amount=str(leg.price.quantize(Decimal("0.01"))), currency=leg.currency),
            "rental": None if leg.rental_uris is None else RentalOut(
                android=leg.rental_uris.android, ios=leg.rental_uris.ios,
                web=leg.rental_uris.web)})


class ItineraryOut(BaseModel):
    """One option."""

    departure: int = Field(description="epoch ms")
    arrival: int = Field(description="epoch ms")
    duration_s: int
    transfers: int
    crowded: bool = Field(description="a vehicle on it reports standing room only or worse")
    legs: list[LegOut]

    @classmethod
    def of(cls, it: Itinerary) -> ItineraryOut:
        """The body of a domain itinerary."""
        return cls(departure=it.departure_s * 1000, arrival=it.arrival_s * 1000,
                   duration_s=it.arrival_s - it.departure_s, transfers=it.transfers,
                   crowded=it.crowded, legs=[LegOut.of(leg) for leg in it.legs])


class JourneysOut(BaseModel):
    """The answer to a journey query: the options, best arrival first."""

    itineraries: list[ItineraryOut]


class DepartureOut(BaseModel):
    """One vehicle leaving a stop."""

    route_id: str
    trip_id: str
    headsign: str | None
    scheduled: int = Field(description="epoch ms")
    expected: int = Field(description="epoch ms, real time applied")
    delay_s: int
    realtime: bool
    occupancy_status: str | None

    @classmethod
    def of(cls, dep: Departure, headsign: str | None, occupancy: str | None) -> DepartureOut:
        """The body of a domain departure."""
        trip = dep.run.trip
        return cls(route_id=trip.route_id, trip_id=trip.trip_id, headsign=headsign,
                   scheduled=dep.scheduled_s * 1000, expected=dep.expected_s * 1000,
                   delay_s=dep.delay_s, realtime=dep.run.realtime, occupancy_status=occupancy)


# --- tickets: bookings, payment, the signed ticket -----------------------------------------

#: the latest instant a time field takes (year 3000, epoch ms)
_MAX_MS = 32_503_680_000_000


class TicketLegIn(BaseModel):
    """One transit leg to buy, as ``GET /api/v1/journeys`` returned it: its ``trip_id``,
    ``route_id``, ``from.stop_id``, ``to.stop_id`` and ``from.time`` (``to.time`` optional).
    Walking legs are not sent: they cost nothing."""

    model_config = ConfigDict(extra="forbid")

    trip_id: str = Field(min_length=1, max_length=100)
    route_id: str = Field(min_length=1, max_length=100)
    from_stop_id: str = Field(min_length=1, max_length=100)
    to_stop_id: str = Field(min_length=1, max_length=100)
    departure: int = Field(ge=0, le=_MAX_MS, description="epoch ms: the leg's from.time")
    arrival: int | None = Field(default=None, ge=0, le=_MAX_MS,
                                description="epoch ms: the leg's to.time")


class BookingIn(BaseModel):
    """``POST /api/v1/bookings``: the journey's transit legs in travel order, the rider
    category (``rider_categories.txt``; default: the feed's default) and, without an account,
    the e-mail the receipt goes to."""

    model_config = ConfigDict(extra="forbid")

    legs: list[TicketLegIn] = Field(min_length=1, max_length=20)
    rider_category: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(default=None, min_length=3, max_length=254,
                              description="needed without an account; kept until "
                                          "90 days after the booking ended")


class FareProductOut(BaseModel):
    """A fare product the booking buys, and the legs (indices) it is for."""

    fare_product_id: str
    name: str
    amount: str
    currency: str
    legs: list[int]


class BookingOut(BaseModel):
    """A booking (TOMP-API's states); times in epoch ms."""

    id: str
    state: str = Field(description="TOMP-API bookingState: PENDING, CONFIRMED, CANCELLED, "
                                   "EXPIRED, ...")
    payment: str = Field(description="UNPAID, CHECKOUT_OPEN, PAID or REFUNDED")
    price: PriceOut
    departure: int
    expires_at: int = Field(description="a PENDING booking expires unpaid from here on")
    cancel_deadline: int = Field(description="a CONFIRMED booking may be cancelled, with a "
                                             "full refund, until here")
    rider_category: str | None
    legs: list[TicketLegIn]
    products: list[FareProductOut]
    ticket: bool = Field(description="a ticket is issued (GET .../ticket)")


class BookingCreatedOut(BookingOut):
    """The answer to ``POST /api/v1/bookings``; ``token`` only for a booking made without an
    account, and only in the first answer (the hub keeps its digest, not the token)."""

    token: str | None = Field(default=None, description="the passenger's bearer token for "
                                                        "this booking: shown once")


class BookingEventIn(BaseModel):
    """``POST /api/v1/bookings/{id}/events``: a TOMP-API booking operation."""

    model_config = ConfigDict(extra="forbid")

    operation: Literal["COMMIT", "CANCEL"]


class CheckoutOut(BaseModel):
    """Where the passenger pays: the payment provider's hosted checkout."""

    checkout_url: str


class TicketOut(BaseModel):
    """A ticket the app can show offline: ``payload`` is the exact bytes signed
    (base64url of canonical JSON), ``signature`` their Ed25519 signature (base64url), to
    be checked with the key of ``GET /api/v1/tickets/key``; ``ticket`` is the payload
    decoded, for display."""

    alg: Literal["EdDSA"] = "EdDSA"
    key_id: str
    payload: str
    signature: str
    ticket: dict[str, Any]


class TicketKeyOut(BaseModel):
    """The key tickets are checked with: Ed25519, raw 32 bytes base64url, and as a JWK."""

    alg: Literal["EdDSA"] = "EdDSA"
    key_id: str
    public_key: str
    jwk: dict[str, str]


class WebhookOut(BaseModel):
    """The answer to the payment provider: what the event did (``applied``, ``replay``,
    ``ignored``)."""

    outcome: str

"""The mobility service's section of the hub's settings (``KASSEL_HUB_MOBILITY__*``).

WHY here: every hub service owns the model of its own section (see
:mod:`central_hub.kita.settings`); the hub's settings hold it as the field ``mobility``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: the form factors of GBFS v2.3 and v3.0 (``vehicle_types.json``)
FormFactor = Literal["bicycle", "cargo_bicycle", "car", "moped", "scooter", "scooter_standing",
                     "scooter_seated", "other"]

class OperatorConfig(BaseModel):
    """One sharing operator: its name (in alarms and :meth:`SharingFeeds.systems`) and its
    ``gbfs.json``. ``form_factor`` is what its vehicles are when it publishes no vehicle
    types (GBFS then says bicycles; a car-sharing operator without ``vehicle_types.json``
    needs ``car``); ``language`` chooses among translated names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    url: str
    form_factor: FormFactor | None = None
    language: str = Field(default="de", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not is_http(value):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value


class FeedLimits(BaseModel):
    """How far the hub trusts an operator's server: how often, how long, how much."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: a file is re-read no sooner than this (also after a refusal), seconds
    min_ttl_s: float = Field(default=10.0, gt=0)
    #: and no later than this, whatever its ttl, seconds
    max_ttl_s: float = Field(default=300.0, gt=0)
    #: the largest body read, bytes (after content decoding)
    max_bytes: int = Field(default=5_000_000, gt=0)
    #: the longest a file may take, from the request to its last byte, seconds
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> FeedLimits:
        if self.max_ttl_s < self.min_ttl_s:
            raise ValueError("max_ttl_s must not be below min_ttl_s")
        return self


def is_http(url: str) -> bool:
    """An absolute ``http://`` or ``https://`` URL with a host."""
    try:
        parsed = urlsplit(url)
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)


class BookingSettings(BaseModel):
    """Tickets: booking, payment and refunds (``KASSEL_HUB_MOBILITY__BOOKINGS__*``).

    WHY these knobs: the fares come from the transport association's GTFS Fares v2 files, in
    the hub's static GTFS zip or, when that has none, in the zip ``fares``; the money goes
    through Stripe (``stripe_api_key``, the endpoint's ``stripe_webhook_secrets``, several
    while one is rolled; ``stripe_base_url`` points at a stand-in in tests); without a key
    and a secret the booking routes answer 503 and planning works as before. ``database``:
    where bookings live (``None``: ``mobility.db`` in the hub's state directory; ``"hub"``:
    the hub's database; else an SQLAlchemy URL). ``hold_s``: how long a pending booking waits
    for its payment; ``cancel_window_s``: a confirmed booking may be cancelled, refunded,
    until this long before departure. ``email_retention_days``: an anonymous passenger's
    e-mail and token are deleted this long after its last booking ended. ``ticket_key``:
    the Ed25519 key tickets are signed with (PEM; ``None``: generated once into the state
    directory). ``public_url``: where passengers reach the hub, for the checkout's return
    pages (``None``: the address the request came to).
    """

    model_config = ConfigDict(frozen=True)

    database: str | None = None
    fares: str | None = None
    #: the medium tickets are sold on (``fare_media.txt``); ``None``: the cheapest product
    fare_media_id: str | None = None
    stripe_api_key: str | None = None
    stripe_webhook_secrets: tuple[str, ...] = ()
    stripe_base_url: str = "https://api.stripe.com"
    public_url: str | None = None
    hold_s: Annotated[int, Field(ge=60, le=86_400)] = 1800
    cancel_window_s: Annotated[int, Field(ge=0, le=86_400)] = 900
    email_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    #: how often expired holds, due refunds and old personal data are swept
    sweep_every_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    ticket_key: str | None = None
    #: the most transit legs one booking may hold
    max_legs: Annotated[int, Field(ge=1, le=20)] = 8


class RealtimeFeedConfig(BaseModel):
    """Another operator's GTFS-Realtime feed (TripUpdates, VehiclePositions or both), whose
    trip ids are those of the hub's static timetable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    url: str
    #: how often it is fetched, seconds
    poll_s: float = Field(default=30.0, ge=1, le=3600)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not is_http(value):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value


class MobilitySettings(BaseModel):
    """The journey planner and the passenger app (``KASSEL_HUB_MOBILITY__*``).

    ``change_s``: the minimum time to change vehicles at the same stop (the default, 2
    minutes, is the most a passenger is asked to allow). Walks: straight-line metres ×
    ``walk_detour`` at ``walk_speed_mps`` (a query may ask for another speed); transfers
    between stops up to ``transfer_walk_m``, walks to and from a coordinate up to
    ``access_walk_m``. ``crowding_slack_s``: how much later a less crowded alternative may
    arrive and still be offered beside a crowded option. ``realtime_refresh_s``: how often
    the timetable is rebuilt with the latest real time (occupancy is read live).
    """

    model_config = ConfigDict(frozen=True)

    change_s: Annotated[int, Field(ge=0, le=1800)] = 120
    walk_speed_mps: Annotated[float, Field(gt=0.3, le=3.0)] = 1.25
    walk_detour: Annotated[float, Field(ge=1.0, le=3.0)] = 1.3
    transfer_walk_m: Annotated[float, Field(ge=0, le=2000)] = 400.0
    access_walk_m: Annotated[float, Field(ge=0, le=5000)] = 1000.0
    max_transfers: Annotated[int, Field(ge=0, le=10)] = 4
    crowding_slack_s: Annotated[int, Field(ge=0, le=3600)] = 600
    realtime_refresh_s: Annotated[float, Field(gt=0, le=600)] = 15.0
    #: other operators' GTFS-Realtime feeds, and the largest one taken (bytes)
    realtime_feeds: tuple[RealtimeFeedConfig, ...] = ()
    realtime_max_bytes: Annotated[int, Field(ge=1024, le=100_000_000)] = 10_000_000
    #: bike- and car-sharing operators' GBFS feeds (``gbfs.json``), and how far they are trusted
    sharing_operators: tuple[OperatorConfig, ...] = ()
    sharing_limits: FeedLimits = FeedLimits()
    #: riding speeds for sharing legs (m/s, over street metres: straight line × the detour)
    bike_speed_mps: Annotated[float, Field(gt=1, le=10)] = 4.2
    car_speed_mps: Annotated[float, Field(gt=2, le=30)] = 8.0
    #: the longest a sharing vehicle is ridden to a stop before transit (bike + ride), metres
    bike_ride_m: Annotated[float, Field(ge=0, le=20_000)] = 4000.0
    #: tickets: fares, payment, refunds (:class:`BookingSettings`)
    bookings: BookingSettings = BookingSettings()
    #: the passenger app's map tiles: an XYZ URL template (``{z}``, ``{x}``, ``{y}``; ``{s}``
    #: for subdomains) of the city's tile server. ``None`` (the default): no tiles, the map
    #: draws the network the hub serves, because the app must work where only the hub is
    #: reachable (the bus's WLAN before the terms are accepted) and a third party's tile
    #: server would learn where each passenger looks; the app's page policy admits this host
    tile_url: Annotated[str | None, Field(
        pattern=r"^https?://[^\s/]+/\S*\{z\}\S*\{x\}\S*\{y\}\S*$")] = None
    #: the attribution the tile source's licence asks for (plain text, shown on the map)
    tile_attribution: Annotated[str, Field(max_length=300)] = ""

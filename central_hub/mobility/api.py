"""The mobility HTTP API: journeys and departures, for everyone, without an account.

WHY at the root's ``/api/v1/journeys`` and ``/api/v1/stops/...``: these are the paths a
passenger app and other cities' planners expect for a city's journey planner, not a path
under the service's name. Planning never needs an account (the authorisation matrix says
``anonymous``). A query the planner cannot take (an unknown stop, a coordinate outside the
network area, a time outside the timetable's validity, a malformed place) answers 422 with
the reason; an unknown stop in a path answers 404; a hub without a timetable answers 503.
Endpoints: ``docs/mobility.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import (
    APIRouter,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from central_hub.api.deps import MaybeCallerDep, body_limit
from central_hub.api.ratelimits import BookingDep, JourneyDep
from central_hub.mobility.app_page import AppConfigOut, app_config, create_app_page_router
from central_hub.mobility.bodies import (
    BookingCreatedOut,
    BookingEventIn,
    BookingIn,
    BookingOut,
    CheckoutOut,
    DepartureOut,
    FareProductOut,
    ItineraryOut,
    JourneysOut,
    PriceOut,
    TicketKeyOut,
    TicketLegIn,
    TicketOut,
    WebhookOut,
    network_geojson,
)
from central_hub.mobility.bookings import (
    BookingRequest,
    BookingService,
    TicketLeg,
    b64url,
    major_units,
)
from central_hub.mobility.cycling import CyclistAdvice, CyclistAdviceOut
from central_hub.mobility.domain.booking import (
    Operation,
    request_fingerprint,
    valid_idempotency_key,
)
from central_hub.mobility.errors import (
    ConflictError,
    MobilityServiceError,
    NotFoundError,
    PaymentError,
    PaymentUnavailableError,
    QueryError,
    WebhookError,
)
from central_hub.mobility.model import MAX_WINDOW_S, MODES, JourneyQuery
from central_hub.mobility.payments import MAX_WEBHOOK_BYTES
from central_hub.mobility.planner import Engine, Planner
from central_hub.mobility.service import MobilityService
from central_hub.mobility.store import BookingRecord, to_ms

PlaceParam = Annotated[str, Query(min_length=3, max_length=120,
                                  description="stop:{stop_id} or {lat},{lon}")]
StopPath = Annotated[str, Path(min_length=1, max_length=100)]
TimeParam = Annotated[int | None, Query(ge=0, le=32_503_680_000_000,
                                        description="epoch ms (default: now)")]


class _MobilityRoute(APIRoute):
    """Maps the service's errors to their status codes (the message to the caller only)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except QueryError as exc:
                return JSONResponse({"detail": str(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)
            except NotFoundError as exc:
                return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

        return guarded


T = TypeVar("T")
NO_TIMETABLE = "this hub has no timetable (gtfs.static)"


def _running(value: T | None, missing: str) -> T:
    """A part of the service as the lifespan wired it, or 503 saying what the hub lacks."""
    if value is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, missing)
    return value


def _service(request: Request) -> MobilityService:
    service: MobilityService = request.app.state.mobility
    return service


async def get_planner(request: Request) -> Planner:
    """The planner of the service on ``app.state.mobility``; 503 without a timetable."""
    return _running(_service(request).planner, NO_TIMETABLE)


async def get_engine(request: Request) -> Engine:
    """The engine answering journey queries; 503 without one."""
    return _running(_service(request).engine, NO_TIMETABLE)


async def get_cyclist_advice(request: Request) -> CyclistAdvice:
    """The cyclist advice of the service on ``app.state.mobility``; 503 when not wired."""
    return _running(_service(request).cycling, "the cyclist advice is not running on this hub")


PlannerDep = Annotated[Planner, Depends(get_planner)]
EngineDep = Annotated[Engine, Depends(get_engine)]
CyclistAdviceDep = Annotated[CyclistAdvice, Depends(get_cyclist_advice)]


def create_mobility_router() -> APIRouter:
    """The service's own routes under ``/api/v1/mobility``: what the passenger app draws."""
    router = APIRouter(tags=["mobility"], route_class=_MobilityRoute)

    @router.get("/network", response_class=Response,
                responses={200: {"content": {"application/geo+json": {}},
                                 "description": "a GeoJSON FeatureCollection"},
                           503: {"description": "the hub has no timetable"}})
    async def network(planner: PlannerDep) -> Response:
        """The network as the app's map draws it without tiles: every stop (a Point with
        its id, name and step-free flag) and every line's shape (a LineString with the
        route's id, name and colour), as GeoJSON (RFC 7946: longitude first)."""
        return Response(network_geojson(planner.schedule), media_type="application/geo+json",
                        headers={"Cache-Control": "public, max-age=3600"})

    @router.get("/app-config", response_model=AppConfigOut)
    async def passenger_app_config(request: Request) -> AppConfigOut:
        """What the passenger app (``/app/``) is told before it draws: the map's tile source
        (none by default) and whether this hub sells tickets."""
        service: MobilityService = request.app.state.mobility
        return app_config(service.settings,
                          tickets=service.bookings is not None)

    @router.get("/cyclist-advice", response_model=CyclistAdviceOut,
                responses={204: {"description": "no traffic light ahead within 400 m"},
                           422: {"description": "a parameter outside its range"},
                           503: {"description": "the cyclist advice is not running"}})
    async def cyclist_advice(
            advice: CyclistAdviceDep,
            lat: Annotated[float, Query(ge=-90.0, le=90.0, allow_inf_nan=False,
                                        description="WGS-84 latitude")],
            lon: Annotated[float, Query(ge=-180.0, le=180.0, allow_inf_nan=False,
                                        description="WGS-84 longitude")],
            heading: Annotated[float, Query(ge=0.0, le=360.0, allow_inf_nan=False,
                                            description="degrees, 0 north, clockwise")],
            speed: Annotated[float, Query(ge=0.0, le=20.0, allow_inf_nan=False,
                                          description="m/s")],
            ) -> CyclistAdviceOut | Response:
        """The rider's next traffic light from the live SPaT: its state, the seconds to its
        next change with the SPaT's bounds, and the GLOSA speed advice for a bicycle
        (docs/mobility.md). 204 when no light lies ahead within 400 m. Runs on the event
        loop, where the hub's live state is written; the position is not kept."""
        found = advice.advice(lat, lon, heading, speed, int(time.time() * 1000))
        if found is None:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        return found

    return router


def create_public_router() -> APIRouter:
    """Journeys and departures, mounted at the hub's root."""
    router = APIRouter(prefix="/api/v1", tags=["mobility"], route_class=_MobilityRoute)
    errors: dict[int | str, dict[str, Any]] = {
        422: {"description": "a place, stop or time the planner cannot take"},
        503: {"description": "the hub has no timetable"}}

    @router.get("/journeys", response_model=JourneysOut, responses=errors)
    async def journeys(engine: EngineDep, planner: PlannerDep, _: JourneyDep, *,
                       from_: Annotated[str, Query(
                           alias="from", min_length=3, max_length=120,
                           description="stop:{stop_id} or {lat},{lon}")],
                       to: PlaceParam, time: TimeParam = None, arrive_by: bool = False,
                       max_transfers: Annotated[int | None, Query(ge=0, le=10)] = None,
                       wheelchair: bool = False,
                       walk_speed: Annotated[float | None, Query(gt=0.3, le=3.0,
                                                                 description="m/s")] = None,
                       modes: Annotated[str, Query(max_length=100)] = "transit,walk",
                       window: Annotated[int, Query(
                           ge=0, le=MAX_WINDOW_S,
                           description="seconds: every option leaving up to this long "
                                       "after time (arriving up to this long before it, "
                                       "arrive_by), not only the first")] = 0,
                       ) -> JourneysOut:
        """Options from ``from`` to ``to``: the Pareto set over arrival, transfers and
        crowding, leaving at or after ``time`` (or arriving by it, ``arrive_by``); with
        ``window``, over departure too, for every option of that range."""
        wanted = frozenset(m.strip() for m in modes.split(",") if m.strip())
        at = planner.now_ms() if time is None else time
        query = JourneyQuery(from_, to, at, arrive_by, max_transfers, wheelchair,
                             walk_speed, wanted or frozenset(MODES), window)
        options = await run_in_threadpool(engine.plan, query)
        return JourneysOut(itineraries=[ItineraryOut.of(it) for it in options])

    @router.get("/stops/{stop_id}/departures", response_model=list[DepartureOut],
                responses={404: {"description": "no such stop"}, **errors})
    async def stop_departures(planner: PlannerDep, stop_id: StopPath, time: TimeParam = None,
                              limit: Annotated[int, Query(ge=1, le=100)] = 10,
                              ) -> list[DepartureOut]:
        """The next vehicles leaving the stop at or after ``time``, real time applied."""
        found = await run_in_threadpool(planner.departures, stop_id,
                                        planner.now_ms() if time is None else time, limit)
        live = planner.realtime()
        stops = planner.schedule.stops
        out = []
        for dep in found:
            trip = dep.run.trip
            last = stops.get(trip.stop_times[-1].stop_id)
            out.append(DepartureOut.of(dep, last.name if last else None,
                                       live.occupancy.get(trip.trip_id)))
        return out

    return router


# --- tickets -------------------------------------------------------------------------------

BookingPath = Annotated[str, Path(min_length=1, max_length=64)]
#: how long a client waits before asking again when the payment provider is away
PAYMENT_RETRY_AFTER_S = 30


class _BookingRoute(APIRoute):
    """Maps the booking errors to their status codes: a use case's refusal (404, 409, 422),
    a refused webhook 400, the provider away 503 with ``Retry-After``, the provider refusing
    502. The message goes to the caller only."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except WebhookError as exc:
                return JSONResponse({"detail": str(exc)}, status.HTTP_400_BAD_REQUEST)
            except NotFoundError as exc:
                return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)
            except ConflictError as exc:
                return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)
            except MobilityServiceError as exc:
                return JSONResponse({"detail": str(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)
            except PaymentUnavailableError:
                return JSONResponse({"detail": "the payment provider cannot be reached; try "
                                               "again later"},
                                    status.HTTP_503_SERVICE_UNAVAILABLE,
                                    headers={"Retry-After": str(PAYMENT_RETRY_AFTER_S)})
            except PaymentError:
                return JSONResponse({"detail": "the payment provider refused the request"},
                                    status.HTTP_502_BAD_GATEWAY)

        return guarded


async def get_bookings(request: Request) -> BookingService:
    """The booking use case of the service; 503 when this hub sells no tickets."""
    return _running(_service(request).bookings,
                    "this hub sells no tickets (fares, payment provider)")


BookingsDep = Annotated[BookingService, Depends(get_bookings)]


def booking_out(record: BookingRecord) -> BookingOut:
    """The body of a stored booking."""
    b = record.booking
    return BookingOut(
        id=b.booking_id, state=b.state.value, payment=b.payment.value,
        price=PriceOut(amount=major_units(b.amount_minor, b.currency), currency=b.currency),
        departure=to_ms(b.departure_at), expires_at=to_ms(b.expires_at),
        cancel_deadline=to_ms(b.cancel_deadline), rider_category=record.rider_category,
        legs=[TicketLegIn(trip_id=leg["trip_id"], route_id=leg["route_id"],
                          from_stop_id=leg["from_stop_id"], to_stop_id=leg["to_stop_id"],
                          departure=leg["departure"], arrival=leg.get("arrival"))
              for leg in record.legs],
        products=[FareProductOut.model_validate(dict(p)) for p in record.products],
        ticket=b.ticket_valid)


def _render_created(record: BookingRecord, token: str | None) -> bytes:
    body = BookingCreatedOut(**booking_out(record).model_dump(), token=token)
    return body.model_dump_json(exclude={"token"} if token is None else None).encode()


def create_booking_router() -> APIRouter:
    """Bookings, checkout, tickets and the payment webhook, mounted at the hub's root
    (TOMP-API's paths: ``/api/v1/bookings``, ``/api/v1/bookings/{id}/events``)."""
    router = APIRouter(prefix="/api/v1", tags=["mobility"], route_class=_BookingRoute)
    unavailable: dict[int | str, dict[str, Any]] = {
        503: {"description": "this hub sells no tickets, or the payment provider is away"}}
    owned: dict[int | str, dict[str, Any]] = {
        404: {"description": "no such booking of the caller's"}, **unavailable}

    @router.post("/bookings", status_code=201, response_model=BookingCreatedOut,
                 responses={400: {"description": "no or a malformed Idempotency-Key"},
                            409: {"description": "a request with this key is in progress, "
                                                 "or the departure is not in the future"},
                            422: {"description": "no fare for this journey, a leg the "
                                                 "timetable does not have, no e-mail "
                                                 "without an account, or the key was used "
                                                 "for another request"},
                            **unavailable})
    async def create_booking(body: BookingIn, service: BookingsDep, caller: MaybeCallerDep,
                             _: BookingDep,
                             idempotency_key: Annotated[str | None, Header(
                                 alias="Idempotency-Key", max_length=255)] = None,
                             ) -> Response:
        """Book a ticket for the journey's transit legs: a PENDING booking at the feed's
        fare, held for payment until ``expires_at``. Without an account the answer holds
        the passenger's ``token`` (once). An ``Idempotency-Key`` is required: the same key
        with the same body answers the first booking again."""
        if idempotency_key is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                "an Idempotency-Key header is required")
        if not valid_idempotency_key(idempotency_key):
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                "an Idempotency-Key is 1 to 255 visible ASCII characters")
        canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True,
                               separators=(",", ":")).encode()
        request = BookingRequest(
            tuple(TicketLeg(leg.trip_id, leg.route_id, leg.from_stop_id, leg.to_stop_id,
                            leg.departure, leg.arrival) for leg in body.legs),
            body.rider_category, body.email)
        answer = await run_in_threadpool(
            service.create, caller, request, key=idempotency_key,
            fingerprint=request_fingerprint("POST", "/api/v1/bookings", canonical),
            render=_render_created)
        return Response(answer.body, answer.status, media_type="application/json")

    @router.get("/bookings/{booking_id}", response_model=BookingOut, responses=owned)
    async def get_booking(service: BookingsDep, caller: MaybeCallerDep,
                          booking_id: BookingPath) -> BookingOut:
        """The caller's booking."""
        return booking_out(await run_in_threadpool(service.get, caller, booking_id))

    @router.post("/bookings/{booking_id}/checkout", response_model=CheckoutOut,
                 responses={409: {"description": "the booking is not waiting for payment"},
                            502: {"description": "the payment provider refused"}, **owned})
    async def checkout(service: BookingsDep, caller: MaybeCallerDep, booking_id: BookingPath,
                       request: Request) -> CheckoutOut:
        """The payment provider's hosted checkout for the booking (the same one again when
        it is open); the passenger returns to the app's page of the booking."""
        url = await run_in_threadpool(service.checkout, caller, booking_id,
                                      str(request.base_url))
        return CheckoutOut(checkout_url=url)

    @router.post("/bookings/{booking_id}/events", response_model=BookingOut,
                 responses={409: {"description": "the booking's state does not allow the "
                                                 "operation (COMMIT before payment, CANCEL "
                                                 "after the window)"}, **owned})
    async def booking_event(body: BookingEventIn, service: BookingsDep, caller: MaybeCallerDep,
                            booking_id: BookingPath) -> BookingOut:
        """A TOMP-API operation: ``COMMIT`` confirms a paid booking and issues its ticket;
        ``CANCEL`` cancels a pending one, or a confirmed one until its cancel deadline with
        a full refund."""
        record = await run_in_threadpool(service.operate, caller, booking_id,
                                         Operation(body.operation))
        return booking_out(record)

    @router.get("/bookings/{booking_id}/ticket", response_model=TicketOut,
                responses={409: {"description": "the booking is not paid and confirmed"},
                           **owned})
    async def ticket(service: BookingsDep, caller: MaybeCallerDep,
                     booking_id: BookingPath) -> TicketOut:
        """The signed ticket, to be shown offline."""
        signed = await run_in_threadpool(service.ticket, caller, booking_id)
        return TicketOut(key_id=signed.key_id, payload=b64url(signed.payload),
                         signature=b64url(signed.signature), ticket=signed.content)

    @router.get("/tickets/key", response_model=TicketKeyOut, responses=unavailable)
    async def ticket_key(service: BookingsDep) -> TicketKeyOut:
        """The public key tickets are checked with (offline, by the app or an inspector)."""
        signer = service.signer
        return TicketKeyOut(key_id=signer.key_id, public_key=b64url(signer.public_raw),
                            jwk=signer.jwk)

    @router.post("/payments/webhook", response_model=WebhookOut,
                 openapi_extra=body_limit(MAX_WEBHOOK_BYTES),
                 responses={400: {"description": "unsigned, badly signed, stale, or not "
                                                 "matching its booking"}, **unavailable})
    async def payment_webhook(request: Request, service: BookingsDep,
                              stripe_signature: Annotated[str | None, Header(
                                  alias="Stripe-Signature", max_length=4096)] = None,
                              ) -> WebhookOut:
        """The payment provider's events (Stripe's webhook): the signature is the
        authentication; a replayed event is answered 200 and changes nothing."""
        raw = await request.body()
        outcome = await run_in_threadpool(service.webhook, raw, stripe_signature or "")
        return WebhookOut(outcome=outcome)

    return router


def create_public_routes() -> APIRouter:
    """Every route the service serves at the hub's root: journeys and departures, and
    tickets (what the mount hands the hub)."""
    router = APIRouter()
    router.include_router(create_public_router())
    router.include_router(create_booking_router())
    router.include_router(create_app_page_router())
    return router

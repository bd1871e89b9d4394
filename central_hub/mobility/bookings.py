"""Buying a public-transport ticket: the booking use case, its sweeps, and how it opens.

WHY one module for the workflow: a ticket is where the passenger, the fare, the payment
provider and the clock meet, and each step has to keep the rules of
:mod:`central_hub.mobility.domain.booking` (a ticket only for a paid, confirmed booking; money
back for a paid booking that will not run). The rules are pure; this module decides the
transactions around them, who may see which booking, and when the provider is called:

* ``POST /api/v1/bookings`` prices the journey's transit legs with the feed's GTFS Fares v2
  rules (:mod:`~central_hub.mobility.domain.fares`) after checking them against the
  timetable, and stores a PENDING booking. Its ``Idempotency-Key`` is claimed in one
  transaction and answered in the one that stores the booking, so a retry gets the first
  answer and a crash leaves no half-made booking. Without an account the passenger gives an
  e-mail and gets a token once (only its digest is kept: :func:`~central_hub.core.tokens.
  token_digest`, the rule every hub token follows); a replayed answer does not carry it,
  because an idempotency key is not a secret;
* the checkout is opened at the provider outside any transaction (a network call must not
  hold a lock) with an idempotency key of its own, so two clicks open one checkout;
* the provider's signed webhook is recorded as seen in the transaction that applies it: a
  replay is answered 200 without effect, an event that does not match its booking (another
  amount, another checkout) is refused 400, counted and logged, and not recorded;
* COMMIT confirms and issues the ticket only once the payment is recorded; CANCEL inside the
  window makes a refund due, which is asked for at once and, when the provider is away,
  by the sweep (:func:`booking_loop`) with the same idempotency key ``refund-{booking_id}``;
* the sweep also expires pending bookings whose hold ran out, and deletes an anonymous
  passenger's e-mail and token ``email_retention_days`` after its last booking ended.

Tickets are signed with Ed25519 (:class:`TicketSigner`), so the app shows a ticket offline
and an inspector's device checks it with the public key alone (``GET /api/v1/tickets/key``).

Nothing here logs an e-mail or a token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from central_hub.core.identity import Kind, Principal
from central_hub.core.tokens import token_digest
from central_hub.domain.schedule import Schedule, reference_ms, service_date
from central_hub.mobility import store
from central_hub.mobility.domain.booking import (
    BookingState,
    CheckoutOpened,
    IdempotencyAction,
    Operation,
    PaymentReceived,
    PaymentState,
    RefundRecorded,
    StoredResponse,
    decide,
    new_booking,
    transition,
)
from central_hub.mobility.domain.fares import (
    FareError,
    FareLeg,
    FareModel,
    NoFare,
    minor_units,
    parse,
    price,
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
from central_hub.mobility.payments import PaymentProvider, StripePaymentProvider, WebhookEvent
from central_hub.mobility.settings import BookingSettings
from central_hub.mobility.store import BookingRecord, from_ms, to_ms
from central_hub.mobility.tables import create_schema
from central_hub.storage.db import make_engine

if TYPE_CHECKING:
    from central_hub.core.config import HubRuntime
    from central_hub.hub import Hub

log = logging.getLogger(__name__)

#: Stripe keeps a checkout open 30 min to 24 h after its creation; a minute more than the
#: least, so that the request's own transit time does not make it refuse ours
CHECKOUT_MIN_OPEN = timedelta(minutes=31)
#: the provider's events are remembered this long (Stripe retries a delivery for 3 days)
WEBHOOK_EVENT_TTL = timedelta(days=30)
#: a ticket is valid from this long before the first departure ...
TICKET_EARLY = timedelta(minutes=10)
#: ... until this long after the last arrival
TICKET_GRACE = timedelta(minutes=30)
#: a leg's departure may be this much earlier or later than its trip's timetable (real time)
EARLY_DEPARTURE = timedelta(minutes=10)
LATE_DEPARTURE = timedelta(hours=3)
#: the fare files of GTFS Fares v2, and the feed's files they refer to
FARE_FILES = ("fare_products.txt", "fare_leg_rules.txt", "fare_transfer_rules.txt",
              "fare_media.txt", "rider_categories.txt", "areas.txt", "stop_areas.txt",
              "networks.txt", "route_networks.txt", "timeframes.txt")
CONTEXT_FILES = ("agency.txt", "routes.txt", "calendar.txt", "calendar_dates.txt")
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def valid_email(text: str) -> bool:
    """An address a receipt can be sent to: ``local@domain.tld``, at most 254 characters.

    Deliberately loose on the local part (RFC 5321 allows almost anything there) and strict
    on the domain; whether it exists only a mail to it can tell."""
    return len(text) <= 254 and _EMAIL.match(text) is not None


@dataclass(frozen=True, slots=True)
class TicketLeg:
    """One transit leg to buy, as ``GET /api/v1/journeys`` returned it (epoch ms)."""

    trip_id: str
    route_id: str
    from_stop_id: str
    to_stop_id: str
    departure_ms: int
    arrival_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """What a passenger asks to buy."""

    legs: tuple[TicketLeg, ...]
    rider_category: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class SignedTicket:
    """A ticket: the payload's exact bytes and their Ed25519 signature."""

    payload: bytes
    signature: bytes
    key_id: str

    @property
    def content(self) -> dict[str, Any]:
        """The payload, decoded."""
        value: dict[str, Any] = json.loads(self.payload)
        return value


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515's encoding, what JOSE and the app use)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TicketSigner:
    """Signs tickets with the hub's Ed25519 key.

    WHY Ed25519 and not an HMAC: the key that checks a ticket must not be able to make one.
    The app and an inspector's device hold only the public key (published, and small
    enough for a QR code's neighbour); a leaked verifier forges nothing. Signatures are
    deterministic, so the same booking always shows the same ticket."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(self.public_raw).hexdigest()[:16]

    @classmethod
    def load_or_create(cls, path: Path) -> TicketSigner:
        """The key in ``path`` (PEM, PKCS#8), made there (mode 0600) on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())
            with contextlib.suppress(FileExistsError):  # another process made it first
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} holds no Ed25519 private key")
        return cls(key)

    def sign(self, payload: Mapping[str, Any]) -> SignedTicket:
        """Sign ``payload`` as canonical JSON (sorted keys, no spaces, UTF-8)."""
        data = json.dumps(payload, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()
        return SignedTicket(data, self._key.sign(data), self.key_id)

    @property
    def jwk(self) -> dict[str, str]:
        """The public key as a JSON Web Key (RFC 8037)."""
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public_raw),
                "kid": self.key_id, "use": "sig", "alg": "EdDSA"}


def _read_zip(path: str | Path, names: Sequence[str]) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        present = set(zf.namelist())
        return {n: zf.read(n).decode("utf-8-sig") for n in names if n in present}


def load_fares(gtfs_static: str | None, fares_zip: str | None) -> FareModel | None:
    """The fare model: the fare files of the hub's static GTFS zip, or, when it has none,
    those of ``fares_zip`` (the feed's agency, routes and calendar fill what that zip lacks);
    ``None`` when neither has ``fare_products.txt``. :class:`FareError` or ``OSError`` when
    a file cannot be read or parsed."""
    files: dict[str, str] = {}
    if gtfs_static:
        try:
            files = _read_zip(gtfs_static, FARE_FILES + CONTEXT_FILES)
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise FareError(f"cannot read the GTFS zip for its fares: {exc}") from exc
    if "fare_products.txt" not in files and fares_zip:
        try:
            files = {n: v for n, v in files.items() if n in CONTEXT_FILES} | _read_zip(
                fares_zip, FARE_FILES + CONTEXT_FILES)
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise FareError(f"cannot read the fares zip: {exc}") from exc
    if "fare_products.txt" not in files:
        return None
    return parse(files)


def major_units(amount_minor: int, currency: str) -> str:
    """``amount_minor`` as a decimal string in the currency's major unit (330 EUR -> "3.30")."""
    digits = len(str(minor_units(Decimal(1), currency))) - 1
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f}"


def owner_of(principal: Principal | None) -> str | None:
    """Whose a booking made by ``principal`` is: a passenger's or a staff principal's (by
    where its credential was checked, so a static token and an OIDC subject of the same name
    never share bookings); ``None`` for anybody else, who books as an anonymous passenger."""
    if principal is None:
        return None
    if principal.kind is Kind.PASSENGER:
        return f"passenger:{principal.name}"
    if principal.kind is Kind.STAFF:
        return f"staff:{principal.source.value}:{principal.name}"
    return None


def status_of(error: MobilityServiceError) -> int:
    """The HTTP status a refused request gets (also kept for an idempotency key)."""
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    return 422


def _detail(message: str) -> bytes:
    return json.dumps({"detail": message}).encode()


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did (counts; for the log and the tests)."""

    expired: int = 0
    refunded: int = 0
    refunds_failed: int = 0
    passengers_purged: int = 0


#: renders a booking's answer to ``POST /api/v1/bookings``, with its token when given
Render = Callable[[BookingRecord, str | None], bytes]


class BookingService:
    """Bookings, payments and tickets (``app.state.mobility.bookings``)."""

    def __init__(self, engine: Engine, settings: BookingSettings, *, provider: PaymentProvider,
                 fares: FareModel, signer: TicketSigner, schedule: Schedule,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.settings = settings
        self.provider = provider
        self.fares = fares
        self.signer = signer
        self.schedule = schedule
        self.clock = clock
        #: webhooks refused after their signature was checked or before (400s): a number to
        #: watch, since a stream of them is somebody trying
        self.refused_webhooks = 0
        # one writer at a time in this process (SQLite has no SELECT ... FOR UPDATE; on
        # PostgreSQL the row locks serialise several hub processes as well)
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._lock, self.engine.begin() as conn:
            yield conn

    # --- identity --------------------------------------------------------------------------

    def passenger_of_token(self, token: str) -> str | None:
        """The passenger a bearer token belongs to: the hub's identity resolver asks
        (:meth:`central_hub.core.resolver.IdentityResolver.add_passenger_lookup`)."""
        with self.engine.connect() as conn:
            return store.passenger_of(conn, token_digest(token))

    # --- booking ---------------------------------------------------------------------------

    def create(self, principal: Principal | None, request: BookingRequest, *, key: str,
               fingerprint: str, render: Render) -> StoredResponse:
        """``POST /api/v1/bookings`` under an idempotency key: the answer to give (201 with
        the booking, a replayed answer, or a refusal)."""
        owner = owner_of(principal)
        scope = owner or "anonymous"
        now = self.clock()
        try:
            with self._tx() as conn:
                decision = decide(store.idempotency_key(conn, scope, key), fingerprint, now)
                if decision.action is IdempotencyAction.PROCEED:
                    store.claim_key(conn, scope, key, fingerprint, to_ms(now))
        except IntegrityError:  # a twin in another process claimed it between our read and write
            return StoredResponse(409, _detail("a request with this idempotency key is in "
                                               "progress"))
        if decision.action is IdempotencyAction.REPLAY and decision.response is not None:
            return decision.response
        if decision.action is IdempotencyAction.REFUSE:
            return StoredResponse(decision.status or 409, _detail(decision.reason))
        try:
            record, token, email = self._priced(principal, owner, request, now)
            with self._tx() as conn:
                if token is not None and record.passenger_id is not None and email is not None:
                    store.add_passenger(conn, record.passenger_id, digest=token_digest(token),
                                        email=email, now_ms=to_ms(now))
                store.insert_booking(conn, record)
                store.finish_key(conn, scope, key, StoredResponse(201, render(record, None)))
        except MobilityServiceError as exc:
            refused = StoredResponse(status_of(exc), _detail(str(exc)))
            with self._tx() as conn:
                store.finish_key(conn, scope, key, refused)
            return refused
        except BaseException:
            with self._tx() as conn:
                store.release_key(conn, scope, key)
            raise
        log.info("booking %s: %s %s, PENDING", record.booking.booking_id,
                 record.booking.amount_minor, record.booking.currency)
        return StoredResponse(201, render(record, token))

    def _priced(self, principal: Principal | None, owner: str | None, request: BookingRequest,
                now: datetime) -> tuple[BookingRecord, str | None, str | None]:
        """The new booking (not stored), and a token and e-mail for a new passenger."""
        token = email = None
        if owner is None:
            if not request.email:
                raise QueryError("an e-mail address is needed to book without an account")
            if not valid_email(request.email):
                raise QueryError("not an e-mail address")
            email = request.email
            token = secrets.token_urlsafe(32)
            passenger_id: str | None = "P-" + secrets.token_hex(8)
            owner = f"passenger:{passenger_id}"
        else:
            passenger_id = principal.name if principal is not None and \
                principal.kind is Kind.PASSENGER else None
        legs = self._checked_legs(request.legs)
        fare_legs = [FareLeg(leg.from_stop_id, leg.to_stop_id, from_ms(leg.departure_ms),
                             route_id=leg.route_id,
                             arrival=None if leg.arrival_ms is None else from_ms(leg.arrival_ms))
                     for leg in legs]
        category = request.rider_category
        if category is not None and category not in self.fares.rider_categories:
            raise QueryError(f"no rider category {category!r} (one of: "
                             f"{', '.join(sorted(self.fares.rider_categories))})")
        try:
            result = price(self.fares, fare_legs, rider_category_id=category,
                           fare_media_id=self.settings.fare_media_id)
        except FareError as exc:
            raise QueryError(f"no fare for this journey: {exc}") from exc
        if isinstance(result, NoFare):
            raise QueryError(f"no fare for this journey: {result.reason}")
        amount = minor_units(result.total, result.currency)
        if amount <= 0:
            raise QueryError("this journey costs nothing: no ticket is needed")
        booking = new_booking("B-" + secrets.token_hex(12), amount_minor=amount,
                              currency=result.currency, departure_at=fare_legs[0].departure,
                              now=now, hold=timedelta(seconds=self.settings.hold_s),
                              cancel_window=timedelta(seconds=self.settings.cancel_window_s))
        products = tuple({"fare_product_id": p.product.fare_product_id,
                          "name": p.product.name, "amount": str(p.product.amount),
                          "currency": p.product.currency, "legs": list(p.legs)}
                         for p in result.products)
        leg_rows = tuple({"trip_id": leg.trip_id, "route_id": leg.route_id,
                          "from_stop_id": leg.from_stop_id, "to_stop_id": leg.to_stop_id,
                          "departure": leg.departure_ms, "arrival": leg.arrival_ms}
                         for leg in legs)
        return (BookingRecord(booking, owner, passenger_id, category, leg_rows, products),
                token, email)

    def _checked_legs(self, legs: Sequence[TicketLeg]) -> list[TicketLeg]:
        """The legs, each checked against the timetable (a real trip of its route, calling
        at both stops in this order, near this time) and given its arrival; a ticket is for
        a ride that exists, not for any two stops a passenger names."""
        if not legs:
            raise QueryError("a booking needs at least one transit leg")
        if len(legs) > self.settings.max_legs:
            raise QueryError(f"at most {self.settings.max_legs} legs in one booking")
        schedule = self.schedule
        out: list[TicketLeg] = []
        for i, leg in enumerate(legs):
            trip = schedule.trips.get(leg.trip_id)
            if trip is None or trip.route_id != leg.route_id:
                raise QueryError(f"leg {i}: no trip {leg.trip_id!r} on route {leg.route_id!r}")
            stops = [st.stop_id for st in trip.stop_times]
            if leg.from_stop_id not in stops or leg.to_stop_id not in stops[
                    stops.index(leg.from_stop_id) + 1:]:
                raise QueryError(f"leg {i}: the trip does not call at {leg.from_stop_id!r} "
                                 f"and then at {leg.to_stop_id!r}")
            day = service_date(schedule, trip, leg.departure_ms)
            board = trip.stop_times[stops.index(leg.from_stop_id)]
            alight = trip.stop_times[stops.index(leg.to_stop_id, stops.index(leg.from_stop_id))]
            scheduled = None if day is None else \
                reference_ms(day, schedule.timezone) + board.departure_s * 1000
            if scheduled is None or not (
                    scheduled - EARLY_DEPARTURE / timedelta(milliseconds=1)
                    <= leg.departure_ms
                    <= scheduled + LATE_DEPARTURE / timedelta(milliseconds=1)):
                raise QueryError(f"leg {i}: trip {leg.trip_id!r} does not leave "
                                 f"{leg.from_stop_id!r} at that time")
            if i and leg.departure_ms < out[-1].departure_ms:
                raise QueryError(f"leg {i} leaves before leg {i - 1}: legs in travel order")
            arrival = leg.arrival_ms
            if arrival is None:  # the timetable's, with the departure's delay
                arrival = leg.departure_ms + (alight.arrival_s - board.departure_s) * 1000
            if arrival < leg.departure_ms:
                raise QueryError(f"leg {i} arrives before it leaves")
            out.append(replace(leg, arrival_ms=arrival))
        return out

    def _owned(self, conn: Connection, principal: Principal | None, booking_id: str, *,
               for_update: bool = False) -> BookingRecord:
        record = store.booking(conn, booking_id, for_update=for_update)
        owner = owner_of(principal)
        # another's booking is answered exactly like none: its existence is not told
        if record is None or owner is None or record.owner != owner:
            raise NotFoundError("no such booking")
        return record

    def _expired(self, conn: Connection, record: BookingRecord, now: datetime
                 ) -> BookingRecord:
        """The record with its hold applied: a waiting booking whose hold ran out expires
        before anything else is done with it (the sweep does the same for all)."""
        b = record.booking
        waiting = (b.state is BookingState.PENDING and b.payment is not PaymentState.PAID) or \
            b.state is BookingState.CONDITIONAL_CONFIRMED
        if not waiting or now < b.expires_at:
            return record
        after = transition(b, Operation.EXPIRE, now)
        store.save_booking(conn, after)
        return replace(record, booking=after)

    def get(self, principal: Principal | None, booking_id: str) -> BookingRecord:
        """The caller's booking (404 for anybody else's)."""
        now = self.clock()
        with self._tx() as conn:
            return self._expired(conn, self._owned(conn, principal, booking_id,
                                                   for_update=True), now)

    # --- payment ---------------------------------------------------------------------------

    def checkout(self, principal: Principal | None, booking_id: str, base_url: str) -> str:
        """The provider's hosted checkout for the booking: opened once, the same URL after.
        The passenger returns to the app's page of the booking either way."""
        now = self.clock()
        with self._tx() as conn:
            record = self._expired(conn, self._owned(conn, principal, booking_id,
                                                     for_update=True), now)
        b = record.booking
        if b.payment is PaymentState.CHECKOUT_OPEN and record.checkout_url:
            return record.checkout_url
        if b.state is not BookingState.PENDING or b.payment is not PaymentState.UNPAID:
            raise ConflictError(f"booking {booking_id} is {b.state}/{b.payment}: nothing to pay")
        page = f"{(self.settings.public_url or base_url).rstrip('/')}/app/#/bookings/{booking_id}"
        names = ", ".join(dict.fromkeys(str(p["name"]) for p in record.products))
        opened = self.provider.create_checkout(
            booking_id, b.amount_minor, b.currency, success_url=page,
            cancel_url=f"{page}?checkout=cancelled", idempotency_key=f"checkout-{booking_id}",
            description=names[:200] or "Fahrschein",
            expires_at=max(b.expires_at, now + CHECKOUT_MIN_OPEN))
        with self._tx() as conn:
            record = store.booking(conn, booking_id, for_update=True) or record
            if record.booking.checkout_id == opened.id:  # a twin request recorded it
                return opened.url
            after = transition(record.booking, CheckoutOpened(opened.id), self.clock())
            store.save_booking(conn, after, checkout_url=opened.url)
        return opened.url

    def webhook(self, body: bytes, signature: str) -> str:
        """Apply a provider's webhook: what was done (``applied``, ``replay``, ``ignored``);
        :class:`WebhookError` when it is refused (unsigned, badly signed, stale, or not
        matching its booking), counted in :attr:`refused_webhooks`."""
        now = self.clock()
        try:
            event = self.provider.verify_webhook(body, signature, now)
            fact = _fact(event, body)
        except WebhookError as exc:
            self.refused_webhooks += 1
            log.warning("payment webhook refused: %s", exc)
            raise
        try:
            with self._tx() as conn:
                if not store.first_sighting(conn, event.id, to_ms(now)):
                    return "replay"
                if fact is None:
                    return "ignored"
                record = _event_booking(conn, event, fact)
                if record is None:
                    log.info("payment event %s (%s) names no booking of ours", event.id,
                             event.type)
                    return "ignored"
                b = record.booking
                if isinstance(fact, RefundRecorded) and b.payment is PaymentState.REFUNDED \
                        and b.payment_id == fact.payment_id:
                    return "ignored"  # our refund call recorded it already
                try:
                    after = transition(b, fact, now)
                except ConflictError as exc:
                    raise WebhookError(f"event {event.id} ({event.type}) does not match "
                                       f"its booking: {exc}") from exc
                store.save_booking(conn, after)
        except WebhookError as exc:
            self.refused_webhooks += 1
            log.warning("payment webhook refused: %s", exc)
            raise
        log.info("payment event %s (%s) applied to booking %s: %s/%s", event.id, event.type,
                 b.booking_id, after.state, after.payment)
        return "applied"

    # --- operations ------------------------------------------------------------------------

    def operate(self, principal: Principal | None, booking_id: str,
                operation: Operation) -> BookingRecord:
        """A passenger's TOMP operation (COMMIT, CANCEL) on its booking; 409 when its state
        does not allow it. A cancel that makes a refund due asks the provider at once."""
        now = self.clock()
        with self._tx() as conn:
            record = self._expired(conn, self._owned(conn, principal, booking_id,
                                                     for_update=True), now)
            after = transition(record.booking, operation, now)
            store.save_booking(conn, after)
        log.info("booking %s: %s -> %s", booking_id, operation, after.state)
        if after.refund_due:
            try:
                self.refund(booking_id)
            except PaymentError as exc:  # the sweep asks again, with the same key
                log.warning("booking %s: refund not yet accepted: %s", booking_id, exc)
        return self.get(principal, booking_id)

    def refund(self, booking_id: str) -> bool:
        """Return a due refund's money (idempotency key ``refund-{booking_id}``); ``True``
        when the provider accepted it. :class:`PaymentError` when it did not."""
        with self._tx() as conn:
            record = store.booking(conn, booking_id)
        if record is None or not record.booking.refund_due or record.booking.payment_id is None:
            return False
        b = record.booking
        done = self.provider.refund(b.payment_id or "", b.amount_minor, f"refund-{booking_id}")
        if done.status not in ("succeeded", "pending"):
            raise PaymentError(f"refund {done.id} is {done.status}")
        with self._tx() as conn:
            record = store.booking(conn, booking_id, for_update=True)
            if record is not None and record.booking.refund_due:
                store.save_booking(conn, transition(
                    record.booking, RefundRecorded(done.payment_id, done.amount_minor),
                    self.clock()))
        log.info("booking %s: refunded (%s)", booking_id, done.id)
        return True

    def ticket(self, principal: Principal | None, booking_id: str) -> SignedTicket:
        """The signed ticket of a paid, confirmed booking; 409 for any other."""
        record = self.get(principal, booking_id)
        b = record.booking
        if not b.ticket_valid or b.ticket_issued_at is None:
            raise ConflictError(f"booking {booking_id} is {b.state}/{b.payment}: a ticket is "
                                "issued only for a paid and confirmed booking")
        legs = record.legs
        last = max(int(leg.get("arrival") or leg["departure"]) for leg in legs)
        early = int(TICKET_EARLY / timedelta(milliseconds=1))
        grace = int(TICKET_GRACE / timedelta(milliseconds=1))
        return self.signer.sign({
            "v": 1, "kid": self.signer.key_id, "booking_id": b.booking_id,
            "issued_at": to_ms(b.ticket_issued_at),
            "valid_from": to_ms(b.departure_at) - early, "valid_until": last + grace,
            "rider_category": record.rider_category,
            "products": [{"fare_product_id": p["fare_product_id"], "name": p["name"]}
                         for p in record.products],
            "legs": [dict(leg) for leg in legs],
            "amount_minor": b.amount_minor, "currency": b.currency})

    # --- the sweep -------------------------------------------------------------------------

    def sweep(self) -> SweepReport:
        """Expire waiting bookings whose hold ran out, ask for due refunds, and forget what
        is kept no longer: passengers' e-mails and tokens, idempotency keys, provider
        events."""
        now = self.clock()
        expired = refunded = failed = 0
        with self._tx() as conn:
            for booking_id in store.expirable(conn, to_ms(now)):
                record = store.booking(conn, booking_id, for_update=True)
                if record is not None:
                    with contextlib.suppress(ConflictError):
                        store.save_booking(conn, transition(record.booking, Operation.EXPIRE,
                                                            now))
                        expired += 1
            due = store.refunds_due(conn)
        for booking_id in due:
            try:
                refunded += self.refund(booking_id)
            except PaymentUnavailableError as exc:
                failed += 1
                log.info("booking %s: refund deferred, the provider is away: %s", booking_id,
                         exc)
            except (PaymentError, ConflictError) as exc:
                failed += 1
                log.warning("booking %s: refund refused: %s", booking_id, exc)
        retention = timedelta(days=self.settings.email_retention_days)
        with self._tx() as conn:
            purged = store.purge_passengers(conn, to_ms(now - retention))
            store.purge_keys(conn, to_ms(now - timedelta(hours=24)))
            store.purge_events(conn, to_ms(now - WEBHOOK_EVENT_TTL))
        return SweepReport(expired, refunded, failed, purged)


def _fact(event: WebhookEvent, body: bytes) -> PaymentReceived | RefundRecorded | None:
    """What a verified event tells the booking rules; ``None`` for events they ignore."""
    if event.type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        obj = json.loads(body)["data"]["object"]
        if obj.get("payment_status") != "paid":  # a delayed method: wait for its success
            return None
        if event.payment_id is None or event.amount_minor is None or event.currency is None:
            raise WebhookError(f"event {event.id}: a paid checkout without payment, amount "
                               "or currency")
        return PaymentReceived(event.object_id, event.payment_id, event.amount_minor,
                               event.currency)
    if event.type == "charge.refunded":
        if event.payment_id is None or event.amount_minor is None:
            raise WebhookError(f"event {event.id}: a refund without payment or amount")
        return RefundRecorded(event.payment_id, event.amount_minor)
    return None


def _event_booking(conn: Connection, event: WebhookEvent,
                   fact: PaymentReceived | RefundRecorded) -> BookingRecord | None:
    if isinstance(fact, RefundRecorded):
        return store.booking_by_payment(conn, fact.payment_id, for_update=True)
    if event.booking_id is not None:
        return store.booking(conn, event.booking_id, for_update=True)
    return store.booking_by_checkout(conn, fact.checkout_id, for_update=True)


# --- opening -------------------------------------------------------------------------------


def database_url(runtime: HubRuntime) -> str | None:
    """Where bookings live: ``mobility.bookings.database``, ``None`` for the hub's own
    database (``"hub"``), by default ``mobility.db`` in the hub's state directory."""
    url = runtime.settings.mobility.bookings.database
    if url == "hub":
        return None
    if url:
        return url
    return f"sqlite:///{Path(runtime.config.agent.state_dir) / 'mobility.db'}"


def ticket_key_path(runtime: HubRuntime) -> Path:
    """The ticket signing key: ``mobility.bookings.ticket_key``, by default
    ``mobility-ticket-key.pem`` in the hub's state directory."""
    configured = runtime.settings.mobility.bookings.ticket_key
    return Path(configured) if configured else \
        Path(runtime.config.agent.state_dir) / "mobility-ticket-key.pem"


async def booking_loop(service: BookingService) -> None:
    """Every ``sweep_every_s``: expire, refund, purge (:meth:`BookingService.sweep`)."""
    while True:
        await asyncio.sleep(service.settings.sweep_every_s)
        try:
            report = await asyncio.to_thread(service.sweep)
            if report != SweepReport():
                log.info("bookings swept: %s", report)
        except Exception:
            log.exception("mobility: the booking sweep failed")


@asynccontextmanager
async def open_bookings(hub: Hub) -> AsyncIterator[BookingService | None]:
    """Open ticket sales when the hub has what they need (a timetable, fares, a payment
    provider's key and webhook secret): the database and tables, the signing key, the
    passengers' token lookup and, on the primary hub, the sweep. ``None`` (the booking routes
    answer 503) otherwise, with the reason logged once."""
    runtime = hub.runtime
    settings = runtime.settings.mobility.bookings
    why_not = None
    fares = None
    if not settings.stripe_api_key or not settings.stripe_webhook_secrets:
        why_not = "no payment provider (mobility.bookings.stripe_api_key and _webhook_secrets)"
    elif hub.schedule is None:
        why_not = "no timetable (gtfs.static)"
    else:
        try:
            fares = await asyncio.to_thread(load_fares, runtime.config.gtfs.static,
                                            settings.fares)
        except FareError as exc:
            why_not = f"the fares cannot be read: {exc}"
        if fares is None and why_not is None:
            why_not = "no GTFS Fares v2 files (gtfs.static or mobility.bookings.fares)"
    if why_not is not None or fares is None or hub.schedule is None \
            or not settings.stripe_api_key:
        log.info("mobility: tickets are not sold on this hub: %s", why_not)
        yield None
        return
    url = database_url(runtime)
    engine = hub.engine if url is None else await asyncio.to_thread(
        make_engine, url, hub_schema=False)
    provider = StripePaymentProvider(settings.stripe_api_key, settings.stripe_webhook_secrets,
                                     base_url=settings.stripe_base_url)
    task: asyncio.Task[None] | None = None
    try:
        await asyncio.to_thread(create_schema, engine)
        signer = await asyncio.to_thread(TicketSigner.load_or_create, ticket_key_path(runtime))
        service = BookingService(engine, settings, provider=provider, fares=fares,
                                 signer=signer, schedule=hub.schedule)
        hub.identity.add_passenger_lookup(service.passenger_of_token)
        if runtime.settings.primary:
            task = asyncio.create_task(booking_loop(service), name="mobility_bookings")
        yield service
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        provider.close()
        if engine is not hub.engine:
            engine.dispose()

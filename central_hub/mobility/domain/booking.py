"""A ticket booking's life, pure: TOMP-API's booking states and operations, the payment beside
them, when a ticket exists and when money goes back, and the idempotency rule of every POST.

WHY pure and in one place: a booking is where money and a promise meet. A ticket for an unpaid
booking gives a ride away, a lost payment takes a passenger's money; both follow from one
wrong transition, so every transition is a pure function ``transition(booking, operation,
now) -> booking`` with the clock injected, checked against a hypothesis state machine
(``tests/unit/mobility/test_booking.py``) without a database, a provider or a server.

The states and operations are TOMP-API 1.x's (``TOMP-API.yaml``, schemas ``bookingState`` and
``bookingOperation``, ``POST /bookings`` and ``POST /bookings/{id}/events``; TOMP 2.0 moved on
to "packages" with other names); every other pair is refused::

    ======================  ===========  =============================================
    from                    operation    to (and when)
    ======================  ===========  =============================================
    (``POST /bookings``)                 PENDING, held until ``expires_at``
    PENDING                 COMMIT       CONFIRMED, ticket issued (only when PAID);
                                         CONDITIONAL_CONFIRMED with POSTPONED_COMMIT
    CONDITIONAL_CONFIRMED   COMMIT       CONFIRMED, ticket issued (the operator accepts)
    CONDITIONAL_CONFIRMED   DENY         RELEASED (the operator refuses)
    PENDING, COND._CONF.    CANCEL       CANCELLED
    CONFIRMED               CANCEL       CANCELLED, before ``cancel_deadline`` only
    PENDING (not PAID),     EXPIRE       EXPIRED, from ``expires_at`` on
    CONDITIONAL_CONFIRMED
    CONFIRMED               START        STARTED
    STARTED                 FINISH       FINISHED
    ======================  ===========  =============================================

``NEW`` (TOMP's state before ``POST /bookings`` answers) is never stored: a booking is created
``PENDING``. ``REJECTED`` (TOMP: the operator refused the booking request) is not reached
here either: a request we refuse is never stored. Both are in :class:`BookingState` so that a
TOMP state read from a partner always has a value.

Where we depart from TOMP, and why:

* an operation the state does not allow raises
  :class:`~central_hub.mobility.errors.ConflictError` (409 at our API). TOMP 1.x answers
  403 for a COMMIT on a committed, cancelled or expired booking; 409 says what happened
  (the request conflicts with the resource's current state, RFC 9110 §15.5.10) and does not
  look like an authorisation failure;
* COMMIT needs the payment: TOMP leaves payment to the MaaS provider (its ``PAYMENT_PENDING``
  extend reason), and we are that provider, so a booking is confirmed only once paid;
* EXPIRE is an operation here (TOMP has it only as an event type): the service applies it to
  every pending booking whose hold ran out, so the store says what the clock says;
* a CONFIRMED booking can be cancelled only until its cancel deadline (departure minus the
  configured window, fixed when the booking was made so a later settings change does not
  change a promise), always with a full refund; after that the cancel is refused (a ticket
  for a bus that is about to leave, or left, has been used or could have been).

Payment runs beside the booking state: ``UNPAID → CHECKOUT_OPEN → PAID → REFUNDED``. The facts
come from the provider (:class:`CheckoutOpened`, :class:`PaymentReceived`,
:class:`RefundRecorded`, past tense: they happened, the rules only record them), the TOMP
operations from the passenger, the operator and the clock. Two rules hold in every reachable
booking, and the tests check them after every step:

* a ticket is valid only for a PAID booking that is CONFIRMED or STARTED (and was issued at the
  COMMIT that confirmed it);
* a refund is due exactly when a PAID booking will not run (CANCELLED, EXPIRED, RELEASED): a
  cancel inside the window, or a payment that came in after the booking ended (a passenger
  who paid on the provider's page after the hold ran out must get the money back).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from central_hub.mobility.errors import ConflictError

#: how long a pending booking is held for its payment: 30 minutes, the shortest time a Stripe
#: Checkout Session can be open (``expires_at``: 30 min to 24 h after its creation). The page
#: is opened a little after the booking, so it may outlive the hold by that much; a payment
#: made then is recorded and refunded (:attr:`Booking.refund_due`), never lost.
DEFAULT_HOLD = timedelta(minutes=30)
#: a confirmed booking may be cancelled (with a full refund) until departure minus this
DEFAULT_CANCEL_WINDOW = timedelta(minutes=15)


class BookingState(StrEnum):
    """TOMP-API 1.x ``bookingState``."""

    NEW = "NEW"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    CONDITIONAL_CONFIRMED = "CONDITIONAL_CONFIRMED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    STARTED = "STARTED"
    FINISHED = "FINISHED"


class PaymentState(StrEnum):
    """Where the booking's money is."""

    UNPAID = "UNPAID"
    CHECKOUT_OPEN = "CHECKOUT_OPEN"
    PAID = "PAID"
    REFUNDED = "REFUNDED"


class Operation(StrEnum):
    """TOMP-API's booking operations (``bookingOperation``, plus EXPIRE, and the leg events
    START and FINISH that carry a confirmed booking through the trip).

    ``EXTEND_EXPIRY_TIME`` is not offered: the hold is as long as the provider's payment page
    stays open, and extending one without the other would confirm payments after the page
    closed."""

    COMMIT = "COMMIT"
    CANCEL = "CANCEL"
    EXPIRE = "EXPIRE"
    DENY = "DENY"
    START = "START"
    FINISH = "FINISH"


@dataclass(frozen=True, slots=True)
class CheckoutOpened:
    """The provider opened a hosted checkout for the booking."""

    checkout_id: str


@dataclass(frozen=True, slots=True)
class PaymentReceived:
    """The provider reports the checkout paid (a verified webhook): which checkout, which
    payment (what a refund names), and the amount actually taken."""

    checkout_id: str
    payment_id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class RefundRecorded:
    """The provider reports the payment refunded (in full: partial refunds are not sold)."""

    payment_id: str
    amount_minor: int


#: what the payment provider reports
PaymentEvent = CheckoutOpened | PaymentReceived | RefundRecorded

#: states in which the booking will not run any more
ENDED = frozenset({BookingState.CANCELLED, BookingState.EXPIRED, BookingState.RELEASED,
                   BookingState.REJECTED})
#: states in which the passenger holds a valid ticket (when paid)
TICKETED = frozenset({BookingState.CONFIRMED, BookingState.STARTED})


@dataclass(frozen=True, slots=True)
class Booking:
    """One passenger's booking of one public-transport ticket (amount in minor units, e.g.
    cents, the unit the payment provider counts in; times timezone-aware)."""

    booking_id: str
    state: BookingState
    payment: PaymentState
    amount_minor: int
    currency: str
    departure_at: datetime
    created_at: datetime
    updated_at: datetime
    #: the hold: a pending booking expires from this instant on
    expires_at: datetime
    #: a confirmed booking may be cancelled, with refund, before this instant
    cancel_deadline: datetime
    #: TOMP's POSTPONED_COMMIT process: the operator confirms or denies after our COMMIT
    postponed_commit: bool = False
    checkout_id: str | None = None
    payment_id: str | None = None
    ticket_issued_at: datetime | None = None

    @property
    def ticket_valid(self) -> bool:
        """Whether the passenger holds a valid ticket now."""
        return (self.ticket_issued_at is not None and self.payment is PaymentState.PAID
                and self.state in TICKETED)

    @property
    def refund_due(self) -> bool:
        """Whether money was taken for a booking that will not run: the service refunds it."""
        return self.payment is PaymentState.PAID and self.state in ENDED


def new_booking(booking_id: str, *, amount_minor: int, currency: str, departure_at: datetime,
                now: datetime, hold: timedelta = DEFAULT_HOLD,
                cancel_window: timedelta = DEFAULT_CANCEL_WINDOW,
                postponed_commit: bool = False) -> Booking:
    """``POST /bookings``: a PENDING, unpaid booking held for ``hold``.

    The hold never reaches past the departure (nobody pays for a bus that has left) and the
    booking is refused when the departure is not in the future."""
    for name, value in (("now", now), ("departure_at", departure_at)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
    if amount_minor < 0:
        raise ValueError("amount_minor must not be negative")
    if len(currency) != 3 or not currency.isalpha():
        raise ValueError("currency must be an ISO 4217 code")
    if hold <= timedelta(0) or cancel_window < timedelta(0):
        raise ValueError("hold must be positive and cancel_window not negative")
    if departure_at <= now:
        raise ConflictError("the departure is not in the future")
    return Booking(booking_id, BookingState.PENDING, PaymentState.UNPAID, amount_minor,
                   currency.upper(), departure_at, now, now,
                   expires_at=min(now + hold, departure_at),
                   cancel_deadline=departure_at - cancel_window,
                   postponed_commit=postponed_commit)


def _refuse(booking: Booking, what: str, why: str) -> ConflictError:
    return ConflictError(f"booking {booking.booking_id}: {what} is not allowed in state "
                         f"{booking.state}/{booking.payment}: {why}")


def transition(booking: Booking, operation: Operation | PaymentEvent,
               now: datetime) -> Booking:
    """The booking after ``operation`` at ``now``; :class:`ConflictError` when its state does
    not allow the operation (the booking is unchanged then: it is a value)."""
    if isinstance(operation, Operation):
        after = _operate(booking, operation, now)
    else:
        after = _record(booking, operation, now)
    return replace(after, updated_at=now)


def _operate(b: Booking, op: Operation, now: datetime) -> Booking:
    s = b.state
    if op is Operation.COMMIT:
        if s is BookingState.PENDING:
            if b.payment is not PaymentState.PAID:
                raise _refuse(b, "COMMIT", "the booking is not paid")
            if b.postponed_commit:
                return replace(b, state=BookingState.CONDITIONAL_CONFIRMED)
            return replace(b, state=BookingState.CONFIRMED, ticket_issued_at=now)
        if s is BookingState.CONDITIONAL_CONFIRMED:  # the operator accepts
            return replace(b, state=BookingState.CONFIRMED, ticket_issued_at=now)
        raise _refuse(b, "COMMIT", "only a pending or conditionally confirmed booking commits")
    if op is Operation.CANCEL:
        if s in (BookingState.PENDING, BookingState.CONDITIONAL_CONFIRMED):
            return replace(b, state=BookingState.CANCELLED)
        if s is BookingState.CONFIRMED:
            if now >= b.cancel_deadline:
                raise _refuse(b, "CANCEL", "the cancellation window closed at "
                              f"{b.cancel_deadline.isoformat()}")
            return replace(b, state=BookingState.CANCELLED)
        raise _refuse(b, "CANCEL", "the booking is not pending or confirmed")
    if op is Operation.EXPIRE:
        if now < b.expires_at:
            raise _refuse(b, "EXPIRE", f"the hold lasts until {b.expires_at.isoformat()}")
        if s is BookingState.PENDING and b.payment is not PaymentState.PAID:
            return replace(b, state=BookingState.EXPIRED)
        if s is BookingState.CONDITIONAL_CONFIRMED:  # the operator did not answer in time
            return replace(b, state=BookingState.EXPIRED)
        raise _refuse(b, "EXPIRE", "only an unpaid pending or an unanswered conditionally "
                      "confirmed booking expires (a paid one is committed)")
    if op is Operation.DENY:
        if s is BookingState.CONDITIONAL_CONFIRMED:
            return replace(b, state=BookingState.RELEASED)
        raise _refuse(b, "DENY", "only a conditionally confirmed booking can be denied")
    if op is Operation.START:
        if s is BookingState.CONFIRMED:
            return replace(b, state=BookingState.STARTED)
        raise _refuse(b, "START", "only a confirmed booking starts")
    if op is Operation.FINISH:
        if s is BookingState.STARTED:
            return replace(b, state=BookingState.FINISHED)
        raise _refuse(b, "FINISH", "only a started booking finishes")
    raise _refuse(b, str(op), "unknown operation")  # pragma: no cover - the enum is closed


def _record(b: Booking, event: PaymentEvent, now: datetime) -> Booking:
    if isinstance(event, CheckoutOpened):
        if b.state is not BookingState.PENDING or b.payment is not PaymentState.UNPAID:
            raise _refuse(b, "opening a checkout", "only an unpaid pending booking is paid for")
        if now >= b.expires_at:
            raise _refuse(b, "opening a checkout", "the hold ran out")
        return replace(b, payment=PaymentState.CHECKOUT_OPEN, checkout_id=event.checkout_id)
    if isinstance(event, PaymentReceived):
        # recorded in any booking state: the money was taken (a late payment becomes a due
        # refund, see Booking.refund_due), but only for the checkout we opened, in full
        if b.payment is not PaymentState.CHECKOUT_OPEN or event.checkout_id != b.checkout_id:
            raise _refuse(b, "a payment", f"no open checkout {event.checkout_id!r}")
        if (event.amount_minor, event.currency.upper()) != (b.amount_minor, b.currency):
            raise _refuse(b, "a payment", f"{event.amount_minor} {event.currency} was paid, "
                          f"{b.amount_minor} {b.currency} is owed")
        return replace(b, payment=PaymentState.PAID, payment_id=event.payment_id)
    if not b.refund_due:
        raise _refuse(b, "a refund", "no refund is due")
    if (event.payment_id, event.amount_minor) != (b.payment_id, b.amount_minor):
        raise _refuse(b, "a refund", "only the full amount of this booking's payment")
    return replace(b, payment=PaymentState.REFUNDED)


# --- idempotency ---------------------------------------------------------------------------

#: how long an idempotency key is remembered (Stripe keeps keys for 24 hours)
IDEMPOTENCY_TTL = timedelta(hours=24)
#: Stripe's limit on a key's length
MAX_IDEMPOTENCY_KEY = 255


class IdempotencyAction(StrEnum):
    """What to do with a request that carries an idempotency key."""

    PROCEED = "PROCEED"
    REPLAY = "REPLAY"
    REFUSE = "REFUSE"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response given to the first request with a key."""

    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A key as the service stored it: the first request's fingerprint, and its response once
    the request finished (``None`` while it runs)."""

    key: str
    fingerprint: str
    created_at: datetime
    response: StoredResponse | None


@dataclass(frozen=True, slots=True)
class IdempotencyDecision:
    """The decision: proceed, replay ``response``, or refuse with ``status``."""

    action: IdempotencyAction
    status: int | None = None
    response: StoredResponse | None = None
    reason: str = ""


def valid_idempotency_key(key: str) -> bool:
    """Whether ``key`` is usable: 1 to 255 visible ASCII characters (400 otherwise)."""
    return 0 < len(key) <= MAX_IDEMPOTENCY_KEY and all(" " < c <= "~" for c in key)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same request": method, path and the body's bytes.

    The caller passes the body canonicalised (e.g. JSON with sorted keys), so that a client
    re-serialising the same object is not refused. The key itself is looked up per client
    (the principal), so two clients' keys never meet."""
    h = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def decide(record: IdempotencyRecord | None, fingerprint: str, now: datetime,
           ttl: timedelta = IDEMPOTENCY_TTL) -> IdempotencyDecision:
    """Replay, refuse or proceed, following the IETF draft "The Idempotency-Key HTTP Header
    Field" (draft-ietf-httpapi-idempotency-key-header, section "Error Scenarios"):

    * no record, or one older than ``ttl``: PROCEED (store a record without a response first,
      in the same transaction as the lookup, so that a concurrent twin finds it);
    * the key was used with another request: REFUSE with **422** Unprocessable Content. The
      request is well formed and the key is known, but the two cannot be processed together;
      409 is kept for the case below so that a client can tell "wait and retry" from "your
      key is wrong". (Stripe itself answers 400 ``idempotency_error`` here; we follow the
      draft, which is what a generic HTTP client will know.);
    * the first request with the key is still running: REFUSE with **409** Conflict (retry
      later, the draft's "concurrent request");
    * the first request finished: REPLAY its stored response.

    Which responses get stored is the service's choice: 2xx and 4xx outcomes, not 5xx (an
    internal failure must stay retryable with the same key)."""
    if record is None or now - record.created_at >= ttl:
        return IdempotencyDecision(IdempotencyAction.PROCEED)
    if record.fingerprint != fingerprint:
        return IdempotencyDecision(IdempotencyAction.REFUSE, 422,
                                   reason="the idempotency key was used for another request")
    if record.response is None:
        return IdempotencyDecision(IdempotencyAction.REFUSE, 409,
                                   reason="a request with this idempotency key is in progress")
    return IdempotencyDecision(IdempotencyAction.REPLAY, record.response.status,
                               record.response)

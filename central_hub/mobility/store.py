"""The booking queries, one function per question, on the caller's connection.

WHY on the caller's connection: the use case (:mod:`central_hub.mobility.bookings`) decides
the transaction: a booking, its passenger and the idempotency key's answer are written
together; a provider event is recorded as seen in the transaction that applies it, so it is
applied at most once. These functions only say what to read and write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from central_hub.mobility import tables as t
from central_hub.mobility.domain.booking import (
    ENDED,
    Booking,
    BookingState,
    IdempotencyRecord,
    PaymentState,
    StoredResponse,
)


def to_ms(at: datetime) -> int:
    """Epoch milliseconds of a timezone-aware instant."""
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The UTC instant of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class BookingRecord:
    """A booking as stored: the domain value, whose it is, and what was bought."""

    booking: Booking
    owner: str
    passenger_id: str | None
    rider_category: str | None
    #: the transit legs as the passenger sent them (departure/arrival in epoch ms)
    legs: tuple[Mapping[str, Any], ...]
    #: the fare products that price them: fare_product_id, name, amount, currency, legs
    products: tuple[Mapping[str, Any], ...]
    checkout_url: str | None = None


def _values(b: Booking) -> dict[str, object]:
    return {
        "state": b.state.value, "payment": b.payment.value, "amount_minor": b.amount_minor,
        "currency": b.currency, "departure_ms": to_ms(b.departure_at),
        "created_ms": to_ms(b.created_at), "updated_ms": to_ms(b.updated_at),
        "expires_ms": to_ms(b.expires_at), "cancel_deadline_ms": to_ms(b.cancel_deadline),
        "postponed_commit": b.postponed_commit, "checkout_id": b.checkout_id,
        "payment_id": b.payment_id,
        "ticket_issued_ms": None if b.ticket_issued_at is None else to_ms(b.ticket_issued_at),
    }


def _record(row: Any) -> BookingRecord:
    issued = row["ticket_issued_ms"]
    booking = Booking(
        str(row["booking_id"]), BookingState(row["state"]), PaymentState(row["payment"]),
        int(row["amount_minor"]), str(row["currency"]), from_ms(row["departure_ms"]),
        from_ms(row["created_ms"]), from_ms(row["updated_ms"]),
        expires_at=from_ms(row["expires_ms"]),
        cancel_deadline=from_ms(row["cancel_deadline_ms"]),
        postponed_commit=bool(row["postponed_commit"]), checkout_id=row["checkout_id"],
        payment_id=row["payment_id"],
        ticket_issued_at=None if issued is None else from_ms(issued))
    return BookingRecord(booking, str(row["owner"]), row["passenger_id"],
                         row["rider_category"], tuple(json.loads(row["legs"])),
                         tuple(json.loads(row["products"])), row["checkout_url"])


# --- passengers ----------------------------------------------------------------------------


def add_passenger(conn: Connection, passenger_id: str, *, digest: str, email: str,
                  now_ms: int) -> None:
    """A passenger who booked without an account: its token's digest and its e-mail."""
    conn.execute(insert(t.passengers).values(passenger_id=passenger_id, token_digest=digest,
                                             email=email, created_ms=now_ms))


def passenger_of(conn: Connection, digest: str) -> str | None:
    """The passenger a token digest belongs to."""
    value = conn.execute(select(t.passengers.c.passenger_id)
                         .where(t.passengers.c.token_digest == digest)).scalar_one_or_none()
    return None if value is None else str(value)


def passenger_email(conn: Connection, passenger_id: str) -> str | None:
    """A passenger's e-mail (receipts); ``None`` once purged."""
    value = conn.execute(select(t.passengers.c.email)
                         .where(t.passengers.c.passenger_id == passenger_id)
                         ).scalar_one_or_none()
    return None if value is None else str(value)


def purge_passengers(conn: Connection, before_ms: int) -> int:
    """Delete the passengers (e-mail and token digest) registered before ``before_ms`` whose
    every booking ended before it: departed and last changed before, with no refund or
    checkout outstanding. Their bookings stay, under the pseudonymous id."""
    b = t.bookings
    active = exists().where(and_(
        b.c.passenger_id == t.passengers.c.passenger_id,
        or_(b.c.departure_ms >= before_ms, b.c.updated_ms >= before_ms,
            b.c.payment == PaymentState.CHECKOUT_OPEN.value,
            and_(b.c.payment == PaymentState.PAID.value,
                 b.c.state.in_([s.value for s in ENDED])))))
    result = conn.execute(delete(t.passengers).where(
        t.passengers.c.created_ms < before_ms, ~active))
    return int(result.rowcount)


# --- bookings ------------------------------------------------------------------------------


def insert_booking(conn: Connection, record: BookingRecord) -> None:
    """Store a new booking."""
    conn.execute(insert(t.bookings).values(
        booking_id=record.booking.booking_id, owner=record.owner,
        passenger_id=record.passenger_id, rider_category=record.rider_category,
        legs=json.dumps(list(record.legs), separators=(",", ":")),
        products=json.dumps(list(record.products), separators=(",", ":")),
        checkout_url=record.checkout_url, **_values(record.booking)))


def save_booking(conn: Connection, booking: Booking, *, checkout_url: str | None = None) -> None:
    """Write a booking's new state (and the checkout's URL, when one was opened)."""
    values = _values(booking)
    if checkout_url is not None:
        values["checkout_url"] = checkout_url
    conn.execute(update(t.bookings).where(t.bookings.c.booking_id == booking.booking_id)
                 .values(**values))


def _one(conn: Connection, where: Any, for_update: bool) -> BookingRecord | None:
    query = select(t.bookings).where(where)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return None if row is None else _record(row)


def booking(conn: Connection, booking_id: str, *, for_update: bool = False
            ) -> BookingRecord | None:
    """A booking by its id (locked for the transaction with ``for_update`` on PostgreSQL)."""
    return _one(conn, t.bookings.c.booking_id == booking_id, for_update)


def booking_by_checkout(conn: Connection, checkout_id: str, *, for_update: bool = False
                        ) -> BookingRecord | None:
    """The booking a provider's checkout was opened for."""
    return _one(conn, t.bookings.c.checkout_id == checkout_id, for_update)


def booking_by_payment(conn: Connection, payment_id: str, *, for_update: bool = False
                       ) -> BookingRecord | None:
    """The booking a provider's payment paid."""
    return _one(conn, t.bookings.c.payment_id == payment_id, for_update)


def expirable(conn: Connection, now_ms: int) -> list[str]:
    """Bookings whose hold ran out and that are still waiting: unpaid PENDING ones and
    CONDITIONAL_CONFIRMED ones (the index on state and expiry serves it)."""
    b = t.bookings
    rows = conn.execute(select(b.c.booking_id).where(
        b.c.expires_ms <= now_ms,
        or_(and_(b.c.state == BookingState.PENDING.value,
                 b.c.payment != PaymentState.PAID.value),
            b.c.state == BookingState.CONDITIONAL_CONFIRMED.value)))
    return [str(r[0]) for r in rows]


def refunds_due(conn: Connection) -> list[str]:
    """Bookings that were paid and will not run: their money goes back."""
    b = t.bookings
    rows = conn.execute(select(b.c.booking_id).where(
        b.c.payment == PaymentState.PAID.value, b.c.state.in_([s.value for s in ENDED])))
    return [str(r[0]) for r in rows]


# --- idempotency keys ----------------------------------------------------------------------


def idempotency_key(conn: Connection, scope: str, key: str) -> IdempotencyRecord | None:
    """A key as stored for ``scope``."""
    k = t.idempotency_keys
    row = conn.execute(select(k).where(k.c.scope == scope, k.c.key == key)).mappings().first()
    if row is None:
        return None
    response = None if row["status"] is None else StoredResponse(int(row["status"]),
                                                                  bytes(row["body"] or b""))
    return IdempotencyRecord(key, str(row["fingerprint"]), from_ms(row["created_ms"]),
                             response)


def claim_key(conn: Connection, scope: str, key: str, fingerprint: str, now_ms: int) -> None:
    """Record a key whose request starts now (replacing an expired record of it)."""
    k = t.idempotency_keys
    conn.execute(delete(k).where(k.c.scope == scope, k.c.key == key))
    conn.execute(insert(k).values(scope=scope, key=key, fingerprint=fingerprint,
                                  created_ms=now_ms, status=None, body=None))


def finish_key(conn: Connection, scope: str, key: str, response: StoredResponse) -> None:
    """Keep the answer the request with the key got."""
    k = t.idempotency_keys
    conn.execute(update(k).where(k.c.scope == scope, k.c.key == key)
                 .values(status=response.status, body=response.body))


def release_key(conn: Connection, scope: str, key: str) -> None:
    """Forget a key whose request failed inside (5xx): the client may retry with it."""
    k = t.idempotency_keys
    conn.execute(delete(k).where(k.c.scope == scope, k.c.key == key))


def purge_keys(conn: Connection, before_ms: int) -> int:
    """Forget keys created before ``before_ms``."""
    k = t.idempotency_keys
    return int(conn.execute(delete(k).where(k.c.created_ms < before_ms)).rowcount)


# --- the provider's events -----------------------------------------------------------------


def first_sighting(conn: Connection, event_id: str, now_ms: int) -> bool:
    """Record a provider event; ``True`` when it was not recorded before (an insert that a
    duplicate key turns into nothing, atomic on both databases; ``RETURNING`` says whether a
    row was written, where psycopg's row count for it is not to be trusted)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(t.webhook_events).values(
        event_id=event_id, received_ms=now_ms).on_conflict_do_nothing().returning(
        t.webhook_events.c.event_id)
    return conn.execute(stmt).first() is not None


def purge_events(conn: Connection, before_ms: int) -> int:
    """Forget provider events received before ``before_ms``."""
    w = t.webhook_events
    return int(conn.execute(delete(w).where(w.c.received_ms < before_ms)).rowcount)


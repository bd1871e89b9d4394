"""The mobility service's tables: bookings, the passengers who booked without an account,
the idempotency keys of ``POST /api/v1/bookings`` and the payment provider's events.

WHY its own :class:`~sqlalchemy.MetaData`: bookings are the service's, and they live where
its settings say (by default ``mobility.db`` of its own, apart from the telemetry); the
tables are created when the service is mounted, never at import. Times are epoch
milliseconds in ``BigInteger`` columns (as in the open-data tables), so SQLite and
PostgreSQL give back the same instant and the domain gets timezone-aware datetimes.

Personal data: a passenger's e-mail is in ``mobility_passengers`` only, beside the SHA-256
digest of its token (never the token); the row is deleted ``email_retention_days`` after its
last booking ended (:meth:`central_hub.mobility.bookings.BookingService.sweep`). A booking
row names its owner by a pseudonymous id, and stays as the record of a payment.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ID = String(64)
#: Stripe's ids and idempotency keys are at most 255 characters
PROVIDER_ID = String(255)

passengers = Table(
    "mobility_passengers", metadata,
    Column("passenger_id", ID, primary_key=True),
    #: hex SHA-256 of the passenger's token (central_hub.core.tokens.token_digest)
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("email", String(254), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

bookings = Table(
    "mobility_bookings", metadata,
    Column("booking_id", ID, primary_key=True),
    #: who may read and change it: "passenger:<id>" or "staff:<source>:<name>"
    Column("owner", String(300), nullable=False),
    #: set for a passenger's booking (the e-mail purge looks for its last booking)
    Column("passenger_id", ID, nullable=True),
    #: BookingState and PaymentState values
    Column("state", String(32), nullable=False),
    Column("payment", String(16), nullable=False),
    Column("amount_minor", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("departure_ms", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("cancel_deadline_ms", BigInteger, nullable=False),
    Column("postponed_commit", Boolean, nullable=False),
    Column("checkout_id", PROVIDER_ID, nullable=True, unique=True),
    Column("checkout_url", Text, nullable=True),
    Column("payment_id", PROVIDER_ID, nullable=True, unique=True),
    Column("ticket_issued_ms", BigInteger, nullable=True),
    Column("rider_category", String(100), nullable=True),
    #: the legs bought (JSON list) and the fare products that price them (JSON list)
    Column("legs", Text, nullable=False),
    Column("products", Text, nullable=False),
)
Index("ix_mobility_bookings_state_expires", bookings.c.state, bookings.c.expires_ms)
Index("ix_mobility_bookings_passenger", bookings.c.passenger_id)

idempotency_keys = Table(
    "mobility_idempotency_keys", metadata,
    #: whose key: the owner ("passenger:<id>", "staff:...") or "anonymous"
    Column("scope", String(300), primary_key=True),
    Column("key", PROVIDER_ID, primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    #: the first request's answer; both NULL while it runs
    Column("status", Integer, nullable=True),
    Column("body", LargeBinary, nullable=True),
)
Index("ix_mobility_idempotency_created", idempotency_keys.c.created_ms)

webhook_events = Table(
    "mobility_webhook_events", metadata,
    Column("event_id", PROVIDER_ID, primary_key=True),
    Column("received_ms", BigInteger, nullable=False),
)
Index("ix_mobility_webhook_events_received", webhook_events.c.received_ms)


def create_schema(engine: Engine) -> None:
    """Create the tables (idempotent)."""
    metadata.create_all(engine)

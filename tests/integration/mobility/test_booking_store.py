"""The booking store and sweeps on SQLite and PostgreSQL: a provider event is recorded once,
an idempotency key remembers its answer, the sweep expires holds, refunds a payment that came
too late (and retries when the provider is away), and deletes a passenger's e-mail 90 days
after its last booking ended, not before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from central_hub.domain.schedule import parse as parse_schedule
from central_hub.mobility import store
from central_hub.mobility import tables as t
from central_hub.mobility.bookings import BookingService, TicketSigner
from central_hub.mobility.domain.booking import (
    BookingState,
    PaymentState,
    StoredResponse,
    new_booking,
)
from central_hub.mobility.domain.fares import parse as parse_fares
from central_hub.mobility.errors import PaymentUnavailableError
from central_hub.mobility.payments import Checkout, Refund, WebhookEvent
from central_hub.mobility.settings import BookingSettings
from central_hub.mobility.store import BookingRecord
from central_hub.mobility.tables import create_schema
from central_hub.storage.db import make_engine
from simulations.fares_synth import fare_files
from simulations.gtfs_synth import feed_files
from tests.integration.central_hub.conftest import pg_db, pg_url

__all__ = ["pg_db", "pg_url"]

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
#: the sweep needs neither: one small timetable and the synthetic fares, parsed once
SCHEDULE = parse_schedule(feed_files(first_s=8 * 3600, last_s=9 * 3600))
FARES = parse_fares(fare_files(), timezone="Europe/Berlin")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'mobility.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("pg_db")
    eng = make_engine(url, hub_schema=False)
    create_schema(eng)
    yield eng
    eng.dispose()


class FakeProvider:
    """Refunds what it is asked to, or is away (``away`` calls in a row)."""

    def __init__(self) -> None:
        self.refunds: list[tuple[str, int, str]] = []
        self.away = 0

    def create_checkout(self, booking_id: str, amount_minor: int, currency: str, *,
                        success_url: str, cancel_url: str, idempotency_key: str,
                        description: str = "", expires_at: datetime | None = None) -> Checkout:
        raise AssertionError("not used")

    def refund(self, payment_id: str, amount_minor: int, idempotency_key: str) -> Refund:
        if self.away:
            self.away -= 1
            raise PaymentUnavailableError("stand-in away")
        self.refunds.append((payment_id, amount_minor, idempotency_key))
        return Refund(f"re_{len(self.refunds)}", payment_id, amount_minor, "succeeded")

    def verify_webhook(self, body: bytes, signature_header: str, now: datetime) -> WebhookEvent:
        raise AssertionError("not used")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _service(engine: Engine, tmp_path: Path, provider: FakeProvider,
             clock: Clock) -> BookingService:
    return BookingService(
        engine, BookingSettings(), provider=provider,
        fares=FARES, signer=TicketSigner.load_or_create(tmp_path / "key.pem"),
        schedule=SCHEDULE, clock=clock)


def _store(engine: Engine, booking_id: str, *, passenger: str | None, now: datetime,
           departure: timedelta = timedelta(hours=1), **changes: object) -> BookingRecord:
    b = replace(new_booking(booking_id, amount_minor=330, currency="EUR",
                            departure_at=now + departure, now=now), **changes)  # type: ignore[arg-type]
    record = BookingRecord(b, f"passenger:{passenger}" if passenger else "staff:static:x",
                           passenger, None, ({"trip_id": "1-0-0800", "departure": 0},), ())
    with engine.begin() as conn:
        store.insert_booking(conn, record)
    return record


def _state(engine: Engine, booking_id: str) -> tuple[BookingState, PaymentState]:
    with engine.connect() as conn:
        record = store.booking(conn, booking_id)
    assert record is not None
    return record.booking.state, record.booking.payment


def test_an_event_is_recorded_once_and_not_when_its_transaction_fails(engine: Engine) -> None:
    with engine.begin() as conn:
        assert store.first_sighting(conn, "evt_1", 1)
        assert not store.first_sighting(conn, "evt_1", 2)

    def apply_and_fail() -> None:
        with engine.begin() as conn:
            assert store.first_sighting(conn, "evt_2", 3)
            raise RuntimeError("applying the event failed")

    with pytest.raises(RuntimeError):
        apply_and_fail()
    with engine.begin() as conn:
        assert store.first_sighting(conn, "evt_2", 4)
        assert store.purge_events(conn, 4) == 1  # evt_1, received before


def test_a_key_remembers_its_request_and_answer(engine: Engine) -> None:
    with engine.begin() as conn:
        assert store.idempotency_key(conn, "anonymous", "k") is None
        store.claim_key(conn, "anonymous", "k", "f" * 64, 1000)
        running = store.idempotency_key(conn, "anonymous", "k")
        assert running is not None and running.response is None
        store.finish_key(conn, "anonymous", "k", StoredResponse(201, b'{"id":"B-1"}'))
        done = store.idempotency_key(conn, "anonymous", "k")
        assert done is not None and done.response == StoredResponse(201, b'{"id":"B-1"}')
        assert store.idempotency_key(conn, "passenger:P-1", "k") is None  # per client
        assert store.purge_keys(conn, 1001) == 1


def test_the_sweep_expires_refunds_late_payments_and_retries(engine: Engine,
                                                             tmp_path: Path) -> None:
    provider, clock = FakeProvider(), Clock()
    service = _service(engine, tmp_path, provider, clock)
    _store(engine, "B-hold", passenger=None, now=T0)
    # paid on the provider's page after the hold ran out: expired, and the money goes back
    _store(engine, "B-late", passenger=None, now=T0, state=BookingState.EXPIRED,
           payment=PaymentState.PAID, checkout_id="cs_1", payment_id="pi_1")
    provider.away = 1
    clock.now = T0 + timedelta(minutes=31)
    report = service.sweep()
    assert (report.expired, report.refunded, report.refunds_failed) == (1, 0, 1)
    assert _state(engine, "B-hold") == (BookingState.EXPIRED, PaymentState.UNPAID)
    assert _state(engine, "B-late") == (BookingState.EXPIRED, PaymentState.PAID)
    report = service.sweep()
    assert report.refunded == 1
    assert provider.refunds == [("pi_1", 330, "refund-B-late")]
    assert _state(engine, "B-late") == (BookingState.EXPIRED, PaymentState.REFUNDED)
    assert service.sweep().refunded == 0


def test_a_passengers_e_mail_is_deleted_90_days_after_its_last_booking(
        engine: Engine, tmp_path: Path) -> None:
    provider, clock = FakeProvider(), Clock()
    service = _service(engine, tmp_path, provider, clock)
    with engine.begin() as conn:
        for pid in ("P-old", "P-recent", "P-owed"):
            store.add_passenger(conn, pid, digest=pid.ljust(64, "0"), email=f"{pid}@example.org",
                                now_ms=store.to_ms(T0))
    _store(engine, "B-old", passenger="P-old", now=T0, state=BookingState.CANCELLED)
    _store(engine, "B-recent", passenger="P-recent", now=T0, departure=timedelta(days=30))
    _store(engine, "B-owed", passenger="P-owed", now=T0, state=BookingState.CANCELLED,
           payment=PaymentState.PAID, checkout_id="cs_2", payment_id="pi_2")
    provider.away = 10**6  # the refund of B-owed keeps failing
    clock.now = T0 + timedelta(days=89)
    assert service.sweep().passengers_purged == 0
    clock.now = T0 + timedelta(days=91)
    assert service.sweep().passengers_purged == 1
    with engine.connect() as conn:
        left = set(conn.execute(select(t.passengers.c.passenger_id)).scalars())
        assert left == {"P-recent", "P-owed"}
        assert store.passenger_of(conn, "P-old".ljust(64, "0")) is None
        # the booking stays, as the record of what was sold, under its pseudonym
        assert store.booking(conn, "B-old") is not None

"""The Stripe adapter against the local stand-in over real HTTP: a passenger pays on the
hosted page, the signed webhook arrives and verifies and confirms the booking; a refund after
a cancel; idempotent retries; provider failures as ``PaymentError``.

The webhook receiver is a plain HTTP server on another free port that keeps the raw bytes
and the ``Stripe-Signature`` header it got, as the hub's route will.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from central_hub.mobility.domain.booking import (
    CheckoutOpened,
    Operation,
    PaymentReceived,
    PaymentState,
    RefundRecorded,
    new_booking,
    transition,
)
from central_hub.mobility.errors import PaymentError, PaymentUnavailableError
from central_hub.mobility.payments import (
    MemoryWebhookEventLog,
    StripePaymentProvider,
    WebhookEvent,
)
from simulations.demo.payment_provider import StripeStandIn


class Receiver:
    """Collects webhooks: (raw body, Stripe-Signature)."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.arrived:
                    receiver.received.append((body, self.headers.get("Stripe-Signature", "")))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/stripe"

    def wait_for(self, count: int, timeout: float = 3.0) -> list[tuple[bytes, str]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), \
                f"{len(self.received)} of {count} webhooks arrived"
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def stripe(receiver: Receiver) -> Iterator[StripeStandIn]:
    with StripeStandIn(webhook_url=receiver.url) as s:
        yield s


@pytest.fixture
def adapter(stripe: StripeStandIn) -> Iterator[StripePaymentProvider]:
    with StripePaymentProvider(stripe.api_key, [stripe.webhook_secret],
                               base_url=stripe.base_url, timeout_s=3.0) as a:
        yield a


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """The passenger's browser on the hosted page (redirects not followed, to see them)."""
    with httpx.Client(timeout=3.0) as client:
        yield client


def _checkout_args(key: str = "k-checkout") -> dict[str, Any]:
    return {"success_url": "https://app.example/ok", "cancel_url": "https://app.example/no",
            "idempotency_key": key, "description": "Einzelfahrt Tarifzone 4000",
            "expires_at": datetime.now(UTC) + timedelta(minutes=31)}


def _verified(adapter: StripePaymentProvider, delivery: tuple[bytes, str]) -> WebhookEvent:
    body, signature = delivery
    return adapter.verify_webhook(body, signature, datetime.now(UTC))


def test_pay_on_the_hosted_page_then_the_signed_webhook_confirms_and_a_refund_follows(
        adapter: StripePaymentProvider, stripe: StripeStandIn, receiver: Receiver,
        browser: httpx.Client) -> None:
    now = datetime.now(UTC)
    booking = new_booking("b-42", amount_minor=350, currency="EUR",
                          departure_at=now + timedelta(hours=2), now=now)
    checkout = adapter.create_checkout("b-42", 350, "EUR", **_checkout_args())
    assert checkout.url.startswith(stripe.base_url + "/pay/cs_test_")
    booking = transition(booking, CheckoutOpened(checkout.id), now)

    # the passenger opens the hosted page and pays
    page = browser.get(checkout.url)
    assert page.status_code == 200 and "3.50 EUR" in page.text
    paid = browser.post(checkout.url)
    assert (paid.status_code, paid.headers["Location"]) == (303, "https://app.example/ok")

    (delivery,) = receiver.wait_for(1)
    event = _verified(adapter, delivery)
    assert (event.type, event.object_id, event.booking_id, event.amount_minor,
            event.currency) == ("checkout.session.completed", checkout.id, "b-42", 350, "EUR")
    assert event.payment_id is not None and event.payment_id.startswith("pi_test_")
    assert event.amount_minor is not None and event.currency is not None
    assert adapter.retrieve_checkout(checkout.id).payment_status == "paid"

    booking = transition(booking, PaymentReceived(event.object_id, event.payment_id,
                                                  event.amount_minor, event.currency), now)
    booking = transition(booking, Operation.COMMIT, now)
    assert booking.ticket_valid

    # the passenger cancels in time: the refund goes out, its webhook closes the booking
    booking = transition(booking, Operation.CANCEL, now)
    assert booking.refund_due and booking.payment_id is not None
    refund = adapter.refund(booking.payment_id, booking.amount_minor, "k-refund-b-42")
    assert (refund.payment_id, refund.amount_minor, refund.status) == (
        booking.payment_id, 350, "succeeded")
    refunded = _verified(adapter, receiver.wait_for(2)[1])
    assert (refunded.type, refunded.payment_id, refunded.amount_minor) == (
        "charge.refunded", booking.payment_id, 350)
    booking = transition(booking, RefundRecorded(refunded.payment_id or "", 350), now)
    assert (booking.payment, booking.refund_due) == (PaymentState.REFUNDED, False)


def test_a_redelivered_webhook_verifies_again_and_the_event_log_refuses_it(
        adapter: StripePaymentProvider, stripe: StripeStandIn, receiver: Receiver,
        browser: httpx.Client) -> None:
    checkout = adapter.create_checkout("b-1", 350, "EUR", **_checkout_args())
    browser.post(checkout.url)
    first = _verified(adapter, receiver.wait_for(1)[0])
    stripe.redeliver(first.id)
    again = _verified(adapter, receiver.wait_for(2)[1])
    log = MemoryWebhookEventLog()
    assert again.id == first.id
    assert [log.first_sighting(e.id, datetime.now(UTC)) for e in (first, again)] == [True,
                                                                                      False]


def test_a_retried_create_replays_and_a_reused_key_with_other_parameters_is_refused(
        adapter: StripePaymentProvider, stripe: StripeStandIn) -> None:
    args = _checkout_args("k-same")
    first = adapter.create_checkout("b-1", 350, "EUR", **args)
    assert adapter.create_checkout("b-1", 350, "EUR", **args) == first
    assert len(stripe.sessions) == 1
    with pytest.raises(PaymentError, match="idempotency_error") as caught:
        adapter.create_checkout("b-1", 999, "EUR", **args)
    assert not isinstance(caught.value, PaymentUnavailableError)


def test_a_provider_500_is_a_retryable_payment_error(adapter: StripePaymentProvider,
                                                     stripe: StripeStandIn) -> None:
    stripe.fail_next(500)
    with pytest.raises(PaymentUnavailableError, match="HTTP 500 api_error") as caught:
        adapter.create_checkout("b-1", 350, "EUR", **_checkout_args())
    assert isinstance(caught.value, PaymentError)
    # retried with the same key, it goes through once the provider is back
    assert adapter.create_checkout("b-1", 350, "EUR", **_checkout_args()).id in stripe.sessions


def test_provider_refusals_are_payment_errors(adapter: StripePaymentProvider,
                                              stripe: StripeStandIn,
                                              browser: httpx.Client) -> None:
    checkout = adapter.create_checkout("b-1", 350, "EUR", **_checkout_args())
    browser.post(checkout.url)
    payment_id = adapter.retrieve_checkout(checkout.id).payment_id
    assert payment_id is not None
    with pytest.raises(PaymentError, match="amount_too_large"):
        adapter.refund(payment_id, 351, "k-too-much")
    with pytest.raises(PaymentError, match="expires_at"):
        adapter.create_checkout("b-2", 350, "EUR", **{
            **_checkout_args("k-short"), "expires_at": datetime.now(UTC)})
    wrong_key = StripePaymentProvider("sk_test_wrong", ["whsec_x"], base_url=stripe.base_url)
    with wrong_key, pytest.raises(PaymentError, match="HTTP 401"):
        wrong_key.retrieve_checkout(checkout.id)


def test_an_unreachable_provider_is_a_retryable_payment_error(stripe: StripeStandIn) -> None:
    base = stripe.base_url
    stripe.stop()
    with StripePaymentProvider("sk_test_x", ["whsec_x"], base_url=base, timeout_s=1.0) as a, \
            pytest.raises(PaymentUnavailableError, match="could not be reached") as caught:
        a.refund("pi_1", 100, "k")
    assert isinstance(caught.value.__cause__, httpx.HTTPError)

"""Webhook signatures as Stripe makes them, the event parser, and the Stripe adapter's
requests and error mapping (on httpx's in-library transport: no network, no clock).

The fixed vector below was made by Stripe's own library (``stripe`` 16.1.0,
``WebhookSignature.generate_signature_header(body, "whsec_test_vector",
timestamp=1700000000)``), so the check is held against the provider's signer, not ours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest

from central_hub.mobility.errors import PaymentError, PaymentUnavailableError, WebhookError
from central_hub.mobility.payments import (
    MAX_WEBHOOK_BYTES,
    MemoryWebhookEventLog,
    StripePaymentProvider,
    parse_event,
    signature_header,
    verify_signature,
)

BODY = (b'{"id":"evt_1","object":"event","type":"checkout.session.completed",'
        b'"created":1700000000,"livemode":false,"data":{"object":{"id":"cs_test_1",'
        b'"object":"checkout.session","client_reference_id":"b-1","payment_intent":"pi_1",'
        b'"amount_total":350,"currency":"eur"}}}')
SECRET = "whsec_test_vector"
STRIPE_HEADER = ("t=1700000000,"
                 "v1=a08536c36568a1665faec623994bc18d61d16256a557e7fd8dcb1a258abec9f9")
SIGNED_AT = datetime.fromtimestamp(1700000000, UTC)


def test_a_signature_made_by_stripes_library_verifies() -> None:
    assert verify_signature(BODY, STRIPE_HEADER, [SECRET], SIGNED_AT) == 1700000000
    assert signature_header(BODY, SECRET, 1700000000) == STRIPE_HEADER


@pytest.mark.parametrize(("header", "message"), [
    ("", "not signed"),
    ("t=1700000000", "no v1"),
    ("v1=" + "0" * 64, "timestamp"),
    ("t=1700000000,t=1700000001," + STRIPE_HEADER.split(",")[1], "timestamp"),
    ("t=soon," + STRIPE_HEADER.split(",")[1], "timestamp"),
    ("garbage", "malformed"),
])
def test_an_unsigned_or_malformed_header_is_refused(header: str, message: str) -> None:
    with pytest.raises(WebhookError, match=message):
        verify_signature(BODY, header, [SECRET], SIGNED_AT)


def test_the_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookError, match="no v1 signature matches"):
        verify_signature(BODY, STRIPE_HEADER, ["whsec_other"], SIGNED_AT)


def test_a_tampered_body_is_refused() -> None:
    tampered = BODY.replace(b'"amount_total":350', b'"amount_total":35')
    with pytest.raises(WebhookError, match="no v1 signature matches"):
        verify_signature(tampered, STRIPE_HEADER, [SECRET], SIGNED_AT)


def test_a_signature_from_another_timestamp_is_refused() -> None:
    moved = STRIPE_HEADER.replace("t=1700000000", "t=1700000100")
    with pytest.raises(WebhookError, match="no v1 signature matches"):
        verify_signature(BODY, moved, [SECRET], SIGNED_AT + timedelta(seconds=100))


@pytest.mark.parametrize(("offset_s", "accepted"), [
    (0, True), (300, True), (-300, True), (301, False), (-301, False), (86_400, False)])
def test_the_timestamp_must_lie_within_the_tolerance_either_way(offset_s: int,
                                                                accepted: bool) -> None:
    now = SIGNED_AT + timedelta(seconds=offset_s)
    if accepted:
        assert verify_signature(BODY, STRIPE_HEADER, [SECRET], now) == 1700000000
    else:
        with pytest.raises(WebhookError, match="300 s from now"):
            verify_signature(BODY, STRIPE_HEADER, [SECRET], now)


def test_one_matching_signature_among_several_v1_entries_is_enough() -> None:
    good = STRIPE_HEADER.split(",")[1]
    header = f"t=1700000000,v1={'f' * 64},v0=ignored,{good},v1=short"
    assert verify_signature(BODY, header, [SECRET], SIGNED_AT) == 1700000000
    # during a secret roll: the body signed with either of two secrets verifies
    assert verify_signature(BODY, STRIPE_HEADER, ["whsec_new", SECRET], SIGNED_AT)


def test_an_oversized_body_or_missing_secret_is_refused_before_hashing() -> None:
    with pytest.raises(WebhookError, match="larger"):
        verify_signature(b"x" * (MAX_WEBHOOK_BYTES + 1), STRIPE_HEADER, [SECRET], SIGNED_AT)
    with pytest.raises(WebhookError, match="secret"):
        verify_signature(BODY, STRIPE_HEADER, [""], SIGNED_AT)


def test_parse_event_takes_the_fields_the_booking_rules_need() -> None:
    event = parse_event(BODY)
    assert (event.id, event.type, event.object_id, event.booking_id, event.payment_id,
            event.amount_minor, event.currency, event.livemode) == (
        "evt_1", "checkout.session.completed", "cs_test_1", "b-1", "pi_1", 350, "EUR", False)
    assert event.created == SIGNED_AT
    refund = parse_event(json.dumps({
        "id": "evt_2", "object": "event", "type": "charge.refunded", "created": 1700000001,
        "livemode": False, "data": {"object": {
            "id": "ch_1", "object": "charge", "amount": 350, "amount_refunded": 350,
            "payment_intent": "pi_1", "currency": "eur", "metadata": {"booking_id": "b-1"}}}},
    ).encode())
    assert (refund.object_id, refund.booking_id, refund.payment_id, refund.amount_minor) == (
        "ch_1", "b-1", "pi_1", 350)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"object":"event"}',
                                  b'{"object":"event","id":"e","type":"t","created":1,'
                                  b'"data":{"object":{}}}'])
def test_parse_event_refuses_what_is_not_an_event(body: bytes) -> None:
    with pytest.raises(WebhookError):
        parse_event(body)


def test_the_memory_event_log_says_first_sighting_once() -> None:
    log = MemoryWebhookEventLog()
    assert log.first_sighting("evt_1", SIGNED_AT) is True
    assert log.first_sighting("evt_1", SIGNED_AT) is False
    assert log.first_sighting("evt_2", SIGNED_AT) is True


# --- the adapter, on an in-library transport -----------------------------------------------


def _provider(handler: httpx.MockTransport, **kwargs: object) -> StripePaymentProvider:
    return StripePaymentProvider("sk_test_123", [SECRET], base_url="https://stripe.test",
                                 transport=handler, **kwargs)  # type: ignore[arg-type]


def test_create_checkout_sends_stripes_form_with_key_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "cs_test_9", "url": "https://pay/cs_test_9"})

    with _provider(httpx.MockTransport(answer)) as provider:
        checkout = provider.create_checkout(
            "b-7", 350, "EUR", success_url="https://app/ok", cancel_url="https://app/no",
            idempotency_key="k-1", description="Einzelfahrt",
            expires_at=datetime.fromtimestamp(1700001800, UTC))
    assert (checkout.id, checkout.url) == ("cs_test_9", "https://pay/cs_test_9")
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/checkout/sessions")
    assert request.headers["Authorization"] == "Bearer sk_test_123"
    assert request.headers["Idempotency-Key"] == "k-1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(request.content.decode()))
    assert form["mode"] == "payment"
    assert form["client_reference_id"] == form["metadata[booking_id]"] == "b-7"
    assert form["line_items[0][price_data][unit_amount]"] == "350"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["expires_at"] == "1700001800"


@pytest.mark.parametrize(("status", "unavailable"), [(400, False), (402, False), (404, False),
                                                     (429, True), (500, True), (503, True)])
def test_provider_errors_map_to_payment_errors(status: int, unavailable: bool) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {
            "type": "invalid_request_error", "code": "x_code", "message": "m" * 1000}})

    with _provider(httpx.MockTransport(answer)) as provider, \
            pytest.raises(PaymentError) as caught:
        provider.refund("pi_1", 350, "k-2")
    assert isinstance(caught.value, PaymentUnavailableError) is unavailable
    assert f"HTTP {status} invalid_request_error/x_code" in str(caught.value)
    assert len(str(caught.value)) < 400  # the provider's message is cut


def test_a_network_failure_is_retryable_and_chained() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with _provider(httpx.MockTransport(answer)) as provider, \
            pytest.raises(PaymentUnavailableError) as caught:
        provider.retrieve_checkout("cs_1")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_an_oversized_or_non_json_response_is_refused() -> None:
    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{" + b" " * 5000 + b"}")

    with _provider(httpx.MockTransport(big), max_response_bytes=1000) as provider, \
            pytest.raises(PaymentError, match="larger than 1000"):
        provider.refund("pi_1", 350, "k-3")

    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, content=b"<html>bad gateway</html>")

    with _provider(httpx.MockTransport(html)) as provider, \
            pytest.raises(PaymentUnavailableError, match="not JSON") as caught:
        provider.refund("pi_1", 350, "k-4")
    assert isinstance(caught.value.__cause__, ValueError)


def test_verify_webhook_refuses_an_event_of_the_other_mode() -> None:
    now = SIGNED_AT
    with _provider(httpx.MockTransport(lambda r: httpx.Response(500))) as test_mode:
        assert test_mode.verify_webhook(BODY, STRIPE_HEADER, now).id == "evt_1"
    live = StripePaymentProvider("sk_live_123", [SECRET],
                                 transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    with live, pytest.raises(WebhookError, match="test-mode event for a live-mode account"):
        live.verify_webhook(BODY, STRIPE_HEADER, now)

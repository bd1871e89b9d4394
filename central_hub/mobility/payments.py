"""Taking and returning a passenger's money: the payment-provider port, Stripe's adapter,
webhook verification and the replay guard's port.

WHY a port with an adapter: the booking rules (:mod:`central_hub.mobility.domain.booking`)
need three things from whoever holds the money, a hosted checkout to send the passenger to,
a refund, and trustworthy news that a checkout was paid; :class:`PaymentProvider` is those
three small methods, so the service and its tests do not care which provider it is, and
``testbed/payment_provider.py`` stands in for Stripe in the tests and the demo.

WHY httpx and the standard library's ``hmac``, not the ``stripe`` package (16.1.0 was
checked): its webhook check (``WebhookSignature.verify_header``) reads ``time.time()``
itself, so it cannot be tested with an injected clock, and it accepts any timestamp from the
future; its HTTP clients read a whole response into memory whatever its size, and its
default client pulls ``requests`` and ``urllib3`` into the hub's lock beside the httpx we
already have. The subset we use is three form-encoded POSTs and one GET
(``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/{id}``, ``POST /v1/refunds``)
plus a 20-line HMAC check, which is less code than wrapping the library's global state.

The adapter follows Stripe's API as documented: ``Authorization: Bearer sk_...``, form-encoded
bodies with bracketed keys (``line_items[0][price_data][unit_amount]``), an
``Idempotency-Key`` on every POST (a retried request returns the first outcome instead of
charging twice), errors as ``{"error": {"type", "code", "message"}}``. Every call has a
timeout and reads at most ``max_response_bytes``; provider refusals become
:class:`~central_hub.mobility.errors.PaymentError`, and what may succeed when retried with the
same key (network, timeout, 5xx, 429)
:class:`~central_hub.mobility.errors.PaymentUnavailableError`, chained ``from`` the cause.

Webhooks are signed the way Stripe signs them: ``Stripe-Signature: t=<unix time>,v1=<hex>``
where ``<hex>`` is HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the endpoint secret;
several ``v1`` entries may be present (Stripe sends one per active secret while a secret is
rolled) and one matching is enough; the timestamp must lie within ``tolerance_s`` (300 s) of
``now`` in either direction. Verification is pure (:func:`verify_signature`,
:func:`parse_event`); a verified event can still be a replay of one processed before, which
only a record of processed event ids can tell: :class:`WebhookEventLog` is that port, the
service backs it with a table.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx

from central_hub.mobility.errors import PaymentError, PaymentUnavailableError, WebhookError

STRIPE_API = "https://api.stripe.com"
#: Stripe's default tolerance for a webhook's timestamp (``Webhook.DEFAULT_TOLERANCE``)
DEFAULT_TOLERANCE_S = 300
#: a webhook body larger than this is refused before it is hashed or parsed
MAX_WEBHOOK_BYTES = 256 * 1024
#: provider error messages are cut to this length before they reach a log or an exception
_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class Checkout:
    """A hosted checkout: the passenger is sent to ``url`` to pay."""

    id: str
    url: str


@dataclass(frozen=True, slots=True)
class CheckoutStatus:
    """A checkout as the provider sees it now (to reconcile when a webhook was lost)."""

    id: str
    #: Stripe: ``open``, ``complete`` or ``expired``
    status: str
    #: Stripe: ``unpaid``, ``paid`` or ``no_payment_required``
    payment_status: str
    payment_id: str | None
    amount_minor: int | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund the provider accepted (``status`` ``succeeded`` or ``pending``)."""

    id: str
    payment_id: str
    amount_minor: int
    status: str


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified provider event, with the fields the booking rules use.

    ``object_id`` is the event's object (``cs_...`` for a checkout session, ``ch_...`` for a
    charge); ``booking_id`` is the session's ``client_reference_id`` (or a ``booking_id``
    metadata entry); ``payment_id`` is the payment intent, what a refund names."""

    id: str
    type: str
    created: datetime
    livemode: bool
    object_id: str
    booking_id: str | None
    payment_id: str | None
    amount_minor: int | None
    currency: str | None


class PaymentProvider(Protocol):
    """Whoever holds the passengers' money (Stripe, or the test stand-in)."""

    def create_checkout(self, booking_id: str, amount_minor: int, currency: str, *,
                        success_url: str, cancel_url: str, idempotency_key: str,
                        description: str = "", expires_at: datetime | None = None) -> Checkout:
        """Open a hosted checkout for ``amount_minor`` (e.g. cents) of ``currency``; the
        URLs and the key are keyword-only, so two strings cannot be swapped unnoticed."""
        ...

    def refund(self, payment_id: str, amount_minor: int, idempotency_key: str) -> Refund:
        """Return ``amount_minor`` of the payment ``payment_id`` to the passenger."""
        ...

    def verify_webhook(self, body: bytes, signature_header: str, now: datetime) -> WebhookEvent:
        """The event in a webhook's raw ``body`` once its signature checks out at ``now``;
        :class:`WebhookError` otherwise."""
        ...


class WebhookEventLog(Protocol):
    """The replay guard: which provider events were processed already.

    The service backs it with a table whose primary key is the event id (insert; a
    duplicate key means "seen"), in the transaction that applies the event, so an event is
    applied at most once however often the provider (or an attacker who recorded it inside
    the time tolerance) sends it. A replay is answered 200 without effect: the provider
    retries every non-2xx answer for days."""

    def first_sighting(self, event_id: str, received_at: datetime) -> bool:
        """Record ``event_id``; ``True`` if it was not recorded before (atomically)."""
        ...


class MemoryWebhookEventLog:
    """:class:`WebhookEventLog` in memory, for tests and the demo (forgets on restart)."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def first_sighting(self, event_id: str, received_at: datetime) -> bool:
        """Record ``event_id``; ``True`` if it was not recorded before."""
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = received_at
            return True


# --- webhook verification (pure) -----------------------------------------------------------


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` value Stripe would send for ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(body: bytes, header: str, secrets: Sequence[str], now: datetime,
                     tolerance_s: int = DEFAULT_TOLERANCE_S) -> int:
    """Check a ``Stripe-Signature`` header against the raw ``body``: the signed timestamp
    (returned) within ``tolerance_s`` of ``now`` and one ``v1`` signature made with one of
    ``secrets``; :class:`WebhookError` otherwise."""
    if not header:
        raise WebhookError("the webhook is not signed (no Stripe-Signature header)")
    if not secrets or not all(secrets):
        raise WebhookError("no webhook secret is configured")
    if len(body) > MAX_WEBHOOK_BYTES:
        raise WebhookError(f"the webhook body is larger than {MAX_WEBHOOK_BYTES} bytes")
    timestamps, signatures = [], []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookError("malformed Stripe-Signature header")
        if name == "t":
            timestamps.append(value)
        elif name == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise WebhookError("the Stripe-Signature header needs exactly one timestamp t=")
    if not signatures:
        raise WebhookError("the Stripe-Signature header has no v1 signature")
    timestamp = int(timestamps[0])
    signed = f"{timestamp}.".encode() + body
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest().encode()
                for s in secrets]
    matched = False
    for given in signatures:  # compare every pair, in constant time each
        for want in expected:
            matched |= hmac.compare_digest(want, given.encode("ascii", "replace"))
    if not matched:
        raise WebhookError("no v1 signature matches the body")
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise WebhookError(f"the signature's timestamp is more than {tolerance_s} s from now")
    return timestamp


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_event(body: bytes) -> WebhookEvent:
    """The :class:`WebhookEvent` in a (verified) webhook body; :class:`WebhookError` when it
    is not a Stripe event."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError("the webhook body is not JSON") from exc
    if not isinstance(event, dict) or event.get("object") != "event":
        raise WebhookError("the webhook body is not an event")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    event_id, kind, created = _str(event.get("id")), _str(event.get("type")), _int(
        event.get("created"))
    if not isinstance(obj, dict) or event_id is None or kind is None or created is None:
        raise WebhookError("the event lacks id, type, created or data.object")
    object_id = _str(obj.get("id"))
    if object_id is None:
        raise WebhookError("the event's object has no id")
    metadata = obj.get("metadata")
    booking_id = _str(obj.get("client_reference_id")) or (
        _str(metadata.get("booking_id")) if isinstance(metadata, dict) else None)
    if obj.get("object") == "charge":  # charge.refunded: what was refunded
        amount = _int(obj.get("amount_refunded"))
    else:
        amount = _int(obj.get("amount_total"))
        if amount is None:
            amount = _int(obj.get("amount"))
    payment = obj.get("payment_intent")
    if isinstance(payment, dict):  # expanded
        payment = payment.get("id")
    currency = _str(obj.get("currency"))
    return WebhookEvent(event_id, kind, datetime.fromtimestamp(created, UTC),
                        event.get("livemode") is True, object_id, booking_id, _str(payment),
                        amount, currency.upper() if currency else None)


# --- the Stripe adapter --------------------------------------------------------------------


class StripePaymentProvider:
    """:class:`PaymentProvider` on Stripe's HTTP API (or anything speaking its subset:
    ``base_url`` points the adapter at the test stand-in).

    One ``httpx.Client`` (connection reuse, no redirects followed), closed by :meth:`close`
    or ``with``. A live key (``sk_live_...``) accepts only live-mode events, a test key
    only test-mode ones, so a test payment can never confirm a real booking."""

    def __init__(self, api_key: str, webhook_secrets: Sequence[str], *,
                 base_url: str = STRIPE_API, timeout_s: float = 10.0,
                 max_response_bytes: int = 1024 * 1024,
                 tolerance_s: int = DEFAULT_TOLERANCE_S, stripe_version: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not api_key:
            raise ValueError("a Stripe API key is needed")
        if not webhook_secrets or not all(webhook_secrets):
            raise ValueError("at least one webhook secret is needed")
        self._secrets = tuple(webhook_secrets)
        self._tolerance_s = tolerance_s
        self._max = max_response_bytes
        self._livemode = api_key.startswith(("sk_live_", "rk_live_"))
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        if stripe_version:
            headers["Stripe-Version"] = stripe_version
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers,
                                  timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                                  transport=transport)

    def __enter__(self) -> StripePaymentProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def create_checkout(self, booking_id: str, amount_minor: int, currency: str, *,
                        success_url: str, cancel_url: str, idempotency_key: str,
                        description: str = "", expires_at: datetime | None = None) -> Checkout:
        """``POST /v1/checkout/sessions`` in payment mode, one line item of the fare; the
        booking id travels as ``client_reference_id`` and metadata, so its webhook finds
        the booking."""
        if amount_minor <= 0:
            raise ValueError("a checkout needs a positive amount")
        form: list[tuple[str, str]] = [
            ("mode", "payment"),
            ("success_url", success_url),
            ("cancel_url", cancel_url),
            ("client_reference_id", booking_id),
            ("metadata[booking_id]", booking_id),
            ("payment_intent_data[metadata][booking_id]", booking_id),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", currency.lower()),
            ("line_items[0][price_data][unit_amount]", str(amount_minor)),
            ("line_items[0][price_data][product_data][name]", description or "Fahrschein"),
        ]
        if expires_at is not None:
            form.append(("expires_at", str(int(expires_at.timestamp()))))
        session = self._request("POST", "/v1/checkout/sessions", form, idempotency_key)
        session_id, url = _str(session.get("id")), _str(session.get("url"))
        if session_id is None or url is None:
            raise PaymentError("the checkout session has no id or url")
        return Checkout(session_id, url)

    def retrieve_checkout(self, checkout_id: str) -> CheckoutStatus:
        """``GET /v1/checkout/sessions/{id}``."""
        s = self._request("GET", f"/v1/checkout/sessions/{quote(checkout_id, safe='')}")
        payment = s.get("payment_intent")
        if isinstance(payment, dict):
            payment = payment.get("id")
        currency = _str(s.get("currency"))
        return CheckoutStatus(str(s.get("id", checkout_id)), str(s.get("status", "")),
                              str(s.get("payment_status", "")), _str(payment),
                              _int(s.get("amount_total")),
                              currency.upper() if currency else None)

    def refund(self, payment_id: str, amount_minor: int, idempotency_key: str) -> Refund:
        """``POST /v1/refunds`` for the payment intent ``payment_id``."""
        if amount_minor <= 0:
            raise ValueError("a refund needs a positive amount")
        r = self._request("POST", "/v1/refunds",
                          [("payment_intent", payment_id), ("amount", str(amount_minor))],
                          idempotency_key)
        refund_id, amount = _str(r.get("id")), _int(r.get("amount"))
        if refund_id is None or amount is None:
            raise PaymentError("the refund has no id or amount")
        return Refund(refund_id, _str(r.get("payment_intent")) or payment_id, amount,
                      str(r.get("status", "")))

    def verify_webhook(self, body: bytes, signature_header: str, now: datetime) -> WebhookEvent:
        """Check the signature (:func:`verify_signature`), parse the event, and refuse an
        event of the other mode (test/live)."""
        verify_signature(body, signature_header, self._secrets, now, self._tolerance_s)
        event = parse_event(body)
        if event.livemode != self._livemode:
            raise WebhookError(f"a {'live' if event.livemode else 'test'}-mode event for a "
                               f"{'live' if self._livemode else 'test'}-mode account")
        return event

    def _request(self, method: str, path: str, form: Sequence[tuple[str, str]] | None = None,
                 idempotency_key: str | None = None) -> Mapping[str, Any]:
        headers = {}
        content = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            content = urlencode(form).encode()
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        what = f"{method} {path}"
        try:
            with self._http.stream(method, path, content=content, headers=headers) as response:
                body = self._read(response, what)
                status = response.status_code
        except httpx.HTTPError as exc:
            raise PaymentUnavailableError(f"{what}: the provider could not be reached: "
                                          f"{type(exc).__name__}") from exc
        try:
            payload = json.loads(body) if body else None
        except ValueError as exc:
            error: PaymentError = (PaymentUnavailableError if status >= 500 else PaymentError)(
                f"{what}: HTTP {status}, not JSON")
            raise error from exc
        if status >= 400 or not isinstance(payload, dict):
            raise _provider_error(what, status, payload)
        return payload

    def _read(self, response: httpx.Response, what: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            raise PaymentError(f"{what}: the response is larger than {self._max} bytes")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max:
                raise PaymentError(f"{what}: the response is larger than {self._max} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _provider_error(what: str, status: int, payload: object) -> PaymentError:
    """Stripe's ``{"error": {...}}`` as our exception: retryable or not."""
    error = payload.get("error") if isinstance(payload, dict) else None
    fields = error if isinstance(error, dict) else {}
    kind = str(fields.get("type", "unknown"))[:50]
    code = str(fields.get("code", ""))[:50]
    message = str(fields.get("message", ""))[:_MAX_MESSAGE]
    text = f"{what}: HTTP {status} {kind}{'/' + code if code else ''}: {message}"
    if status >= 500 or status == 429:
        return PaymentUnavailableError(text)
    return PaymentError(text)

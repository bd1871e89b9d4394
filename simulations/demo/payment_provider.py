"""A local stand-in for Stripe: the subset of its HTTP API the mobility service uses, its
hosted checkout page, and its signed webhooks, in memory on 127.0.0.1.

WHY a stand-in and not Stripe's test mode: the tests and the demo run without the internet
and without an account, and a test must be able to do what Stripe's test mode does not let a
program do quickly: pay as a customer would (a POST on the hosted page's URL), make the
provider fail on the next call, replay a webhook. It speaks the API the adapter
(:class:`central_hub.mobility.payments.StripePaymentProvider`) speaks, so the adapter is
tested for real, over HTTP:

* ``POST /v1/checkout/sessions`` (form-encoded, ``Authorization: Bearer``, the same
  parameter checks as Stripe for what we send, ``expires_at`` 30 min to 24 h ahead),
  ``GET /v1/checkout/sessions/{id}``, ``POST /v1/refunds``; errors as Stripe's
  ``{"error": {"type", "code", "message", "param"}}``;
* ``Idempotency-Key`` as Stripe keeps it: the same key with the same parameters replays the
  first response (``Idempotent-Replayed: true``), with other parameters it is a 400
  ``idempotency_error``;
* ``GET /pay/{id}`` is the hosted page, ``POST /pay/{id}`` pays: the session becomes
  ``complete``/``paid``, a payment intent and a charge are made, a
  ``checkout.session.completed`` webhook is POSTed to ``webhook_url`` and the customer is
  redirected (303) to the ``success_url``. A refund POSTs ``charge.refunded``;
* webhooks are signed as Stripe signs them (``Stripe-Signature: t=...,v1=...``), by code of
  its own here, not the adapter's, so the adapter's check is tested against an independent
  signer.

The webhook is sent before the hosted page answers (Stripe sends it asynchronously; doing it
synchronously makes the tests deterministic). Every delivery is kept in :attr:`deliveries`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from edge_agent.errors import KasselError

#: what the stand-in reads of a request body at most
MAX_REQUEST_BYTES = 64 * 1024
_MIN_EXPIRY_S, _MAX_EXPIRY_S = 30 * 60, 24 * 3600


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST: the event, the exact bytes and header sent, and the answer (``None``
    when the receiver could not be reached)."""

    event: Mapping[str, Any]
    body: bytes
    signature: str
    status: int | None


class _ApiError(KasselError):
    """A Stripe error response."""

    def __init__(self, status: int, kind: str, message: str, code: str = "",
                 param: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": kind, "message": message,
                               **({"code": code} if code else {}),
                               **({"param": param} if param else {})}}


class StripeStandIn:
    """The stand-in server; ``with StripeStandIn(webhook_url=...) as stripe:`` runs it on a
    free port of 127.0.0.1 (:attr:`base_url`)."""

    def __init__(self, *, api_key: str = "sk_test_standin",
                 webhook_secret: str = "whsec_standin", webhook_url: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.clock = clock
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}  # by payment intent id
        self.refunds: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.deliveries: list[Delivery] = []
        #: API requests as (method, path, idempotency key)
        self.requests: list[tuple[str, str, str | None]] = []
        self._idempotency: dict[str, tuple[str, int, bytes]] = {}
        self._failures: list[tuple[int, bytes]] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._http: httpx.Client | None = None
        self._thread: threading.Thread | None = None

    # --- running -----------------------------------------------------------------------

    def __enter__(self) -> StripeStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Serve on a free port of 127.0.0.1 in a daemon thread."""
        self._http = httpx.Client(timeout=5.0)  # delivers the webhooks
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        # a short poll interval: stop() returns within 50 ms (the tests start many)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="stripe-stand-in", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._http is not None:
            self._http.close()
            self._http = None

    @property
    def base_url(self) -> str:
        """Where the API and the hosted pages are (the adapter's ``base_url``)."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- what a test does ----------------------------------------------------------------

    def fail_next(self, status: int = 500, count: int = 1, body: bytes | None = None) -> None:
        """Answer the next ``count`` API requests with ``status`` (Stripe's ``api_error``
        body unless ``body`` is given)."""
        payload = body if body is not None else json.dumps({"error": {
            "type": "api_error", "message": "An unknown error occurred (stand-in)"}}).encode()
        with self._lock:
            self._failures.extend([(status, payload)] * count)

    def redeliver(self, event_id: str) -> Delivery:
        """Send an event again, as Stripe does when it retries (same id and body, a fresh
        signature)."""
        with self._lock:
            event = self.events[event_id]
        return self._deliver(event)

    # --- the API -------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{secrets.token_hex(12)}"

    def _create_session(self, form: Mapping[str, str]) -> dict[str, Any]:
        if form.get("mode") != "payment":
            raise _ApiError(400, "invalid_request_error", "Missing required param: mode.",
                            "parameter_missing", "mode")
        for name in ("success_url", "line_items[0][price_data][currency]",
                     "line_items[0][price_data][unit_amount]",
                     "line_items[0][price_data][product_data][name]"):
            if not form.get(name):
                raise _ApiError(400, "invalid_request_error",
                                f"Missing required param: {name}.", "parameter_missing", name)
        amount_text = form["line_items[0][price_data][unit_amount]"]
        quantity_text = form.get("line_items[0][quantity]", "1")
        if not amount_text.isdigit() or not quantity_text.isdigit():
            raise _ApiError(400, "invalid_request_error", "Invalid integer: unit_amount.",
                            "parameter_invalid_integer",
                            "line_items[0][price_data][unit_amount]")
        now = int(self.clock())
        expires_at = now + _MAX_EXPIRY_S
        if "expires_at" in form:
            expires_at = int(form["expires_at"])
            if not now + _MIN_EXPIRY_S <= expires_at <= now + _MAX_EXPIRY_S:
                raise _ApiError(400, "invalid_request_error",
                                "The `expires_at` timestamp must be between 30 minutes and "
                                "24 hours after Checkout Session creation.",
                                "parameter_invalid_integer", "expires_at")
        session_id = self._id("cs")
        session = {
            "id": session_id, "object": "checkout.session", "livemode": False,
            "mode": "payment", "status": "open", "payment_status": "unpaid",
            "amount_total": int(amount_text) * int(quantity_text),
            "currency": form["line_items[0][price_data][currency]"].lower(),
            "client_reference_id": form.get("client_reference_id"),
            "metadata": _nested(form, "metadata"), "payment_intent": None,
            "success_url": form["success_url"], "cancel_url": form.get("cancel_url"),
            "created": now, "expires_at": expires_at,
            "url": f"{self.base_url}/pay/{session_id}",
            "_pi_metadata": _nested(form, "payment_intent_data[metadata]"),
        }
        self.sessions[session_id] = session
        return session

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise _ApiError(404, "invalid_request_error",
                            f"No such checkout.session: '{session_id}'", "resource_missing",
                            "session")
        if session["status"] == "open" and self.clock() >= session["expires_at"]:
            session["status"] = "expired"
        return session

    def _create_refund(self, form: Mapping[str, str]) -> dict[str, Any]:
        intent = form.get("payment_intent", "")
        charge = self.charges.get(intent)
        if charge is None:
            raise _ApiError(400, "invalid_request_error",
                            f"No such payment_intent: '{intent}'", "resource_missing",
                            "payment_intent")
        remaining = charge["amount"] - charge["amount_refunded"]
        amount_text = form.get("amount", str(remaining))
        if not amount_text.isdigit() or int(amount_text) <= 0:
            raise _ApiError(400, "invalid_request_error", "Invalid positive integer",
                            "parameter_invalid_integer", "amount")
        amount = int(amount_text)
        if amount > remaining:
            raise _ApiError(400, "invalid_request_error",
                            f"Refund amount ({amount}) is greater than unrefunded amount on "
                            f"charge ({remaining})", "amount_too_large", "amount")
        refund: dict[str, Any] = {"id": self._id("re"), "object": "refund", "amount": amount,
                  "charge": charge["id"], "payment_intent": intent,
                  "currency": charge["currency"], "status": "succeeded",
                  "created": int(self.clock())}
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return refund

    def _pay(self, session_id: str) -> tuple[int, str, dict[str, Any] | None]:
        """The customer pays: (status, redirect or message, event to send)."""
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return 404, "no such checkout", None
            session = self._session(session_id)
            if session["status"] == "complete":
                return 303, session["success_url"], None
            if session["status"] != "open":
                return 410, "this checkout has expired", None
            intent, charge_id = self._id("pi"), self._id("ch")
            session.update(status="complete", payment_status="paid", payment_intent=intent)
            self.charges[intent] = {
                "id": charge_id, "object": "charge", "amount": session["amount_total"],
                "amount_refunded": 0, "refunded": False, "currency": session["currency"],
                "payment_intent": intent, "metadata": session["_pi_metadata"],
                "livemode": False}
            event = self._event("checkout.session.completed", _public(session))
            return 303, session["success_url"], event

    def _event(self, kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": self._id("evt"), "object": "event", "api_version": "2024-06-20",
            "created": int(self.clock()), "livemode": False, "pending_webhooks": 1,
            "type": kind, "data": {"object": dict(obj)}}
        self.events[event["id"]] = event
        return event

    def _deliver(self, event: Mapping[str, Any]) -> Delivery:
        body = json.dumps(event, separators=(",", ":")).encode()
        timestamp = int(self.clock())
        mac = hmac.new(self.webhook_secret.encode(), b"%d." % timestamp + body, hashlib.sha256)
        signature = f"t={timestamp},v1={mac.hexdigest()}"
        status: int | None = None
        if self.webhook_url and self._http is not None:
            try:
                status = self._http.post(self.webhook_url, content=body, headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": signature,
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
                ).status_code
            except httpx.HTTPError:
                status = None
        delivery = Delivery(event, body, signature, status)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def _api(self, method: str, path: str, headers: Mapping[str, str],
             body: bytes) -> tuple[int, bytes, dict[str, str]]:
        """One API request: (status, JSON body, extra headers)."""
        key = headers.get("Idempotency-Key")
        with self._lock:
            self.requests.append((method, path, key))
            if headers.get("Authorization") != f"Bearer {self.api_key}":
                raise _ApiError(401, "invalid_request_error", "Invalid API Key provided.")
            if self._failures:
                status, payload = self._failures.pop(0)
                return status, payload, {}
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            fingerprint = f"{method} {path} {sorted(form.items())}"
            if key is not None and method == "POST" and key in self._idempotency:
                first, status, payload = self._idempotency[key]
                if first != fingerprint:
                    raise _ApiError(400, "idempotency_error", "Keys for idempotent requests "
                                    "can only be used with the same parameters they were "
                                    "first used with.")
                return status, payload, {"Idempotent-Replayed": "true"}
            status, payload, event = self._route(method, path, form)
            if key is not None and method == "POST":
                self._idempotency[key] = (fingerprint, status, payload)
        if event is not None:
            self._deliver(event)
        return status, payload, {}

    def _route(self, method: str, path: str,
               form: Mapping[str, str]) -> tuple[int, bytes, dict[str, Any] | None]:
        event = None
        if method == "POST" and path == "/v1/checkout/sessions":
            result = _public(self._create_session(form))
        elif method == "GET" and path.startswith("/v1/checkout/sessions/"):
            result = _public(self._session(path.rsplit("/", 1)[1]))
        elif method == "POST" and path == "/v1/refunds":
            result = self._create_refund(form)
            charge = self.charges[result["payment_intent"]]
            event = self._event("charge.refunded", charge)
        else:
            raise _ApiError(404, "invalid_request_error",
                            f"Unrecognized request URL ({method}: {path}).")
        return 200, json.dumps(result).encode(), event


def _public(session: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in session.items() if not k.startswith("_")}


def _nested(form: Mapping[str, str], prefix: str) -> dict[str, str]:
    """``metadata[a]=1`` -> ``{"a": "1"}``."""
    start = f"{prefix}["
    return {k[len(start):-1]: v for k, v in form.items()
            if k.startswith(start) and k.endswith("]") and "[" not in k[len(start):-1]}


def _handler(stand_in: StripeStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Routes a request to the stand-in."""

        def _body(self) -> bytes | None:
            length = self.headers.get("Content-Length", "0")
            if not length.isdigit() or int(length) > MAX_REQUEST_BYTES:
                self._send(413, b'{"error":{"type":"invalid_request_error",'
                                b'"message":"Request too large"}}')
                return None
            return self.rfile.read(int(length))

        def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None,
                  content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _handle(self, method: str) -> None:
            body = self._body()
            if body is None:
                return
            path = urlsplit(self.path).path
            if path.startswith("/pay/"):
                self._page(method, path.removeprefix("/pay/"))
                return
            try:
                wanted = {name: self.headers.get(name, "") for name in
                          ("Authorization", "Idempotency-Key") if name in self.headers}
                status, payload, headers = stand_in._api(method, path, wanted, body)
            except _ApiError as exc:
                status, payload, headers = exc.status, json.dumps(exc.body).encode(), {}
            self._send(status, payload, headers)

        def _page(self, method: str, session_id: str) -> None:
            if method == "GET":
                session = stand_in.sessions.get(session_id)
                if session is None:
                    self._send(404, b"no such checkout", content_type="text/plain")
                    return
                amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
                page = (f"<!doctype html><title>Pay</title><form method=post>"
                        f"<p>{html.escape(amount)}</p><button>Pay</button></form>")
                self._send(200, page.encode(), content_type="text/html; charset=utf-8")
                return
            status, where, event = stand_in._pay(session_id)
            if event is not None:
                stand_in._deliver(event)
            if status == 303:
                self._send(303, b"", {"Location": where}, content_type="text/plain")
            else:
                self._send(status, where.encode(), content_type="text/plain")

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

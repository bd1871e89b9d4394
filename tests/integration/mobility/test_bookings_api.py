"""Acceptance: buying a ticket over HTTP from a real hub, paid through the real Stripe adapter
against the local Stripe stand-in on a free port.

A passenger plans a journey, books its transit legs without an account (an e-mail, a token
back), is refused a COMMIT before paying, pays on the provider's hosted page; the signed
webhook reaches the hub and records the payment; COMMIT issues a ticket whose Ed25519
signature checks out offline with the published key; CANCEL inside the window refunds the
money. Around it: unsigned, replayed and mismatched webhooks, idempotent retries of the
booking, and another passenger's token.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from central_hub.broker import MosquittoBroker, free_port
from central_hub.mobility import tables
from central_hub.mobility.payments import signature_header
from central_hub.mobility.settings import BookingSettings, MobilitySettings
from simulations.demo.payment_provider import StripeStandIn
from simulations.fares_synth import write_feed_with_fares
from tests.integration.central_hub.helpers import (
    HubServer,
    hub_config,
    now_ms,
    start_hub,
    wait_for,
)

EMAIL = "anna.beispiel@example.org"


@dataclass
class Scene:
    """A hub selling tickets, the stand-in it pays through, and a planned journey."""

    srv: HubServer
    http: httpx.Client
    stripe: StripeStandIn
    legs: list[dict[str, Any]]


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("bookings")
    gtfs = write_feed_with_fares(tmp / "gtfs.zip", first_s=0, last_s=24 * 3600,
                                 headway_s=600)
    port = free_port()
    with MosquittoBroker(tmp / "mosquitto") as broker, StripeStandIn(
            webhook_url=f"http://127.0.0.1:{port}/api/v1/payments/webhook") as stripe:
        bookings = BookingSettings(stripe_api_key=stripe.api_key,
                                   stripe_webhook_secrets=(stripe.webhook_secret,),
                                   stripe_base_url=stripe.base_url, sweep_every_s=0.2)
        srv = start_hub(hub_config(tmp, broker, gtfs=str(gtfs)), port=port,
                        mobility=MobilitySettings(bookings=bookings))
        try:
            with httpx.Client(base_url=srv.url, timeout=30) as http:
                yield Scene(srv, http, stripe, _plan(http))
        finally:
            srv.stop()


def _plan(http: httpx.Client) -> list[dict[str, Any]]:
    """The transit legs of a journey on line 1 leaving in about 40 minutes, as the booking
    takes them from the planner's answer."""
    r = http.get("/api/v1/journeys", params={"from": "stop:S1-02", "to": "stop:S1-06",
                                              "time": now_ms() + 40 * 60_000})
    assert r.status_code == 200, r.text
    legs = [leg for leg in r.json()["itineraries"][0]["legs"] if leg["trip_id"]]
    assert legs
    return [{"trip_id": leg["trip_id"], "route_id": leg["route_id"],
             "from_stop_id": leg["from"]["stop_id"], "to_stop_id": leg["to"]["stop_id"],
             "departure": leg["from"]["time"], "arrival": leg["to"]["time"]} for leg in legs]


def _book(scene: Scene, key: str, **body: Any) -> httpx.Response:
    return scene.http.post("/api/v1/bookings", json={"legs": scene.legs, **body},
                           headers={"Idempotency-Key": key})


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _event(scene: Scene, booking_id: str, token: str, operation: str) -> httpx.Response:
    return scene.http.post(f"/api/v1/bookings/{booking_id}/events",
                           json={"operation": operation}, headers=_auth(token))


def _webhook(scene: Scene, event: dict[str, Any], *, signed: bool = True) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["Stripe-Signature"] = signature_header(body, scene.stripe.webhook_secret,
                                                       int(time.time()))
    return scene.http.post("/api/v1/payments/webhook", content=body, headers=headers)


def _refused(scene: Scene) -> int:
    count: int = scene.srv.app.state.mobility.bookings.refused_webhooks
    return count


def test_plan_book_pay_commit_ticket_cancel_refund(scene: Scene) -> None:
    http = scene.http
    # book without an account: an e-mail, a token back once, the feed's fare
    r = _book(scene, "journey-1", email=EMAIL)
    assert r.status_code == 201, r.text
    created = r.json()
    booking_id, token = created["id"], created["token"]
    assert created["state"] == "PENDING" and token
    assert created["price"] == {"amount": "3.30", "currency": "EUR"}  # Tarifzone 4000, app
    assert created["expires_at"] > now_ms()
    # the same request again answers the same booking, without the token
    again = _book(scene, "journey-1", email=EMAIL)
    assert again.status_code == 201 and again.json()["id"] == booking_id
    assert "token" not in again.json()

    # COMMIT before payment is a conflict, and there is no ticket
    assert _event(scene, booking_id, token, "COMMIT").status_code == 409
    assert http.get(f"/api/v1/bookings/{booking_id}/ticket",
                    headers=_auth(token)).status_code == 409

    # the hosted checkout, once
    r = http.post(f"/api/v1/bookings/{booking_id}/checkout", headers=_auth(token))
    assert r.status_code == 200, r.text
    url = r.json()["checkout_url"]
    assert url.startswith(scene.stripe.base_url + "/pay/")
    assert http.post(f"/api/v1/bookings/{booking_id}/checkout",
                     headers=_auth(token)).json()["checkout_url"] == url
    session = scene.stripe.sessions[url.rsplit("/", 1)[1]]
    assert session["amount_total"] == 330 and session["client_reference_id"] == booking_id
    assert session["success_url"].endswith(f"/app/#/bookings/{booking_id}")

    # the passenger pays on the hosted page; the signed webhook reaches the hub at once
    paid = httpx.post(url, follow_redirects=False)
    assert paid.status_code == 303
    assert paid.headers["location"].endswith(f"/app/#/bookings/{booking_id}")
    delivery = scene.stripe.deliveries[-1]
    assert delivery.event["type"] == "checkout.session.completed" and delivery.status == 200
    booking = http.get(f"/api/v1/bookings/{booking_id}", headers=_auth(token)).json()
    assert (booking["state"], booking["payment"]) == ("PENDING", "PAID")

    # Stripe retrying the same event, or somebody replaying it: 200, no effect
    again_delivered = scene.stripe.redeliver(delivery.event["id"])
    assert again_delivered.status == 200
    r = http.post("/api/v1/payments/webhook", content=delivery.body,
                  headers={"Stripe-Signature": delivery.signature})
    assert r.status_code == 200 and r.json() == {"outcome": "replay"}

    # COMMIT now confirms and issues the ticket
    r = _event(scene, booking_id, token, "COMMIT")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["ticket"]) == ("CONFIRMED", True)
    ticket = http.get(f"/api/v1/bookings/{booking_id}/ticket", headers=_auth(token)).json()
    key = http.get("/api/v1/tickets/key").json()
    assert ticket["key_id"] == key["key_id"] == key["jwk"]["kid"]
    # offline: the published key alone checks the exact bytes
    public = Ed25519PublicKey.from_public_bytes(_unb64(key["public_key"]))
    payload = _unb64(ticket["payload"])
    public.verify(_unb64(ticket["signature"]), payload)
    content = json.loads(payload)
    assert content == ticket["ticket"]
    assert content["booking_id"] == booking_id and content["amount_minor"] == 330
    assert [leg["trip_id"] for leg in content["legs"]] == [leg["trip_id"] for leg in scene.legs]
    with pytest.raises(InvalidSignature):
        public.verify(_unb64(ticket["signature"]), payload.replace(b"330", b"100"))

    # CANCEL inside the window: cancelled, the money goes back
    r = _event(scene, booking_id, token, "CANCEL")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "CANCELLED"
    wait_for(lambda: http.get(f"/api/v1/bookings/{booking_id}", headers=_auth(token)
                              ).json()["payment"] == "REFUNDED", timeout=5, what="the refund")
    (refund,) = scene.stripe.refunds.values()
    assert refund["amount"] == 330
    assert ("POST", "/v1/refunds", f"refund-{booking_id}") in scene.stripe.requests
    assert http.get(f"/api/v1/bookings/{booking_id}/ticket",
                    headers=_auth(token)).status_code == 409
    assert _event(scene, booking_id, token, "CANCEL").status_code == 409


def test_webhooks_unsigned_or_not_matching_are_refused_and_counted(scene: Scene) -> None:
    r = _book(scene, "journey-webhooks", email="bert@example.org")
    assert r.status_code == 201, r.text
    booking_id, token = r.json()["id"], r.json()["token"]
    url = scene.http.post(f"/api/v1/bookings/{booking_id}/checkout",
                          headers=_auth(token)).json()["checkout_url"]
    checkout_id = url.rsplit("/", 1)[1]

    def completed(amount: int, checkout: str) -> dict[str, Any]:
        return {"id": f"evt_test_{amount}_{checkout[-6:]}", "object": "event",
                "created": int(time.time()), "livemode": False,
                "type": "checkout.session.completed",
                "data": {"object": {"id": checkout, "object": "checkout.session",
                                    "client_reference_id": booking_id,
                                    "payment_status": "paid", "payment_intent": "pi_test_x",
                                    "amount_total": amount, "currency": "eur"}}}

    before = _refused(scene)
    assert _webhook(scene, completed(330, checkout_id), signed=False).status_code == 400
    r = scene.http.post("/api/v1/payments/webhook", content=json.dumps(
        completed(330, checkout_id)).encode(), headers={"Stripe-Signature": "t=1,v1=00"})
    assert r.status_code == 400
    # a correct signature, but 1 cent instead of 330, or another checkout than ours
    assert _webhook(scene, completed(1, checkout_id)).status_code == 400
    assert _webhook(scene, completed(330, "cs_test_someone_else")).status_code == 400
    assert _refused(scene) == before + 4
    booking = scene.http.get(f"/api/v1/bookings/{booking_id}", headers=_auth(token)).json()
    assert booking["payment"] == "CHECKOUT_OPEN"


def test_idempotency_keys_and_who_may_see_a_booking(scene: Scene) -> None:
    http = scene.http
    r = _book(scene, "journey-carla", email="carla@example.org")
    assert r.status_code == 201
    carla, carla_token = r.json()["id"], r.json()["token"]
    other = _book(scene, "journey-dora", email="dora@example.org").json()["token"]
    # the key is required, and once used it belongs to this request
    assert http.post("/api/v1/bookings", json={"legs": scene.legs,
                                               "email": EMAIL}).status_code == 400
    r = _book(scene, "journey-carla", email="carla@example.org", rider_category="kinder")
    assert r.status_code == 422 and "another request" in r.json()["detail"]
    # without an account an e-mail is needed; a child's ticket costs the child's fare
    assert _book(scene, "journey-no-mail").status_code == 422
    kid = _book(scene, "journey-kid", email="carla@example.org", rider_category="kinder")
    assert kid.json()["price"] == {"amount": "2.00", "currency": "EUR"}
    # a journey the timetable does not have is not sold
    wrong = [{**scene.legs[0], "trip_id": "no-such-trip"}]
    r = http.post("/api/v1/bookings", json={"legs": wrong, "email": EMAIL},
                  headers={"Idempotency-Key": "journey-wrong"})
    assert r.status_code == 422
    # the owner sees it; another passenger gets 404, nobody 401
    assert http.get(f"/api/v1/bookings/{carla}", headers=_auth(carla_token)).status_code == 200
    for path in ("", "/ticket"):
        assert http.get(f"/api/v1/bookings/{carla}{path}",
                        headers=_auth(other)).status_code == 404
    assert _event(scene, carla, other, "CANCEL").status_code == 404
    assert http.get(f"/api/v1/bookings/{carla}").status_code == 401
    # a passenger's token books again without giving its e-mail again
    r = http.post("/api/v1/bookings", json={"legs": scene.legs},
                  headers={**_auth(carla_token), "Idempotency-Key": "journey-carla-2"})
    assert r.status_code == 201 and "token" not in r.json()
    assert http.get(f"/api/v1/bookings/{r.json()['id']}",
                    headers=_auth(carla_token)).status_code == 200
    # a pending booking is cancelled without money moving
    r = _event(scene, carla, carla_token, "CANCEL")
    assert (r.json()["state"], r.json()["payment"]) == ("CANCELLED", "UNPAID")


def test_the_e_mail_is_kept_in_the_passengers_table_only_and_no_token_anywhere(
        scene: Scene) -> None:
    r = _book(scene, "journey-privacy", email="emil@example.org")
    token = r.json()["token"]
    engine = scene.srv.app.state.mobility.bookings.engine
    where = set()
    with engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            text = repr(conn.execute(select(table)).all())
            assert token not in text, table.name
            if "emil@example.org" in text:
                where.add(table.name)
    assert where == {"mobility_passengers"}

"""The demo's look at the journey planner over the hub's own HTTP API, as a passenger's app.

WHY over HTTP: the demo proves the public path a passenger uses: a journey across town with
the demo's buses (their delays and crowding as they report them) and the simulated operator's
bikes, whose GBFS feed the hub polls like any operator's. The hub reads the operator's feed
a moment after it starts, so the tour waits (a few seconds) for the first bike leg.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from central_hub.core.config import HubSettings
from central_hub.domain.schedule import Schedule
from central_hub.mobility.settings import OperatorConfig
from edge_agent.errors import KasselError
from simulations.demo.payment_provider import StripeStandIn

#: across town: Bahnhof Wilhelmshöhe (line 1) to Auestadion (line 4)
ORIGIN = "51.3131,9.4470"
DESTINATION = "51.2986,9.4952"
MODES = "transit,walk,bike_sharing"


@dataclass(frozen=True, slots=True)
class MobilityTour:
    """What the demo saw, for its progress lines."""

    summary: str
    url: str
    #: the ticket the demo bought for the bus option: what it cost and its booking's state
    ticket: str


class MobilityTourError(KasselError):
    """The hub answered the demo's tour unexpectedly (a bug in the demo or the service)."""


def demo_settings(discovery_url: str, payments: StripeStandIn) -> HubSettings:
    """The hub's settings from the environment, with the demo's bike operator and its
    payment provider (the stand-in's key and webhook secret)."""
    settings = HubSettings()
    bookings = settings.mobility.bookings.model_copy(update={
        "stripe_api_key": payments.api_key,
        "stripe_webhook_secrets": (payments.webhook_secret,),
        "stripe_base_url": payments.base_url})
    mobility = settings.mobility.model_copy(update={"sharing_operators": (
        OperatorConfig(name="kasselrad", url=discovery_url),), "bookings": bookings})
    return settings.model_copy(update={"mobility": mobility})


def _describe(option: dict[str, object]) -> str:
    legs = option["legs"]
    assert isinstance(legs, list)
    parts = []
    for leg in legs:
        if leg["mode"] == "WALK":
            continue
        price = leg.get("price")
        cost = f" {price['amount']} {price['currency']}" if isinstance(price, dict) else ""
        parts.append(f"{leg['mode'].lower()} {leg.get('route_name') or leg.get('operator')}"
                     f"{cost}")
    minutes = int(str(option["duration_s"])) // 60
    crowded = ", crowded" if option["crowded"] else ""
    return f"{minutes} min ({' + '.join(parts) or 'walk'}{crowded})"


async def tour_mobility(base_url: str, schedule: Schedule, *,
                        wait_s: float = 15.0) -> MobilityTour:
    """Plan across town with buses and bikes; describe the options."""
    query = urlencode({"from": ORIGIN, "to": DESTINATION, "modes": MODES})
    url = f"{base_url}api/v1/journeys?{query}"
    options: list[dict[str, object]] = []
    async with httpx.AsyncClient(timeout=30.0) as client:
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            answer = await client.get(url)
            if answer.status_code != 200:
                raise MobilityTourError(f"journeys: HTTP {answer.status_code} "
                                        f"{answer.text[:200]}")
            options = answer.json()["itineraries"]
            biking = any(leg["mode"] == "BIKE_SHARING" for it in options
                         for leg in it["legs"])  # type: ignore[attr-defined]
            if biking or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
    if not options:
        raise MobilityTourError("journeys: no option across town")
    shown = "; ".join(_describe(o) for o in options[:3])
    bus = next((o for o in options if not any(
        leg["mode"] in ("BIKE_SHARING", "CAR_SHARING") for leg in o["legs"])), None)  # type: ignore[attr-defined]
    ticket = "no bus option to buy a ticket for" if bus is None else await buy_ticket(
        base_url, bus)
    return MobilityTour(f"{len(options)} options Bahnhof Wilhelmshöhe → Auestadion "
                        f"({len(schedule.stops)} stops): {shown}", url, ticket)


async def buy_ticket(base_url: str, option: dict[str, object]) -> str:
    """Book the option's transit legs as a passenger without an account, pay on the payment
    provider's hosted page, commit, and fetch the signed ticket, as the app does."""
    legs = [{"trip_id": leg["trip_id"], "route_id": leg["route_id"],
             "from_stop_id": leg["from"]["stop_id"], "to_stop_id": leg["to"]["stop_id"],
             "departure": leg["from"]["time"], "arrival": leg["to"]["time"]}
            for leg in option["legs"] if leg["trip_id"]]  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        made = await client.post("api/v1/bookings", json={
            "legs": legs, "email": "fahrgast@kassel.example"},
            headers={"Idempotency-Key": secrets.token_hex(16)})
        if made.status_code != 201:
            raise MobilityTourError(f"booking: HTTP {made.status_code} {made.text[:200]}")
        booking = made.json()
        auth = {"Authorization": f"Bearer {booking['token']}"}
        path = f"api/v1/bookings/{booking['id']}"
        checkout = await client.post(f"{path}/checkout", headers=auth)
        if checkout.status_code != 200:
            raise MobilityTourError(f"checkout: HTTP {checkout.status_code}")
        await client.post(checkout.json()["checkout_url"])  # the passenger pays
        committed = await client.post(f"{path}/events", json={"operation": "COMMIT"},
                                      headers=auth)
        if committed.status_code != 200:
            raise MobilityTourError(f"commit: HTTP {committed.status_code} "
                                    f"{committed.text[:200]}")
        ticket = await client.get(f"{path}/ticket", headers=auth)
    price = booking["price"]
    return (f"ticket {booking['id']}: {price['amount']} {price['currency']}, paid at the "
            f"provider's hosted page, {committed.json()['state'].lower()}, signed "
            f"({ticket.json()['alg']})")

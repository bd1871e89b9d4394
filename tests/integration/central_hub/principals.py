"""Every kind of caller of the hub, as bearer tokens for tests over real HTTP.

Anonymous, a static admin token, each role alone (issued tokens in the hub's database), a Kita
family (registered through the API), a pupil in a class (joined through the API), a passenger
who bought a ticket without an account (through the API), an expired and a revoked token.
``expected`` is what the authorisation matrix promises for each; the tests check the hub
keeps that promise.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from central_hub.broker import MosquittoBroker
from central_hub.core.config import AuthFailureLimit, KitaWriteLimit, RateLimitsSettings
from central_hub.core.identity import ADMIN_TOKEN_ROLES, Principal, Role
from central_hub.core.tokens import DAY_MS, TokenStore
from tests.integration.central_hub.helpers import ADMIN, HubServer, selling_hub

GTFS = Path(__file__).resolve().parents[3] / "firmware_configs/gtfs/kassel-demo.zip"


def unthrottled_hub(broker: MosquittoBroker, tmp_path: Path) -> Iterator[HubServer]:
    """A hub whose per-client limits on failed authentication and Kita writes do not get in
    the way of a test that is refused hundreds of times on purpose (the limits have tests of
    their own: ``tests/hostile/test_web_hardening.py``)."""
    limits = RateLimitsSettings(auth_failures=AuthFailureLimit(burst=100_000, per_minute=1e6),
                                kita_writes=KitaWriteLimit(burst=100_000, per_minute=1e6))
    with selling_hub(tmp_path, broker, GTFS, rate_limits=limits) as srv:
        yield srv


@dataclass(frozen=True)
class Caller:
    """A test caller: its bearer token (``None``: none) and the principal the hub should see
    (``None``: anonymous, also for tokens it must refuse)."""

    name: str
    token: str | None
    principal: Principal | None


def callers(hub: HubServer) -> list[Caller]:
    """One caller of each kind, their tokens issued in the running hub."""
    engine = hub.hub.engine
    store = TokenStore(engine)
    out = [Caller("anonymous", None, None),
           Caller("static admin", ADMIN, Principal.staff("admin", ADMIN_TOKEN_ROLES))]
    for role in Role:
        _, token = store.issue(f"only-{role.value}", {role}, expires_days=1)
        out.append(Caller(role.value, token, Principal.staff(role.value, {role})))
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        registered = http.post("/api/v1/kita/families")
        registered.raise_for_status()
        body = registered.json()
    out.append(Caller("family", body["token"], Principal.family(body["family_id"])))
    teacher = next(c.token for c in out if c.name == Role.LEARNING_TEACHER.value)
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        made = http.post("/api/v1/learning/classes", json={"title": "Testklasse"},
                         headers={"Authorization": f"Bearer {teacher}"})
        made.raise_for_status()
        member = http.post(f"/api/v1/learning/classes/{made.json()['code']}/members")
        member.raise_for_status()
    pupil = member.json()["token"]
    out.append(Caller("pupil", pupil, Principal.pupil(hub.app.state.learning.member_of_token(
        pupil))))
    out.append(_passenger(hub))
    two_days_ago = int(time.time() * 1000) - 2 * DAY_MS
    _, expired = TokenStore(engine, clock=lambda: two_days_ago).issue(
        "expired", set(Role), expires_days=1)
    out.append(Caller("expired token", expired, None))
    record, revoked = store.issue("revoked", set(Role))
    store.revoke(record.id)
    out.append(Caller("revoked token", revoked, None))
    return out


def _passenger(hub: HubServer) -> Caller:
    """A passenger who bought a ticket without an account: the token the booking answered."""
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        r = http.get("/api/v1/journeys", params={
            "from": "stop:S1-02", "to": "stop:S1-06", "time": int(time.time() * 1000) + 2_400_000})
        r.raise_for_status()
        legs = [{"trip_id": leg["trip_id"], "route_id": leg["route_id"],
                 "from_stop_id": leg["from"]["stop_id"], "to_stop_id": leg["to"]["stop_id"],
                 "departure": leg["from"]["time"], "arrival": leg["to"]["time"]}
                for leg in r.json()["itineraries"][0]["legs"] if leg["trip_id"]]
        booked = http.post("/api/v1/bookings", json={"legs": legs,
                                                     "email": "fahrgast@example.org"},
                           headers={"Idempotency-Key": "principals-passenger"})
        booked.raise_for_status()
    token = booked.json()["token"]
    passenger_id = hub.app.state.mobility.bookings.passenger_of_token(token)
    return Caller("passenger", token, Principal.passenger(passenger_id))

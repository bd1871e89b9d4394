"""Every kind of caller of the hub, as bearer tokens for tests over real HTTP.

Anonymous, a static admin token, each role alone (issued tokens in the hub's database), a Kita
family (registered through the API), an expired and a revoked token. ``expected`` is what the
authorisation matrix promises for each; the tests check the hub keeps that promise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from central_hub.core.identity import ADMIN_TOKEN_ROLES, Principal, Role
from central_hub.core.tokens import DAY_MS, TokenStore
from tests.integration.central_hub.helpers import ADMIN, HubServer


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
    two_days_ago = int(time.time() * 1000) - 2 * DAY_MS
    _, expired = TokenStore(engine, clock=lambda: two_days_ago).issue(
        "expired", set(Role), expires_days=1)
    out.append(Caller("expired token", expired, None))
    record, revoked = store.issue("revoked", set(Role))
    store.revoke(record.id)
    out.append(Caller("revoked token", revoked, None))
    return out

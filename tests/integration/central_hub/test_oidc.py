"""OpenID Connect over real HTTP: the hub fetches a JWKS from a local provider and accepts only
properly signed, unexpired tokens for its issuer and audience, with roles from the claim map."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from central_hub.broker import MosquittoBroker
from central_hub.core.config import OidcSettings
from central_hub.core.identity import Role
from tests.integration.central_hub.helpers import HubServer, hub_config, start_hub
from tests.support.oidc import AUDIENCE, ISSUER, TestProvider


@pytest.fixture
def provider() -> Iterator[TestProvider]:
    p = TestProvider()
    yield p
    p.close()


@pytest.fixture
def hub(broker: MosquittoBroker, tmp_path: Path, provider: TestProvider) -> Iterator[HubServer]:
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=provider.jwks_url,
                        role_map={"traffic-engineer": Role.ENGINEER,
                                  "kita-sachbearbeitung": Role.KITA_STAFF})
    srv = start_hub(hub_config(tmp_path, broker), oidc=oidc)
    yield srv
    srv.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_valid_token_is_accepted_with_the_mapped_roles(hub: HubServer,
                                                       provider: TestProvider) -> None:
    token = provider.token(provider.claims(["traffic-engineer", "offline_access", "admin"]))
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        me = http.get("/api/v1/whoami", headers=bearer(token)).json()
        # "admin" is not in the map: spelt like a hub role, it still grants nothing
        assert me == {"role": "engineer", "roles": ["engineer"], "kind": "staff"}
        # an engineer may acknowledge (no such alarm: 404, not 401/403) ...
        assert http.post("/api/v1/alarms/424242/ack", headers=bearer(token)).status_code == 404
        # ... but neither register devices nor read children's data
        assert http.post("/api/v1/devices", json={}, headers=bearer(token)).status_code == 403
        assert http.get("/api/v1/kita/applications",
                        headers=bearer(token)).status_code == 403
        caseworker = provider.token(provider.claims(["kita-sachbearbeitung"]))
        assert http.get("/api/v1/kita/applications",
                        headers=bearer(caseworker)).status_code == 200
        doc = http.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["oidc"] == {
        "type": "openIdConnect", "openIdConnectUrl":
        f"{ISSUER}/.well-known/openid-configuration",
        "description": "a JWT of the city's OpenID Connect provider; roles from its claim "
                       "realm_access.roles"}


def test_forged_expired_and_foreign_tokens_are_refused_with_401(
        hub: HubServer, provider: TestProvider) -> None:
    roles = ["traffic-engineer"]
    long_ago = int(time.time()) - 3600
    refused = {
        "expired": provider.token(provider.claims(roles, iat=long_ago - 300, exp=long_ago)),
        "wrong audience": provider.token(provider.claims(roles, aud="another-app")),
        "wrong issuer": provider.token(provider.claims(roles, iss="https://evil.example/")),
        "alg none": provider.unsigned(provider.claims(roles)),
        "HS256 keyed with the public key": provider.hs256_with_public_key(
            provider.claims(roles)),
        "unknown kid": provider.token(provider.claims(roles), kid="not-a-key", other_key=True),
        "known kid, another key": provider.token(provider.claims(roles), other_key=True),
        "no exp": provider.token({k: v for k, v in provider.claims(roles).items()
                                  if k != "exp"}),
        "not a JWT at all": "a.b.c",
    }
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        for what, token in refused.items():
            r = http.post("/api/v1/alarms/424242/ack", headers=bearer(token))
            assert r.status_code == 401, (what, r.status_code, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert http.get("/api/v1/whoami", headers=bearer(token)).json()["kind"] is None
        # random key ids do not make the hub fetch the provider's keys for each of them
        fetched = provider.fetches
        for n in range(5):
            token = provider.token(provider.claims(roles), kid=f"random-{n}", other_key=True)
            assert http.post("/api/v1/alarms/1/ack", headers=bearer(token)).status_code == 401
        assert provider.fetches - fetched <= 1

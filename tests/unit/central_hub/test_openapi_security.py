"""The OpenAPI document states the security schemes and, per operation, who may call it —
from the authorisation matrix, so that the document cannot disagree with what is enforced."""

from __future__ import annotations

from typing import Any

from central_hub.app import create_app
from central_hub.core.authz import rule_for
from central_hub.core.config import HubSettings, OidcSettings
from edge_agent.contract.configs import HubConfig

CONFIG = HubConfig(device_id="hub-1", kind="hub")


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_operation_says_who_may_call_it() -> None:
    doc = create_app(CONFIG).openapi()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["oidc"]["bearerFormat"] == "JWT"  # OIDC not configured: documented anyway
    for method, path, op in operations(doc):
        rule = rule_for(method, path)
        assert rule is not None, (method, path)
        assert op["x-allowed"] == rule.describe()
        if rule.public:
            assert "security" not in op, (method, path)
        else:
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            expected = [{"bearer": []}] + ([{"oidc": []}] if rule.roles else [])
            assert op["security"] == expected, (method, path)


def test_a_configured_provider_is_an_openid_connect_scheme() -> None:
    oidc = OidcSettings(issuer="https://login.example/realms/city/", audience="hub",
                        jwks_url="https://login.example/certs")
    doc = create_app(CONFIG, settings=HubSettings(oidc=oidc)).openapi()
    assert doc["components"]["securitySchemes"]["oidc"]["openIdConnectUrl"] == \
        "https://login.example/realms/city/.well-known/openid-configuration"

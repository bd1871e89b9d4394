"""The authorisation matrix, enforced: every operation of the OpenAPI document, called over real
HTTP by every kind of caller, is refused (401/403) exactly where the matrix says so.

The test fails when an operation has no row in ``central_hub.core.authz.MATRIX``: a new route
(the learning platform, the open-data portal, the mobility app) joins the matrix when it is
built, or this test says which row is missing.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from central_hub.core.authz import MATRIX, Decision, decide, rule_for
from tests.integration.central_hub.helpers import HubServer
from tests.integration.central_hub.principals import callers, unthrottled_hub

hub = pytest.fixture(unthrottled_hub)

#: pages the app serves but keeps out of its OpenAPI document (they still have rows)
UNDOCUMENTED = {("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}


def operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((method.upper(), path) for path, ops in doc["paths"].items() for method in ops)


def concrete(path: str) -> str:
    """A request path for a template: every parameter ``1`` (valid or not, it does not matter:
    authorisation is decided before parameters are validated)."""
    out = []
    for part in path.split("/"):
        out.append("1" if part.startswith("{") and part.endswith("}") else part)
    return "/".join(out)


def test_every_operation_has_a_row_and_every_row_an_operation(hub: HubServer) -> None:
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        ops = operations(http.get("/openapi.json").json())
    missing = [op for op in ops if rule_for(*op) is None]
    assert missing == [], f"add rows to central_hub/core/authz.py MATRIX for {missing}"
    assert set(MATRIX) - set(ops) == UNDOCUMENTED


@pytest.mark.slow
def test_every_operation_with_every_caller(hub: HubServer) -> None:
    people = callers(hub)
    with httpx.Client(base_url=hub.url, timeout=30) as http:
        ops = operations(http.get("/openapi.json").json()) + sorted(UNDOCUMENTED)
        # leaving the class ends the pupil's membership: last, so its token counts until then
        ops.sort(key=lambda op: op == ("DELETE", "/api/v1/learning/membership"))
        wrong = []
        for method, path in ops:
            rule = rule_for(method, path)
            for caller in people:
                headers = {} if caller.token is None else {
                    "Authorization": f"Bearer {caller.token}"}
                body = {} if method in {"POST", "PUT"} else None
                r = http.request(method, concrete(path), headers=headers, json=body)
                expected = decide(rule, caller.principal)
                if expected is Decision.ALLOW:
                    ok = r.status_code not in (401, 403)
                else:
                    ok = r.status_code == expected.value
                if not ok:
                    wrong.append(f"{method} {path} as {caller.name}: {r.status_code}, expected "
                                 f"{expected.name} ({rule.describe() if rule else 'no row'})")
    assert wrong == []

"""One family's token can never read or change another family's application.

Property-based (hypothesis): families register and apply through the HTTP API wired like the
hub (its identity resolver and authorisation dependency); then a random family tries every
family operation on another family's real child id, or on a random id. It always gets 404
(never 403, so it does not even learn that the child exists) and the application is unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central_hub.api.deps import authorize
from central_hub.core.config import HubSettings
from central_hub.core.resolver import IdentityResolver, static_tokens
from central_hub.kita.api import create_kita_router
from central_hub.kita.service import KitaService
from central_hub.kita.settings import KitaSettings
from central_hub.kita.tables import create_schema
from central_hub.storage.db import make_engine

STAFF = "staff-token-for-the-isolation-test"
KITA = {"name": "Kita Sonnenschein", "capacity": 3, "lat": 51.3155, "lon": 9.4975,
        "catchment_km": 0.5}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def application(name: str) -> dict[str, object]:
    return {"child_name": name, "date_of_birth": "2024-05-01", "age_group": "U3",
            "choices": ["K1"], "sibling_kita": None, "hardship": False, "lat": 51.28,
            "lon": 9.40}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('kita') / 'kita.db'}",
                         hub_schema=False)
    hub_settings = HubSettings(kita_staff_token=STAFF, kita=KitaSettings(
        registration_burst=100_000, registrations_per_hour=1e9))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        create_schema(engine)
        app.state.kita = KitaService.from_settings(engine, hub_settings.kita)
        app.state.identity = IdentityResolver(static_tokens(hub_settings))
        app.state.identity.add_family_lookup(app.state.kita.family_of_token)
        yield

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(authorize)])
    app.include_router(create_kita_router(), prefix="/api/v1/kita")
    with TestClient(app, base_url="http://testserver/api/v1/kita") as client:
        assert client.put("/kitas/K1/U3", json=KITA, headers=bearer(STAFF)).status_code == 201
        deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        assert client.put("/period", json={"deadline": deadline},
                          headers=bearer(STAFF)).status_code == 200
        yield client
    engine.dispose()


_names = iter(range(10**9))


def new_family(api: TestClient, children: int) -> tuple[str, list[str]]:
    token = api.post("/families").json()["token"]
    ids = []
    for _ in range(children):
        r = api.post("/applications", json=application(f"Kind {next(_names)}"),
                     headers=bearer(token))
        assert r.status_code == 201, r.text
        ids.append(r.json()["child_id"])
    return token, ids


ATTEMPTS = [
    ("GET", "/applications/{}", None),
    ("GET", "/applications/{}/result", None),
    ("PUT", "/applications/{}", application("Someone Else")),
    ("DELETE", "/applications/{}", None),
    ("PUT", "/applications/{}/decision", {"decision": "decline"}),
]


def staff_view(api: TestClient, child_id: str) -> Any:
    r = api.get(f"/applications/{child_id}", headers=bearer(STAFF))
    assert r.status_code == 200, r.text
    return r.json()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(victim_children=st.integers(1, 3),
       target=st.one_of(st.integers(0, 2),
                        st.text(st.characters(codec="ascii", categories=["L", "N"],
                                              include_characters="-_"),
                                min_size=1, max_size=64)),
       attempt=st.sampled_from(ATTEMPTS))
def test_a_family_never_reaches_another_familys_application(
        api: TestClient, victim_children: int, target: int | str,
        attempt: tuple[str, str, dict[str, object] | None]) -> None:
    victim, children = new_family(api, victim_children)
    intruder, own = new_family(api, 1)
    child_id = children[target % len(children)] if isinstance(target, int) else target
    before = staff_view(api, child_id) if isinstance(target, int) else None
    method, template, body = attempt
    r = api.request(method, template.format(child_id), json=body, headers=bearer(intruder))
    assert r.status_code == 404, (method, template, r.status_code, r.text)
    listed = api.get("/applications", headers=bearer(intruder)).json()
    assert [a["child_id"] for a in listed] == own
    if before is not None:
        assert child_id not in r.text
        assert staff_view(api, child_id) == before
        mine = api.get(f"/applications/{child_id}", headers=bearer(victim))
        assert mine.status_code == 200

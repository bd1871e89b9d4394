"""Classes over HTTP on SQLite and PostgreSQL: a teacher's code, pupils who opt in under a
drawn pseudonym, their checked answers counted for the class, the teacher's aggregates, and
leaving or closing deleting what was kept.

The app is wired as the hub wires it: the authorisation matrix, the identity resolver with the
learning service's pupil lookup, the rate limits. Who acts is the principal the token
resolves to, never a field of a body.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from central_hub.api.deps import authorize
from central_hub.api.ratelimits import HubLimiters
from central_hub.core.config import HubSettings
from central_hub.core.identity import Principal, Role
from central_hub.core.resolver import IdentityResolver
from central_hub.core.tokens import StaticTokens
from central_hub.learning.api import create_learning_router
from central_hub.learning.service import LearningService
from central_hub.learning.tables import attempts_table, members_table

PREFIX = "/api/v1/learning"
TOKENS = {
    "frau-lange": ("lange-teacher-token", [Role.LEARNING_TEACHER]),
    "herr-kurz": ("kurz-teacher-token", [Role.LEARNING_TEACHER]),
    "anna": ("anna-author-token", [Role.LEARNING_AUTHOR]),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def staff(name: str) -> dict[str, str]:
    return bearer(TOKENS[name][0])


@pytest.fixture
def api(engine: Engine) -> Iterator[TestClient]:
    settings = HubSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = LearningService(engine)
        service.seed()
        app.state.learning = service
        identity = IdentityResolver(StaticTokens(
            [(token, Principal.staff(name, roles)) for name, (token, roles) in TOKENS.items()]))
        identity.add_pupil_lookup(service.member_of_token)
        app.state.identity = identity
        app.state.limiters = HubLimiters.of(settings.rate_limits)
        yield

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(authorize)])
    app.include_router(create_learning_router(), prefix=PREFIX)
    with TestClient(app, base_url=f"http://testserver{PREFIX}") as client:
        yield client


def answer(api: TestClient, exercise: str, given: Any, token: str | None = None) -> bool:
    reply = api.post(f"/exercises/{exercise}/check", json={"answer": given},
                     headers=bearer(token) if token else {})
    assert reply.status_code == 200, reply.text
    return bool(reply.json()["correct"])


def rows(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_class_sees_its_pupils_only_as_pseudonyms_and_aggregates(api: TestClient,
                                                                    engine: Engine) -> None:
    made = api.post("/classes", json={"title": "6b Mathe"}, headers=staff("frau-lange"))
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    assert len(code) == 9 and code[4] == "-"
    # two pupils opt in; the code may be typed in lower case and without the dash
    first = api.post(f"/classes/{code.lower().replace('-', '')}/members").json()
    second = api.post(f"/classes/{code}/members").json()
    assert first["class_title"] == "6b Mathe" and first["class_code"] == code
    assert first["pseudonym"] != second["pseudonym"]
    assert first["token"] and second["token"] and first["token"] != second["token"]
    me = api.get("/membership", headers=bearer(first["token"])).json()
    assert me == {"token": None, "pseudonym": first["pseudonym"], "class_code": code,
                  "class_title": "6b Mathe"}

    # answers with the membership count for the class; anonymous ones do not
    d1 = "mathe-dezimalzahlen.d1"
    assert answer(api, d1, "6,15", first["token"])
    assert not answer(api, d1, "7", first["token"])
    assert answer(api, d1, "6.150", second["token"])
    assert answer(api, d1, "6,15")  # no token: nothing kept
    for _ in range(5):
        assert answer(api, "deutsch-kommasetzung.k3", "ob", second["token"])
    summary = api.get(f"/classes/{code}/summary", headers=staff("frau-lange")).json()
    assert summary["members"] == 2
    by_exercise = {e["exercise"]: e for e in summary["exercises"]}
    assert by_exercise[d1] | {"title": ""} == {"exercise": d1, "title": "", "pupils": 2,
                                               "attempts": 3, "correct": 2}
    assert by_exercise[d1]["title"].endswith(": " + api.get(
        "/items/mathe-dezimalzahlen").json()["exercises"][0]["title"])
    pupils = {p["pseudonym"]: p for p in summary["pupils"]}
    assert set(pupils) == {first["pseudonym"], second["pseudonym"]}
    assert (pupils[first["pseudonym"]]["attempts"], pupils[first["pseudonym"]]["correct"]) == \
        (2, 1)
    # 5 right of the last 5 in Kommasetzung: mastered (its rule is the default 4 of 5)
    assert pupils[second["pseudonym"]]["mastered"] == ["deutsch-kommasetzung"]
    assert pupils[first["pseudonym"]]["mastered"] == []
    # nothing that could name a pupil: no token, no id, no address, no answer text
    text = str(summary)
    # (a member id is "M-" and 16 hex digits; the class code, which the summary names, is
    # drawn from letters and digits and may itself hold "M-", as "A89M-44Z4" did once in CI)
    assert first["token"] not in text and "6,15" not in text
    assert re.search(r"M-[0-9a-f]{16}", text) is None

    # another teacher neither sees nor closes the class; a pupil is no teacher
    assert api.get(f"/classes/{code}/summary", headers=staff("herr-kurz")).status_code == 404
    assert api.delete(f"/classes/{code}", headers=staff("herr-kurz")).status_code == 404
    assert api.get("/classes", headers=staff("herr-kurz")).json() == []
    assert api.get(f"/classes/{code}/summary",
                   headers=bearer(first["token"])).status_code == 403
    assert api.get("/classes", headers=staff("anna")).status_code == 403
    assert api.get("/membership", headers=staff("frau-lange")).status_code == 403
    assert api.get("/membership").status_code == 401
    listed = api.get("/classes", headers=staff("frau-lange")).json()
    assert [(c["code"], c["members"]) for c in listed] == [(code, 2)]

    # leaving deletes the pupil's attempts; its token is then nobody's
    assert api.delete("/membership", headers=bearer(first["token"])).status_code == 204
    assert api.get("/membership", headers=bearer(first["token"])).status_code == 401
    assert answer(api, d1, "6,15", first["token"])  # still checked, as anyone's
    after = api.get(f"/classes/{code}/summary", headers=staff("frau-lange")).json()
    assert after["members"] == 1 and [p["pseudonym"] for p in after["pupils"]] == [
        second["pseudonym"]]
    assert rows(engine, attempts_table) == 6
    # closing the class deletes everything of it
    assert api.delete(f"/classes/{code}", headers=staff("frau-lange")).status_code == 204
    assert rows(engine, attempts_table) == 0 and rows(engine, members_table) == 0
    assert api.get("/membership", headers=bearer(second["token"])).status_code == 401


def test_codes_that_are_no_class_and_hostile_titles(api: TestClient) -> None:
    for code in ("AAAA-AAAA", "not-a-code", "x" * 32, "ÄÖÜ"):
        assert api.post(f"/classes/{code}/members").status_code == 404, code
    assert api.post(f"/classes/{'x' * 33}/members").status_code == 422
    lange = staff("frau-lange")
    assert api.post("/classes", json={"title": ""}, headers=lange).status_code == 422
    assert api.post("/classes", json={"title": "x" * 121}, headers=lange).status_code == 422
    assert api.post("/classes", json={"title": "7a", "teacher": "herr-kurz"},
                    headers=lange).status_code == 422  # who teaches is the token's
    assert api.post("/classes", json={"title": "7a"}).status_code == 401


def test_joining_is_rate_limited_per_client(engine: Engine) -> None:
    settings = HubSettings.model_validate(
        {"rate_limits": {"learning_joins": {"burst": 2, "per_minute": 1}}})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.learning = LearningService(engine)
        app.state.identity = IdentityResolver(StaticTokens([]))
        app.state.limiters = HubLimiters.of(settings.rate_limits)
        yield

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(authorize)])
    app.include_router(create_learning_router(), prefix=PREFIX)
    with TestClient(app, base_url=f"http://testserver{PREFIX}") as client:
        codes = [client.post("/classes/AAAA-AAAA/members").status_code for _ in range(3)]
        assert codes == [404, 404, 429]

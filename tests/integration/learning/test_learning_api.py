"""The learning platform's public API end to end on SQLite and PostgreSQL: the seeded starter
catalogue, German search, items without their answers, AMB metadata valid against the AMB
JSON Schema, answer checks in the checker processes, drafts invisible, bad input refused.

The app is built as the hub builds it (:mod:`central_hub.learning.mount`): the service in the
lifespan on ``app.state.learning`` with a started :class:`CheckerPool`, the router under
``/api/v1/learning``, the hub's authorisation dependency and rate limiters.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from central_hub.api.deps import authorize
from central_hub.api.ratelimits import HubLimiters
from central_hub.core.config import HubSettings
from central_hub.core.resolver import IdentityResolver, static_tokens
from central_hub.learning import store
from central_hub.learning.api import create_learning_router
from central_hub.learning.checker_pool import CheckerPool
from central_hub.learning.domain.exercises import read_item
from central_hub.learning.service import LearningService

PREFIX = "/api/v1/learning"
AMB = Path(__file__).resolve().parents[3] / "central_hub/learning/amb"
AMB_PREFIX = "https://w3id.org/kim/amb/"


def build(engine: Engine, settings: HubSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = CheckerPool(2, 5.0)
        service = LearningService(engine, pool)
        service.seed()
        await pool.start()
        app.state.learning = service
        app.state.identity = IdentityResolver(static_tokens(settings))
        app.state.limiters = HubLimiters.of(settings.rate_limits)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(authorize)])
    app.include_router(create_learning_router(), prefix=PREFIX)
    return app


@pytest.fixture
def api(engine: Engine) -> Iterator[TestClient]:
    with TestClient(build(engine, HubSettings()), base_url=f"http://testserver{PREFIX}") as c:
        yield c


def get(api: TestClient, path: str, **params: object) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def amb_validator() -> jsonschema_rs.Draft7Validator:
    def retrieve(uri: str) -> Any:
        if not uri.startswith(AMB_PREFIX + "20231019/schemas/"):
            raise LookupError(f"not vendored: {uri}")
        return json.loads((AMB / uri.removeprefix(AMB_PREFIX)).read_text("utf-8"))

    schema = json.loads((AMB / "20231019/schemas/schema.json").read_text("utf-8"))
    return jsonschema_rs.Draft7Validator(schema, retriever=retrieve, validate_formats=True)


def test_catalogue_search_and_items(api: TestClient) -> None:
    subjects = get(api, "/subjects")
    assert {s["id"]: s["kim_uri"] for s in subjects} == {
        "deutsch": "http://w3id.org/kim/schulfaecher/s1005",
        "englisch": "http://w3id.org/kim/schulfaecher/s1007",
        "mathematik": "http://w3id.org/kim/schulfaecher/s1017"}
    everything = get(api, "/items", limit=100)
    assert everything["total"] >= 40
    grade6 = get(api, "/items", grade=6, subject="mathematik", limit=100)
    assert grade6["total"] > 0
    assert all(i["grade_min"] <= 6 <= i["grade_max"] and i["subject"] == "mathematik"
               for i in grade6["items"])
    # the topics the subject page groups by (Fach → Klassenstufe → Thema → Eintrag)
    assert {i["topic"] for i in grade6["items"]} == {"Bruchrechnung", "Dezimalzahlen",
                                                     "Teilbarkeit"}
    assert {i["topic"] for i in get(api, "/items", q="Brüchen")["items"]} >= {"Bruchrechnung"}
    # German stemming: "Brüchen" finds the items about "Brüche" and "Bruchrechnung"
    fractions = get(api, "/items", q="Brüchen")
    assert fractions["total"] > 0
    assert any("Brüche" in i["title"] for i in fractions["items"])
    # every word must match; words that are FTS or tsquery syntax are only words
    assert get(api, "/items", q='Brüche " OR NEAR( * -')["total"] >= 0
    assert get(api, "/items", q="Quantenchromodynamik")["total"] == 0
    second = get(api, "/items", limit=5, offset=5)
    first = get(api, "/items", limit=5, offset=0)
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in second["items"]})

    item = get(api, "/items/mathe-brueche-kuerzen-erweitern")
    assert item["license"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    # nothing of the answer: no solution, sample, hint, correct flag or model answer
    shown = {"id", "type", "title", "prompt", "options", "left", "gaps", "answer_kind"}
    for exercise in item["exercises"]:
        assert set(exercise) == shown
        assert all(set(option) == {"id", "text"} for option in exercise["options"])
        assert exercise["id"].startswith("mathe-brueche-kuerzen-erweitern.")
        assert "<script" not in exercise["prompt"]


def test_every_item_has_valid_amb_metadata(api: TestClient) -> None:
    validator = amb_validator()
    ids = [i["id"] for i in get(api, "/items", limit=100)["items"]]
    assert len(ids) >= 40
    for item_id in ids:
        response = api.get(f"/items/{item_id}/amb")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/ld+json")
        record = response.json()
        errors = [str(e) for e in validator.iter_errors(record)]
        assert errors == [], (item_id, errors)
        assert record["id"].startswith("http://testserver/lernen/")
    # the negative control: a record without the licence object as AMB wants it fails
    record["license"] = "CC-BY-SA-4.0"
    assert not validator.is_valid(record)


def check(api: TestClient, address: str, answer: object) -> Any:
    response = api.post(f"/exercises/{address}/check", json={"answer": answer})
    assert response.status_code == 200, response.text
    return response.json()


def test_answers_are_checked_through_the_api(api: TestClient) -> None:
    item = get(api, "/items/mathe-binomische-formeln")
    inputs = [e for e in item["exercises"] if e["type"] == "input"]
    assert inputs
    document = store_document(api, "mathe-binomische-formeln")
    for exercise in document.exercises:
        address = f"mathe-binomische-formeln.{exercise.id}"
        for answer in exercise.samples.accept:
            body = check(api, address, answer if isinstance(answer, str) else list(answer))
            assert body["correct"], (address, answer, body)
        for answer in exercise.samples.reject:
            body = check(api, address, answer if isinstance(answer, str) else list(answer))
            assert not body["correct"], (address, answer, body)
            assert body["feedback"]
    hostile = check(api, f"mathe-binomische-formeln.{inputs[0]['id'].split('.')[1]}",
                    "__import__('os').system('id')")
    assert hostile == {"correct": False, "gaps": None,
                       "feedback": "Das Zeichen „_“ kann ich in einer Rechnung nicht lesen."}


def store_document(api: TestClient, item_id: str) -> Any:
    service: LearningService = api.app.state.learning  # type: ignore[attr-defined]
    return service.published(item_id).item


def test_bad_requests_are_refused(api: TestClient) -> None:
    item = get(api, "/items/mathe-einmaleins")
    address = item["exercises"][0]["id"]
    choice = next(e for e in get(api, "/items/deutsch-wortarten")["exercises"]
                  if e["type"] == "single_choice")
    cases = [
        (f"/exercises/{address}/check", {"answer": "x" * 201}, 422),
        (f"/exercises/{address}/check", {"answer": ["a"] * 65}, 422),
        (f"/exercises/{address}/check", {"answer": 5}, 422),
        (f"/exercises/{address}/check", {"answer": "1", "extra": 1}, 422),
        (f"/exercises/{address}/check", {"answer": ["1"]}, 422),  # a list for an input
        (f"/exercises/{choice['id']}/check", {"answer": ["no-such-option"]}, 422),
        ("/exercises/no-such-item.e1/check", {"answer": "1"}, 404),
        ("/exercises/no-dot/check", {"answer": "1"}, 404),
    ]
    for path, body, code in cases:
        response = api.post(path, json=body)
        assert response.status_code == code, (path, body, response.text)
    assert api.get("/items/no-such-item").status_code == 404
    assert api.get("/items", params={"grade": 14}).status_code == 422
    assert api.get("/items", params={"limit": 101}).status_code == 422
    service: LearningService = api.app.state.learning  # type: ignore[attr-defined]
    assert service.counts["shape_error"] == 2


def test_a_draft_is_invisible_to_the_public(api: TestClient, engine: Engine) -> None:
    document = {"id": "mathe-entwurf", "title": "Entwurf: Brüche teilen", "kind": "exercises",
                "subject": "mathematik", "topic": "Bruchrechnung", "grade_min": 6,
                "grade_max": 6, "exercises": [{
                    "id": "e1", "type": "input", "title": "Teilen", "prompt": "1/2 : 1/4",
                    "solution": "2", "answer": {"kind": "number", "value": "2"},
                    "samples": {"accept": ["2"], "reject": ["1/8"]}}]}
    with engine.begin() as conn:
        store.insert_item(conn, read_item(document), json.dumps(document), "autorin", "draft")
    assert api.get("/items/mathe-entwurf").status_code == 404
    assert api.get("/items/mathe-entwurf/amb").status_code == 404
    assert api.post("/exercises/mathe-entwurf.e1/check",
                    json={"answer": "2"}).status_code == 404
    assert get(api, "/items", q="Entwurf")["total"] == 0


def test_answer_checks_are_rate_limited_per_client(engine: Engine) -> None:
    settings = HubSettings.model_validate(
        {"rate_limits": {"learning_answers": {"burst": 3, "per_minute": 1}}})
    with TestClient(build(engine, settings), base_url=f"http://testserver{PREFIX}") as api:
        address = get(api, "/items/mathe-einmaleins")["exercises"][0]["id"]
        codes = [api.post(f"/exercises/{address}/check", json={"answer": "1"}).status_code
                 for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        refused = api.post(f"/exercises/{address}/check", json={"answer": "1"})
        assert int(refused.headers["Retry-After"]) >= 1
        # reading the catalogue is not limited by the answer checks
        assert api.get("/items").status_code == 200

"""Volunteers author, others review: GIFT and Moodle XML imports as drafts, the four-eyes
review over HTTP with real tokens, exports and their round trips, broken and oversized files.

The app is wired as the hub wires it, with the hub's body limit (413 before reading) and its
authorisation matrix; the author of an action is the principal the token resolves to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from central_hub.api.deps import DEFAULT_BODY_LIMIT, authorize
from central_hub.api.ratelimits import HubLimiters
from central_hub.app import route_body_limits
from central_hub.core.config import HubSettings
from central_hub.core.identity import Principal, Role
from central_hub.core.resolver import IdentityResolver
from central_hub.core.tokens import StaticTokens
from central_hub.learning.api import create_learning_router
from central_hub.learning.service import LearningService
from central_hub.learning.tables import items_table
from edge_agent.http_limits import BodyLimit

PREFIX = "/api/v1/learning"
TOKENS = {
    "anna": ("anna-author-token", [Role.LEARNING_AUTHOR]),
    "bernd": ("bernd-reviewer-token", [Role.LEARNING_REVIEWER]),
    "clara": ("clara-both-token", [Role.LEARNING_AUTHOR, Role.LEARNING_REVIEWER]),
}

GIFT = """// Fragen einer Lehrerin, aus Moodle exportiert
$CATEGORY: $course$/Mathe/Brüche

::Kürzen::Was ist $\\\\frac\\{2\\}\\{4\\}$ gekürzt? {=1/2 ~2/8#Du hast die Nenner addiert. ~1/4}

::Erde::Die Erde ist eine Scheibe. {F#Doch, sie ist rund.}

::Hauptstadt::Die Hauptstadt von Deutschland ist {=Berlin}.

::Pi::Pi auf zwei Stellen? {#3.14:0.005}

::Tiere::Ordne zu. {=dog -> Hund =cat -> Katze =mouse -> Maus}

::Primzahlen::Welche sind Primzahlen? {~%50%2 ~%50%3 ~%-100%4}

::Aufsatz::Schreibe über deinen Tag. {}

Nur ein Text ohne Antworten.

Mose nahm {~zwei =keine ~zehn} Tiere mit auf die Arche.
"""


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][0]}"}


@pytest.fixture
def api(engine: Engine) -> Iterator[TestClient]:
    settings = HubSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.learning = LearningService(engine)
        app.state.identity = IdentityResolver(StaticTokens(
            [(token, Principal.staff(name, roles)) for name, (token, roles) in TOKENS.items()]))
        app.state.limiters = HubLimiters.of(settings.rate_limits)
        yield

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(authorize)])
    app.include_router(create_learning_router(), prefix=PREFIX)
    app.add_middleware(BodyLimit, default=DEFAULT_BODY_LIMIT, routes=route_body_limits(app))
    with TestClient(app, base_url=f"http://testserver{PREFIX}") as client:
        yield client


def import_file(api: TestClient, who: str, data: bytes, fmt: str = "gift",
                **params: object) -> Any:
    return api.post("/import", content=data, headers=bearer(who),
                    params={"format": fmt, "subject": "mathematik", "grade": 6, **params})


def items(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(items_table)).scalar_one())


def test_a_gift_import_is_a_draft_until_someone_else_approves_it(api: TestClient) -> None:
    answer = import_file(api, "anna", GIFT.encode())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["imported"] == 7
    assert body["skipped"] == [
        {"question": "Aufsatz", "reason": "essay (free text): not checked automatically"},
        {"question": "Nur ein Text ohne Antworten.",
         "reason": "description (no answers): not an exercise"}]
    item_id = body["item_id"]
    # invisible to the public, waiting in the queue
    assert api.get(f"/items/{item_id}").status_code == 404
    queue = api.get("/review-queue", headers=bearer("bernd")).json()
    assert [e["id"] for e in queue] == [item_id] and queue[0]["author"] == "anna"
    draft = api.get(f"/drafts/{item_id}", headers=bearer("bernd")).json()
    types = [e["type"] for e in draft["document"]["exercises"]]
    assert types == ["single_choice", "single_choice", "input", "input", "matching",
                     "multiple_choice", "single_choice"]
    assert draft["document"]["exercises"][0]["hints"] == [
        {"answer": ["a2"], "feedback": "Du hast die Nenner addiert."}]
    assert f'+ "id": "{item_id}",' in draft["diff"].splitlines()
    assert draft["document"]["topic"] == "Brüche"
    assert draft["document"]["title"] == "Mathe/Brüche"
    # four eyes: the author may not review, even holding the reviewer role
    clara = import_file(api, "clara", GIFT.encode()).json()["item_id"]
    refused = api.post(f"/items/{clara}/review", json={"decision": "approve"},
                       headers=bearer("clara"))
    assert refused.status_code == 403
    assert api.post(f"/items/{item_id}/review", json={"decision": "approve"},
                    headers=bearer("anna")).status_code == 403  # not a reviewer at all
    approved = api.post(f"/items/{item_id}/review",
                        json={"decision": "approve", "comment": "Danke!"},
                        headers=bearer("bernd"))
    assert approved.json() == {"item_id": item_id, "status": "published"}
    assert api.post(f"/items/{item_id}/review", json={"decision": "reject"},
                    headers=bearer("bernd")).status_code == 409
    published = api.get(f"/items/{item_id}").json()
    first = published["exercises"][0]["id"]
    assert api.post(f"/exercises/{first}/check", json={"answer": ["a1"]}).json()["correct"]
    hint = api.post(f"/exercises/{first}/check", json={"answer": ["a2"]}).json()
    assert hint == {"correct": False, "feedback": "Du hast die Nenner addiert.", "gaps": None}
    pi = published["exercises"][3]["id"]
    assert api.post(f"/exercises/{pi}/check", json={"answer": "3,141"}).json()["correct"]
    assert not api.post(f"/exercises/{pi}/check", json={"answer": "3,2"}).json()["correct"]
    reviews = api.get(f"/drafts/{item_id}", headers=bearer("clara")).json()["reviews"]
    assert [(r["reviewer"], r["decision"], r["comment"]) for r in reviews] == [
        ("bernd", "approve", "Danke!")]
    rejected = api.post(f"/items/{clara}/review", json={"decision": "reject",
                                                        "comment": "Lösungen fehlen"},
                        headers=bearer("bernd"))
    assert rejected.json()["status"] == "rejected"
    assert api.get(f"/items/{clara}").status_code == 404


@pytest.mark.parametrize("fmt", ["gift", "moodle-xml"])
def test_export_and_import_round_trip(api: TestClient, fmt: str) -> None:
    original = import_file(api, "anna", GIFT.encode()).json()["item_id"]
    exported = api.get(f"/items/{original}/export", params={"format": fmt},
                       headers=bearer("bernd"))
    assert exported.status_code == 200
    assert exported.headers["X-Skipped-Exercises"] == ""
    again = import_file(api, "anna", exported.content, fmt=fmt).json()
    assert again["imported"] == 7 and again["skipped"] == []
    before = api.get(f"/drafts/{original}", headers=bearer("bernd")).json()["document"]
    after = api.get(f"/drafts/{again['item_id']}", headers=bearer("bernd")).json()["document"]

    def essence(exercise: dict[str, Any]) -> Any:
        options = [(o["text"], o.get("correct", False)) for o in exercise.get("options", [])]
        if exercise["type"] == "single_choice" and [t for t, _ in options] == ["Wahr",
                                                                                "Falsch"]:
            options = sorted(options)
        return (exercise["title"], exercise["type"], exercise["prompt"], exercise["solution"],
                options, [(p["left"], p["right"]) for p in exercise.get("pairs", [])],
                exercise.get("answer"))

    assert [essence(e) for e in after["exercises"]] == [essence(e) for e in before["exercises"]]


def test_starter_exercises_that_neither_format_holds_are_named(api: TestClient,
                                                               engine: Engine) -> None:
    service: LearningService = api.app.state.learning  # type: ignore[attr-defined]
    service.seed()
    exported = api.get("/items/mathe-binomische-formeln/export", params={"format": "gift"},
                       headers=bearer("anna"))
    skipped = exported.headers["X-Skipped-Exercises"].split(",")
    document = api.get("/drafts/mathe-binomische-formeln", headers=bearer("anna")).json()
    expected = [e["id"] for e in document["document"]["exercises"]
                if e["type"] in ("cloze", "ordering")
                or (e["type"] == "input" and e["answer"]["kind"] in ("expression", "quantity"))]
    assert skipped == expected and skipped


def test_broken_and_oversized_files_keep_nothing(api: TestClient, engine: Engine) -> None:
    broken = GIFT.replace("{=Berlin}", "{=Berlin")
    answer = import_file(api, "anna", broken.encode())
    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert detail["line"] == 8 and detail["question"] == "Hauptstadt"
    assert "not closed" in detail["msg"]
    xml = b"<?xml version='1.0'?>\n<quiz>\n<question type='multichoice'>\n</quiz>"
    answer = import_file(api, "anna", xml, fmt="moodle-xml")
    assert answer.status_code == 422 and answer.json()["detail"][0]["line"] == 4
    bomb = (b"<?xml version='1.0'?><!DOCTYPE q [<!ENTITY a 'aaaaaaaaaa'>"
            b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><quiz>&b;</quiz>")
    assert import_file(api, "anna", bomb, fmt="moodle-xml").status_code == 422
    assert import_file(api, "anna", b"\xff\xfe nonsense").status_code == 422
    assert import_file(api, "anna", b"Nur Text ohne Fragen.").status_code == 422
    assert import_file(api, "anna", GIFT.encode(), subject="alchemie").status_code == 422
    assert import_file(api, "anna", b"x" * (2 * 1024 * 1024 + 1)).status_code == 413
    assert items(engine) == 0
    assert api.post("/import", content=GIFT.encode(), params={
        "format": "gift", "subject": "mathematik", "grade": 6}).status_code == 401
    assert import_file(api, "bernd", GIFT.encode()).status_code == 403
    assert items(engine) == 0


DOCUMENT = """id: zahlen-runden
title: Zahlen runden
kind: exercises
subject: mathematik
topic: Runden
grade_min: 4
grade_max: 5
exercises:
  - id: r1
    type: input
    title: Auf Zehner
    prompt: Runde 47 auf Zehner.
    solution: |
      Die Einerziffer 7 ist 5 oder mehr: aufrunden.
    answer: {kind: number, value: "50"}
    samples: {accept: ["50"], reject: ["40"]}
"""


def test_authors_write_and_edit_drafts_that_others_publish(api: TestClient) -> None:
    headers = {**bearer("anna"), "Content-Type": "application/yaml"}
    saved = api.post("/drafts", content=DOCUMENT.encode(), headers=headers)
    assert saved.status_code == 201, saved.text
    assert saved.json() == {"item_id": "zahlen-runden", "revision": 1, "status": "draft",
                            "failures": []}
    assert api.post("/drafts", content=DOCUMENT.encode(), headers=headers).status_code == 409
    assert api.get("/items/zahlen-runden").status_code == 404  # a draft is nobody's yet
    draft = api.get("/drafts/zahlen-runden", headers=bearer("bernd")).json()
    assert draft["yaml"].startswith("id: zahlen-runden\n") and draft["failures"] == []
    assert api.post("/items/zahlen-runden/review", json={"decision": "approve"},
                    headers=bearer("bernd")).json()["status"] == "published"

    # clara edits the published item: a sample that fails is shown, and blocks approval
    broken = DOCUMENT.replace('accept: ["50"]', 'accept: ["50", "45"]').replace(
        "Zahlen runden", "Runden auf Zehner")
    edited = api.put("/drafts/zahlen-runden", content=broken.encode(),
                     headers={**bearer("clara"), "Content-Type": "application/yaml"})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["revision"], body["status"]) == (2, "draft")
    assert body["failures"] == ["exercise r1: '45' should be accepted, got wrong: "
                                "Das stimmt leider noch nicht."]
    assert api.get("/items/zahlen-runden").json()["title"] == "Zahlen runden"  # still rev 1
    refused = api.post("/items/zahlen-runden/review", json={"decision": "approve"},
                       headers=bearer("bernd"))
    assert refused.status_code == 422 and "45" in refused.text
    fixed = broken.replace('accept: ["50", "45"]', 'accept: ["50"]')
    assert api.put("/drafts/zahlen-runden", content=fixed.encode(),
                   headers=bearer("clara")).json()["revision"] == 3
    # four eyes: clara wrote revisions since the published one, anna wrote the item
    for who in ("clara", "anna"):
        assert api.post("/items/zahlen-runden/review", json={"decision": "approve"},
                        headers=bearer(who)).status_code == 403
    draft = api.get("/drafts/zahlen-runden", headers=bearer("bernd")).json()
    assert [r["author"] for r in draft["revisions"]] == ["anna", "clara", "clara"]
    assert '- "title": "Zahlen runden",' in draft["diff"].splitlines()
    assert api.post("/items/zahlen-runden/review", json={"decision": "approve"},
                    headers=bearer("bernd")).json()["status"] == "published"
    assert api.get("/items/zahlen-runden").json()["title"] == "Runden auf Zehner"


@pytest.mark.parametrize(("document", "status", "words"), [
    (DOCUMENT.replace("grade_max: 5\n", "grade_max: [5\n"), 422, "line 8"),
    ("a: &a [1, 1, 1, 1]\nb: [*a, *a, *a, *a]\n", 422, "aliases"),
    ("- eine\n- Liste\n", 422, "mapping"),
    (DOCUMENT.replace("subject: mathematik", "subject: alchemie"), 422, "subject"),
    (DOCUMENT.replace("kind: number", "kind: zauber"), 422, "zauber"),
    ("x" * (512 * 1024 + 1), 413, ""),
])
def test_broken_documents_are_refused_with_their_reason(api: TestClient, engine: Engine,
                                                        document: str, status: int,
                                                        words: str) -> None:
    before = items(engine)
    refused = api.post("/drafts", content=document.encode(), headers=bearer("anna"))
    assert refused.status_code == status and words in refused.text
    assert items(engine) == before
    assert api.put("/drafts/zahlen-runden", content=DOCUMENT.encode(),
                   headers=bearer("anna")).status_code == 404
    other = DOCUMENT.replace("id: zahlen-runden", "id: anders")
    assert api.post("/drafts", content=DOCUMENT.encode(), headers=bearer("anna")).status_code \
        == 201
    assert api.put("/drafts/zahlen-runden", content=other.encode(),
                   headers=bearer("anna")).status_code == 422
    assert api.post("/drafts", content=DOCUMENT.encode(),
                    headers=bearer("bernd")).status_code == 403  # a reviewer writes nothing


def test_a_revision_published_elsewhere_reaches_the_checks_within_seconds(
        engine: Engine) -> None:
    now = [100.0]
    here = LearningService(engine, clock=lambda: now[0])
    there = LearningService(engine)  # another hub process on the same database
    there.save_draft(author="anna", raw=DOCUMENT.encode())
    there.review(reviewer="bernd", item_id="zahlen-runden", decision="approve", comment="")
    assert here.published("zahlen-runden").revision == 1
    there.save_draft(author="anna", raw=DOCUMENT.replace("Zahlen runden", "Runden").encode(),
                     item_id="zahlen-runden")
    there.review(reviewer="bernd", item_id="zahlen-runden", decision="approve", comment="")
    assert there.published("zahlen-runden").item.title == "Runden"  # its own review: at once
    now[0] += 1.0
    assert here.published("zahlen-runden").revision == 1  # believed for PUBLISHED_FRESH_S
    now[0] += 1.5
    assert here.published("zahlen-runden").item.title == "Runden"

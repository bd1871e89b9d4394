"""The Kita API end to end on SQLite and PostgreSQL: families apply, staff allocate two rounds.

The app is built here exactly as the module docstring of :mod:`central_hub.kita.api` tells the
hub to build it: the service in the lifespan on ``app.state.kita``, the router under
``/api/v1/kita``. The results are checked against the domain run on the same records.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from central_hub.api.deps import authorize
from central_hub.core.config import HubSettings
from central_hub.core.resolver import IdentityResolver, static_tokens
from central_hub.kita.api import RedactChildIds, create_kita_router
from central_hub.kita.csv_io import write_results
from central_hub.kita.domain import (
    Application,
    Decision,
    KitaPlaces,
    draw_lottery,
    first_round,
    next_round,
)
from central_hub.kita.service import KitaService
from central_hub.kita.tables import create_schema
from central_hub.storage.db import make_engine

STAFF = "staff-token-for-the-kita-tests"
PREFIX = "/api/v1/kita"

#: Kitas: K1 and K2 take one U3 child each, K3 only takes Ü3 children.
KITAS = {
    ("K1", "U3"): {"name": "Kita Sonnenschein", "capacity": 1, "lat": 51.3155, "lon": 9.4975,
                   "catchment_km": 0.5},
    ("K2", "U3"): {"name": "Kita Regenbogen", "capacity": 1, "lat": 51.33, "lon": 9.52,
                   "catchment_km": 0.5},
    ("K3", "Ü3"): {"name": "Kita Wilhelmshöhe", "capacity": 2, "lat": 51.3166, "lon": 9.4100,
                   "catchment_km": 1.0},
}


BORN = "2024-05-01"


def child(name: str, choices: list[str], lat: float, lon: float) -> dict[str, object]:
    """An application body for a U3 child living far from every Kita (no catchment)."""
    return {"child_name": name, "date_of_birth": BORN, "age_group": "U3", "choices": choices,
            "sibling_kita": None, "hardship": False, "lat": lat, "lon": lon}


ANNA = child("Anna Apfelbaum", ["K2"], 51.281234, 9.401234)
BEN = child("Ben Birnbaum", ["K1", "K2"], 51.282345, 9.402345)
CEM = child("Cem Citronenbaum", ["K1", "K2"], 51.283456, 9.403456)
DORA = child("Dora Dattelbaum", ["K1"], 51.284567, 9.404567)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The hub's engine (``make_engine``) on a fresh SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("pg_db")
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def api(engine: Engine) -> Iterator[TestClient]:
    """A client of an app wired like the hub: service in the lifespan, router under the prefix,
    the hub's identity resolver and authorisation dependency."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = HubSettings(kita_staff_token=STAFF)
        create_schema(engine)
        app.state.kita = KitaService.from_settings(engine, settings.kita)
        app.state.identity = IdentityResolver(static_tokens(settings))
        app.state.identity.add_family_lookup(app.state.kita.family_of_token)
        yield

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(authorize)])
    app.include_router(create_kita_router(), prefix=PREFIX)
    with TestClient(app, base_url=f"http://testserver{PREFIX}") as client:
        yield client


def add_kitas(api: TestClient) -> None:
    for (kita_id, group), body in KITAS.items():
        response = api.put(f"/kitas/{kita_id}/{group}", json=body, headers=bearer(STAFF))
        assert response.status_code == 201, response.text


def set_deadline(api: TestClient, deadline: datetime) -> dict[str, object]:
    response = api.put("/period", json={"deadline": deadline.isoformat()},
                       headers=bearer(STAFF))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def register(api: TestClient) -> str:
    response = api.post("/families")
    assert response.status_code == 201
    token: str = response.json()["token"]
    return token


def submit(api: TestClient, token: str, body: dict[str, object]) -> str:
    response = api.post("/applications", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    child_id: str = response.json()["child_id"]
    return child_id


def result(api: TestClient, token: str, child_id: str) -> dict[str, Any]:
    response = api.get(f"/applications/{child_id}/result", headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def domain_records(api: TestClient, lottery: dict[str, int]) -> tuple[list[KitaPlaces],
                                                                    list[Application]]:
    """The stored Kitas and applications, as staff see them, as domain records."""
    kitas = [KitaPlaces(k["kita_id"], k["name"], k["age_group"], k["capacity"], k["lat"],
                        k["lon"], k["catchment_km"]) for k in api.get("/kitas").json()]
    def counts(a: dict[str, Any], claim: str) -> bool:
        return bool(a["claims"][claim]["state"] == "verified")

    apps = [Application(a["child_id"], a["family_id"], a["age_group"], tuple(a["choices"]),
                        a["sibling_kita"] if counts(a, "sibling") else None,
                        a["hardship"] and counts(a, "hardship"), a["lat"], a["lon"],
                        lottery[a["child_id"]], home_verified=counts(a, "home"))
            for a in api.get("/applications", headers=bearer(STAFF)).json()]
    return kitas, apps


def test_families_apply_and_staff_allocate_two_rounds(
    api: TestClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_kitas(api)
    changed = api.put("/kitas/K1/U3", json=KITAS["K1", "U3"], headers=bearer(STAFF))
    assert changed.status_code == 200
    listed = api.get("/kitas").json()
    assert [(k["kita_id"], k["age_group"], k["capacity"]) for k in listed] == [
        ("K1", "U3", 1), ("K2", "U3", 1), ("K3", "Ü3", 2)]
    assert set(listed[0]) == {"kita_id", "name", "age_group", "capacity", "lat", "lon",
                              "catchment_km"}

    family_a, family_b = register(api), register(api)
    closed = api.post("/applications", json=ANNA, headers=bearer(family_a))
    assert closed.status_code == 409  # no application period yet
    assert set_deadline(api, datetime.now(UTC) + timedelta(days=7))["open"] is True

    # family A submits, then edits its application
    anna = submit(api, family_a, ANNA)
    edited = api.put(f"/applications/{anna}", json={**ANNA, "choices": ["K1", "K2"]},
                     headers=bearer(family_a))
    assert edited.status_code == 200, edited.text
    assert edited.json()["choices"] == ["K1", "K2"]
    assert edited.json()["updated_at"] >= edited.json()["submitted_at"]
    ben, cem = submit(api, family_b, BEN), submit(api, family_b, CEM)
    dora = submit(api, family_a, DORA)
    assert api.delete(f"/applications/{dora}", headers=bearer(family_a)).status_code == 204
    assert api.get(f"/applications/{dora}", headers=bearer(family_a)).status_code == 404

    # family B sees its own children only; A's child is as absent as a child that never was
    own = api.get("/applications", headers=bearer(family_b)).json()
    assert sorted(a["child_id"] for a in own) == sorted([ben, cem])
    missing = api.get("/applications/C-0000000000000000", headers=bearer(family_b))
    for response in (
        api.get(f"/applications/{anna}", headers=bearer(family_b)),
        api.get(f"/applications/{anna}/result", headers=bearer(family_b)),
        api.put(f"/applications/{anna}", json=BEN, headers=bearer(family_b)),
        api.delete(f"/applications/{anna}", headers=bearer(family_b)),
        api.put(f"/applications/{anna}/decision", json={"decision": "decline"},
                headers=bearer(family_b)),
    ):
        assert response.status_code == 404
        assert response.json() == missing.json()
    assert api.get(f"/applications/{anna}", headers=bearer(family_a)).status_code == 200
    assert len(api.get("/applications", headers=bearer(STAFF)).json()) == 3

    # the round waits for the deadline; closing the period freezes the applications
    assert api.post("/rounds", json={"seed": 1}, headers=bearer(STAFF)).status_code == 409
    assert set_deadline(api, datetime.now(UTC) - timedelta(minutes=1))["open"] is False
    assert api.post("/applications", json=DORA, headers=bearer(family_a)).status_code == 409
    assert api.put(f"/applications/{anna}", json=ANNA,
                   headers=bearer(family_a)).status_code == 409
    assert api.delete(f"/applications/{anna}", headers=bearer(family_a)).status_code == 409

    # round 1: the lottery is drawn from the published seed, reproducibly
    seed = 20250301
    round1 = api.post("/rounds", json={"seed": seed}, headers=bearer(STAFF))
    assert round1.status_code == 201, round1.text
    assert round1.json() | {"run_at": None} == {
        "number": 1, "seed": seed, "lottery_descending": False, "run_at": None,
        "participants": 3, "offers": 2}
    token_of = {anna: family_a, ben: family_b, cem: family_b}
    order = [anna, ben, cem]
    lottery = dict(zip(order, draw_lottery(order, seed), strict=True))
    results = {c: result(api, token_of[c], c) for c in order}
    assert {c: r["lottery"] for c, r in results.items()} == lottery
    first, second, third = sorted(order, key=lottery.__getitem__)
    assert (results[first]["status"], results[first]["kita_id"]) == ("offered", "K1")
    assert (results[second]["status"], results[second]["kita_id"]) == ("offered", "K2")
    assert (results[third]["status"], results[third]["kita_id"]) == ("waiting", None)

    # the unplaced child sees why: both Kitas' cutoffs beat its own lottery number
    (outcome,) = results[third]["rounds"]
    reasons = [(e["choice_rank"], e["kita_id"], e["reason"], e["cutoff"]["lottery"])
               for e in outcome["explanations"]]
    assert reasons == [(1, "K1", "higher_priority", lottery[first]),
                       (2, "K2", "higher_priority", lottery[second])]
    assert all(e["priority"] == {"sibling": False, "hardship": False, "in_catchment": False,
                                 "lottery": lottery[third]} for e in outcome["explanations"])

    # round 2 needs every answer; answers are final
    assert api.post("/rounds", headers=bearer(STAFF)).status_code == 409
    decline = api.put(f"/applications/{first}/decision", json={"decision": "decline"},
                      headers=bearer(token_of[first]))
    assert decline.status_code == 200 and decline.json()["status"] == "declined"
    accept = api.put(f"/applications/{second}/decision", json={"decision": "accept"},
                     headers=bearer(token_of[second]))
    assert accept.status_code == 200 and accept.json()["status"] == "accepted"
    again = api.put(f"/applications/{second}/decision", json={"decision": "accept"},
                    headers=bearer(token_of[second]))
    assert again.status_code == 200
    assert api.put(f"/applications/{second}/decision", json={"decision": "decline"},
                   headers=bearer(token_of[second])).status_code == 409
    assert api.put(f"/applications/{third}/decision", json={"decision": "accept"},
                   headers=bearer(token_of[third])).status_code == 409
    seeded = api.post("/rounds", json={"seed": 7}, headers=bearer(STAFF))
    assert seeded.status_code == 422 and seeded.json()["detail"][0]["loc"] == ["body", "seed"]

    round2 = api.post("/rounds", headers=bearer(STAFF))
    assert round2.status_code == 201, round2.text
    assert round2.json()["number"] == 2 and round2.json()["lottery_descending"] is True
    assert round2.json()["participants"] == 1 and round2.json()["offers"] == 1
    after = {c: result(api, token_of[c], c) for c in order}
    assert (after[third]["status"], after[third]["kita_id"]) == ("offered", "K1")  # freed
    assert (after[second]["status"], after[second]["kita_id"]) == ("accepted", "K2")  # kept
    assert (after[first]["status"], after[first]["kita_id"]) == ("declined", "K1")
    assert [r["round"] for r in after[third]["rounds"]] == [1, 2]
    staff_view = {r["child_id"]: r["status"]
                  for r in api.get("/results", headers=bearer(STAFF)).json()}
    assert staff_view == {first: "declined", second: "accepted", third: "offered"}

    # the allocation started: Kitas and the deadline are fixed
    assert api.put("/kitas/K1/U3", json=KITAS["K1", "U3"],
                   headers=bearer(STAFF)).status_code == 409
    assert api.put("/period", json={"deadline": datetime.now(UTC).isoformat()},
                   headers=bearer(STAFF)).status_code == 409

    # the exports are exactly what the domain gives on the same records
    kitas, apps = domain_records(api, lottery)
    domain1 = first_round(kitas, apps)
    domain2 = next_round(domain1, {first: Decision.DECLINE, second: Decision.ACCEPT})
    for number, domain in ((1, domain1), (2, domain2)):
        write_results(tmp_path / f"R{number}.csv", domain.placements)
        export = api.get(f"/rounds/{number}/results.csv", headers=bearer(STAFF))
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        assert export.text == (tmp_path / f"R{number}.csv").read_text(encoding="utf-8")
    assert api.get("/rounds/3/results.csv", headers=bearer(STAFF)).status_code == 404
    cutoffs = api.get("/rounds/1/cutoffs", headers=bearer(STAFF)).json()
    assert [(c["kita_id"], c["admitted"], c["last_admitted"]["lottery"])
            for c in cutoffs if c["age_group"] == "U3"] == [("K1", 1, lottery[first]),
                                                          ("K2", 1, lottery[second])]

    # the hub's own log lines carry counts, never personal data or tokens (the test client's
    # httpx logger prints the URLs it requests; it is not part of the hub)
    hub_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    assert any("kita round 2: 1 children took part, 1 offers" in line for line in hub_lines)
    family_ids = [a.family_id for a in apps]
    secrets = [ANNA["child_name"], BEN["child_name"], CEM["child_name"], DORA["child_name"],
               anna, ben, cem, dora, family_a, family_b, STAFF, *family_ids, BORN, "testclient",
               *(str(body[axis]) for body in (ANNA, BEN, CEM, DORA) for axis in ("lat", "lon"))]
    leaked = [(s, line) for s in secrets for line in hub_lines if str(s) in line]
    assert leaked == []


def test_tokens_and_roles(api: TestClient) -> None:
    add_kitas(api)
    family = register(api)
    set_deadline(api, datetime.now(UTC) + timedelta(days=1))
    child_id = submit(api, family, ANNA)
    staff_only = [
        ("put", "/kitas/K9/U3", KITAS["K1", "U3"]),
        ("delete", "/kitas/K1/U3", None),
        ("put", "/period", {"deadline": "2030-01-01T00:00:00+01:00"}),
        ("post", "/rounds", {"seed": 1}),
        ("get", "/rounds", None),
        ("get", "/results", None),
        ("get", "/rounds/1/results.csv", None),
        ("get", "/rounds/1/cutoffs", None),
        ("get", "/duplicates", None),
        ("put", f"/applications/{child_id}/claims/home",
         {"verdict": "verified", "note": "Meldebescheinigung", "checked_by": "Frau Schmidt"}),
        ("put", f"/applications/{child_id}/withdrawal",
         {"reason": "unknown at the address", "withdrawn_by": "Frau Schmidt"}),
    ]
    for method, path, body in staff_only:
        anonymous = api.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert api.request(method, path, json=body,
                           headers=bearer("not-a-token")).status_code == 401, (method, path)
        assert api.request(method, path, json=body,
                           headers=bearer(family)).status_code == 403, (method, path)
    for method, path, body in [
        ("get", "/applications", None),
        ("post", "/applications", BEN),
        ("get", f"/applications/{child_id}", None),
        ("get", f"/applications/{child_id}/result", None),
        ("put", f"/applications/{child_id}/decision", {"decision": "accept"}),
    ]:
        assert api.request(method, path, json=body).status_code == 401, (method, path)
    # staff read everything but do not apply or edit in a family's name
    assert api.post("/applications", json=BEN, headers=bearer(STAFF)).status_code == 403
    assert api.put(f"/applications/{child_id}", json=BEN,
                   headers=bearer(STAFF)).status_code == 403
    assert api.get(f"/applications/{child_id}", headers=bearer(STAFF)).status_code == 200
    staff_result = api.get(f"/applications/{child_id}/result", headers=bearer(STAFF))
    assert staff_result.json()["status"] == "pending"
    assert staff_result.headers["cache-control"] == "no-store"
    # the public lists Kitas and the period, without any token
    assert api.get("/kitas").status_code == 200
    assert api.get("/period").json()["open"] is True
    assert api.get("/kitas").headers.get("cache-control") is None


def locations(response_json: dict[str, list[dict[str, object]]]) -> list[object]:
    return [problem["loc"] for problem in response_json["detail"]]


def test_bad_bodies_are_refused_with_field_names(api: TestClient) -> None:
    add_kitas(api)
    family = register(api)
    set_deadline(api, datetime.now(UTC) + timedelta(days=1))
    cases: list[tuple[dict[str, object], list[object], str]] = [
        ({**ANNA, "nickname": "Anni"}, ["body", "nickname"], "Extra inputs"),
        ({**ANNA, "hardship": "yes"}, ["body", "hardship"], "boolean"),
        ({**ANNA, "lat": "51.3"}, ["body", "lat"], "number"),
        ({**ANNA, "choices": []}, ["body", "choices"], "at least 1"),
        ({**ANNA, "choices": ["K1", "K2", "K3", "K4", "K5", "K6"]}, ["body", "choices"],
         "at most 5"),
        ({**ANNA, "choices": ["K1", "K404"]}, ["body", "choices", 1], "unknown Kita 'K404'"),
        ({**ANNA, "choices": ["K3"]}, ["body", "choices", 0], "no places for age group 'U3'"),
        ({**ANNA, "choices": ["K1", "K1"]}, ["body", "choices", 1], "already choice1"),
        ({**ANNA, "lat": 123.0}, ["body", "lat"], "latitude must be in [-90, 90]"),
        ({**ANNA, "sibling_kita": "K404"}, ["body", "sibling_kita"], "unknown Kita"),
        ({**ANNA, "age_group": "U1"}, ["body", "age_group"], "no Kita offers age group"),
        ({**ANNA, "child_name": " "}, ["body", "child_name"], "must not be empty"),
    ]
    for body, loc, message in cases:
        response = api.post("/applications", json=body, headers=bearer(family))
        assert response.status_code == 422, body
        detail = response.json()["detail"]
        assert any(p["loc"] == loc and message in p["msg"] for p in detail), (body, detail)
    assert api.get("/applications", headers=bearer(family)).json() == []

    negative = api.put("/kitas/K4/U3", json={**KITAS["K1", "U3"], "capacity": -2},
                       headers=bearer(STAFF))
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["body", "capacity"]
    assert "must not be negative" in negative.json()["detail"][0]["msg"]
    text = api.put("/kitas/K4/U3", json={**KITAS["K1", "U3"], "catchment_km": "1.0"},
                   headers=bearer(STAFF))
    assert locations(text.json()) == [["body", "catchment_km"]]
    naive = api.put("/period", json={"deadline": "2030-01-01T00:00:00"}, headers=bearer(STAFF))
    assert locations(naive.json()) == [["body", "deadline"]]
    bad_seed = api.post("/rounds", json={"seed": -1}, headers=bearer(STAFF))
    assert locations(bad_seed.json()) == [["body", "seed"]]
    assert [k["kita_id"] for k in api.get("/kitas").json()] == ["K1", "K2", "K3"]

    # a Kita that applications depend on cannot be removed; an unused one can
    submit(api, family, ANNA)
    assert api.delete("/kitas/K2/U3", headers=bearer(STAFF)).status_code == 409
    assert api.delete("/kitas/K3/Ü3", headers=bearer(STAFF)).status_code == 204
    assert api.delete("/kitas/K3/Ü3", headers=bearer(STAFF)).status_code == 404


def test_access_log_filter_hides_child_ids() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "PUT", f"{PREFIX}/applications/C-1f2e3d4c5b6a7988/decision?x=1",
         "1.1", 200), None)
    assert RedactChildIds().filter(record) is True
    assert record.getMessage() == (
        f'127.0.0.1:5000 - "PUT {PREFIX}/applications/{{child_id}}/decision?x=1 HTTP/1.1" 200')


def test_claims_start_unverified_and_staff_check_them(api: TestClient) -> None:
    add_kitas(api)
    set_deadline(api, datetime.now(UTC) + timedelta(days=1))
    family, other = register(api), register(api)
    anna = submit(api, family, {**ANNA, "sibling_kita": "K1", "hardship": True})
    own = api.get(f"/applications/{anna}", headers=bearer(family)).json()
    assert (own["date_of_birth"], own["withdrawal"]) == (BORN, None)
    assert own["claims"] == {claim: {"state": "unverified", "checked_by": None,
                                     "checked_at": None, "note": None}
                             for claim in ("sibling", "hardship", "home")}
    check = {"verdict": "verified", "note": "Jugendamt letter of 12 Feb seen",
             "checked_by": "Frau Schmidt"}
    checked = api.put(f"/applications/{anna}/claims/hardship", json=check,
                      headers=bearer(STAFF))
    assert checked.status_code == 200, checked.text
    hardship = checked.json()["claims"]["hardship"]
    assert (hardship["state"], hardship["checked_by"], hardship["note"]) == (
        "verified", "Frau Schmidt", "Jugendamt letter of 12 Feb seen")
    assert api.get(f"/applications/{anna}", headers=bearer(family)).json()["claims"][
        "hardship"]["state"] == "verified"  # the family sees what was checked
    assert api.put(f"/applications/{anna}/claims/income", json=check,
                   headers=bearer(STAFF)).status_code == 422
    ben = submit(api, family, BEN)
    assert api.put(f"/applications/{ben}/claims/sibling", json=check,
                   headers=bearer(STAFF)).status_code == 409  # nothing claimed

    # one application per child; the same child from another family is shown to staff
    again = api.post("/applications", json={**ANNA, "child_name": " anna  APFELBAUM"},
                     headers=bearer(family))
    assert again.status_code == 409 and anna in again.json()["detail"]
    copy = submit(api, other, ANNA)
    assert api.get("/duplicates", headers=bearer(STAFF)).json() == [{"child_ids": [anna, copy]}]
    for born, message in ((20240501, "date as text"), ("2024-02-30", "date"),
                          ("2999-01-01", "must not be in the future")):
        bad = api.post("/applications", json={**CEM, "date_of_birth": born},
                       headers=bearer(family))
        assert bad.status_code == 422, born
        assert any(p["loc"] == ["body", "date_of_birth"] and message in p["msg"]
                   for p in bad.json()["detail"]), bad.json()

    # staff withdraw the copy, with a reason the family sees
    reason = {"reason": "the child lives with family 1", "withdrawn_by": "Herr Ohm"}
    withdrawn = api.put(f"/applications/{copy}/withdrawal", json=reason, headers=bearer(STAFF))
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawal"]["reason"] == "the child lives with family 1"
    assert api.put(f"/applications/{copy}/withdrawal", json=reason,
                   headers=bearer(STAFF)).status_code == 409
    assert api.put(f"/applications/{copy}", json=ANNA, headers=bearer(other)).status_code == 409
    assert api.get(f"/applications/{copy}/result",
                   headers=bearer(other)).json()["status"] == "withdrawn"

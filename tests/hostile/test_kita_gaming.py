"""Attack 6 (issue 13): anyone could game the Kita allocation — against a real ``kassel hub``.

What happened: ``POST /families`` was public and unlimited, ``submit`` had no per-family cap,
hardship, sibling and home were taken on trust, and staff could not withdraw applications
after round 1. 20 anonymous families, each with 5 invented "hardship + sibling" children,
pushed the one real applicant to ``waiting``.

Every test runs the real hub process and talks HTTP to it over sockets: the attack itself,
the caps, and the rate limit from different client addresses (127.0.0.2, 127.0.0.3: Linux
routes all of 127/8 to the loopback interface).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from central_hub.broker import MosquittoBroker
from tests.support.hub_process import HubProcess

STAFF = "kita-staff-token-for-hostile-tests"
K1 = {"name": "Kita Sonnenschein", "capacity": 1, "lat": 51.3155, "lon": 9.4975,
      "catchment_km": 1.0}
K2 = {"name": "Kita Regenbogen", "capacity": 3, "lat": 51.33, "lon": 9.52, "catchment_km": 1.0}
BORN = "2024-05-01"
CHECKED = {"verdict": "verified", "checked_by": "Frau Schmidt"}

HubFactory = Callable[..., HubProcess]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def start_hub(broker: MosquittoBroker, tmp_path: Path) -> Iterator[HubFactory]:
    """Start ``kassel hub`` with the Kita staff token and extra environment variables."""
    started: list[HubProcess] = []

    def start(**env: str) -> HubProcess:
        proc = HubProcess(tmp_path, broker.url, f"sqlite:///{tmp_path / 'hub.db'}",
                          env={"KASSEL_HUB_KITA_STAFF_TOKEN": STAFF, **env})
        proc.start()
        started.append(proc)
        proc.http.base_url = httpx.URL(f"http://127.0.0.1:{proc.port}/api/v1/kita/")
        return proc

    yield start
    for proc in started:
        proc.stop()


def setup_period(http: httpx.Client) -> None:
    for kita_id, body in (("K1", K1), ("K2", K2)):
        r = http.put(f"kitas/{kita_id}/U3", json=body, headers=bearer(STAFF))
        assert r.status_code == 201, r.text
    deadline = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert http.put("period", json={"deadline": deadline}, headers=bearer(STAFF)).json()["open"]


def register(http: httpx.Client) -> str:
    r = http.post("families")
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def application(name: str, **claims: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"child_name": name, "date_of_birth": BORN, "age_group": "U3",
                            "choices": ["K1"], "sibling_kita": None, "hardship": False,
                            "lat": 51.3160, "lon": 9.4980}
    body.update(claims)
    return body


def test_invented_priority_claims_do_not_displace_the_real_applicant(
        start_hub: HubFactory) -> None:
    # the attackers may have many addresses: the registration and write limits per address
    # are not what stops them
    hub = start_hub(KASSEL_HUB_KITA__REGISTRATION_BURST="1000",
                    KASSEL_HUB_RATE_LIMITS__KITA_WRITES__BURST="1000")
    http = hub.http
    setup_period(http)
    # the real family: a sibling at K1, a hardship case, living next to K1
    real = register(http)
    rosa = http.post("applications", headers=bearer(real), json=application(
        "Rosa Real", sibling_kita="K1", hardship=True))
    assert rosa.status_code == 201, rosa.text
    rosa_id = rosa.json()["child_id"]
    # 20 anonymous families, 5 invented children each, claiming all the same
    fakes: dict[str, str] = {}
    for family in range(20):
        token = register(http)
        for n in range(5):
            r = http.post("applications", headers=bearer(token), json=application(
                f"Fake {family}-{n}", choices=["K1", "K2"], sibling_kita="K1", hardship=True))
            assert r.status_code == 201, r.text
            assert {c["state"] for c in r.json()["claims"].values()} == {"unverified"}
            fakes[r.json()["child_id"]] = token
    # staff check Rosa's documents; the invented claims have none and stay unverified
    for claim, note in (("sibling", "brother Tom attends K1 (K1's list)"),
                        ("hardship", "Jugendamt letter of 12 Feb seen"),
                        ("home", "Meldebescheinigung seen")):
        r = http.put(f"applications/{rosa_id}/claims/{claim}", json={**CHECKED, "note": note},
                     headers=bearer(STAFF))
        assert r.status_code == 200, r.text
    closed = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    assert http.put("period", json={"deadline": closed}, headers=bearer(STAFF)).status_code == 200

    round1 = http.post("rounds", json={"seed": 20260301}, headers=bearer(STAFF))
    assert round1.status_code == 201, round1.text
    result = http.get(f"applications/{rosa_id}/result", headers=bearer(real)).json()
    assert (result["status"], result["kita_id"]) == ("offered", "K1"), result
    results = {r["child_id"]: r for r in http.get("results", headers=bearer(STAFF)).json()}
    fake_offers = [c for c in fakes if results[c]["status"] == "offered"]
    assert {results[c]["kita_id"] for c in fake_offers} == {"K2"}  # the lottery, nothing more

    # the invented children never answer; staff withdraw them, so round 2 is not blocked
    assert http.put(f"applications/{rosa_id}/decision", json={"decision": "accept"},
                    headers=bearer(real)).status_code == 200
    assert http.post("rounds", headers=bearer(STAFF)).status_code == 409  # answers missing
    for child_id in fake_offers:
        r = http.put(f"applications/{child_id}/withdrawal", headers=bearer(STAFF),
                     json={"reason": "no such child at the address", "withdrawn_by": "Herr Ohm"})
        assert r.status_code == 200, r.text
    assert http.post("rounds", headers=bearer(STAFF)).status_code == 201
    mine = http.get(f"applications/{fake_offers[0]}/result", headers=bearer(fakes[
        fake_offers[0]])).json()
    assert mine["status"] == "withdrawn"


def test_one_application_per_child_and_a_cap_per_family(start_hub: HubFactory) -> None:
    http = start_hub().http
    setup_period(http)
    family = register(http)
    first = http.post("applications", headers=bearer(family), json=application("Mia Muster"))
    assert first.status_code == 201, first.text
    again = http.post("applications", headers=bearer(family),
                      json=application("  mia   MUSTER "))
    assert again.status_code == 409, again.text
    six_wishes = http.post("applications", headers=bearer(family), json=application(
        "Max Muster", choices=["K1", "K2", "K3", "K4", "K5", "K6"]))
    assert six_wishes.status_code == 422, six_wishes.text
    for n in range(4):
        r = http.post("applications", headers=bearer(family), json=application(f"Kind {n}"))
        assert r.status_code == 201, r.text
    sixth = http.post("applications", headers=bearer(family), json=application("Kind 5"))
    assert sixth.status_code == 409 and "at most 5 children" in sixth.text, sixth.text
    # another family with a child of the same name and birthday: not refused, shown to staff
    copy = http.post("applications", headers=bearer(register(http)),
                     json=application("Mia Muster"))
    assert copy.status_code == 201, copy.text
    assert http.get("duplicates", headers=bearer(STAFF)).json() == [
        {"child_ids": [first.json()["child_id"], copy.json()["child_id"]]}]


def test_registration_is_rate_limited_per_client_address(start_hub: HubFactory) -> None:
    hub = start_hub()
    url = f"http://127.0.0.1:{hub.port}/api/v1/kita/families"

    def client(address: str) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)

    with client("127.0.0.2") as attacker:
        answers = [attacker.post(url) for _ in range(6)]
        assert [a.status_code for a in answers] == [201] * 5 + [429], [a.text for a in answers]
        refused = answers[-1]
        assert 1 <= int(refused.headers["retry-after"]) <= 360  # 10 an hour after the 5
        assert "too many registrations" in refused.json()["detail"]
        # a forged X-Forwarded-For is not believed from an address that is not a proxy
        forged = attacker.post(url, headers={"X-Forwarded-For": "198.51.100.9"})
        assert forged.status_code == 429
    with client("127.0.0.3") as neighbour:
        assert neighbour.post(url).status_code == 201
    assert "127.0.0.2" not in hub.log.read_text()  # an address is personal data: never logged

"""The re-identification attempt: a Kita round in which one child is the only applicant of
its district and age group. Whatever the published files say, that child's offer must not
be readable from them: not from its own row, not by subtracting the other rows from the
totals a reader knows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from central_hub.broker import MosquittoBroker
from central_hub.kita.domain import KitaPlaces
from central_hub.kita.synthetic import kassel_instance
from central_hub.opendata.domain.datasets import KITA
from central_hub.opendata.domain.districts import CENTRES, district_of
from tests.integration.opendata.conftest import Portal, open_portal, publish_all

PARTS = (*(f"offers_rank_{r}" for r in range(1, 6)), "no_offer")


def _lonely_district() -> tuple[str, KitaPlaces]:
    """A district where the seeded round has no U3 Kita, and a Kita there for the lone child."""
    places, _ = kassel_instance(400, 30, seed=3)
    taken = {district_of(p.lat, p.lon) for p in places if p.age_group == "U3"}
    district = next(d for d in CENTRES if d not in taken)
    lat, lon = CENTRES[district]
    return district, KitaPlaces("K-EINZEL", "Kita am Rand", "U3", 5, lat, lon, 1.5)


@pytest.fixture(scope="module")
def lonely(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Portal, str]]:
    tmp = tmp_path_factory.mktemp("reidentify")
    district, kita = _lonely_district()
    with MosquittoBroker(tmp / "mosquitto") as broker:
        portal = open_portal(tmp, broker, lone=kita)
        try:
            publish_all(portal)
            yield portal, district
        finally:
            portal.server.stop()


def _published(portal: Portal) -> list[dict[str, str]]:
    with httpx.Client(base_url=portal.url, timeout=30) as http:
        shown = http.get("/opendata/api/3/action/package_show", params={"id": KITA.id}).json()
        url = next(r["url"] for r in shown["result"]["resources"] if r["name"] == "data.csv")
        return list(csv.DictReader(io.StringIO(http.get(url).text)))


def _difference_attack(rows: list[dict[str, str]]) -> dict[tuple[int, str], int]:
    """What a reader can solve exactly: each row's applications = the sum of its parts, and
    (the strongest assumption) every column's city total per age group, taken from the true
    round. Lines with one unknown are solved, repeatedly."""
    known: dict[tuple[int, str], int] = {}
    for i, row in enumerate(rows):
        for name in ("applications", *PARTS):
            if row[name] != "":
                known[(i, name)] = int(row[name])
    lines = [[(i, "applications")] + [(i, p) for p in PARTS] for i in range(len(rows))]
    solved = True
    while solved:
        solved = False
        for line in lines:
            unknown = [c for c in line if c not in known]
            if len(unknown) == 1:
                total, parts = line[0], line[1:]
                if unknown[0] == total:
                    known[total] = sum(known[p] for p in parts)
                else:
                    known[unknown[0]] = known[total] - sum(known[p] for p in parts
                                                           if p != unknown[0])
                solved = True
    return known


def test_the_lone_childs_offer_cannot_be_read(lonely: tuple[Portal, str]) -> None:
    portal, district = lonely
    rows = _published(portal)
    [mine] = [r for r in rows if r["district"] == district and r["age_group"] == "U3"]
    # its own row: no count of people below the threshold, not even its true 1
    for name in ("applications", *PARTS):
        assert mine[name] == "" or int(mine[name]) == 0 or int(mine[name]) >= 5, (name, mine)
    assert mine["offers_rank_1"] != "1" and mine["applications"] != "1"
    # a suppressed outcome never stands alone beside published ones: a lone suppressed part
    # would tell whoever is counted here which offer they got (published counts are noisy:
    # differential privacy, epsilon 1, is what protects those)
    hidden_parts = [p for p in PARTS if mine[p] == ""]
    assert len(hidden_parts) != 1, mine
    # and no difference over the rows' sums gives a suppressed cell of its row
    index = rows.index(mine)
    solved = _difference_attack(rows)
    for name in ("applications", *PARTS):
        if mine[name] == "":
            assert (index, name) not in solved, (name, mine)


def test_the_gate_report_says_what_it_did(lonely: tuple[Portal, str]) -> None:
    portal, _ = lonely
    with httpx.Client(base_url=portal.url, timeout=30, headers=portal.auth()) as http:
        versions = http.get(f"/api/v1/opendata/datasets/{KITA.id}/versions").json()
        review = http.get(f"/api/v1/opendata/datasets/{KITA.id}/versions/"
                          f"{versions[0]['version']}").json()
    report = review["report"]
    assert report["suppressed"]["primary"]["count"] >= 1
    assert report["noise"]["epsilon"] == 1.0
    k = report["k_anonymity"]
    assert k["k"] is None or k["k"] >= KITA.privacy.k
    assert k["quasi_identifiers"] == ["district", "age_group"]
    assert any("unterdrückt" in line for line in review["plain_words"])

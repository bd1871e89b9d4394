"""What leaves the hub: the DCAT-AP.de catalogue (checked with the official SHACL shapes),
the files (checked by Frictionless, streamed with validators), the gate's promise that no
small count of people is published, and the publisher's review, withdrawal and failures."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import frictionless
import httpx
import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, RDF

from central_hub.opendata.domain.datasets import BY_ID, DATASETS, PUNCTUALITY
from central_hub.opendata.tables import delays
from tests.integration.central_hub.helpers import ADMIN, wait_for
from tests.integration.opendata.conftest import Portal
from tests.unit.opendata.test_dcat import validate

TABULAR = [d for d in DATASETS if not d.api_only]


def _show(http: httpx.Client, dataset_id: str) -> dict[str, object]:
    answer = http.get("/opendata/api/3/action/package_show", params={"id": dataset_id})
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()["result"]
    return result


def _resources(package: dict[str, object]) -> dict[str, str]:
    resources = package["resources"]
    assert isinstance(resources, list)
    return {r["name"]: r["url"] for r in resources}


def test_the_catalogue_conforms_to_dcat_ap_de_in_every_format(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url, timeout=30) as http:
        ttl = http.get("/opendata/catalog.ttl")
        assert ttl.status_code == 200 and ttl.headers["content-type"].startswith("text/turtle")
        graph = Graph().parse(data=ttl.text, format="turtle")
        conforms, _, text = validate(graph)
        assert conforms, text
        datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
        assert len(datasets) == len(DATASETS)
        licences = set(graph.objects(None, DCTERMS.license))
        assert URIRef("http://dcat-ap.de/def/licenses/dl-by-de/2.0") in licences
        for fmt, parser in (("rdf", "xml"), ("jsonld", "json-ld")):
            other = http.get(f"/opendata/catalog.{fmt}")
            assert other.status_code == 200
            parsed = Graph().parse(data=other.content, format=parser)
            # the same graph but for the page links, which name their own format
            assert isomorphic(_without_paging(graph), _without_paging(parsed))
            assert f"catalog.{fmt}?page=1" in other.text
        again = http.get("/opendata/catalog.ttl", headers={"If-None-Match": ttl.headers["etag"]})
        assert again.status_code == 304
        beyond = Graph().parse(data=http.get("/opendata/catalog.ttl?page=2").text,
                               format="turtle")
        assert not set(beyond.subjects(RDF.type, DCAT.Dataset))
        assert http.get("/opendata/catalog.txt").status_code == 422
        assert http.get("/opendata/catalog.ttl?page=0").status_code == 422


def _without_paging(graph: Graph) -> Graph:
    out = Graph()
    for s, p, o in graph:
        if "/opendata/catalog." not in f"{s} {o}":
            out.add((s, p, o))
    return out


def test_every_tabular_distribution_passes_frictionless(portal: Portal, tmp_path: Path) -> None:
    with httpx.Client(base_url=portal.url, timeout=30) as http:
        for spec in TABULAR:
            urls = _resources(_show(http, spec.id))
            folder = tmp_path / spec.id
            folder.mkdir()
            for name in ("data.csv", "datapackage.json"):
                answer = http.get(urls[name])
                assert answer.status_code == 200, answer.text
                (folder / name).write_bytes(answer.content)
            report = frictionless.validate(str(folder / "datapackage.json"))
            assert report.valid, (spec.id, report.flatten(["rowNumber", "fieldName", "type",
                                                          "note"]))


def test_no_published_file_holds_a_small_count_of_people(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url, timeout=30) as http:
        for spec in TABULAR:
            text = http.get(_resources(_show(http, spec.id))["data.csv"]).text
            rows = list(csv.DictReader(io.StringIO(text)))
            assert rows, spec.id
            assert list(rows[0]) == [c.name for c in spec.columns]
            people = [c.name for c in spec.columns if c.people]
            for row in rows:
                for name in people:
                    value = row[name]
                    assert value == "" or int(value) == 0 or \
                        int(value) >= spec.privacy.threshold, (spec.id, name, row)


def test_downloads_are_streamed_with_validators(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url, timeout=30) as http:
        url = _resources(_show(http, PUNCTUALITY.id))["data.csv"]
        first = http.get(url)
        assert first.status_code == 200
        assert first.headers["content-type"] == "text/csv; charset=utf-8"
        assert int(first.headers["content-length"]) == len(first.content)
        tag, modified = first.headers["etag"], first.headers["last-modified"]
        assert http.get(url, headers={"If-None-Match": tag}).status_code == 304
        assert http.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        assert http.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
        assert http.get(url.replace("data.csv", "nope.csv")).status_code == 404


def test_a_run_waits_for_review_and_publishing_makes_it_public(portal: Portal) -> None:
    with httpx.Client(base_url=portal.url, timeout=60) as http:
        dataset = PUNCTUALITY.id
        assert http.post(f"/api/v1/opendata/datasets/{dataset}/runs").status_code == 401
        engineer = {"Authorization": f"Bearer {ADMIN}"}
        assert http.post(f"/api/v1/opendata/datasets/{dataset}/runs",
                         headers=engineer).status_code == 403
        before = _show(http, dataset)["version"]
        made = http.post(f"/api/v1/opendata/datasets/{dataset}/runs", headers=portal.auth())
        assert made.status_code == 201
        review = made.json()
        assert review["state"] == "pending" and review["plain_words"]
        assert review["columns"] == [c.name for c in PUNCTUALITY.columns]
        assert review["preview"]
        assert _show(http, dataset)["version"] == before
        listed = http.get("/api/v1/opendata/datasets", headers=portal.auth()).json()
        mine = next(d for d in listed if d["id"] == dataset)
        assert mine["latest"] == review["version"] and mine["latest_state"] == "pending"
        published = http.post(f"/api/v1/opendata/datasets/{dataset}/versions/"
                              f"{review['version']}/publish", headers=portal.auth())
        assert published.status_code == 200
        assert _show(http, dataset)["version"] == str(review["version"])
        again = http.post(f"/api/v1/opendata/datasets/{dataset}/versions/"
                          f"{review['version']}/publish", headers=portal.auth())
        assert again.status_code == 409
        unknown = http.post("/api/v1/opendata/datasets/nope/runs", headers=portal.auth())
        assert unknown.status_code == 404


def test_a_withdrawn_dataset_leaves_the_lists_and_keeps_its_record(portal: Portal) -> None:
    dataset = BY_ID["kassel-wlan-route-day"].id
    with httpx.Client(base_url=portal.url, timeout=60) as http:
        url = _resources(_show(http, dataset))["data.csv"]
        gone = http.post(f"/api/v1/opendata/datasets/{dataset}/withdraw", headers=portal.auth())
        assert gone.status_code == 200 and gone.json()["withdrawn"]
        names = http.get("/opendata/api/3/action/package_list").json()["result"]
        assert dataset not in names
        search = http.get("/opendata/api/3/action/package_search",
                          params={"q": "WLAN"}).json()["result"]
        assert search["count"] == 0
        catalogue = Graph().parse(data=http.get("/opendata/catalog.ttl").text, format="turtle")
        assert len(set(catalogue.subjects(RDF.type, DCAT.Dataset))) == len(DATASETS) - 1
        assert _show(http, dataset)["state"] == "deleted"
        assert http.get(url).status_code == 410
        again = http.post(f"/api/v1/opendata/datasets/{dataset}/withdraw",
                          headers=portal.auth())
        assert again.status_code == 409
        # published again, it is back
        version = int(str(_show(http, dataset)["version"]))
        back = http.post(f"/api/v1/opendata/datasets/{dataset}/versions/{version}/publish",
                         headers=portal.auth())
        assert back.status_code == 200
        assert dataset in http.get("/opendata/api/3/action/package_list").json()["result"]


def test_a_failing_producer_publishes_nothing_and_raises_an_alarm(portal: Portal) -> None:
    dataset = PUNCTUALITY.id
    with httpx.Client(base_url=portal.url, timeout=60) as http:
        before = _show(http, dataset)
        delays.drop(portal.service.engine)
        try:
            failed = http.post(f"/api/v1/opendata/datasets/{dataset}/runs",
                               headers=portal.auth())
            assert failed.status_code == 503
            assert _show(http, dataset)["version"] == before["version"]
            wait_for(lambda: _alarm_is(http, "opendata_producer_failed", f"opendata:{dataset}",
                                       active=True), what="the producer's alarm")
        finally:
            delays.create(portal.service.engine)
        assert http.post(f"/api/v1/opendata/datasets/{dataset}/runs",
                         headers=portal.auth()).status_code == 201
        wait_for(lambda: _alarm_is(http, "opendata_producer_failed", f"opendata:{dataset}",
                                   active=False), what="the alarm cleared")


def _alarm_is(http: httpx.Client, kind: str, device: str, *, active: bool) -> bool:
    """Whether the hub lists the alarm as ``active`` (the alarm loop writes it a moment
    after the producer's run)."""
    answer = http.get("/api/v1/alarms", headers={"Authorization": f"Bearer {ADMIN}"})
    listed = {(a["kind"], a["device_id"]) for a in answer.json()}
    return ((kind, device) in listed) == active


@pytest.mark.parametrize("path", ["/api/v1/opendata/datasets",
                                  "/api/v1/opendata/datasets/kassel-gtfs/versions"])
def test_the_publishers_lists_need_the_role(portal: Portal, path: str) -> None:
    with httpx.Client(base_url=portal.url, timeout=10) as http:
        assert http.get(path).status_code == 401
        assert http.get(path, headers=portal.auth()).status_code == 200

"""The DCAT-AP.de catalogue: valid against the official DCAT-AP.de 2.0 SHACL shapes, paged
with Hydra, and the same graph in all three serialisations.

WHY the official shapes (vendored in tests/fixtures/dcat-ap-de/, see its README): GovData's
harvester rejects what its validator rejects; our own idea of DCAT-AP.de is not the test.
The profile is "DCAT-AP.de 2.0 – Spezifikation + Konventionen" (the one for delivery to
GovData): the SEMIC DCAT-AP 2.1.1 shapes, the German additions, messages, deprecations and
conventions, with the vocabulary subset we use as the ontology graph.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pyshacl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import BNode, Graph, Literal, URIRef
from rdflib import namespace as ns
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS

from central_hub.opendata.domain.dcat import (
    CONTRIBUTORS,
    HYDRA,
    MEDIA_TYPES,
    catalogue_graph,
    page_url,
    serialise,
    turtle,
)
from central_hub.opendata.domain.records import (
    ColumnSpec,
    ColumnType,
    DatasetSpec,
    Organisation,
    PublishedDataset,
    Resource,
    VersionState,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dcat-ap-de"
SHAPE_FILES = (
    "dcat-ap_2.1.1_shacl_shapes.ttl",
    "dcat-ap-spec-german-messages.ttl",
    "dcat-ap-spec-german-additions.ttl",
    "dcat-ap-de-deprecated.ttl",
    "dcat-ap-konventionen.ttl",
)
BASE = "https://hub.kassel.example"
#: the placeholder the vocabulary fixture lists (Kassel has no GovData contributorID yet)
CONTRIBUTOR = CONTRIBUTORS + "stadtKassel"
#: Kassel with the geocoding URIs verified against the DCAT-AP.de vocabularies (README.md)
KASSEL = Organisation(
    id="stadt-kassel",
    name="Stadt Kassel",
    homepage="https://www.kassel.de/",
    email="opendata@kassel.de",
    geocoding="http://dcat-ap.de/def/politicalGeocoding/regionalKey/066110000000",
    geocoding_level="http://dcat-ap.de/def/politicalGeocoding/Level/municipality",
)


@cache
def shapes() -> Graph:
    g = Graph()
    for name in SHAPE_FILES:
        g.parse(FIXTURES / name, format="turtle")
    return g


@cache
def vocabularies() -> Graph:
    return Graph().parse(FIXTURES / "vocabularies.ttl", format="turtle")


def validate(data: Graph) -> tuple[bool, Graph, str]:
    # pyshacl works on a context-aware store; the catalogue is built on rdflib's lighter
    # SimpleMemory, so its triples are copied over, as a harvester's parser would hold them
    copy = Graph()
    copy += data
    conforms, results, text = pyshacl.validate(
        copy,
        shacl_graph=shapes(),
        ont_graph=vocabularies(),
        inference="none",
        advanced=True,
    )
    assert isinstance(results, Graph)
    return bool(conforms), results, str(text)


def sample_dataset(
    n: int, *, api: bool = False, temporal: bool = True, licence: str = "dl-by-de/2.0"
) -> PublishedDataset:
    """A published dataset ``n``: a CSV, its datapackage.json and a GTFS zip, or one API."""
    ident = f"ds-{n:04d}"
    spec = DatasetSpec(
        id=ident,
        title=f"Fahrgastzahlen Linie {n}",
        description=f"Ein- und Ausstiege je Haltestelle und Tag, Linie {n}.",
        themes=("TRAN", "SOCI") if n % 2 else ("TRAN",),
        keywords=("ÖPNV", "Fahrgäste", f"Linie {n}"),
        periodicity="DAILY" if n % 3 else "MONTHLY",
        group="mobilitaet",
        columns=(
            ColumnSpec("day", ColumnType.DATE, "Tag", "Betriebstag", "gateway"),
            ColumnSpec("boardings", ColumnType.INTEGER, "Einstiege", "Einstiege", "apc",
                       people=True),
        ),
        main_measure="boardings",
        licence=licence,
        api_only=api,
    )
    files = f"{BASE}/opendata/files/{ident}/v3"
    resources = (
        (Resource("rt", "GTFS-RT", "Echtzeit-Positionen als Protobuf", "GTFS-RT",
                  "application/octet-stream", f"{BASE}/gtfs-rt/{ident}", None, api=True),)
        if api
        else (
            Resource("csv", "Tabelle", "Die Tabelle als CSV", "CSV", "text/csv",
                     f"{files}/data.csv", 10_240 + n),
            Resource("dp", "Beschreibung", "Frictionless Data Package", "JSON",
                     "application/json", f"{files}/datapackage.json", 2_048),
            Resource("zip", "Alles", "Tabelle und Beschreibung als ZIP", "ZIP",
                     "application/zip", f"{files}/all.zip", 4_096),
        )
    )
    issued = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    return PublishedDataset(
        spec=spec,
        version=3,
        state=VersionState.PUBLISHED,
        issued=issued,
        modified=issued + timedelta(days=n),
        temporal=(date(2025, 1, 1), date(2025, 12, 31)) if temporal else None,
        resources=resources,
        versions=(3, 2, 1),
        privacy_report=(
            "Zahlen unter 5 Personen sind unterdrückt.",
            "k-Anonymität: jede Kombination steht für mindestens 5 Personen.",
        ),
        landing_page=f"{BASE}/opendata/datasets/{ident}",
    )


def sample_catalogue(contributor_id: str | None = CONTRIBUTOR) -> Graph:
    datasets = [
        sample_dataset(1),
        sample_dataset(2, temporal=False, licence="cc-by/4.0"),
        sample_dataset(3, licence="dl-zero-de/2.0"),
        sample_dataset(4, api=True),
    ]
    return catalogue_graph(datasets, KASSEL, base_url=BASE, page=1, total=4,
                           contributor_id=contributor_id)


def test_the_catalogue_conforms_to_dcat_ap_de_2() -> None:
    start = time.perf_counter()
    conforms, _, text = validate(sample_catalogue())
    assert conforms, text
    assert time.perf_counter() - start < 20


def test_a_distribution_without_licence_does_not_conform() -> None:
    """Negative control: the shapes do bite (Konvention 31 wants dct:license)."""
    g = sample_catalogue()
    distribution = URIRef(f"{BASE}/opendata/dataset/ds-0001/resource/csv")
    assert (distribution, ns.DCTERMS.license, None) in g
    g.remove((distribution, ns.DCTERMS.license, None))
    conforms, results, text = validate(g)
    assert not conforms
    sh = "http://www.w3.org/ns/shacl#"
    paths = set(results.objects(None, URIRef(sh + "resultPath")))
    focus = set(results.objects(None, URIRef(sh + "focusNode")))
    assert paths == {ns.DCTERMS.license}, text
    assert focus == {distribution}, text
    assert "dct:license" in text


def test_without_a_contributor_id_only_the_contributor_convention_fails() -> None:
    """Kassel has no GovData contributorID: without one, K12&13 is the only finding."""
    conforms, results, text = validate(sample_catalogue(contributor_id=None))
    assert not conforms
    paths = set(results.objects(None, URIRef("http://www.w3.org/ns/shacl#resultPath")))
    assert paths == {URIRef("http://dcat-ap.de/def/dcatde/contributorID")}, text


def test_withdrawn_datasets_are_refused() -> None:
    withdrawn = replace(sample_dataset(1), state=VersionState.WITHDRAWN)
    with pytest.raises(ValueError, match="withdrawn"):
        catalogue_graph([withdrawn], KASSEL, base_url=BASE, page=1, total=1)


def _view(g: Graph, page: int) -> dict[str, object]:
    view = URIRef(page_url(BASE, page))
    assert (view, ns.RDF.type, HYDRA.PagedCollection) in g
    assert (view, ns.RDF.type, HYDRA.PartialCollectionView) in g
    found: dict[str, object] = {}
    for name in ("first", "last", "next", "previous", "totalItems", "itemsPerPage"):
        value = g.value(view, HYDRA[name])
        if value is not None:
            found[name] = value.toPython() if isinstance(value, Literal) else str(value)
    return found


def test_hydra_paging_of_250_datasets() -> None:
    everything = [sample_dataset(n) for n in range(250)]
    pages = {
        page: catalogue_graph(everything[(page - 1) * 100 : page * 100], KASSEL,
                              base_url=BASE, page=page, total=250)
        for page in (1, 2, 3, 4)
    }
    counts = {page: len(set(g.objects(None, ns.DCAT.dataset))) for page, g in pages.items()}
    assert counts == {1: 100, 2: 100, 3: 50, 4: 0}
    url = {n: page_url(BASE, n) for n in range(1, 4)}
    common = {"first": url[1], "last": url[3], "totalItems": 250, "itemsPerPage": 100}
    assert _view(pages[1], 1) == {**common, "next": url[2]}
    assert _view(pages[2], 2) == {**common, "next": url[3], "previous": url[1]}
    assert _view(pages[3], 3) == {**common, "previous": url[2]}
    # beyond the last page: no datasets, the view still there, "previous" back to the last
    assert _view(pages[4], 4) == {**common, "previous": url[3]}
    assert page_url(BASE, 2, "jsonld") == f"{BASE}/opendata/catalog.jsonld?page=2"
    # the deprecated predicates ckanext-dcat < 2 reads
    assert pages[1].value(URIRef(url[1]), HYDRA.nextPage) == URIRef(url[2])


@pytest.mark.parametrize(("fmt", "rdflib_format"),
                         [("ttl", "turtle"), ("rdf", "xml"), ("jsonld", "json-ld")])
def test_every_serialisation_parses_back_to_the_same_graph(fmt: str, rdflib_format: str) -> None:
    g = sample_catalogue()
    data = serialise(g, fmt)
    assert isinstance(data, bytes)
    assert fmt in MEDIA_TYPES
    back = Graph().parse(data=data, format=rdflib_format)
    assert isomorphic(g, back)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        serialise(sample_catalogue(), "n3")


_IRIS = st.sampled_from([
    "http://www.w3.org/ns/dcat#Dataset", "http://purl.org/dc/terms/title",
    "http://purl.org/dc/terms/", "http://purl.org/dc/terms/1st", "http://purl.org/dc/terms/a.b",
    "http://purl.org/dc/terms/a-b_c", "https://hub.kassel.example/opendata/datasets/x/v1/d.csv",
    "http://dcat-ap.de/def/licenses/dl-by-de/2.0", "urn:x:1", "http://e.example/ä#ö",
])


@given(st.lists(st.tuples(
    _IRIS.map(URIRef) | st.sampled_from(["b1", "b2"]).map(BNode),
    _IRIS.map(URIRef),
    _IRIS.map(URIRef) | st.sampled_from(["b1", "b2"]).map(BNode)
    | st.text(max_size=30).map(lambda t: Literal(t, lang="de"))
    | st.integers().map(Literal) | st.text(max_size=30).map(Literal)), max_size=25))
@settings(max_examples=150, deadline=None)
def test_the_turtle_writer_round_trips_any_graph(triples: list[tuple[Any, Any, Any]]) -> None:
    g = Graph(bind_namespaces="core")
    g.bind("dcat", DCAT)
    g.bind("dct", DCTERMS)
    for t in triples:
        g.add(t)
    parsed = Graph().parse(data=turtle(g), format="turtle")
    assert isomorphic(g, parsed)

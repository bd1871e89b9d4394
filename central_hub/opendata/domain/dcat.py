"""The open-data catalogue as DCAT-AP.de 2.0 RDF: one Hydra page of datasets, serialised.

WHY RDF built with rdflib rather than templated text: GovData and every other DCAT-AP.de
harvester read the catalogue as a graph, and the official SHACL shapes check it as one. Built
as a graph, the catalogue is valid Turtle, RDF/XML and JSON-LD at once (the same triples in
three syntaxes), and the tests validate exactly the graph that is served.

WHY paged with Hydra: ckanext-dcat's RDF harvester (GovData's) follows ``hydra:next`` /
``hydra:nextPage`` from the page node it finds typed ``hydra:PagedCollection``; newer
harvesters (piveau) look for ``hydra:PartialCollectionView``. The page node carries both types
and both the current and the deprecated predicates, as ckanext-dcat's own serialiser does.

Only published datasets belong here: the caller filters withdrawn (and pending, rejected)
versions out and passes the ``total`` of published ones; a record in another state is refused.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, GEO, OWL, RDF, XSD
from rdflib.term import Node

from central_hub.opendata.domain.records import (
    LICENCE_URIS,
    Organisation,
    PublishedDataset,
    Resource,
    VersionState,
)

DCATDE: Final = Namespace("http://dcat-ap.de/def/dcatde/")
ADMS: Final = Namespace("http://www.w3.org/ns/adms#")
HYDRA: Final = Namespace("http://www.w3.org/ns/hydra/core#")
VCARD: Final = Namespace("http://www.w3.org/2006/vcard/ns#")

#: EU authority tables (the vocabularies DCAT-AP.de 2.0 prescribes)
DATA_THEME: Final = "http://publications.europa.eu/resource/authority/data-theme/"
FREQUENCY: Final = "http://publications.europa.eu/resource/authority/frequency/"
FILE_TYPE: Final = "http://publications.europa.eu/resource/authority/file-type/"
LANGUAGE: Final = "http://publications.europa.eu/resource/authority/language/"
#: dcat:mediaType must be an IANA media-type URI (DCAT-AP.de 2.0, kv-iana-media-types)
IANA_MEDIA_TYPES: Final = "https://www.iana.org/assignments/media-types/"
#: the DCAT-AP.de list of GovData's direct data providers (dcatde:contributorID)
CONTRIBUTORS: Final = "http://dcat-ap.de/def/contributors/"

#: Kassel's centre (WGS 84, longitude latitude) as the dct:Location's dcat:centroid: the
#: DCAT-AP.de 2.0 shapes want a Location to carry a bbox, centroid or geometry.
KASSEL_CENTROID_WKT: Final = "POINT(9.4797 51.3127)"

#: a resource's ``format`` → the EU file-type code, where the two differ
_FILE_TYPE_ALIASES: Final[Mapping[str, str]] = {
    "GTFS": "ZIP",  # a GTFS feed is a zip of CSV files
    "GTFS-RT": "BIN",  # protobuf messages: the file-type table has no protobuf entry
    "PROTOBUF": "BIN",
    "DATAPACKAGE": "JSON",  # Frictionless' datapackage.json
}

#: the served formats: the extension in the URL → the media type of the response
MEDIA_TYPES: Final[Mapping[str, str]] = {
    "ttl": "text/turtle",
    "rdf": "application/rdf+xml",
    "jsonld": "application/ld+json",
}
_RDFLIB_FORMATS: Final[Mapping[str, str]] = {"ttl": "turtle", "rdf": "xml", "jsonld": "json-ld"}


def page_count(total: int, page_size: int) -> int:
    """The number of pages of ``total`` datasets: at least 1 (an empty catalogue has a page)."""
    return max(1, -(-total // page_size))


def page_url(base_url: str, page: int, fmt: str = "ttl") -> str:
    """The URL of catalogue page ``page`` in format ``fmt`` (its own extension)."""
    return f"{base_url.rstrip('/')}/opendata/catalog.{fmt}?page={page}"


def dataset_uri(base_url: str, dataset_id: str) -> URIRef:
    """The dataset's stable URI: the same for every version (``owl:versionInfo`` says which)."""
    return URIRef(f"{base_url.rstrip('/')}/opendata/dataset/{dataset_id}")


def catalogue_graph(
    datasets: Sequence[PublishedDataset],
    organisation: Organisation,
    *,
    base_url: str,
    page: int,
    total: int,
    page_size: int = 100,
    fmt: str = "ttl",
    contributor_id: str | None = None,
) -> Graph:
    """The dcat:Catalog of one page: its datasets, their distributions and the Hydra view.

    ``datasets``: the published datasets of page ``page`` (1-based), at most ``page_size``;
    ``total``: the number of published datasets in the whole catalogue. A page beyond the last
    has no datasets but still its view (first, last, previous), so a harvester finds its way
    back. ``fmt`` is the extension the page links use. ``contributor_id``: the full
    ``http://dcat-ap.de/def/contributors/...`` IRI GovData assigned the delivering portal, or
    ``None`` (then no ``dcatde:contributorID``: a portal that harvests this catalogue appends
    its own, DCAT-AP.de Konvention 13).
    """
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown catalogue format {fmt!r}")
    if page < 1 or page_size < 1 or total < 0:
        raise ValueError(f"bad paging: page {page}, page_size {page_size}, total {total}")
    if len(datasets) > page_size:
        raise ValueError(f"{len(datasets)} datasets on a page of {page_size}")
    if contributor_id is not None and not contributor_id.startswith(CONTRIBUTORS):
        raise ValueError(f"a contributor ID is an IRI under {CONTRIBUTORS}")
    base = base_url.rstrip("/")
    # SimpleMemory: a graph without named contexts, which this one never has (half the
    # cost of adding a triple to rdflib's default store)
    g = Graph(store="SimpleMemory", bind_namespaces="core")
    for prefix, namespace in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("dcatde", DCATDE),
        ("foaf", FOAF),
        ("vcard", VCARD),
        ("adms", ADMS),
        ("hydra", HYDRA),
        ("geo", GEO),
    ):
        g.bind(prefix, namespace)

    catalogue = URIRef(f"{base}/opendata/catalog")
    publisher = URIRef(f"{base}/opendata/organisation/{organisation.id}")
    contact = URIRef(f"{base}/opendata/organisation/{organisation.id}#contact")
    spatial = URIRef(organisation.geocoding)
    _agents(g, organisation, publisher, contact, spatial)

    g.add((catalogue, RDF.type, DCAT.Catalog))
    title = f"Open Data Rathaus – {organisation.name}"
    g.add((catalogue, DCTERMS.title, Literal(title, lang="de")))
    g.add((catalogue, DCTERMS.description, Literal(
        f"Offene Daten der {organisation.name}: Verkehr, Bildung, Soziales und Stadtleben, "
        "geprüft auf Datenschutz vor jeder Veröffentlichung.", lang="de")))
    g.add((catalogue, DCTERMS.publisher, publisher))
    g.add((catalogue, FOAF.homepage, URIRef(organisation.homepage)))
    g.add((catalogue, DCTERMS.language, URIRef(LANGUAGE + "DEU")))
    g.add((catalogue, DCTERMS.spatial, spatial))

    for dataset in datasets:
        if dataset.state is not VersionState.PUBLISHED:
            raise ValueError(f"dataset {dataset.spec.id} is {dataset.state.value}, not published")
        node = dataset_uri(base, dataset.spec.id)
        g.add((catalogue, DCAT.dataset, node))
        _dataset(g, dataset, node, organisation, publisher=publisher, contact=contact,
                 spatial=spatial, contributor_id=contributor_id)

    _hydra(g, base, page=page, total=total, page_size=page_size, fmt=fmt)
    return g


def _agents(
    g: Graph, organisation: Organisation, publisher: URIRef, contact: URIRef, spatial: URIRef
) -> None:
    """The publisher (foaf:Organization), the contact point (vCard) and the city's Location."""
    g.add((publisher, RDF.type, FOAF.Organization))
    g.add((publisher, FOAF.name, Literal(organisation.name, lang="de")))
    g.add((publisher, FOAF.homepage, URIRef(organisation.homepage)))
    g.add((publisher, FOAF.mbox, URIRef(f"mailto:{organisation.email}")))
    g.add((contact, RDF.type, VCARD.Organization))
    g.add((contact, VCARD.fn, Literal(organisation.name, lang="de")))
    g.add((contact, VCARD.hasEmail, URIRef(f"mailto:{organisation.email}")))
    g.add((contact, VCARD.hasURL, URIRef(organisation.homepage)))
    # dct:spatial repeats the political geocoding URI (DCAT-AP.de Konvention 11), typed as
    # the dct:Location it is, with the centroid the shapes ask a Location for
    g.add((spatial, RDF.type, DCTERMS.Location))
    g.add((spatial, DCAT.centroid, Literal(KASSEL_CENTROID_WKT, datatype=GEO.wktLiteral)))


def _dataset(
    g: Graph,
    dataset: PublishedDataset,
    node: URIRef,
    organisation: Organisation,
    *,
    publisher: URIRef,
    contact: URIRef,
    spatial: URIRef,
    contributor_id: str | None,
) -> None:
    """One dcat:Dataset and its distributions."""
    spec = dataset.spec
    g.add((node, RDF.type, DCAT.Dataset))
    g.add((node, DCTERMS.title, Literal(spec.title, lang="de")))
    g.add((node, DCTERMS.description, Literal(spec.description, lang="de")))
    g.add((node, DCTERMS.identifier, Literal(str(node))))
    for keyword in spec.keywords:
        g.add((node, DCAT.keyword, Literal(keyword, lang="de")))
    for theme in spec.themes:
        g.add((node, DCAT.theme, URIRef(DATA_THEME + theme)))
    g.add((node, DCTERMS.publisher, publisher))
    g.add((node, DCAT.contactPoint, contact))
    g.add((node, DCATDE.politicalGeocodingURI, URIRef(organisation.geocoding)))
    g.add((node, DCATDE.politicalGeocodingLevelURI, URIRef(organisation.geocoding_level)))
    if contributor_id is not None:
        g.add((node, DCATDE.contributorID, URIRef(contributor_id)))
    g.add((node, DCTERMS.spatial, spatial))
    if dataset.temporal is not None:
        period = URIRef(f"{node}#temporal")
        start, end = dataset.temporal
        g.add((node, DCTERMS.temporal, period))
        g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        g.add((period, DCAT.startDate, Literal(start)))
        g.add((period, DCAT.endDate, Literal(end)))
    g.add((node, DCTERMS.issued, Literal(dataset.issued)))
    g.add((node, DCTERMS.modified, Literal(dataset.modified)))
    g.add((node, DCTERMS.accrualPeriodicity, URIRef(FREQUENCY + spec.periodicity)))
    g.add((node, DCAT.landingPage, URIRef(dataset.landing_page)))
    g.add((node, OWL.versionInfo, Literal(str(dataset.version))))
    if dataset.privacy_report:
        g.add((node, ADMS.versionNotes, Literal("\n".join(dataset.privacy_report), lang="de")))
    licence = URIRef(LICENCE_URIS[spec.licence])
    for resource in dataset.resources:
        distribution = URIRef(f"{node}/resource/{resource.id}")
        g.add((node, DCAT.distribution, distribution))
        _distribution(g, resource, distribution, licence, organisation.name)


def _distribution(
    g: Graph, resource: Resource, node: URIRef, licence: URIRef, attribution: str
) -> None:
    """One dcat:Distribution: a file (access and download URL, size) or an API (access URL)."""
    url = URIRef(resource.url)
    g.add((node, RDF.type, DCAT.Distribution))
    g.add((node, DCTERMS.title, Literal(resource.name, lang="de")))
    g.add((node, DCTERMS.description, Literal(resource.description, lang="de")))
    g.add((node, DCAT.accessURL, url))
    if not resource.api:
        g.add((node, DCAT.downloadURL, url))
    code = resource.format.upper()
    g.add((node, DCTERMS.format, URIRef(FILE_TYPE + _FILE_TYPE_ALIASES.get(code, code))))
    g.add((node, DCAT.mediaType, URIRef(IANA_MEDIA_TYPES + resource.media_type)))
    if resource.byte_size is not None:
        # DCAT-AP 2.1.1: dcat:byteSize is an xsd:decimal, here in its canonical form ("2048.0",
        # as Turtle writes it), so that every serialisation parses back to the same literal
        g.add((node, DCAT.byteSize, Literal(f"{resource.byte_size}.0", datatype=XSD.decimal)))
    g.add((node, DCTERMS.license, licence))
    g.add((node, DCATDE.licenseAttributionByText, Literal(attribution, lang="de")))


def _hydra(g: Graph, base: str, *, page: int, total: int, page_size: int, fmt: str) -> None:
    """The page's Hydra view: counts and the first, last, previous and next page."""
    last = page_count(total, page_size)
    view = URIRef(page_url(base, page, fmt))
    g.add((view, RDF.type, HYDRA.PagedCollection))
    g.add((view, RDF.type, HYDRA.PartialCollectionView))
    g.add((view, HYDRA.totalItems, Literal(total)))
    g.add((view, HYDRA.itemsPerPage, Literal(page_size)))
    links = {"first": 1, "last": last}
    if page < last:
        links["next"] = page + 1
    if page > 1:
        # beyond the last page, "previous" is the last one: the nearest page with datasets
        links["previous"] = min(page - 1, last)
    for name, target in links.items():
        target_url = URIRef(page_url(base, target, fmt))
        g.add((view, HYDRA[name], target_url))
        # ckanext-dcat < 2 reads only the deprecated hydra:nextPage, hydra:firstPage...
        g.add((view, HYDRA[f"{name}Page"], target_url))


def serialise(graph: Graph, fmt: str) -> bytes:
    """The graph in format ``fmt`` (``ttl``, ``rdf``, ``jsonld``), UTF-8; ``MEDIA_TYPES[fmt]``
    is its media type."""
    if fmt not in _RDFLIB_FORMATS:
        raise ValueError(f"unknown catalogue format {fmt!r}")
    if fmt == "jsonld":
        return graph.serialize(format="json-ld", encoding="utf-8", auto_compact=True)
    if fmt == "ttl":
        return turtle(graph)
    return graph.serialize(format=_RDFLIB_FORMATS[fmt], encoding="utf-8")


#: a local name written after a prefix (a conservative subset of Turtle's PN_LOCAL)
_LOCAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def turtle(graph: Graph) -> bytes:
    """The graph as Turtle: the bound prefixes, then one block per subject (sorted), its
    predicates (``a`` first) each with its objects.

    WHY not rdflib's Turtle serialiser: it looks up a prefixed name for every IRI in a trie of
    every namespace it has seen, and every dataset's file IRIs open namespaces of their own,
    so its time grows with the square of the catalogue (RDFLib issue #1752): 1,000 datasets
    took 9.5 s against 0.25 s for N-Triples (BENCHMARKS.md, "Open data"). This writes IRIs
    with a prefix only where a bound namespace and a plain local name make one, every other
    term as rdflib writes it in N-Triples (``n3()``), so the output is Turtle any parser
    reads back to the same graph (tests/unit/opendata/test_dcat.py).
    """
    bound = sorted(((str(p), str(ns)) for p, ns in graph.namespaces() if p),
                   key=lambda b: -len(b[1]))

    written: dict[Node, str] = {}  # predicates, classes, themes, licences recur: once each

    def term(node: Node) -> str:
        known = written.get(node)
        if known is not None:
            return known
        out: str = node.n3()
        if isinstance(node, URIRef):
            text = str(node)
            for prefix, namespace in bound:
                if text.startswith(namespace) and _LOCAL_NAME.fullmatch(text[len(namespace):]):
                    out = f"{prefix}:{text[len(namespace):]}"
                    break
        written[node] = out
        return out

    lines = [f"@prefix {p}: <{ns}> ." for p, ns in sorted(bound)]
    lines.append("")
    by_subject: dict[Node, dict[Node, list[str]]] = {}
    for subject, predicate, obj in graph:  # one pass over the store, grouped here
        by_subject.setdefault(subject, {}).setdefault(predicate, []).append(term(obj))
    for subject in sorted(by_subject, key=lambda n: (isinstance(n, BNode), str(n))):
        objects = by_subject[subject]
        parts = []
        for predicate in sorted(objects, key=lambda p: (p != RDF.type, str(p))):
            verb = "a" if predicate == RDF.type else term(predicate)
            parts.append(f"{verb} {', '.join(sorted(objects[predicate]))}")
        lines.append(f"{term(subject)} " + " ;\n    ".join(parts) + " .\n")
    return "\n".join(lines).encode("utf-8")

"""A dataset version's ``datapackage.json``: the Frictionless Data Package (v1) descriptor
that travels with its CSV files.

WHY Frictionless: the descriptor tells a reader (and ``frictionless validate``) what each
column is, its type and unit, where it comes from, and lets the files be checked byte for
byte (``bytes``, ``hash``) and cell for cell (``schema``) without our portal. It is the
Tabular Data Package profile of the v1 specs (https://specs.frictionlessdata.io/), which
Frictionless 5 reads and validates as is.

What the descriptor says beyond the specs' own properties: each field's ``source`` (its
provenance, the column spec's ``source``) and ``unit``; the package's ``sources`` lists those
sources once each (the specs' ``sources`` property: ``[{title}]``). Counts of people carry
``constraints: {minimum: 0}``.

Pure: no I/O; the caller writes the files and passes their sizes and SHA-256 digests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from .csv_text import CSV_DIALECT
from .records import LICENCE_TITLES, LICENCE_URIS, ColumnSpec, ColumnType, PublishedDataset, Table

#: a package's or resource's ``name`` (Data Package v1: lower case, ``-``, ``_``, ``.``)
NAME_PATTERN = re.compile(r"^[a-z0-9._-]+$")
#: our licence ids as Open Definition licence ids (v1 ``licenses[].name`` allows no ``/``)
LICENCE_NAMES: dict[str, str] = {
    "dl-by-de/2.0": "dl-de-by-2.0",
    "dl-zero-de/2.0": "dl-de-zero-2.0",
    "cc-by/4.0": "CC-BY-4.0",
}
#: where the licence texts are (``licenses[].path``)
LICENCE_TEXTS: dict[str, str] = {
    "dl-by-de/2.0": "https://www.govdata.de/dl-de/by-2-0",
    "dl-zero-de/2.0": "https://www.govdata.de/dl-de/zero-2-0",
    "cc-by/4.0": "https://creativecommons.org/licenses/by/4.0/",
}


def package_name(dataset_id: str) -> str:
    """The descriptor's ``name``: the dataset id, lower case, other characters as ``-``."""
    name = re.sub(r"[^a-z0-9._-]+", "-", dataset_id.lower()).strip("-")
    return name or "dataset"


def _created(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z`` (a naive value is taken as UTC)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def field_descriptor(column: ColumnSpec) -> dict[str, object]:
    """A Table Schema field: name, type, title, description, provenance and unit."""
    field: dict[str, object] = {
        "name": column.name,
        "type": column.type.value,
        "title": column.title,
        "description": column.description,
    }
    if column.type is ColumnType.DATE:
        field["format"] = "default"  # ISO 8601, as the CSV writes dates
    if column.people and column.type in (ColumnType.INTEGER, ColumnType.NUMBER):
        field["constraints"] = {"minimum": 0}
    field["source"] = column.source
    if column.unit is not None:
        field["unit"] = column.unit
    return field


def table_schema(columns: tuple[ColumnSpec, ...]) -> dict[str, object]:
    """The Table Schema of a table: its fields, and ``""`` as the missing value (a
    suppressed cell)."""
    return {"fields": [field_descriptor(c) for c in columns], "missingValues": [""]}


def _licence(licence: str) -> dict[str, object]:
    return {
        "name": LICENCE_NAMES.get(licence, package_name(licence)),
        "path": LICENCE_TEXTS.get(licence, LICENCE_URIS.get(licence, "")),
        "title": LICENCE_TITLES.get(licence, licence),
    }


def data_package(
    ds: PublishedDataset,
    tables: Mapping[str, Table],
    files: Mapping[str, tuple[str, int, str]],
) -> dict[str, object]:
    """The Tabular Data Package descriptor of a dataset version.

    ``tables``: resource name → its table; ``files``: resource name → (path relative to the
    ``datapackage.json``, size in bytes, SHA-256 hex digest) of its CSV file (written by
    :func:`.csv_text.table_csv`). ``version`` is the dataset version as semantic version
    (``3`` → ``3.0.0``), ``created`` when the version was published (``ds.modified``).
    Resources follow the order of ``tables``; a resource's description is that of the
    dataset's :class:`.records.Resource` of the same name, if there is one.

    :raises ValueError: a resource name the specs do not allow, a table without a file, an
        unsafe path (absolute or with ``..``), a malformed digest.
    """
    spec = ds.spec
    descriptions = {r.name: r.description for r in ds.resources}
    resources: list[dict[str, object]] = []
    sources: list[str] = []
    for name, table in tables.items():
        if not NAME_PATTERN.match(name):
            raise ValueError(f"resource name {name!r}: lower case, digits, '-', '_', '.'")
        if name not in files:
            raise ValueError(f"resource {name!r} has no file")
        path, size, digest = files[name]
        if path.startswith("/") or ".." in path.split("/") or "\\" in path:
            raise ValueError(f"resource {name!r}: unsafe path {path!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(f"resource {name!r}: not a SHA-256 hex digest: {digest!r}")
        resource: dict[str, object] = {
            "name": name,
            "path": path,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": size,
            "hash": f"sha256:{digest}",
            "dialect": dict(CSV_DIALECT),
            "schema": table_schema(table.columns),
        }
        if descriptions.get(name):
            resource["description"] = descriptions[name]
        resources.append(resource)
        sources.extend(c.source for c in table.columns if c.source not in sources)
    return {
        "profile": "tabular-data-package",
        "name": package_name(spec.id),
        "title": spec.title,
        "description": spec.description,
        "version": f"{ds.version}.0.0",
        "created": _created(ds.modified),
        "homepage": ds.landing_page,
        "keywords": list(spec.keywords),
        "licenses": [_licence(spec.licence)],
        "sources": [{"title": s} for s in sources],
        "resources": resources,
    }

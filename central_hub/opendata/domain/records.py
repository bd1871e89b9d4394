"""Datasets as the catalogue, the CKAN API and the files describe them.

WHY one set of records for every outside view: the DCAT-AP.de catalogue, CKAN's package
dicts, the Frictionless descriptor and the portal all say the same things about a dataset
(title, licence, columns, versions, the privacy report); each is rendered from these records,
so they cannot disagree.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

#: the licence of every dataset unless its spec says otherwise (DCAT-AP.de licence vocabulary)
DEFAULT_LICENCE = "dl-by-de/2.0"
LICENCE_URIS: dict[str, str] = {
    "dl-by-de/2.0": "http://dcat-ap.de/def/licenses/dl-by-de/2.0",
    "dl-zero-de/2.0": "http://dcat-ap.de/def/licenses/dl-zero-de/2.0",
    "cc-by/4.0": "http://dcat-ap.de/def/licenses/cc-by/4.0",
}
LICENCE_TITLES: dict[str, str] = {
    "dl-by-de/2.0": "Datenlizenz Deutschland – Namensnennung – Version 2.0",
    "dl-zero-de/2.0": "Datenlizenz Deutschland – Zero – Version 2.0",
    "cc-by/4.0": "Creative Commons Namensnennung – 4.0 International (CC BY 4.0)",
}


class ColumnType(Enum):
    """A column's type, as Frictionless' Table Schema names it."""

    INTEGER = "integer"
    NUMBER = "number"
    STRING = "string"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a published table, and where its values come from (provenance).

    ``people``: the column counts people (passengers, children, WLAN sessions); the privacy
    gate suppresses small values of it and, where the dataset asks, adds noise.
    ``quasi_identifier``: with others like it, the column could single a person out
    (district × age group × month); the gate computes k over these.
    """

    name: str
    type: ColumnType
    title: str
    description: str
    source: str
    unit: str | None = None
    people: bool = False
    quasi_identifier: bool = False


@dataclass(frozen=True, slots=True)
class PrivacySpec:
    """How the gate (:mod:`.gate`) treats a dataset's table.

    WHY per dataset: what a reader already knows (which totals, which other tables) and how
    often one person appears differ from table to table; the gate cannot guess them.

    ``threshold``: counts of people from 1 to ``threshold - 1`` are suppressed (never below
    3; zeros are published). ``epsilon``: the differential-privacy budget of one release,
    ``None`` for no noise. ``k``: the least number of people every published combination of
    quasi-identifiers must stand for.

    The "lines" whose totals a reader is assumed to know, for secondary suppression:
    ``row_sums``: ``(total, parts)`` pairs, within each row ``total = sum(parts)`` (Kita:
    ``("applications", ("offers_rank_1", ..., "no_offer"))``); ``column_sums``: groups of
    dimension columns, the rows that agree on them form a line for every people column (e.g.
    ``("age_group",)``: all districts of one age group, whose city total is known; ``()``: the
    whole table).

    ``population``: the people column k counts (``None``: the first people column).
    ``sensitivity``: the L1 sensitivity of the people counts for the noise, ``None`` to derive
    it: in one row a person counts once in every people column that is no part of a row sum,
    plus once per row sum (in one of its parts), times ``rows_per_person``, the number of rows
    one person can appear in (1: every person is in one row).

    A spec that breaks a rule (threshold below 3, epsilon not positive...) is refused with
    :class:`~central_hub.opendata.domain.gate.GateError` when it is built.
    """

    threshold: int = 5
    epsilon: float | None = None
    k: int = 5
    row_sums: tuple[tuple[str, tuple[str, ...]], ...] = ()
    column_sums: tuple[tuple[str, ...], ...] = ()
    population: str | None = None
    sensitivity: int | None = None
    rows_per_person: int = 1

    def __post_init__(self) -> None:
        # imported here: the gate imports this module (the error lives with the gate)
        from central_hub.opendata.domain.gate import check_privacy_fields  # noqa: PLC0415

        check_privacy_fields(self)


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """What a dataset is: its identity, description, columns and privacy rules.

    ``themes``: EU data-theme codes (``TRAN``, ``EDUC``, ``SOCI``...). ``periodicity``: the
    EU frequency code of its schedule (``DAILY``, ``MONTHLY``). ``group``: the CKAN group it
    is listed under. ``main_measure``: the column the portal charts.
    """

    id: str
    title: str
    description: str
    themes: tuple[str, ...]
    keywords: tuple[str, ...]
    periodicity: str
    group: str
    columns: tuple[ColumnSpec, ...]
    main_measure: str
    privacy: PrivacySpec = field(default_factory=PrivacySpec)
    licence: str = DEFAULT_LICENCE
    #: datasets that are an API rather than files (the live GTFS-RT feeds): no table
    api_only: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A table: the spec's columns, in order, and its rows."""

    columns: tuple[ColumnSpec, ...]
    rows: tuple[tuple[object, ...], ...]

    def index(self, name: str) -> int:
        """The position of column ``name``."""
        return [c.name for c in self.columns].index(name)


class VersionState(Enum):
    """Where a version stands: produced and awaiting review, published, withdrawn."""

    PENDING = "pending"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Resource:
    """One distribution of a version: a file (CSV, ``datapackage.json``, GTFS zip) or an API.

    ``url`` is absolute; ``media_type`` the IANA type; ``byte_size`` ``None`` for an API.
    """

    id: str
    name: str
    description: str
    format: str
    media_type: str
    url: str
    byte_size: int | None = None
    api: bool = False


@dataclass(frozen=True, slots=True)
class Organisation:
    """The publisher: the city (CKAN organisation, DCAT publisher and contact point)."""

    id: str
    name: str
    homepage: str
    email: str
    #: the political geocoding URI (the municipality key of Kassel, 06611000)
    geocoding: str = "http://dcat-ap.de/def/politicalGeocoding/regionalKey/066110000000"
    geocoding_level: str = "http://dcat-ap.de/def/politicalGeocoding/Level/municipality"


@dataclass(frozen=True, slots=True)
class PublishedDataset:
    """A dataset as the outside sees it: its spec and its current published version.

    ``versions``: every version number ever published (withdrawn ones too), newest first.
    ``state`` is that of the current version: a withdrawn dataset keeps its record.
    ``temporal``: the first and last day its rows cover. ``privacy_report``: the gate's report
    in plain words, one sentence a line.
    """

    spec: DatasetSpec
    version: int
    state: VersionState
    issued: datetime
    modified: datetime
    temporal: tuple[date, date] | None
    resources: tuple[Resource, ...]
    versions: tuple[int, ...]
    privacy_report: tuple[str, ...]
    landing_page: str

"""The city's datasets as CKAN 2.10's Action API shows and searches them (``/api/3/action/``).

WHY CKAN's own shapes: GovData, the state portals and many tools (``ckanapi``, the CKAN
harvester, the DCAT-AP.de pipelines) read a portal through CKAN's Action API. We do not run
CKAN; we speak the read-only subset of its API (``package_show``, ``package_search``,
``package_list``, ``organization_show``, ``group_list``/``group_show``, ``tag_list``,
``status_show``) with the dicts, the search rules and the error envelopes CKAN 2.10.5 has, so
that those clients work unchanged. Every dict is rendered from the shared records
(:mod:`central_hub.opendata.domain.records`), never stored.

Where it comes from (CKAN 2.10.5, ``ckan/ckan``):

* the package, resource, tag, group and organisation dicts: ``ckan/lib/dictization/
  model_dictize.py`` (``package_dictize``, ``group_dictize``) and the columns of
  ``ckan/model/package.py``, ``resource.py``, ``group.py``;
* ``package_search``: ``ckan/logic/action/get.py`` (``package_search``, its result and
  facets), its validation ``ckan/logic/schema.py`` (``default_package_search_schema``) with
  the validators of ``ckan/logic/validators.py`` and ``ckan/lib/navl/validators.py``, the
  Solr query ``ckan/lib/search/query.py`` (``PackageSearchQuery.run``: dismax over
  ``name^4 title^4 tags^2 groups^2 text`` with ``mm=2<-1 5<80%`` for a ``q`` without a
  colon, the Lucene parser with ``q.op=AND`` and ``df=text`` for one with) and the index
  fields of ``ckan/config/solr/schema.xml`` (``tags``, ``groups``, ``name`` are exact,
  case-sensitive strings; ``title``, ``notes``, ``text`` are analysed words);
* the error envelopes: ``ckan/views/api.py`` (``action``).

Our Solr stand-in is small and in memory (a city publishes tens of datasets): the analysed
``text`` of a dataset uses the German Snowball stemmer (CKAN's schema stems English) and
folds umlauts to ASCII as CKAN's ``ASCIIFoldingFilter`` does, so "Fahrgäste", "FAHRGÄSTE",
"Fahrgast" and "Fahrgaste" find each other (the transliteration "Fahrgaeste" does not, in
CKAN neither).

Pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar

import snowballstemmer

from central_hub.opendata.errors import OpendataError

from .records import (
    LICENCE_TITLES,
    LICENCE_URIS,
    Organisation,
    PublishedDataset,
    Resource,
    VersionState,
)

#: the CKAN release whose Action API (a read-only subset of it) we speak
CKAN_VERSION = "2.10.5"
#: CKAN's ``package_search`` defaults (``ckan/config/config_declaration.yaml``)
ROWS_DEFAULT = 10
ROWS_MAX = 1000  # ckan.search.rows_max: larger ``rows`` are clamped, not refused
FACET_LIMIT_DEFAULT = 50  # search.facets.limit
DEFAULT_SORT = "score desc, metadata_modified desc"  # ckan.search.default_package_sort
#: ``organization_show``/``group_show`` with ``include_datasets``: CKAN asks
#: ``package_search`` without ``rows``, so it lists the default 10
SHOW_DATASETS_LIMIT = ROWS_DEFAULT

#: the CKAN groups our datasets are listed under (``DatasetSpec.group``), with German titles
GROUP_TITLES: dict[str, str] = {
    "mobilitaet": "Mobilität und Verkehr",
    "verkehrssteuerung": "Verkehrssteuerung",
    "bildung": "Bildung und Wissenschaft",
    "soziales": "Soziales und Familie",
    "umwelt": "Umwelt und Klima",
    "digitales": "Digitale Infrastruktur",
    "verwaltung": "Politik und Verwaltung",
}

_THEME_BASE = "http://publications.europa.eu/resource/authority/data-theme/"
_FREQUENCY_BASE = "http://publications.europa.eu/resource/authority/frequency/"
#: the namespace of the stable UUIDs of packages, groups and tags (CKAN ids are UUIDs)
_NAMESPACE = uuid.UUID("6f1c4d2e-8a0b-5c7e-9d3f-0a1b2c3d4e5f")
_OPEN_LICENCES = frozenset(LICENCE_URIS)


# --- errors ---------------------------------------------------------------------------------


class CkanError(OpendataError):
    """An error of the Action API, with CKAN's ``__type`` and the HTTP status CKAN answers it
    with (``ckan/views/api.py``); the HTTP adapter turns it into :func:`error_body`.

    WHY one base: the adapter catches one type and writes ``error_body(err, ...)`` with
    ``err.http_status``; clients such as ``ckanapi`` tell the errors apart by ``__type``.
    """

    error_type: ClassVar[str] = "Internal Server Error"
    http_status: ClassVar[int] = 500

    def error(self) -> dict[str, object]:
        """The ``error`` object of CKAN's envelope."""
        return {"__type": self.error_type, "message": str(self)}


class CkanNotFoundError(CkanError):
    """CKAN's ``NotFound``: HTTP 404, ``{"__type": "Not Found Error", "message": "Not found"}``
    (``": detail"`` appended when given, as CKAN does for a message)."""

    error_type = "Not Found Error"
    http_status = 404

    def __init__(self, detail: str = "") -> None:
        super().__init__("Not found" + (f": {detail}" if detail else ""))


class CkanValidationError(CkanError):
    """CKAN's ``ValidationError``: HTTP 409, the field errors themselves are the error object,
    plus ``__type``: ``{"__type": "Validation Error", "rows": ["Invalid integer"]}``."""

    error_type = "Validation Error"
    http_status = 409

    def __init__(self, field_errors: dict[str, list[str]]) -> None:
        super().__init__(repr(field_errors))
        self.field_errors = field_errors

    def error(self) -> dict[str, object]:
        """The field errors and ``__type``, no ``message`` (as CKAN)."""
        body: dict[str, object] = {"__type": self.error_type}
        body.update(self.field_errors)
        return body


class CkanSearchQueryError(CkanError):
    """CKAN's ``SearchQueryError``: HTTP 400, raised for an invalid sort order and unknown
    search parameters; the message is CKAN's ``"Search Query is invalid: %r" % e.args``."""

    error_type = "Search Query Error"
    http_status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(f"Search Query is invalid: {(reason,)!r}")


class CkanSearchError(CkanError):
    """CKAN's ``SearchError``: HTTP 409, what CKAN answers when Solr refuses a query (a
    ``fq``/``q`` it cannot parse, an undefined field, a sort on a field it cannot sort by);
    the message is CKAN's ``"Search error: %r" % e.args``."""

    error_type = "Search Error"
    http_status = 409

    def __init__(self, reason: str) -> None:
        super().__init__(f"Search error: {(reason,)!r}")
        self.reason = reason


def help_url(action: str, site_url: str = "") -> str:
    """CKAN's ``help`` of an envelope: the URL of the action's help (``help_show``)."""
    return f"{site_url.rstrip('/')}/api/3/action/help_show?name={action}"


def ok_body(action: str, result: object, site_url: str = "") -> dict[str, object]:
    """CKAN's success envelope (HTTP 200): ``{"help", "success": true, "result"}``."""
    return {"help": help_url(action, site_url), "success": True, "result": result}


def error_body(err: CkanError, action: str, site_url: str = "") -> dict[str, object]:
    """CKAN's error envelope, sent with ``err.http_status`` (404 Not Found Error, 409
    Validation Error and Search Error, 400 Search Query Error)."""
    return {"help": help_url(action, site_url), "success": False, "error": err.error()}


# --- dicts ----------------------------------------------------------------------------------


def ckan_datetime(value: datetime) -> str:
    """CKAN's timestamps: UTC, ISO 8601 without a zone (``datetime.isoformat()`` of a naive
    UTC value); a naive input is taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def package_id(dataset_id: str) -> str:
    """The stable UUID of a dataset's package (CKAN's ``id``; its ``name`` is the spec id)."""
    return str(uuid.uuid5(_NAMESPACE, f"package:{dataset_id}"))


def _group_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"group:{name}"))


def _tag_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"tag:{name}"))


def group_title(name: str) -> str:
    """A group's German title; an unknown group is titled by its name."""
    return GROUP_TITLES.get(name, name)


def organization_name(org: Organisation) -> str:
    """The organisation's CKAN ``name`` (a URL slug), from its id."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", org.id.lower()).strip("-")
    return slug or "org"


def package_state(ds: PublishedDataset) -> str:
    """CKAN's ``state``: published → ``active``, withdrawn or rejected → ``deleted``,
    pending → ``draft``. Only ``active`` packages are searched or listed."""
    return {VersionState.PUBLISHED: "active", VersionState.PENDING: "draft"}.get(
        ds.state, "deleted")


def is_searchable(ds: PublishedDataset) -> bool:
    """Whether ``package_search``/``package_list`` show the dataset (CKAN: state active)."""
    return package_state(ds) == "active"


def _org_table_dict(org: Organisation) -> dict[str, object]:
    """The organisation as CKAN's ``table_dictize`` of its group row (in a package)."""
    return {
        "id": org.id,
        "name": organization_name(org),
        "title": org.name,
        "type": "organization",
        "description": "",
        "image_url": "",
        "created": None,
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    }


def _resource_dict(res: Resource, position: int, ds: PublishedDataset) -> dict[str, object]:
    modified = ckan_datetime(ds.modified)
    return {
        "id": res.id,
        "package_id": package_id(ds.spec.id),
        "name": res.name,
        "description": res.description,
        "format": res.format,
        "mimetype": res.media_type,
        "mimetype_inner": None,
        "url": res.url,
        "size": res.byte_size,
        "hash": "",
        "position": position,
        "created": modified,
        "last_modified": modified,
        "metadata_modified": modified,
        "cache_url": None,
        "cache_last_updated": None,
        "datastore_active": False,
        "resource_type": "api" if res.api else None,
        "state": "active",
        "url_type": None,
    }


def _extras(ds: PublishedDataset, org: Organisation) -> list[dict[str, object]]:
    """The DCAT-AP.de facts CKAN has no column for, as CKAN ``extras`` (string values, sorted
    by key as CKAN sorts them), named as ckanext-dcat/ckanext-dcatde name them."""
    spec = ds.spec
    extras = {
        "frequency": _FREQUENCY_BASE + spec.periodicity,
        "issued": ckan_datetime(ds.issued),
        "politicalGeocodingLevelURI": org.geocoding_level,
        "politicalGeocodingURI": org.geocoding,
        "privacy_report": "\n".join(ds.privacy_report),
        "theme": json.dumps([_THEME_BASE + t for t in spec.themes]),
        "versions": json.dumps(list(ds.versions)),
    }
    if spec.main_measure:  # the column the portal charts (none for an API-only dataset)
        extras["main_measure"] = spec.main_measure
    if ds.temporal is not None:
        extras["temporal_start"] = ds.temporal[0].isoformat()
        extras["temporal_end"] = ds.temporal[1].isoformat()
    return [{"key": k, "value": extras[k]} for k in sorted(extras)]


def _group_in_package(name: str) -> dict[str, object]:
    """A group as ``package_show`` lists it (the show schema keeps these keys)."""
    return {
        "description": "",
        "display_name": group_title(name),
        "id": _group_id(name),
        "image_display_url": "",
        "name": name,
        "title": group_title(name),
    }


def package_dict(ds: PublishedDataset, org: Organisation) -> dict[str, object]:
    """The dataset as ``package_show`` returns it (CKAN's ``package_dictize`` with the show
    schema): the city is author, maintainer and owner organisation."""
    spec = ds.spec
    tags = sorted(set(spec.keywords))
    resources = [_resource_dict(r, i, ds) for i, r in enumerate(ds.resources)]
    return {
        "id": package_id(spec.id),
        "name": spec.id,
        "title": spec.title.strip(),
        "notes": spec.description,
        "type": "dataset",
        "state": package_state(ds),
        "private": False,
        "isopen": spec.licence in _OPEN_LICENCES,
        "license_id": spec.licence,
        "license_title": LICENCE_TITLES.get(spec.licence, spec.licence),
        "license_url": LICENCE_URIS.get(spec.licence, ""),
        "url": ds.landing_page,
        "version": str(ds.version),
        "metadata_created": ckan_datetime(ds.issued),
        "metadata_modified": ckan_datetime(ds.modified),
        "author": org.name,
        "author_email": org.email,
        "maintainer": org.name,
        "maintainer_email": org.email,
        "creator_user_id": None,
        "owner_org": org.id,
        "organization": _org_table_dict(org),
        "groups": [_group_in_package(spec.group)] if spec.group else [],
        "tags": [
            {"display_name": t, "id": _tag_id(t), "name": t, "state": "active",
             "vocabulary_id": None}
            for t in tags
        ],
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": _extras(ds, org),
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


def find_package(datasets: Iterable[PublishedDataset], id_or_name: str) -> PublishedDataset:
    """The dataset ``package_show?id=`` names, by its UUID or name (as CKAN's
    ``Package.get``); withdrawn ones too (their dict says ``state: deleted``).

    :raises CkanNotFoundError: no such dataset (CKAN: ``raise NotFound``, "Not found").
    """
    for ds in datasets:
        if id_or_name in (ds.spec.id, package_id(ds.spec.id)):
            return ds
    raise CkanNotFoundError


def package_list(datasets: Iterable[PublishedDataset]) -> list[str]:
    """``package_list``: the names of the active datasets, sorted."""
    return sorted(ds.spec.id for ds in datasets if is_searchable(ds))


def _recent(datasets: Iterable[PublishedDataset]) -> list[PublishedDataset]:
    active = [ds for ds in datasets if is_searchable(ds)]
    return sorted(active, key=lambda ds: _utc(ds.modified), reverse=True)


def organization_dict(
    org: Organisation,
    package_count: int,
    include_datasets: bool = False,
    datasets: Sequence[PublishedDataset] = (),
) -> dict[str, object]:
    """``organization_show``/``organization_list?all_fields=true``: CKAN's ``group_dictize``
    of the organisation. With ``include_datasets`` its ``packages`` are the newest
    :data:`SHOW_DATASETS_LIMIT` active ones of ``datasets`` (CKAN's default search)."""
    result = _org_table_dict(org)
    result.update({
        "display_name": org.name,
        "image_display_url": "",
        "package_count": package_count,
        "num_followers": 0,
        "extras": [],
        "tags": [],
        "groups": [],
        "users": [],
    })
    if include_datasets:
        result["packages"] = [package_dict(ds, org)
                              for ds in _recent(datasets)[:SHOW_DATASETS_LIMIT]]
    return result


def group_names(datasets: Iterable[PublishedDataset]) -> list[str]:
    """``group_list``: the names of the groups the datasets are listed under (any state: a
    group outlives its datasets), sorted by title as CKAN sorts them."""
    names = {ds.spec.group for ds in datasets if ds.spec.group}
    return sorted(names, key=lambda n: (group_title(n), n))


def group_dict(
    name: str,
    datasets: Sequence[PublishedDataset],
    org: Organisation | None = None,
    include_datasets: bool = False,
) -> dict[str, object]:
    """``group_show``: one group with its count of active datasets (and, with
    ``include_datasets`` and ``org``, the newest of them as package dicts).

    :raises CkanNotFoundError: no dataset is listed under ``name`` (or its id).
    """
    for known in group_names(datasets):
        if name in (known, _group_id(known)):
            break
    else:
        raise CkanNotFoundError
    members = [ds for ds in datasets if ds.spec.group == known]
    result: dict[str, object] = {
        "approval_status": "approved",
        "created": None,
        "description": "",
        "display_name": group_title(known),
        "id": _group_id(known),
        "image_display_url": "",
        "image_url": "",
        "is_organization": False,
        "name": known,
        "num_followers": 0,
        "package_count": sum(1 for ds in members if is_searchable(ds)),
        "state": "active",
        "title": group_title(known),
        "type": "group",
    }
    if include_datasets and org is not None:
        result["packages"] = [package_dict(ds, org)
                              for ds in _recent(members)[:SHOW_DATASETS_LIMIT]]
    return result


def group_dicts(datasets: Sequence[PublishedDataset]) -> list[dict[str, object]]:
    """``group_list?all_fields=true``: every group's dict, sorted by title."""
    return [group_dict(name, datasets) for name in group_names(datasets)]


def tag_list(datasets: Iterable[PublishedDataset]) -> list[str]:
    """``tag_list``: the keywords of the active datasets, unique and sorted."""
    return sorted({k for ds in datasets if is_searchable(ds) for k in ds.spec.keywords})


def status_show(site_url: str, site_title: str,
                site_description: str = "") -> dict[str, object]:
    """``status_show``. ``ckan_version`` says whose API we speak (a read-only subset of
    CKAN 2.10.5's), not that CKAN runs here; no CKAN extensions are loaded."""
    return {
        "ckan_version": CKAN_VERSION,
        "site_title": site_title,
        "site_description": site_description,
        "site_url": site_url,
        "error_emails_to": None,
        "locale_default": "de",
        "extensions": [],
    }


# --- search: parameters ---------------------------------------------------------------------

#: the parameters ``PackageSearchQuery.run`` passes to Solr (others are refused) ...
_SOLR_PARAMETERS = frozenset({
    "q", "fl", "fq", "rows", "sort", "start", "wt", "qf", "bf", "boost", "facet",
    "facet.mincount", "facet.limit", "facet.field", "extras", "fq_list", "tie", "defType",
    "mm", "df",
})
#: ... and those ``package_search`` takes off before (``ext_*`` go to ``extras``)
_ACTION_PARAMETERS = frozenset({"include_private", "include_drafts", "include_deleted",
                                "use_default_schema", "callback"})
#: the facet fields we count
FACET_FIELDS = ("tags", "groups", "res_format", "organization", "license_id")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated ``package_search`` request, its queries parsed.

    WHY parsed up front: every error CKAN would answer (validation, an invalid sort, a query
    Solr refuses) is raised by :func:`parse_search` before any dataset is looked at.
    """

    q: str
    fq: str
    rows: int
    start: int
    sort: str
    sort_keys: tuple[tuple[str, bool], ...]  # (field, descending)
    facet_fields: tuple[str, ...] = ()
    facet_limit: int = FACET_LIMIT_DEFAULT
    facet_mincount: int = 1
    fl: tuple[str, ...] = ()
    q_node: _Node | None = None  # None: every dataset
    fq_nodes: tuple[_Node, ...] = ()


def _int_validator(value: object) -> int | None:
    """CKAN's ``int_validator``: whole numbers, numeric strings; ``None`` for empty."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return int(value)
        except ValueError:
            raise ValueError("Invalid integer") from None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise ValueError("Invalid integer")


def _natural(value: object) -> int | None:
    number = _int_validator(value)
    if number is not None and number < 0:
        raise ValueError("Must be a natural number")
    return number


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "yes", "on", "y", "t", "1"}


def parse_search(params: Mapping[str, object]) -> SearchQuery:
    """Validate and parse ``package_search``'s parameters as CKAN 2.10 does.

    ``rows`` (default 10) and ``start`` must be natural numbers ("Invalid integer", "Must be
    a natural number"); ``rows`` above 1000 is clamped to 1000 (``limit_to_configured_
    maximum``, no error). ``facet.field`` is a JSON list of strings, ``facet.limit`` an
    integer (negative: all), ``facet.mincount`` a natural number. ``fl`` restricts each
    result to the named keys.

    :raises CkanValidationError: every invalid field at once (HTTP 409).
    :raises CkanSearchQueryError: an unknown parameter, or a sort without ``asc``/``desc``
        (HTTP 400).
    :raises CkanValidationError: also a ``fq`` we cannot parse or with an undefined field
        (``{"fq": [reason]}``, HTTP 409).
    :raises CkanSearchError: a ``q`` we cannot parse or with an undefined field, a sort by
        an unknown or unsortable field, an unknown facet field (HTTP 409).
    """
    errors: dict[str, list[str]] = {}

    def field(name: str, convert: Callable[[object], Any], default: Any) -> Any:
        value = params.get(name)
        if value is None or value == "":
            return default
        try:
            result = convert(value)
        except ValueError as err:
            errors[name] = [str(err)]
            return default
        return default if result is None else result

    rows = min(field("rows", _natural, ROWS_DEFAULT), ROWS_MAX)
    start = field("start", _natural, 0)
    facet_limit = field("facet.limit", _int_validator, FACET_LIMIT_DEFAULT)
    facet_mincount = field("facet.mincount", _natural, 1)
    facet_fields = field("facet.field", _facet_field_list, [])
    if errors:
        raise CkanValidationError(errors)

    unknown = sorted(k for k in params if k not in _SOLR_PARAMETERS
                     and k not in _ACTION_PARAMETERS and not k.startswith("ext_"))
    if unknown:
        raise CkanSearchQueryError(f"Invalid search parameters: {unknown}")

    q = _text_param(params.get("q"))
    fq = _text_param(params.get("fq"))
    sort = _text_param(params.get("sort"))
    if sort in ("", "rank"):
        sort = DEFAULT_SORT
    sort_keys = _parse_sort(sort)
    for name in facet_fields:
        if name not in FACET_FIELDS:
            raise CkanSearchError(f"undefined field {name}")
    if not _as_bool(params.get("facet", "true")):
        facet_fields = []

    fq_texts = [fq, *_fq_list(params.get("fq_list"))]
    try:
        fq_nodes = tuple(_parse_lucene(text) for text in fq_texts if text.strip())
    except CkanSearchError as err:
        # a filter we cannot read is the caller's bad parameter: CKAN's status (409), and the
        # error type the interface promises for bad rows, start and fq (CKAN itself passes
        # the filter to Solr and answers Solr's refusal as a "Search Error", also 409)
        raise CkanValidationError({"fq": [err.reason]}) from err
    stripped = q.strip()
    if not stripped or stripped in ('""', "''"):
        q_node: _Node | None = None
    elif ":" in stripped:
        q_node = _parse_lucene(stripped)
    else:
        q_node = _parse_dismax(stripped)
    return SearchQuery(
        q=q, fq=fq, rows=rows, start=start, sort=sort, sort_keys=sort_keys,
        facet_fields=tuple(facet_fields), facet_limit=facet_limit,
        facet_mincount=facet_mincount, fl=_fl_list(params.get("fl")), q_node=q_node,
        fq_nodes=fq_nodes,
    )


def _text_param(value: object) -> str:
    """CKAN's ``unicode_safe``: a string as is, other JSON values dumped."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _facet_field_list(value: object) -> list[str]:
    """CKAN's ``convert_to_json_if_string`` then ``list_of_strings``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("Could not parse as valid JSON") from None
    if not isinstance(value, list):
        raise ValueError("Not a list")
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"Not a string: {item}")
    return list(value)


def _fq_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [_text_param(v) for v in value]
    return [_text_param(value)]


def _fl_list(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(name for item in items for name in re.split(r"[\s,]+", str(item)) if name)


# --- search: sort ---------------------------------------------------------------------------

#: the fields a search can be sorted by (Solr: single-valued, not analysed)
SORT_FIELDS = frozenset({"score", "name", "title_string", "metadata_modified",
                         "metadata_created", "num_resources", "num_tags", "id",
                         "license_id", "organization", "version", "state"})


def _parse_sort(sort: str) -> tuple[tuple[str, bool], ...]:
    """Solr's sort spec: comma-separated ``field asc|desc``; Solr refuses an order it cannot
    read ("Can't determine a Sort Order", CKAN: Search Query Error) and a field it cannot
    sort by (CKAN: Search Error)."""
    keys = []
    for part in sort.split(","):
        words = part.split()
        if len(words) != 2:
            raise CkanSearchQueryError('Invalid "sort" parameter')
        name, order = words
        if order in ("desc", "top"):
            descending = True
        elif order in ("asc", "bottom"):
            descending = False
        else:
            raise CkanSearchQueryError('Invalid "sort" parameter')
        if name not in SORT_FIELDS:
            if name in _FIELDS:
                raise CkanSearchError(f"can not sort on a multivalued or analysed field: {name}")
            raise CkanSearchError(f"sort param field can't be found: {name}")
        keys.append((name, descending))
    return tuple(keys)


# --- search: text analysis ------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_FOLD = str.maketrans({"ß": "ss", "ẞ": "SS"})


@cache
def _stemmer() -> Any:
    return snowballstemmer.stemmer("german")


def _fold(word: str) -> str:
    """ASCII folding, as Solr's ``ASCIIFoldingFilter``: ä → a, ß → ss."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    """The words of a text, lower case (Solr: whitespace, word delimiters, lower case)."""
    return [w.lower() for w in _TOKEN.findall(text)]


def analyze(text: str) -> list[str]:
    """Solr's ``text`` analysis, ours: words, lower case, German stems, ASCII-folded."""
    words = _words(text)
    return [_fold(str(s)) for s in _stemmer().stemWords(words)] if words else []


@dataclass(frozen=True, slots=True)
class _Doc:
    """One dataset as our index holds it."""

    ds: PublishedDataset
    strings: dict[str, tuple[str, ...]]  # exact, case-sensitive (Solr string fields)
    texts: dict[str, tuple[tuple[str, ...], ...]]  # analysed values, one tuple a value
    raw: dict[str, frozenset[str]]  # folded unstemmed words (wildcards)
    dates: dict[str, datetime]
    numbers: dict[str, int]


_STRING_FIELDS = frozenset({"id", "name", "tags", "groups", "organization", "owner_org",
                            "res_format", "license_id", "state", "dataset_type", "version",
                            "title_string", "capacity", "res_url", "url"})
_TEXT_FIELDS = frozenset({"title", "notes", "text", "res_name", "res_description", "author",
                          "maintainer"})
_DATE_FIELDS = frozenset({"metadata_modified", "metadata_created"})
_NUMBER_FIELDS = frozenset({"num_resources", "num_tags"})
_FIELDS = _STRING_FIELDS | _TEXT_FIELDS | _DATE_FIELDS | _NUMBER_FIELDS


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _index(ds: PublishedDataset, org: Organisation) -> _Doc:
    spec = ds.spec
    groups = (spec.group,) if spec.group else ()
    strings = {
        "id": (package_id(spec.id),), "name": (spec.id,), "tags": tuple(spec.keywords),
        "groups": groups, "organization": (organization_name(org),), "owner_org": (org.id,),
        "res_format": tuple(r.format for r in ds.resources),
        "res_url": tuple(r.url for r in ds.resources),
        "license_id": (spec.licence,), "state": (package_state(ds),),
        "dataset_type": ("dataset",), "version": (str(ds.version),),
        "title_string": (spec.title.strip(),), "capacity": ("public",),
        "url": (ds.landing_page,),
    }
    values: dict[str, list[str]] = {
        "title": [spec.title], "notes": [spec.description],
        "res_name": [r.name for r in ds.resources],
        "res_description": [r.description for r in ds.resources],
        "author": [org.name], "maintainer": [org.name],
    }
    values["text"] = [spec.id, spec.title, spec.description, *spec.keywords,
                      *groups, *(group_title(g) for g in groups), organization_name(org),
                      org.name, *values["res_name"], *values["res_description"]]
    texts = {k: tuple(tuple(analyze(v)) for v in vs) for k, vs in values.items()}
    raw = {k: frozenset(_fold(w) for v in vs for w in _words(v)) for k, vs in values.items()}
    return _Doc(
        ds=ds, strings=strings, texts=texts, raw=raw,
        dates={"metadata_modified": _utc(ds.modified), "metadata_created": _utc(ds.issued)},
        numbers={"num_resources": len(ds.resources), "num_tags": len(set(spec.keywords))},
    )


def _phrase_count(values: tuple[tuple[str, ...], ...], phrase: Sequence[str]) -> int:
    """How often the analysed phrase occurs (consecutively) in a field's values."""
    n = len(phrase)
    if n == 0:
        return 0
    return sum(1 for tokens in values for i in range(len(tokens) - n + 1)
               if tokens[i:i + n] == tuple(phrase))


# --- search: queries ------------------------------------------------------------------------


class _Node:
    """A node of a parsed query: it tells whether a dataset matches, and how well."""

    def score(self, doc: _Doc) -> float | None:
        """``None`` for no match, else the match's relevance."""
        raise NotImplementedError


class _All(_Node):
    def score(self, doc: _Doc) -> float | None:
        return 1.0


@dataclass(frozen=True, slots=True)
class _Term(_Node):
    """``field:value`` (``field`` ``None``: the default field ``text``)."""

    field: str | None
    value: str
    quoted: bool = False

    def score(self, doc: _Doc) -> float | None:
        name = self.field or "text"
        value = self.value
        if name in _STRING_FIELDS:
            have = doc.strings[name]
            if not self.quoted and value == "*":
                return 1.0 if any(have) else None
            if not self.quoted and ("*" in value or "?" in value):
                pattern = re.compile(
                    "".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                            for c in value) + r"\Z", re.DOTALL)
                return 1.0 if any(pattern.match(v) for v in have) else None
            return 1.0 if value in have else None
        if name in _TEXT_FIELDS:
            if not self.quoted and value.endswith("*") and "*" not in value[:-1]:
                prefix = _fold(value[:-1].lower())
                words = doc.raw[name]
                stems = {t for tokens in doc.texts[name] for t in tokens}
                return 1.0 if any(w.startswith(prefix) for w in words | stems) else None
            phrase = analyze(value)
            count = _phrase_count(doc.texts[name], phrase)
            if not count:
                return None
            if name == "text":  # title matches weigh more (CKAN: title^4)
                return count + 3.0 * _phrase_count(doc.texts["title"], phrase)
            return float(count)
        if name in _DATE_FIELDS:
            return 1.0 if doc.dates[name] == _solr_date(value) else None
        return 1.0 if doc.numbers[name] == _solr_int(value) else None


@dataclass(frozen=True, slots=True)
class _Range(_Node):
    """``field:[low TO high]`` (``{}`` exclusive), on dates and numbers (``*`` open)."""

    field: str
    low: str
    high: str
    low_inclusive: bool
    high_inclusive: bool

    def score(self, doc: _Doc) -> float | None:
        value: Any
        convert: Callable[[str], Any]
        if self.field in _DATE_FIELDS:
            value, convert = doc.dates[self.field], _solr_date
        elif self.field in _NUMBER_FIELDS:
            value, convert = doc.numbers[self.field], _solr_int
        else:
            value, convert = doc.strings[self.field], str
            return 1.0 if any(self._within(v, convert) for v in value) else None
        return 1.0 if self._within(value, convert) else None

    def _within(self, value: Any, convert: Callable[[str], Any]) -> bool:
        if self.low != "*":
            low = convert(self.low)
            if value < low or (value == low and not self.low_inclusive):
                return False
        if self.high != "*":
            high = convert(self.high)
            if value > high or (value == high and not self.high_inclusive):
                return False
        return True


@dataclass(frozen=True, slots=True)
class _Not(_Node):
    node: _Node

    def score(self, doc: _Doc) -> float | None:
        return None if self.node.score(doc) is not None else 0.0


@dataclass(frozen=True, slots=True)
class _And(_Node):
    nodes: tuple[_Node, ...]

    def score(self, doc: _Doc) -> float | None:
        total = 0.0
        for node in self.nodes:
            score = node.score(doc)
            if score is None:
                return None
            total += score
        return total


@dataclass(frozen=True, slots=True)
class _Or(_Node):
    nodes: tuple[_Node, ...]

    def score(self, doc: _Doc) -> float | None:
        scores = [s for s in (n.score(doc) for n in self.nodes) if s is not None]
        return sum(scores) if scores else None


#: dismax's tie breaker (CKAN's ``tie``): a clause scores its best field's score plus this
#: share of its other fields' (the fields and boosts: CKAN's ``QUERY_FIELDS``)
_DISMAX_TIE = 0.1


@dataclass(frozen=True, slots=True)
class _DismaxClause:
    text: str
    quoted: bool
    occur: str  # "+", "-" or "" (optional)

    def score(self, doc: _Doc) -> float | None:
        phrase = analyze(self.text)
        fields = [
            4.0 * (self.text in doc.strings["name"]),
            4.0 * _phrase_count(doc.texts["title"], phrase),
            2.0 * (self.text in doc.strings["tags"]),
            2.0 * (self.text in doc.strings["groups"]),
            1.0 * _phrase_count(doc.texts["text"], phrase),
        ]
        best = max(fields)
        if best <= 0:
            return None
        return best + _DISMAX_TIE * (sum(fields) - best)


@dataclass(frozen=True, slots=True)
class _Dismax(_Node):
    """A ``q`` without a colon: Solr's dismax. ``+word`` must, ``-word`` must not match; of
    the other words ``mm=2<-1 5<80%`` must: all of up to 2, all but one of 3 to 5, 80% of
    more."""

    clauses: tuple[_DismaxClause, ...]

    def score(self, doc: _Doc) -> float | None:
        optional = [c for c in self.clauses if not c.occur]
        total = 0.0
        for clause in self.clauses:
            if clause.occur == "-":
                if clause.score(doc) is not None:
                    return None
            elif clause.occur == "+":
                score = clause.score(doc)
                if score is None:
                    return None
                total += score
        matched = 0
        for clause in optional:
            score = clause.score(doc)
            if score is not None:
                matched += 1
                total += score
        if matched < _minimum_match(len(optional)):
            return None
        if not optional and not any(c.occur == "+" for c in self.clauses):
            total = 1.0  # only exclusions: every other dataset
        return total


def _minimum_match(n: int) -> int:
    if n <= 2:
        return n
    if n <= 5:
        return n - 1
    return math.floor(n * 0.8)


_DISMAX_TOKEN = re.compile(r'([+-]?)(?:"([^"]*)"|(\S+))')


def _parse_dismax(q: str) -> _Node:
    clauses = []
    for occur, quoted, word in _DISMAX_TOKEN.findall(q):
        text = quoted if quoted else word
        if not analyze(text):  # no words (punctuation): Solr drops the clause
            continue
        clauses.append(_DismaxClause(text=text, quoted=bool(quoted), occur=occur))
    if not clauses:
        return _All()
    return _Dismax(tuple(clauses))


# --- the Lucene (standard) query parser, the subset we read ---------------------------------

_LUCENE_TOKEN = re.compile(
    r'\s*(?:(?P<open>\()|(?P<close>\))|(?P<quoted>"(?:[^"\\]|\\.)*")'
    r'|(?P<range>[\[{][^\]}]*[\]}])|(?P<op>&&|\|\||AND\b|OR\b|NOT\b)'
    r'|(?P<prefix>[+\-!](?=\S))|(?P<word>(?:[^\s()"\[\]{}\\]|\\.)+))'
)
_RANGE = re.compile(r"^([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])$")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _solr_date(text: str) -> datetime:
    """A Solr date (``2026-01-01T00:00:00Z``); date math (``NOW``) is not read."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)Z", text)
    if match is None:
        raise CkanSearchError(f"Invalid Date String:'{text}'")
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)


def _solr_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CkanSearchError(f"Invalid Number: {text}") from None


class _LuceneParser:
    """Lucene's query syntax, the part a CKAN client writes: ``field:value``,
    ``field:"a phrase"``, ``field:(a OR b)``, ``field:[a TO b]``, ``*:*``, ``+``/``-``/
    ``NOT``, ``AND``/``OR``, parentheses; juxtaposed clauses are ANDed (``q.op=AND``)."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.rstrip()
        while position < len(text):
            match = _LUCENE_TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise CkanSearchError(f"Cannot parse '{text}'")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise CkanSearchError("Cannot parse: the query ends too early")
        self.at += 1
        return token

    def parse(self) -> _Node:
        node = self.expression(None)
        if self.peek() is not None:
            raise CkanSearchError(f"Cannot parse: unexpected '{self.peek()[1]}'")  # type: ignore[index]
        return node

    def expression(self, field: str | None) -> _Node:
        branches = [self.conjunction(field)]
        while (token := self.peek()) is not None and token[1] in ("OR", "||"):
            self.take()
            branches.append(self.conjunction(field))
        return branches[0] if len(branches) == 1 else _Or(tuple(branches))

    def conjunction(self, field: str | None) -> _Node:
        nodes = [self.unary(field)]
        while (token := self.peek()) is not None and token[0] != "close" \
                and token[1] not in ("OR", "||"):
            if token[1] in ("AND", "&&"):
                self.take()
            nodes.append(self.unary(field))
        return nodes[0] if len(nodes) == 1 else _And(tuple(nodes))

    def unary(self, field: str | None) -> _Node:
        kind, value = self.take()
        if (kind == "op" and value == "NOT") or (kind == "prefix" and value in "-!"):
            return _Not(self.unary(field))
        if kind == "prefix":  # "+": required, as every clause is (q.op=AND)
            return self.unary(field)
        if kind == "op":
            raise CkanSearchError(f"Cannot parse: unexpected '{value}'")
        return self.primary(kind, value, field)

    def primary(self, kind: str, value: str, field: str | None) -> _Node:
        if kind == "open":
            node = self.expression(field)
            if self.take()[0] != "close":
                raise CkanSearchError("Cannot parse: ')' expected")
            return node
        if kind == "quoted":
            return _Term(self.check(field), _unescape(value[1:-1]), quoted=True)
        if kind == "range":
            return self.range(self.check(field), value)
        if kind != "word":
            raise CkanSearchError(f"Cannot parse: unexpected '{value}'")
        name, colon, rest = _split_field(value)
        if not colon:
            return _Term(self.check(field), _unescape(value))
        if field is not None:
            raise CkanSearchError(f"Cannot parse: a field inside {field}:( )")
        if name == "*" and rest == "*":
            return _All()
        self.check(name)
        if rest:
            return _Term(name, _unescape(rest))
        kind, value = self.take()
        if kind == "open":
            node = self.expression(name)
            if self.take()[0] != "close":
                raise CkanSearchError("Cannot parse: ')' expected")
            return node
        if kind in ("quoted", "range", "word"):
            return self.primary(kind, value, name)
        raise CkanSearchError(f"Cannot parse: no value for {name}")

    def range(self, field: str | None, text: str) -> _Node:
        match = _RANGE.match(text)
        if match is None or field is None:
            raise CkanSearchError(f"Cannot parse range {text}")
        opening, low, high, closing = match.groups()
        node = _Range(field, _unescape(low), _unescape(high), opening == "[", closing == "]")
        for bound in (node.low, node.high):  # refused now, not at the first dataset
            if bound != "*" and field in _DATE_FIELDS:
                _solr_date(bound)
            elif bound != "*" and field in _NUMBER_FIELDS:
                _solr_int(bound)
        return node

    @staticmethod
    def check(field: str | None) -> str | None:
        if field is not None and field not in _FIELDS:
            raise CkanSearchError(f"undefined field {field}")
        return field


def _split_field(word: str) -> tuple[str, bool, str]:
    """``field:rest`` at the first unescaped colon."""
    match = re.match(r"((?:[^:\\]|\\.)*):(.*)\Z", word, re.DOTALL)
    if match is None:
        return word, False, ""
    return match.group(1), True, match.group(2)


def _parse_lucene(text: str) -> _Node:
    node = _LuceneParser(text).parse()
    _check_values(node)
    return node


def _check_values(node: _Node) -> None:
    """Refuse a date or number Solr could not read now, not at the first dataset."""
    if isinstance(node, _Term) and node.field in _DATE_FIELDS:
        _solr_date(node.value)
    elif isinstance(node, _Term) and node.field in _NUMBER_FIELDS:
        _solr_int(node.value)
    elif isinstance(node, _Not):
        _check_values(node.node)
    elif isinstance(node, _And | _Or):
        for child in node.nodes:
            _check_values(child)


# --- search: running it ---------------------------------------------------------------------


def _sort_value(name: str, doc: _Doc) -> Any:
    if name in _DATE_FIELDS:
        return doc.dates[name]
    if name in _NUMBER_FIELDS:
        return doc.numbers[name]
    return doc.strings[name][0] if doc.strings[name] else ""


def _sort_key(name: str) -> Callable[[tuple[_Doc, float]], Any]:
    if name == "score":
        return lambda doc_score: doc_score[1]
    return lambda doc_score: _sort_value(name, doc_score[0])


def _facet_display_name(field: str, value: str, org: Organisation) -> str:
    if field == "groups":
        return group_title(value)
    if field == "organization":
        return org.name if value == organization_name(org) else value
    if field == "license_id":
        return LICENCE_TITLES.get(value, value)
    return value


def _facets(docs: Sequence[_Doc], query: SearchQuery,
            org: Organisation) -> tuple[dict[str, object], dict[str, object]]:
    """CKAN's ``facets`` (``{field: {value: count}}``, Solr's order: count, then value) and
    ``search_facets`` (``{field: {title, items}}``, items sorted by display name, reversed,
    as ``package_search`` sorts them)."""
    facets: dict[str, object] = {}
    search_facets: dict[str, object] = {}
    for field in query.facet_fields:
        counts = Counter(v for doc in docs for v in set(doc.strings[field]))
        ranked = sorted(((v, c) for v, c in counts.items() if c >= query.facet_mincount),
                        key=lambda vc: (-vc[1], vc[0]))
        if query.facet_limit >= 0:
            ranked = ranked[:query.facet_limit]
        facets[field] = dict(ranked)
        items = [{"name": v, "display_name": _facet_display_name(field, v, org), "count": c}
                 for v, c in ranked]
        items.sort(key=lambda item: str(item["display_name"]), reverse=True)
        search_facets[field] = {"title": field, "items": items}
    return facets, search_facets


def search(datasets: Sequence[PublishedDataset], org: Organisation,
           query: SearchQuery) -> dict[str, object]:
    """``package_search``'s result: ``{count, results, sort, facets, search_facets}``.

    Only active (published, not withdrawn) datasets are searched. ``count`` counts every
    match; ``results`` are the package dicts of ``rows`` of them from ``start`` in the
    query's sort order (equal keys keep the given order of ``datasets``, as Solr keeps its
    index order).
    """
    scored: list[tuple[_Doc, float]] = []
    for ds in datasets:
        if not is_searchable(ds):
            continue
        doc = _index(ds, org)
        score = 1.0 if query.q_node is None else query.q_node.score(doc)
        if score is None or any(node.score(doc) is None for node in query.fq_nodes):
            continue
        scored.append((doc, score))
    for name, descending in reversed(query.sort_keys):  # stable: the last key first
        scored.sort(key=_sort_key(name), reverse=descending)
    page = scored[query.start:query.start + query.rows]
    results: list[dict[str, object]] = []
    for doc, _ in page:
        package = package_dict(doc.ds, org)
        if query.fl:
            package = {k: package[k] for k in query.fl if k in package}
        results.append(package)
    facets, search_facets = _facets([doc for doc, _ in scored], query, org)
    return {
        "count": len(scored),
        "facets": facets,
        "results": results,
        "sort": query.sort,
        "search_facets": search_facets,
    }

"""CKAN's Action API, our subset: the package, organisation and group dicts, and
``package_search`` with CKAN 2.10's validation, Solr's query rules and CKAN's error envelopes.

WHY against CKAN's own behaviour (ckan/ckan 2.10.5, cited per test): the clients that read
us (``ckanapi``, harvesters) were written against real CKAN; what CKAN clamps we clamp, what
it refuses we refuse, with the same ``__type``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.opendata.domain import ckan
from central_hub.opendata.domain.ckan import (
    CkanError,
    CkanNotFoundError,
    CkanSearchError,
    CkanSearchQueryError,
    CkanValidationError,
    error_body,
    find_package,
    group_dict,
    group_dicts,
    ok_body,
    organization_dict,
    package_dict,
    package_id,
    package_list,
    parse_search,
    search,
    status_show,
    tag_list,
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

SITE = "https://hub.kassel.example"
KASSEL = Organisation(id="stadt-kassel", name="Stadt Kassel", homepage="https://www.kassel.de/",
                      email="opendata@kassel.de")
COLUMNS = (ColumnSpec("stop", ColumnType.STRING, "Haltestelle", "Name", "GTFS stops.txt"),)


def dataset(ident: str, title: str, *, description: str = "Beschreibung.",
            keywords: tuple[str, ...] = ("Bus",), group: str = "mobilitaet",
            state: VersionState = VersionState.PUBLISHED,
            modified: datetime = datetime(2026, 3, 1, 12, tzinfo=UTC),
            issued: datetime = datetime(2026, 1, 1, 8, tzinfo=UTC),
            licence: str = "dl-by-de/2.0", formats: tuple[str, ...] = ("CSV",)) -> PublishedDataset:
    spec = DatasetSpec(id=ident, title=title, description=description, themes=("TRAN",),
                       keywords=keywords, periodicity="DAILY", group=group, columns=COLUMNS,
                       main_measure="stop", licence=licence)
    resources = tuple(
        Resource(id=f"{ident}-{i}", name=f"{ident}.{fmt.lower()}", description=f"{title} ({fmt})",
                 format=fmt, media_type="text/csv" if fmt == "CSV" else "application/json",
                 url=f"{SITE}/opendata/files/{ident}/3/{ident}.{fmt.lower()}", byte_size=1234)
        for i, fmt in enumerate(formats))
    return PublishedDataset(spec=spec, version=3, state=state, issued=issued, modified=modified,
                            temporal=(date(2026, 1, 1), date(2026, 2, 28)), resources=resources,
                            versions=(3, 2, 1), privacy_report=("Satz eins.", "Satz zwei."),
                            landing_page=f"{SITE}/opendata/datasets/{ident}")


OCCUPANCY = dataset("kassel-occupancy", "Fahrgäste je Haltestelle und Stunde",
                    description="Wie voll die Busse der Linien sind, gezählt an jeder Tür.",
                    keywords=("Fahrgäste", "ÖPNV", "Bus"),
                    modified=datetime(2026, 3, 5, tzinfo=UTC))
PUNCTUALITY = dataset("kassel-punctuality", "Pünktlichkeit der Busse",
                      description="Verspätungen an Haltestellen; Fahrgäste profitieren.",
                      keywords=("ÖPNV", "Pünktlichkeit"), formats=("CSV", "JSON"),
                      modified=datetime(2026, 3, 4, tzinfo=UTC))
SIGNALS = dataset("kassel-signals", "Ampelschaltungen am Tag", description="Grünphasen.",
                  keywords=("Ampel",), group="verkehrssteuerung", licence="dl-zero-de/2.0",
                  modified=datetime(2026, 3, 6, tzinfo=UTC))
KITA = dataset("kassel-kita", "Kita-Platzvergabe nach Stadtteil", description="Zusagen.",
               keywords=("Kita", "Bildung"), group="bildung",
               modified=datetime(2026, 2, 1, tzinfo=UTC))
WITHDRAWN = dataset("kassel-withdrawn", "Zurückgezogene Fahrgäste", keywords=("ÖPNV",),
                    state=VersionState.WITHDRAWN, modified=datetime(2026, 3, 9, tzinfo=UTC))
ALL = (OCCUPANCY, PUNCTUALITY, SIGNALS, KITA, WITHDRAWN)


def run(params: dict[str, object]) -> dict[str, object]:
    return search(ALL, KASSEL, parse_search(params))


def names(result: dict[str, object]) -> list[str]:
    return [str(p["name"]) for p in result["results"]]  # type: ignore[attr-defined]


# --- dicts ----------------------------------------------------------------------------------


def test_package_dict_has_ckans_fields() -> None:
    pkg = package_dict(OCCUPANCY, KASSEL)
    assert pkg["id"] == package_id("kassel-occupancy") != "kassel-occupancy"
    assert pkg["name"] == "kassel-occupancy"
    assert pkg["type"] == "dataset"
    assert pkg["state"] == "active"
    assert pkg["private"] is False
    assert pkg["isopen"] is True
    assert pkg["license_id"] == "dl-by-de/2.0"
    assert pkg["license_title"] == "Datenlizenz Deutschland – Namensnennung – Version 2.0"
    assert pkg["license_url"] == "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
    assert pkg["url"] == f"{SITE}/opendata/datasets/kassel-occupancy"
    assert pkg["version"] == "3"
    # model_dictize: metadata_modified.isoformat() of a naive UTC datetime
    assert pkg["metadata_created"] == "2026-01-01T08:00:00"
    assert pkg["metadata_modified"] == "2026-03-05T00:00:00"
    assert pkg["author"] == pkg["maintainer"] == "Stadt Kassel"
    assert pkg["author_email"] == pkg["maintainer_email"] == "opendata@kassel.de"
    assert pkg["owner_org"] == "stadt-kassel"
    org = pkg["organization"]
    assert isinstance(org, dict)
    assert org["name"] == "stadt-kassel" and org["title"] == "Stadt Kassel"
    assert org["is_organization"] is True and org["type"] == "organization"
    assert pkg["groups"] == [{
        "description": "", "display_name": "Mobilität und Verkehr",
        "id": ckan._group_id("mobilitaet"), "image_display_url": "", "name": "mobilitaet",
        "title": "Mobilität und Verkehr"}]
    tags: Any = pkg["tags"]
    assert [t["name"] for t in tags] == ["Bus", "Fahrgäste", "ÖPNV"]
    assert all(t["display_name"] == t["name"] and t["state"] == "active" for t in tags)
    assert pkg["num_tags"] == 3
    assert pkg["relationships_as_object"] == pkg["relationships_as_subject"] == []
    json.dumps(pkg)  # the adapter sends it as JSON


def test_resources_are_listed_in_order_with_ckans_fields() -> None:
    pkg = package_dict(PUNCTUALITY, KASSEL)
    resources = pkg["resources"]
    assert isinstance(resources, list)
    assert pkg["num_resources"] == 2
    first = resources[0]
    assert first["id"] == "kassel-punctuality-0"
    assert first["package_id"] == pkg["id"]
    assert first["format"] == "CSV" and first["mimetype"] == "text/csv"
    assert first["size"] == 1234 and first["position"] == 0
    assert first["state"] == "active" and first["url_type"] is None
    assert first["created"] == first["last_modified"] == "2026-03-04T00:00:00"
    assert first["url"].startswith("https://")
    assert resources[1]["position"] == 1


def test_extras_carry_privacy_time_geocoding_and_themes_sorted_by_key() -> None:
    extras = package_dict(OCCUPANCY, KASSEL)["extras"]
    assert isinstance(extras, list)
    keys = [e["key"] for e in extras]
    assert keys == sorted(keys)
    values = {e["key"]: e["value"] for e in extras}
    assert values["privacy_report"] == "Satz eins.\nSatz zwei."
    assert values["temporal_start"] == "2026-01-01"
    assert values["temporal_end"] == "2026-02-28"
    assert values["politicalGeocodingURI"] == KASSEL.geocoding
    assert values["main_measure"] == OCCUPANCY.spec.main_measure  # the portal charts it
    assert values["politicalGeocodingLevelURI"] == KASSEL.geocoding_level
    assert json.loads(values["theme"]) == [
        "http://publications.europa.eu/resource/authority/data-theme/TRAN"]
    assert all(isinstance(v, str) for v in values.values())  # CKAN extras are strings


def test_withdrawn_dataset_is_deleted_and_naive_times_are_utc() -> None:
    assert package_dict(WITHDRAWN, KASSEL)["state"] == "deleted"
    pending = replace(OCCUPANCY, state=VersionState.PENDING)
    assert package_dict(pending, KASSEL)["state"] == "draft"
    naive = replace(OCCUPANCY, modified=datetime(2026, 3, 5, 1, 2, 3))
    assert package_dict(naive, KASSEL)["metadata_modified"] == "2026-03-05T01:02:03"
    cest = datetime.fromisoformat("2026-06-01T14:00:00+02:00")
    assert ckan.ckan_datetime(cest) == "2026-06-01T12:00:00"


def test_find_package_by_name_or_id_and_not_found() -> None:
    assert find_package(ALL, "kassel-kita") is KITA
    assert find_package(ALL, package_id("kassel-kita")) is KITA
    assert find_package(ALL, "kassel-withdrawn") is WITHDRAWN
    with pytest.raises(CkanNotFoundError) as caught:
        find_package(ALL, "nope")
    body = error_body(caught.value, "package_show", SITE)
    assert body == {
        "help": f"{SITE}/api/3/action/help_show?name=package_show",
        "success": False,
        "error": {"__type": "Not Found Error", "message": "Not found"},
    }
    assert caught.value.http_status == 404


def test_lists_skip_withdrawn_datasets() -> None:
    assert package_list(ALL) == ["kassel-kita", "kassel-occupancy", "kassel-punctuality",
                                 "kassel-signals"]
    assert tag_list(ALL) == ["Ampel", "Bildung", "Bus", "Fahrgäste", "Kita", "Pünktlichkeit",
                             "ÖPNV"]


def test_organization_dict() -> None:
    org = organization_dict(KASSEL, 4)
    assert org["package_count"] == 4
    assert org["display_name"] == "Stadt Kassel"
    assert org["name"] == "stadt-kassel"
    assert "packages" not in org
    with_datasets = organization_dict(KASSEL, 4, include_datasets=True, datasets=ALL)
    packages = with_datasets["packages"]
    assert [p["name"] for p in packages] == [  # type: ignore[attr-defined]
        "kassel-signals", "kassel-occupancy", "kassel-punctuality", "kassel-kita"]


def test_group_dicts_have_german_titles_and_active_counts() -> None:
    groups = group_dicts(ALL)
    assert [(g["name"], g["title"], g["package_count"]) for g in groups] == [
        ("bildung", "Bildung und Wissenschaft", 1),
        ("mobilitaet", "Mobilität und Verkehr", 2),  # the withdrawn one is not counted
        ("verkehrssteuerung", "Verkehrssteuerung", 1),
    ]
    unknown = dataset("x", "X", group="sonstiges")
    assert group_dict("sonstiges", (unknown,))["title"] == "sonstiges"
    assert group_dict(ckan._group_id("bildung"), ALL)["name"] == "bildung"
    shown = group_dict("mobilitaet", ALL, org=KASSEL, include_datasets=True)
    assert [p["name"] for p in shown["packages"]] == [  # type: ignore[attr-defined]
        "kassel-occupancy", "kassel-punctuality"]
    with pytest.raises(CkanNotFoundError):
        group_dict("nope", ALL)


def test_status_show_and_ok_body() -> None:
    status = status_show(SITE, "Open Data Rathaus Kassel")
    assert status["ckan_version"] == "2.10.5"
    assert status["site_url"] == SITE and status["locale_default"] == "de"
    assert status["extensions"] == []
    assert ok_body("status_show", status, SITE + "/") == {
        "help": f"{SITE}/api/3/action/help_show?name=status_show",
        "success": True, "result": status}


# --- search: q, fq, sort, paging --------------------------------------------------------------


def test_default_search_lists_active_datasets_newest_first() -> None:
    result = run({})
    assert result["count"] == 4
    assert result["sort"] == "score desc, metadata_modified desc"
    assert names(result) == ["kassel-signals", "kassel-occupancy", "kassel-punctuality",
                             "kassel-kita"]
    assert result["facets"] == {} and result["search_facets"] == {}
    assert "kassel-withdrawn" not in names(run({"q": "Zurückgezogene"}))
    assert run({"q": "Zurückgezogene"})["count"] == 0
    assert run({"fq": "name:kassel-withdrawn"})["count"] == 0
    assert run({"fq": "+state:deleted"})["count"] == 0


def test_free_text_is_case_and_umlaut_insensitive_and_stemmed() -> None:
    for q in ("fahrgäste", "FAHRGÄSTE", "Fahrgaste", "Fahrgast"):
        assert set(names(run({"q": q}))) == {"kassel-occupancy", "kassel-punctuality"}, q
    # title matches weigh more: the title match comes first although it is older
    assert names(run({"q": "Fahrgäste", "sort": "score desc"}))[0] == "kassel-occupancy"
    assert names(run({"q": "pünktlichkeit"})) == ["kassel-punctuality"]
    assert names(run({"q": "Mobilität"})) == ["kassel-occupancy", "kassel-punctuality"]
    assert names(run({"q": "ampel"})) == ["kassel-signals"]  # a tag, in another case
    assert names(run({"q": "kassel-kita"})) == ["kassel-kita"]  # the name itself


def test_free_text_minimum_match_and_exclusion() -> None:
    # two words: both must match (mm 2<-1)
    assert names(run({"q": "Fahrgäste Ampel"})) == []
    # "Busse" is in the punctuality title (weighs more), "Haltestelle" in the other's
    assert names(run({"q": "Busse Haltestelle"})) == ["kassel-punctuality", "kassel-occupancy"]
    # three words: all but one
    assert set(names(run({"q": "Fahrgäste Haltestelle Ampel"}))) == {
        "kassel-occupancy", "kassel-punctuality"}
    assert names(run({"q": "Fahrgäste -Pünktlichkeit"})) == ["kassel-occupancy"]
    assert names(run({"q": '"je Haltestelle"'})) == ["kassel-occupancy"]


def test_fielded_q_and_fq() -> None:
    assert names(run({"q": "tags:Kita"})) == ["kassel-kita"]
    assert names(run({"q": "tags:kita"})) == []  # tags is an exact string field in Solr
    assert names(run({"q": "tags:ÖPNV Verspätungen"})) == ["kassel-punctuality"]
    assert names(run({"fq": "groups:mobilitaet", "sort": "name asc"})) == [
        "kassel-occupancy", "kassel-punctuality"]
    assert names(run({"fq": "-groups:mobilitaet", "sort": "name asc"})) == [
        "kassel-kita", "kassel-signals"]
    assert names(run({"fq": '+organization:stadt-kassel +tags:"Pünktlichkeit"'})) == [
        "kassel-punctuality"]
    assert names(run({"fq": "res_format:JSON"})) == ["kassel-punctuality"]
    assert names(run({"fq": "license_id:dl-zero-de/2.0"})) == ["kassel-signals"]
    assert names(run({"fq": "tags:(Kita OR Ampel)", "sort": "name asc"})) == [
        "kassel-kita", "kassel-signals"]
    assert names(run({"fq": "groups:mobilitaet AND title:Pünktlichkeit"})) == [
        "kassel-punctuality"]
    assert names(run({"fq": "name:kassel-k*"})) == ["kassel-kita"]
    assert names(run({"q": "*:*", "fq": "groups:bildung"})) == ["kassel-kita"]
    assert names(run({"fq": "metadata_modified:[2026-03-05T00:00:00Z TO *]"})) == [
        "kassel-signals", "kassel-occupancy"]
    assert names(run({"fq": "metadata_modified:{2026-03-05T00:00:00Z TO *]"})) == [
        "kassel-signals"]
    assert names(run({"fq": "groups:mobilitaet", "fq_list": ["tags:Bus"]})) == [
        "kassel-occupancy"]


def test_sort_keys_and_paging() -> None:
    assert names(run({"sort": "name desc"})) == ["kassel-signals", "kassel-punctuality",
                                                 "kassel-occupancy", "kassel-kita"]
    assert names(run({"sort": "title_string asc"})) == [
        "kassel-signals", "kassel-occupancy", "kassel-kita", "kassel-punctuality"]
    assert names(run({"sort": "metadata_modified asc"}))[0] == "kassel-kita"
    assert names(run({"sort": "metadata_created desc, name asc"}))[0] == "kassel-kita"
    assert names(run({"sort": "num_resources desc,name asc"}))[0] == "kassel-punctuality"
    page = run({"sort": "name asc", "rows": "2", "start": 1})
    assert page["count"] == 4  # all matches, not the page
    assert names(page) == ["kassel-occupancy", "kassel-punctuality"]
    assert run({"rows": 0})["results"] == []
    assert run({"start": 10})["results"] == []
    assert run({"sort": "name asc"})["sort"] == "name asc"
    assert run({"sort": "rank"})["sort"] == "score desc, metadata_modified desc"


def test_fl_restricts_the_results() -> None:
    result = run({"fl": "name,title", "sort": "name asc", "rows": 1})
    assert result["results"] == [{"name": "kassel-kita",
                                  "title": "Kita-Platzvergabe nach Stadtteil"}]


def test_facets() -> None:
    result = run({"facet.field": '["groups", "res_format", "tags", "license_id", "organization"]',
                  "facet.limit": 2})
    facets = result["facets"]
    assert facets["groups"] == {"mobilitaet": 2, "bildung": 1}  # type: ignore[index]
    assert facets["res_format"] == {"CSV": 4, "JSON": 1}  # type: ignore[index]
    assert facets["organization"] == {"stadt-kassel": 4}  # type: ignore[index]
    groups = result["search_facets"]["groups"]  # type: ignore[index]
    assert groups["title"] == "groups"
    # package_search sorts the items by display name, reversed
    assert groups["items"] == [
        {"name": "mobilitaet", "display_name": "Mobilität und Verkehr", "count": 2},
        {"name": "bildung", "display_name": "Bildung und Wissenschaft", "count": 1}]
    licences = result["search_facets"]["license_id"]["items"]  # type: ignore[index]
    assert licences[0]["display_name"].startswith("Datenlizenz Deutschland")
    assert run({"facet.field": '["tags"]', "facet": "false"})["facets"] == {}
    unlimited = run({"facet.field": ["tags"], "facet.limit": -1})
    assert len(unlimited["facets"]["tags"]) == 7  # type: ignore[index]


# --- search: validation and errors, as CKAN answers them --------------------------------------


@pytest.mark.parametrize(("params", "errors"), [
    # ckan/logic/validators.py int_validator / natural_number_validator
    ({"rows": "abc"}, {"rows": ["Invalid integer"]}),
    ({"rows": "1.5"}, {"rows": ["Invalid integer"]}),
    ({"rows": 2.5}, {"rows": ["Invalid integer"]}),
    ({"rows": "-1"}, {"rows": ["Must be a natural number"]}),
    ({"start": "-3"}, {"start": ["Must be a natural number"]}),
    ({"start": "x"}, {"start": ["Invalid integer"]}),
    ({"rows": "x", "start": "-1"}, {"rows": ["Invalid integer"],
                                    "start": ["Must be a natural number"]}),
    # convert_to_json_if_string, list_of_strings
    ({"facet.field": "[tags"}, {"facet.field": ["Could not parse as valid JSON"]}),
    ({"facet.field": '"tags"'}, {"facet.field": ["Not a list"]}),
    ({"facet.field": "[1]"}, {"facet.field": ["Not a string: 1"]}),
    ({"facet.limit": "many"}, {"facet.limit": ["Invalid integer"]}),
    ({"facet.mincount": "-1"}, {"facet.mincount": ["Must be a natural number"]}),
])
def test_validation_errors(params: dict[str, object], errors: dict[str, list[str]]) -> None:
    with pytest.raises(CkanValidationError) as caught:
        parse_search(params)
    assert caught.value.field_errors == errors
    assert caught.value.http_status == 409
    body = error_body(caught.value, "package_search", SITE)
    assert body["success"] is False
    assert body["error"] == {"__type": "Validation Error", **errors}


def test_rows_above_the_maximum_are_clamped_not_refused() -> None:
    # ckan/lib/navl/validators.py limit_to_configured_maximum('ckan.search.rows_max', 1000)
    assert parse_search({"rows": "5000"}).rows == 1000
    assert parse_search({"rows": 1000}).rows == 1000
    assert parse_search({"rows": ""}).rows == 10  # default(10)
    assert parse_search({"rows": 3.0}).rows == 3


@pytest.mark.parametrize("sort", ["name", "name up", "name ASC", "name asc,", "name asc desc"])
def test_unreadable_sort_order_is_a_search_query_error(sort: str) -> None:
    # Solr: "Can't determine a Sort Order" -> ckan/lib/search/query.py SearchQueryError
    with pytest.raises(CkanSearchQueryError) as caught:
        parse_search({"sort": sort})
    assert caught.value.http_status == 400
    assert caught.value.error() == {
        "__type": "Search Query Error",
        "message": "Search Query is invalid: ('Invalid \"sort\" parameter',)"}


@pytest.mark.parametrize("sort", ["popularity desc", "title asc", "tags desc"])
def test_sort_by_unknown_or_unsortable_field_is_a_search_error(sort: str) -> None:
    with pytest.raises(CkanSearchError) as caught:
        parse_search({"sort": sort})
    assert caught.value.http_status == 409
    assert caught.value.error()["__type"] == "Search Error"


@pytest.mark.parametrize("fq", [
    "tags:(Bus", "bogus:x", "tags:", "metadata_modified:[yesterday TO *]",
    "metadata_modified:[NOW-1DAY TO NOW]", "num_tags:many", "AND", "tags:x)",
    "title:[a b]",
])
def test_unparsable_fq_is_a_validation_error(fq: str) -> None:
    # CKAN passes fq to Solr and answers its refusal as a 409 "Search Error"; the hub's
    # interface promises a "Validation Error" (also 409) that names the parameter
    with pytest.raises(CkanValidationError) as caught:
        parse_search({"fq": fq})
    assert caught.value.http_status == 409
    error = caught.value.error()
    assert error["__type"] == "Validation Error"
    assert isinstance(error["fq"], list) and error["fq"][0]


def test_fielded_q_with_an_undefined_field_is_a_search_error() -> None:
    with pytest.raises(CkanSearchError, match="undefined field colour"):
        parse_search({"q": "colour:red"})


def test_unknown_parameter_is_a_search_query_error() -> None:
    # ckan/lib/search/query.py: "Invalid search parameters: [...]"
    with pytest.raises(CkanSearchQueryError, match="Invalid search parameters"):
        parse_search({"q": "bus", "colour": "red"})
    parse_search({"include_private": "true", "ext_bbox": "1,2,3,4", "callback": "x"})


def test_unknown_facet_field_is_a_search_error() -> None:
    with pytest.raises(CkanSearchError):
        parse_search({"facet.field": '["colour"]'})


def test_every_error_is_a_ckan_error() -> None:
    for err in (CkanNotFoundError(), CkanValidationError({"rows": ["x"]}),
                CkanSearchQueryError("x"), CkanSearchError("x")):
        assert isinstance(err, CkanError)
        assert error_body(err, "package_search")["help"] == (
            "/api/3/action/help_show?name=package_search")


_PARAM_VALUES = (st.text(max_size=40) | st.integers(-5, 5000).map(str) | st.integers()
                 | st.none() | st.booleans() | st.lists(st.text(max_size=8), max_size=3)
                 | st.sampled_from(["tags:ÖPNV", "groups:(a OR b)", 'title:"x', "name:*",
                                    "metadata_modified:[2026-01-01T00:00:00Z TO *]",
                                    "-tags:x AND +name:y", "score desc", "name asc, x",
                                    '["tags"]', "[1]", "((((", "\\", ":", "*:*"]))


@given(st.dictionaries(st.sampled_from(["q", "fq", "rows", "start", "sort", "facet.field",
                                        "facet.limit", "facet.mincount", "fl", "fq_list",
                                        "include_private", "bogus"]),
                       _PARAM_VALUES, max_size=6))
@settings(max_examples=400, deadline=None)
def test_any_search_parameters_give_a_result_or_a_ckan_error(params: dict[str, object]) -> None:
    # the parameters come from the internet: whatever they are, the answer is a result or
    # one of CKAN's errors (400/409), never another exception
    try:
        result = run(params)
    except CkanError as err:
        assert err.http_status in (400, 404, 409)
        assert err.error()["__type"]
        return
    assert isinstance(result["count"], int) and isinstance(result["results"], list)

"""The identity model and the authorisation matrix, pure: principals, role sets, decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from central_hub.core.authz import (
    ADMIN,
    COLUMNS,
    ENGINEER,
    FAMILY,
    KITA_STAFF,
    MATRIX,
    PUBLIC,
    Decision,
    decide,
    markdown_table,
    rule_for,
    rule_for_request,
    websocket_rule,
)
from central_hub.core.identity import (
    ADMIN_TOKEN_ROLES,
    Kind,
    Principal,
    Role,
    parse_roles,
)


def test_roles_are_sets_not_a_ladder() -> None:
    admin = Principal.staff("a", {Role.ADMIN})
    assert decide(ADMIN, admin) is Decision.ALLOW
    assert decide(ENGINEER, admin) is Decision.FORBIDDEN
    assert decide(KITA_STAFF, admin) is Decision.FORBIDDEN
    caseworker = Principal.staff("k", {Role.KITA_STAFF})
    assert decide(KITA_STAFF, caseworker) is Decision.ALLOW
    assert decide(ENGINEER, caseworker) is Decision.FORBIDDEN
    assert Role.KITA_STAFF not in ADMIN_TOKEN_ROLES


def test_anonymous_is_401_known_but_not_allowed_is_403_public_is_open() -> None:
    family = Principal.family("F-1")
    assert decide(ENGINEER, None) is Decision.UNAUTHENTICATED
    assert decide(ENGINEER, family) is Decision.FORBIDDEN
    assert decide(FAMILY, family) is Decision.ALLOW
    assert decide(FAMILY, Principal.staff("k", set(Role))) is Decision.FORBIDDEN
    assert decide(FAMILY | KITA_STAFF, Principal.staff("k", {Role.KITA_STAFF})) is \
        Decision.ALLOW
    assert all(decide(PUBLIC, p) is Decision.ALLOW for _, p in COLUMNS)


def test_an_operation_without_a_row_is_refused_to_everybody() -> None:
    assert rule_for("GET", "/api/v1/not-in-the-matrix") is None
    everybody = Principal.staff("root", set(Role))
    assert decide(None, everybody) is Decision.FORBIDDEN
    assert decide(None, None) is Decision.UNAUTHENTICATED


def test_a_device_is_no_http_principal() -> None:
    device = Principal(Kind.DEVICE, "bus-1")
    assert not any(rule.allows(device) for rule in MATRIX.values() if not rule.public)


def test_principals_keep_families_and_staff_apart() -> None:
    with pytest.raises(ValueError, match="family_id"):
        Principal(Kind.STAFF, "x", family_id="F-1")
    with pytest.raises(ValueError, match="family_id"):
        Principal(Kind.FAMILY, "x")
    with pytest.raises(ValueError, match="no staff roles"):
        Principal(Kind.FAMILY, "F-1", frozenset({Role.ADMIN}), "F-1")


def test_parse_roles_names_the_unknown_one() -> None:
    assert parse_roles(["engineer", " kita_staff"]) == {Role.ENGINEER, Role.KITA_STAFF}
    with pytest.raises(ValueError, match=r"unknown role 'root' \(one of: engineer, admin"):
        parse_roles(["root"])


def test_rules_describe_who() -> None:
    assert PUBLIC.describe() == "anyone"
    assert (FAMILY | KITA_STAFF).describe() == "kita_staff or family"
    assert ENGINEER.describe() == "engineer"


def test_the_public_feeds_stay_open() -> None:
    for method, path in [("GET", "/gtfs-rt/vehicle-positions"), ("GET", "/gtfs-rt/trip-updates"),
                         ("GET", "/api/v1/intersections/{intersection_id}/spat"),
                         ("GET", "/api/v1/kita/kitas"), ("GET", "/docs")]:
        assert MATRIX[method, path].public


def test_docs_security_md_holds_the_matrix_as_rendered() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "security.md").read_text("utf-8")
    assert markdown_table() in doc, "docs/security.md: paste central_hub.core.authz." \
        "markdown_table() into the identity section"


def test_a_request_finds_its_row_by_the_routers_template_and_the_path() -> None:
    """Routers are included under prefixes: the route knows ``/kitas/{kita_id}/{age_group}``,
    the matrix the full template; exactly one row must match, else nobody may call it."""
    assert rule_for_request("PUT", "/kitas/{kita_id}/{age_group}",
                            "/api/v1/kita/kitas/K1/U3") is KITA_STAFF
    assert rule_for_request("get", "/health", "/api/v1/intersections/health") is PUBLIC
    assert rule_for_request("GET", "", "/api/v1/intersections") is PUBLIC
    assert rule_for_request("DELETE", "/{device_id}", "/api/v1/devices/bus-1") is ADMIN
    assert rule_for_request("GET", "/{device_id}", "/api/v1/devices/bus-1") is None
    assert rule_for_request("PUT", "/kitas/{kita_id}/{age_group}",
                            "/api/v1/kita/kitas/K1/U3/more") is None
    assert websocket_rule("/ws/spat", "/ws/spat") is PUBLIC
    assert websocket_rule("/ws/admin", "/ws/admin") is None

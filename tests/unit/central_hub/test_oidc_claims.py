"""The pure part of OIDC: which hub roles a token's claims grant."""

from __future__ import annotations

from central_hub.core.identity import Role
from central_hub.core.oidc import claim_at, looks_like_jwt, roles_from_claims

MAP = {"traffic-engineer": Role.ENGINEER, "kita": Role.KITA_STAFF}


def test_roles_come_from_the_dotted_claim_through_the_map_only() -> None:
    claims = {"realm_access": {"roles": ["traffic-engineer", "admin", 7, "kita"]}}
    assert roles_from_claims(claims, "realm_access.roles", MAP) == {Role.ENGINEER,
                                                                    Role.KITA_STAFF}
    assert roles_from_claims({"scope": "kita openid"}, "scope", MAP) == {Role.KITA_STAFF}
    assert roles_from_claims({"realm_access": "x"}, "realm_access.roles", MAP) == frozenset()
    assert roles_from_claims({}, "realm_access.roles", MAP) == frozenset()
    assert roles_from_claims({"roles": {"a": 1}}, "roles", MAP) == frozenset()


def test_claim_at_and_jwt_shape() -> None:
    assert claim_at({"a": {"b": 1}}, "a.b") == 1
    assert claim_at({"a": [1]}, "a.b") is None
    assert looks_like_jwt("x.y.z") and not looks_like_jwt("kh_abc")

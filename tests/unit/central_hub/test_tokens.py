"""Issued tokens: hashed at rest, expiring, revocable, last-used written at most once a minute."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from central_hub.core.identity import CredentialSource, Principal, Role
from central_hub.core.resolver import IdentityResolver
from central_hub.core.tokens import DAY_MS, TOKEN_PREFIX, StaticTokens, TokenStore
from central_hub.storage.db import make_engine
from central_hub.storage.schema import api_tokens


class Clock:
    """Milliseconds the test moves by hand."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    yield eng
    eng.dispose()


def test_only_the_digest_is_stored(engine: Engine) -> None:
    store = TokenStore(engine)
    record, token = store.issue("alice", {Role.ENGINEER, Role.KITA_STAFF})
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    with engine.connect() as conn:
        (row,) = conn.execute(select(api_tokens)).all()
    assert token not in repr(row)
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert row.roles == "engineer kita_staff"
    assert token not in repr(record) and row.digest not in repr(record)
    found = store.lookup(token)
    assert found is not None and found.id == record.id
    assert found.principal().roles == {Role.ENGINEER, Role.KITA_STAFF}
    assert found.principal().source is CredentialSource.ISSUED


def test_expired_and_revoked_tokens_are_refused(engine: Engine) -> None:
    clock = Clock()
    store = TokenStore(engine, clock=clock)
    _, short = store.issue("contractor", {Role.ENGINEER}, expires_days=1)
    rec, other = store.issue("bob", {Role.ADMIN})
    assert store.lookup(short) is not None
    clock.ms += DAY_MS
    assert store.lookup(short) is None
    assert store.lookup(other) is not None
    revoked = store.revoke(rec.id)
    assert revoked is not None and revoked.revoked
    assert store.lookup(other) is None
    assert store.revoke(9999) is None
    assert [(r.name, r.revoked) for r in store.records()] == [
        ("contractor", False), ("bob", True)]


def test_last_used_is_written_at_most_once_a_minute(engine: Engine) -> None:
    clock = Clock()
    store = TokenStore(engine, clock=clock)
    rec, token = store.issue("dashboard", {Role.ENGINEER})
    assert rec.last_used_ms is None
    first = clock.ms
    store.lookup(token)
    clock.ms += 59_000
    store.lookup(token)
    (seen,) = store.records()
    assert seen.last_used_ms == first
    clock.ms += 1_000
    store.lookup(token)
    (seen,) = store.records()
    assert seen.last_used_ms == clock.ms


def test_issue_refuses_bad_input(engine: Engine) -> None:
    store = TokenStore(engine)
    with pytest.raises(ValueError, match="at least one role"):
        store.issue("x", set())
    with pytest.raises(ValueError, match="printable"):
        store.issue("  ", {Role.ADMIN})
    with pytest.raises(ValueError, match="> 0"):
        store.issue("x", {Role.ADMIN}, expires_days=0)


def test_the_resolver_tries_static_then_issued_then_families(engine: Engine) -> None:
    store = TokenStore(engine)
    _, issued = store.issue("carol", {Role.OPENDATA_PUBLISHER})
    resolver = IdentityResolver(StaticTokens([("s3cret", Principal.staff("m", {Role.ADMIN}))]),
                                store)
    resolver.add_family_lookup(lambda t: "F-1" if t == "family-token" else None)
    static, by_store, family = (resolver.resolve(t) for t in ("s3cret", issued, "family-token"))
    assert static is not None and static.roles == {Role.ADMIN}
    assert by_store is not None and by_store.name == "carol"
    assert family is not None and family.family_id == "F-1"
    assert resolver.resolve("a.b.c") is None  # a JWT, and OIDC is not configured
    assert resolver.resolve("x" * 9000) is None


def test_a_token_in_two_settings_is_the_first_ones() -> None:
    same = StaticTokens([("t", Principal.staff("admin", {Role.ADMIN})),
                         ("t", Principal.staff("engineer", {Role.ENGINEER}))])
    found = same.lookup("t")
    assert found is not None and found.name == "admin"
    assert same.lookup("u") is None and len(same) == 2

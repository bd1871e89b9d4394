"""Bearer tokens: issued ones in the hub's database, and the static ones from the settings.

WHY only a SHA-256 digest is stored: a token is 256 random bits
(:func:`secrets.token_urlsafe`), so nobody can guess it or find it from its digest, and an
unsalted fast hash is enough to make a leaked table useless. A slow password hash (bcrypt,
scrypt) protects *low*-entropy secrets chosen by people and would cost every request tens of
milliseconds; it buys nothing here. The digest is also what a request is looked up by (an
index), so no token is ever compared in variable time against a list.

WHY issued tokens beside the static ones: the static tokens (``KASSEL_HUB_ADMIN_TOKEN`` and
friends, :class:`StaticTokens`) suit machines and the demo, but cannot expire, be revoked
without a restart, or tell people apart. Issued tokens have a name, a set of roles, an
optional expiry, a revoked flag and a last-used time; ``kassel hub token issue|revoke|list``
manages them (:mod:`central_hub.cli`). The last-used time is written at most once a
minute per token and process (:data:`TOUCH_INTERVAL_MS`), so a busy client costs no write per
request.

A token is printed once, when it is issued, and never logged: this module logs nothing that
holds a token or a digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from central_hub.core.identity import CredentialSource, Principal, Role, parse_roles
from central_hub.storage.schema import api_tokens

#: issued tokens start with this, so that secret scanners and people recognise them.
TOKEN_PREFIX = "kh_"
#: the last-used time of a token is written at most this often (per process).
TOUCH_INTERVAL_MS = 60_000
#: longest token name the table holds.
NAME_LENGTH = 100
DAY_MS = 86_400_000


def token_digest(token: str) -> str:
    """Hex SHA-256 of a token: what is stored and looked up, never the token (see above)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh token: the prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An issued token's record, without the token or its digest (safe to print)."""

    id: int
    name: str
    roles: frozenset[Role]
    created_ms: int
    expires_ms: int | None
    revoked: bool
    last_used_ms: int | None

    def active(self, now_ms: int) -> bool:
        """Not revoked and not expired at ``now_ms``."""
        return not self.revoked and (self.expires_ms is None or now_ms < self.expires_ms)

    def principal(self) -> Principal:
        """The staff principal this token stands for."""
        return Principal.staff(self.name, self.roles, CredentialSource.ISSUED)


def check_name(name: str) -> str:
    """A token's name: 1 to 100 printable characters (``ValueError`` otherwise)."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH or not name.isprintable():
        raise ValueError(f"a token's name is 1 to {NAME_LENGTH} printable characters")
    return name


def _record(row: object) -> IssuedToken:
    r = row._mapping  # type: ignore[attr-defined]
    return IssuedToken(int(r["id"]), r["name"], parse_roles(r["roles"].split()),
                       int(r["created_ms"]), r["expires_ms"], bool(r["revoked"]),
                       r["last_used_ms"])


_COLUMNS = (api_tokens.c.id, api_tokens.c.name, api_tokens.c.roles, api_tokens.c.created_ms,
            api_tokens.c.expires_ms, api_tokens.c.revoked, api_tokens.c.last_used_ms)


class TokenStore:
    """Issued tokens in the ``api_tokens`` table of the hub's database (SQLite or PostgreSQL).

    ``clock`` gives milliseconds since the epoch; tests pass their own to expire tokens
    without waiting.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], int] = _now_ms) -> None:
        api_tokens.create(engine, checkfirst=True)
        self._engine = engine
        self._clock = clock
        self._touched: dict[int, int] = {}
        self._lock = threading.Lock()

    def issue(self, name: str, roles: Iterable[Role],
              expires_days: float | None = None) -> tuple[IssuedToken, str]:
        """A new token with these roles; returns its record and the token, which is not kept."""
        granted = frozenset(roles)
        if not granted:
            raise ValueError("a token needs at least one role")
        if expires_days is not None and not expires_days > 0:
            raise ValueError("expires_days must be > 0")
        name = check_name(name)
        now = self._clock()
        expires = None if expires_days is None else now + int(expires_days * DAY_MS)
        token = new_token()
        with self._engine.begin() as conn:
            row_id = conn.execute(insert(api_tokens).values(
                name=name, roles=" ".join(sorted(r.value for r in granted)),
                digest=token_digest(token), created_ms=now, expires_ms=expires, revoked=False,
                last_used_ms=None)).inserted_primary_key
        assert row_id is not None
        return IssuedToken(int(row_id[0]), name, granted, now, expires, False, None), token

    def revoke(self, token_id: int) -> IssuedToken | None:
        """Revoke a token at once (``None``: no such token); revoking twice is harmless."""
        with self._engine.begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                         .values(revoked=True))
            row = conn.execute(select(*_COLUMNS).where(api_tokens.c.id == token_id)).first()
        return None if row is None else _record(row)

    def records(self) -> list[IssuedToken]:
        """Every issued token, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(*_COLUMNS).order_by(api_tokens.c.id)).all()
        return [_record(row) for row in rows]

    def lookup(self, token: str) -> IssuedToken | None:
        """The active token ``token`` is, noting its use; ``None`` if unknown, expired or
        revoked."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS)
                               .where(api_tokens.c.digest == token_digest(token))).first()
        if row is None:
            return None
        record = _record(row)
        now = self._clock()
        if not record.active(now):
            return None
        self._touch(record.id, now)
        return record

    def _touch(self, token_id: int, now: int) -> None:
        with self._lock:
            if now - self._touched.get(token_id, -TOUCH_INTERVAL_MS) < TOUCH_INTERVAL_MS:
                return
            self._touched[token_id] = now
        with self._engine.begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                         .values(last_used_ms=now))


class StaticTokens:
    """Tokens from the settings (machines, the demo), each mapped to a fixed principal.

    Only their digests are held, and they are compared in constant time.
    """

    def __init__(self, tokens: Iterable[tuple[str, Principal]]) -> None:
        self._entries = [(hashlib.sha256(t.encode()).digest(), p) for t, p in tokens if t]

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token: str) -> Principal | None:
        """The principal of a static token; ``None`` for any other string. Should two settings
        hold the same token, the first (admin, engineer, Kita staff) wins."""
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for known, principal in self._entries:  # no early exit: same time for every entry
            if hmac.compare_digest(known, digest) and found is None:
                found = principal
        return found

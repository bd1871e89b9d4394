"""Engine creation and dialect-specific upserts, the only place that knows SQLite from PostgreSQL.

WHY: the contract's URL (``sqlite:///...`` or ``postgresql://...``) is all an operator gives;
this module picks the psycopg 3 driver for a bare ``postgresql://``, turns on WAL for SQLite so
the ingest thread and HTTP readers do not block each other, creates the parent directory of an
SQLite file, and builds ``INSERT ... ON CONFLICT`` for either dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import Insert

from central_hub.storage.schema import metadata


def normalise_url(url: str) -> str:
    """``postgresql://`` -> ``postgresql+psycopg://`` (psycopg 3 is what the hub extra ships)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, *, hub_schema: bool = True) -> Engine:
    """An engine for ``url`` with the hub's schema created (idempotent); ``hub_schema=False``
    for a database of a service that creates its own tables (Kita)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if hub_schema:
        metadata.create_all(engine)
    return engine


def insert_ignore(engine: Engine, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(engine: Engine, table: Table, keys: Sequence[str]) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` setting every other column."""
    if engine.dialect.name == "postgresql":
        pg = postgresql.insert(table)
        cols = {c.name: pg.excluded[c.name] for c in table.columns if c.name not in keys}
        return pg.on_conflict_do_update(index_elements=list(keys), set_=cols)
    lite = sqlite.insert(table)
    lcols = {c.name: lite.excluded[c.name] for c in table.columns if c.name not in keys}
    return lite.on_conflict_do_update(index_elements=list(keys), set_=lcols)

"""Where identity and Kita data are stored: issued tokens in the hub's database on SQLite and
PostgreSQL; the Kita tables in a database of their own unless told otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, inspect

from central_hub.broker import MosquittoBroker
from central_hub.core.identity import Role
from central_hub.core.tokens import DAY_MS, TokenStore
from central_hub.kita.settings import KitaSettings
from central_hub.storage.db import make_engine
from tests.integration.central_hub.helpers import hub_config, start_hub


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_db"))
    eng = make_engine(url)
    yield eng
    eng.dispose()


def test_issued_tokens_on_both_databases(engine: Engine) -> None:
    now = [int(time.time() * 1000)]
    store = TokenStore(engine, clock=lambda: now[0])
    rec, token = store.issue("ops", {Role.ENGINEER, Role.ADMIN}, expires_days=1)
    found = store.lookup(token)
    assert found is not None and found.roles == {Role.ENGINEER, Role.ADMIN}
    assert store.records()[0].last_used_ms == now[0]
    now[0] += DAY_MS
    assert store.lookup(token) is None
    _, other = store.issue("ops-2", {Role.KITA_STAFF})
    assert store.revoke(rec.id) is not None
    assert store.lookup(other) is not None


def _tables(url: str) -> set[str]:
    eng = make_engine(url, hub_schema=False)
    try:
        return set(inspect(eng).get_table_names())
    finally:
        eng.dispose()


@pytest.mark.parametrize("where", ["default", "hub"])
def test_kita_data_live_apart_from_telemetry_by_default(
        broker: MosquittoBroker, tmp_path: Path, where: str) -> None:
    kita = KitaSettings() if where == "default" else KitaSettings(database="hub")
    srv = start_hub(hub_config(tmp_path, broker), kita=kita)
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as http:
            assert http.post("/api/v1/kita/families").status_code == 201
    finally:
        srv.stop()
    hub_tables = _tables(f"sqlite:///{tmp_path / 'hub.db'}")
    assert "api_tokens" in hub_tables and "samples" in hub_tables
    kita_file = tmp_path / "state" / "kita.db"
    if where == "default":
        assert not any(t.startswith("kita_") for t in hub_tables)
        kita_tables = _tables(f"sqlite:///{kita_file}")
        assert "kita_families" in kita_tables and "samples" not in kita_tables
    else:
        assert "kita_families" in hub_tables and not kita_file.exists()

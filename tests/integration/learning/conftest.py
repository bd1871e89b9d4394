"""Fixtures of the learning platform's integration tests.

The hub's private PostgreSQL cluster and the hub server are the hub's integration fixtures,
reused, not copied (pytest shares fixtures only from parent directories by itself); the
learning tables get a fresh database of either kind per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from central_hub.learning.tables import create_schema
from central_hub.storage.db import make_engine
from tests.integration.central_hub.conftest import hub, pg_db, pg_url

__all__ = ["engine", "hub", "pg_db", "pg_url"]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite file or PostgreSQL database with the learning tables."""
    url = f"sqlite:///{tmp_path / 'learning.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("pg_db")
    eng = make_engine(url, hub_schema=False)
    create_schema(eng)
    yield eng
    eng.dispose()

"""Fixtures of the learning platform's integration tests.

The hub's private PostgreSQL cluster is the hub's integration fixture, reused, not copied
(pytest shares fixtures only from parent directories by itself); the learning tables get a
fresh database of either kind per test. The hub here runs the learning platform as shipped
(its starter content, a checker per CPU), where other tests' hubs start it light.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from central_hub.broker import MosquittoBroker
from central_hub.learning.settings import LearningSettings
from central_hub.learning.tables import create_schema
from central_hub.storage.db import make_engine
from tests.integration.central_hub.conftest import pg_db, pg_url
from tests.integration.central_hub.helpers import HubServer, hub_config, start_hub

GTFS = Path(__file__).resolve().parents[3] / "firmware_configs/gtfs/kassel-demo.zip"

__all__ = ["engine", "hub", "pg_db", "pg_url"]


@pytest.fixture
def hub(broker: MosquittoBroker, tmp_path: Path) -> Iterator[HubServer]:
    """A hub (SQLite, demo GTFS) with the learning platform as shipped."""
    srv = start_hub(hub_config(tmp_path, broker, gtfs=str(GTFS)), learning=LearningSettings())
    yield srv
    srv.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite file or PostgreSQL database with the learning tables."""
    url = f"sqlite:///{tmp_path / 'learning.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("pg_db")
    eng = make_engine(url, hub_schema=False)
    create_schema(eng)
    yield eng
    eng.dispose()

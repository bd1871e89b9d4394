"""Fixtures of the learning API tests: the hub's private PostgreSQL cluster, reused, not copied.

The cluster fixtures live with the hub's integration tests; importing them here makes them
visible to this directory (pytest only shares fixtures of parent directories by itself).
"""

from __future__ import annotations

from tests.integration.central_hub.conftest import pg_db, pg_url

__all__ = ["pg_db", "pg_url"]

"""The Kita allocation as the hub mounts it: its database, tables, use cases and routes.

WHY a mount: the hub knows a service only through one :class:`~central_hub.core.services.
HubService` (see that module for the shape every service has). Opening the Kita service
picks its database (by default a file of its own, apart from the telemetry: ``docs/kita.md``,
"Where the data lives"), creates its tables there, and lets the hub's one identity resolver
know its families' tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from central_hub.core.config import HubRuntime
from central_hub.core.services import HubService
from central_hub.hub import Hub
from central_hub.kita.api import RedactChildIds, create_kita_router
from central_hub.kita.service import KitaService
from central_hub.kita.tables import create_schema
from central_hub.storage.db import make_engine


def database_url(runtime: HubRuntime) -> str | None:
    """Where the Kita data live: ``kita.database``, ``None`` for the hub's own database
    (``kita.database: hub``), by default ``kita.db`` in the hub's state directory."""
    url = runtime.settings.kita.database
    if url == "hub":
        return None
    if url:
        return url
    return f"sqlite:///{Path(runtime.config.agent.state_dir) / 'kita.db'}"


@asynccontextmanager
async def open_kita(hub: Hub) -> AsyncIterator[KitaService]:
    """Open the Kita database and tables and yield the service; dispose of its own engine
    on the way out (the hub's is the hub's)."""
    url = database_url(hub.runtime)
    engine = hub.engine if url is None else await asyncio.to_thread(
        make_engine, url, hub_schema=False)
    try:
        await asyncio.to_thread(create_schema, engine)
        service = KitaService.from_settings(engine, hub.runtime.settings.kita)
        hub.identity.add_family_lookup(service.family_of_token)
        yield service
    finally:
        if engine is not hub.engine:
            engine.dispose()


KITA = HubService(name="kita", create_router=create_kita_router, open=open_kita,
                  log_filters=(RedactChildIds,))


def allocation_statistics(service: object) -> tuple[list[tuple[str, str, int, float, float]],
                                                    list[tuple[str, str, int | None]]]:
    """What the city's statistics (the open-data service) may read of the Kita allocation:
    each Kita's places ``(kita_id, age group, capacity, lat, lon)`` and, per application, its
    first choice, age group and the wish rank of its offer or place; no child's identity.
    ``service`` is the object this service's mount yields (``hub.services["kita"]``)."""
    assert isinstance(service, KitaService)
    kitas, outcomes = service.statistics()
    return [(k.kita_id, k.age_group, k.capacity, k.lat, k.lon) for k in kitas], outcomes

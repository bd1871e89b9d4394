"""The Open Data Rathaus as the hub mounts it: its database, tables, schedule and routes.

WHY a mount: the hub knows a service only through one :class:`~central_hub.core.services.
HubService` (see that module for the shape every service has). Opening the service picks its
database (by default a file of its own), creates its tables, wires its sources (the hub's
raw telemetry and live state, the Kita service's statistics through that service's mount,
the static GTFS feed) and, on the primary hub, starts its schedule: roll up, produce,
publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from central_hub.core.config import HubRuntime
from central_hub.core.services import HubService
from central_hub.domain.rollups import DAY_MS, HOUR_MS
from central_hub.hub import Hub
from central_hub.kita.mount import allocation_statistics
from central_hub.opendata.api import create_opendata_router, create_public_router
from central_hub.opendata.publishing import KitaStatistics, Publisher, Sources
from central_hub.opendata.service import OpendataService, now_ms
from central_hub.opendata.statistics import StatisticsRollup
from central_hub.opendata.tables import create_schema
from central_hub.storage.db import make_engine

log = logging.getLogger(__name__)
WEB = Path(__file__).parent / "web"
#: how often the live state is sampled (fail-safe minutes, the hour's prediction figures)
SAMPLE_S = 60.0


def database_url(runtime: HubRuntime) -> str | None:
    """Where the open data live: ``opendata.database``, ``None`` for the hub's own database
    (``opendata.database: hub``), by default ``opendata.db`` in the hub's state directory."""
    url = runtime.settings.opendata.database
    if url == "hub":
        return None
    if url:
        return url
    return f"sqlite:///{Path(runtime.config.agent.state_dir) / 'opendata.db'}"


def _kita_source(hub: Hub) -> KitaStatistics | None:
    if "kita" not in hub.services:
        return None
    kita = hub.services["kita"]
    return lambda: allocation_statistics(kita)


async def schedule_loop(service: OpendataService, hub: Hub) -> None:
    """Sample the live state every minute; roll up and produce every ``run_every_s``."""
    s = service.settings
    rollup = service.rollup
    assert rollup is not None
    next_run = time.monotonic() + s.first_run_s
    last = now_ms()
    hour = last // HOUR_MS * HOUR_MS
    while True:
        await asyncio.sleep(max(0.0, min(SAMPLE_S, next_run - time.monotonic(), s.run_every_s)))
        now = now_ms()
        intersections = dict(hub.state.intersections)
        rollup.sample_live({iid: it.status for iid, it in intersections.items()}, now,
                           minutes=(now - last) / 60_000)
        last = now
        if now // HOUR_MS * HOUR_MS != hour:
            rollup.sample_predictions({iid: it.quality for iid, it in intersections.items()},
                                      hour)
            hour = now // HOUR_MS * HOUR_MS
        if time.monotonic() < next_run:
            continue
        next_run = time.monotonic() + s.run_every_s
        try:
            done = await asyncio.to_thread(
                service.scheduled_run, now, base_url=(s.public_url or "").rstrip("/"),
                every_ms=int(s.produce_every_s * 1000),
                first_ms=now - int(s.backfill_days * DAY_MS))
            if done:
                log.info("open data: scheduled run: %s", done)
        except Exception:
            log.exception("open data: the scheduled run failed")


@asynccontextmanager
async def open_opendata(hub: Hub) -> AsyncIterator[OpendataService]:
    """Open the open-data database and tables, yield the service and run its schedule on
    the primary hub; stop the schedule and dispose of its own engine on the way out."""
    runtime = hub.runtime
    url = database_url(runtime)
    engine = hub.engine if url is None else await asyncio.to_thread(
        make_engine, url, hub_schema=False)
    task: asyncio.Task[None] | None = None
    try:
        await asyncio.to_thread(create_schema, engine)
        settings = runtime.settings.opendata
        gtfs = runtime.config.gtfs.static
        publisher = Publisher(engine, Sources(kita=_kita_source(hub),
                                              gtfs_zip=Path(gtfs) if gtfs else None),
                              period_days=settings.period_days)
        alarms = hub.alarms

        def on_producer(dataset_id: str, error: str | None) -> None:
            if alarms is not None:
                alarms.submit(alarms.engine.on_opendata_producer(dataset_id, error,
                                                                 now=now_ms()))

        service = OpendataService(
            engine, settings, publisher, StatisticsRollup(hub.engine, engine, hub.schedule),
            on_producer=on_producer)
        if runtime.settings.primary:
            task = asyncio.create_task(schedule_loop(service, hub), name="opendata_schedule")
        yield service
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if engine is not hub.engine:
            engine.dispose()


OPENDATA = HubService(name="opendata", create_router=create_opendata_router,
                      open=open_opendata, pages=(("/opendata", WEB),),
                      create_public_router=create_public_router)

"""``create_app(config)``: the hub's FastAPI application with a lifespan that owns every service.

WHY a factory with a lifespan: nothing (engine, MQTT clients, settings) exists at import time,
so tests build as many apps as they like against their own broker and database, and uvicorn
gets a fully wired app from :func:`create_app`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from central_hub.api.routes import (
    alarms,
    dashboard,
    devices,
    gtfs_rt,
    intersections,
    live,
    vehicles,
)
from central_hub.core.config import HubRuntime, HubSettings, resolve
from central_hub.hub import Hub
from central_hub.kita.api import create_kita_router
from central_hub.kita.service import KitaService
from central_hub.registry import Reload
from edge_agent.contract.configs import HubConfig

STATIC = Path(__file__).parent / "static"


def create_app(config: HubConfig | HubRuntime, *, settings: HubSettings | None = None,
               broker_url: str | None = None, engine: Engine | None = None,
               reload_broker: Reload | None = None) -> FastAPI:
    """Build the hub app; services start in the lifespan and stop with it."""
    runtime = config if isinstance(config, HubRuntime) else resolve(config, settings, broker_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = Hub(runtime, engine=engine, reload_broker=reload_broker)
        app.state.hub = hub
        # the Kita allocation (issue 7) shares the hub's database; staff token from
        # KASSEL_HUB_KITA_STAFF_TOKEN
        app.state.kita = await asyncio.to_thread(KitaService.from_env, hub.engine)
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()
            if engine is None:
                hub.engine.dispose()

    app = FastAPI(
        title="Kassel central hub",
        version="1.0.0",
        description="Feeds for apps and third parties (GTFS-Realtime, live SPaT), operations "
        "API for traffic engineers. Public feeds are open; state changes need a role token.\n\n"
        "WebSockets (not expressible in OpenAPI): `/ws/spat?intersection={id}` sends every "
        "SPaT payload of that intersection as received (all intersections without the "
        "parameter); `/ws/live` sends the dashboard's frames (what changed in 250 ms).",
        lifespan=lifespan,
    )
    for module in (vehicles, intersections, alarms, devices, gtfs_rt, live, dashboard):
        app.include_router(module.router)
    app.include_router(create_kita_router(), prefix="/api/v1/kita")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

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

from central_hub.api.cors import PublicFeedCors, feed_paths
from central_hub.api.deps import BODY_LIMIT_EXTENSION, DEFAULT_BODY_LIMIT
from central_hub.api.ratelimits import HubLimiters
from central_hub.api.routes import (
    alarms,
    dashboard,
    devices,
    docs,
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
from edge_agent.http_headers import SecurityHeaders
from edge_agent.http_limits import BodyLimit, RouteLimit
from edge_agent.http_ratelimit import RateLimit

STATIC = Path(__file__).parent / "static"


def route_body_limits(app: FastAPI) -> list[RouteLimit]:
    """The larger body limits routes declare (``openapi_extra=body_limit(n)``).

    Read from the app's OpenAPI document, where clients read them too: routers are included
    lazily, and the document is the one complete, public list of operations.
    """
    return [
        RouteLimit.template(method, path, int(operation[BODY_LIMIT_EXTENSION]))
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if BODY_LIMIT_EXTENSION in operation
    ]


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
        "parameter); `/ws/live` sends the dashboard's frames (what changed in 250 ms).\n\n"
        f"Request bodies are limited to {DEFAULT_BODY_LIMIT} bytes unless an operation "
        f"states a larger `{BODY_LIMIT_EXTENSION}`; a larger body is refused with 413 before "
        "it is read.\n\n"
        "Operations tagged `feeds` answer `Access-Control-Allow-Origin: *` (GET, HEAD and "
        "their preflight); no other operation allows another origin. Too many requests from "
        "one client (repeated 401s, a family's application writes) are answered 429 with "
        "`Retry-After`.",
        lifespan=lifespan,
        docs_url=None,  # served by routes.docs with the hub's own copy of Swagger UI and ReDoc
        redoc_url=None,
    )
    for module in (vehicles, intersections, alarms, devices, gtfs_rt, live, dashboard, docs):
        app.include_router(module.router)
    app.include_router(create_kita_router(), prefix="/api/v1/kita")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    docs.mount_assets(app)
    limiters = HubLimiters.of(runtime.settings.rate_limits)
    app.state.limiters = limiters
    # outermost last: headers on every answer (413 and 429 included), CORS before anything
    # answers, the body limit before routing, rate limits before the app reads the body.
    app.add_middleware(RateLimit, routes=limiters.route_rules(),
                       failures=limiters.failure_rules())
    # every route, authenticated or not, known or not: the limit applies before routing
    app.add_middleware(BodyLimit, default=DEFAULT_BODY_LIMIT,
                       routes=route_body_limits(app))
    app.add_middleware(PublicFeedCors, feeds=feed_paths(app))
    app.add_middleware(SecurityHeaders)
    return app

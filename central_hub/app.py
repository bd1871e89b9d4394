"""``create_app(config)``: the hub's FastAPI application with a lifespan that owns every service.

WHY a factory with a lifespan: nothing (engine, MQTT clients, settings) exists at import time,
so tests build as many apps as they like against their own broker and database, and uvicorn
gets a fully wired app from :func:`create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from central_hub.api.cors import PublicFeedCors, feed_paths
from central_hub.api.deps import BODY_LIMIT_EXTENSION, DEFAULT_BODY_LIMIT, authorize
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
from central_hub.core.authz import rule_for
from central_hub.core.config import HubRuntime, HubSettings, OidcSettings, resolve
from central_hub.core.services import HubService
from central_hub.hub import Hub
from central_hub.kita.mount import KITA
from central_hub.learning.mount import LEARNING
from central_hub.mobility.mount import MOBILITY
from central_hub.opendata.mount import OPENDATA
from central_hub.registry import Reload
from edge_agent.contract.configs import HubConfig
from edge_agent.heap import freeze_start_up_heap
from edge_agent.http_headers import SecurityHeaders
from edge_agent.http_limits import BodyLimit, RouteLimit
from edge_agent.http_ratelimit import RateLimit

STATIC = Path(__file__).parent / "static"

#: the citizen services the hub carries, each mounted the same way (central_hub/core/services.py)
SERVICES: tuple[HubService, ...] = (KITA, LEARNING, OPENDATA, MOBILITY)


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
               reload_broker: Reload | None = None, freeze_heap: bool = False) -> FastAPI:
    """Build the hub app; services start in the lifespan and stop with it.

    ``freeze_heap`` (``kassel hub``, one app per process): once every service has started,
    what start-up built (sympy, pint, the schedule, the configs: about a million objects)
    leaves the cyclic collector's full scans (:func:`gc.freeze`), whose pauses were the
    longest waits of a request (BENCHMARKS.md). Not for processes that build many apps, such
    as the tests: what an earlier app left would never be collected."""
    runtime = config if isinstance(config, HubRuntime) else resolve(config, settings, broker_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = Hub(runtime, engine=engine, reload_broker=reload_broker)
        app.state.hub = hub
        app.state.identity = hub.identity
        try:
            async with AsyncExitStack() as opened:
                for service in SERVICES:
                    hub.services[service.name] = await opened.enter_async_context(
                        service.open(hub))
                    setattr(app.state, service.name, hub.services[service.name])
                await hub.start()
                if freeze_heap:
                    freeze_start_up_heap()
                try:
                    yield
                finally:
                    await hub.stop()
        finally:
            if engine is None:
                hub.engine.dispose()

    app = FastAPI(
        title="Kassel central hub",
        version="1.0.0",
        description="Feeds for apps and third parties (GTFS-Realtime, live SPaT), operations "
        "API for traffic engineers, the Kita allocation. Public feeds are open; everything "
        "else needs a bearer token whose principal the authorisation matrix admits (each "
        "operation's `x-allowed` and `security`; docs/security.md).\n\n"
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
        # the one authorisation check of every route, from the matrix (core/authz.py)
        dependencies=[Depends(authorize)],
    )
    for module in (vehicles, intersections, alarms, devices, gtfs_rt, live, dashboard, docs):
        app.include_router(module.router)
    for service in SERVICES:
        app.include_router(service.create_router(), prefix=service.prefix)
        if service.create_public_router is not None:
            app.include_router(service.create_public_router())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for service in SERVICES:
        for path, folder in service.pages:
            app.mount(path, StaticFiles(directory=folder, html=True), name=f"{service.name}-pages")
    docs.mount_assets(app)
    limiters = HubLimiters.of(runtime.settings.rate_limits)
    app.state.limiters = limiters
    # outermost last: headers on every answer (413 and 429 included), CORS before anything
    # answers, the body limit before routing, rate limits before the app reads the body.
    app.add_middleware(RateLimit, routes=limiters.route_rules(),
                       failures=limiters.failure_rules())
    # every route, authenticated or not, known or not: the limit applies before routing
    document_security(app, runtime.settings.oidc)
    app.add_middleware(BodyLimit, default=DEFAULT_BODY_LIMIT,
                       routes=route_body_limits(app))
    app.add_middleware(PublicFeedCors, feeds=feed_paths(app))
    app.add_middleware(SecurityHeaders)
    return app


BEARER_SCHEME = "bearer"
OIDC_SCHEME = "oidc"


def document_security(app: FastAPI, oidc: OidcSettings) -> None:
    """Put the security schemes and, per operation, who may call it into the OpenAPI document.

    From the authorisation matrix, so the document cannot disagree with what is enforced:
    every operation gets ``x-allowed`` (``anyone``, ``engineer``, ``kita_staff or family``);
    a non-public one its ``security`` (bearer, and OIDC for staff roles) and its 401/403.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        oidc_scheme: dict[str, Any] = (
            {"type": "openIdConnect", "description": "a JWT of the city's OpenID Connect "
             "provider; roles from its claim " + oidc.roles_claim,
             "openIdConnectUrl": f"{(oidc.issuer or '').rstrip('/')}"
                                 "/.well-known/openid-configuration"}
            if oidc.enabled else
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
             "description": "a JWT of the city's OpenID Connect provider (not configured on "
             "this hub: KASSEL_HUB_OIDC__*)"})
        schema.setdefault("components", {})["securitySchemes"] = {
            BEARER_SCHEME: {"type": "http", "scheme": "bearer", "description":
                            "a static token of the settings, a token issued with `kassel hub "
                            "token issue`, or a Kita family's token (POST "
                            "/api/v1/kita/families)"},
            OIDC_SCHEME: oidc_scheme,
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                rule = rule_for(method, path)
                operation["x-allowed"] = rule.describe() if rule is not None else "nobody"
                if rule is not None and rule.public:
                    continue
                schemes: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
                if rule is not None and rule.roles:
                    schemes.append({OIDC_SCHEME: []})
                operation["security"] = schemes
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {"description": "no valid bearer token"})
                responses.setdefault("403", {"description": "the token's principal is not "
                                             "allowed: see x-allowed"})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

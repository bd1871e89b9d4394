"""``GET /`` (the dashboard), its static assets, and the JSON it draws the map from.

WHY no tile server by default: the hub runs where the internet may not be; the map is drawn
from the GTFS shapes and stops and the intersections' MAP positions, all served by the hub
itself. A tile source (the city's tile server) is a setting (``KASSEL_HUB_DASHBOARD__TILE_URL``)
that the page learns from ``GET /api/v1/dashboard/config``.
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from central_hub.api.deps import HubDep, PrincipalDep
from central_hub.core.identity import Role

router = APIRouter(tags=["dashboard"])


class NetworkOut(BaseModel):
    """Routes (with their shapes) and stops of the static GTFS feed."""

    routes: list[dict[str, Any]]
    stops: list[dict[str, Any]]


class TilesOut(BaseModel):
    """An XYZ tile source: URL template, the attribution its licence asks for, max zoom."""

    url: str
    attribution: str
    max_zoom: int


class DashboardConfigOut(BaseModel):
    """What the page needs to know before it draws: the tile source (``null``: none, the
    base layer is the hub's own network geometry) and the thresholds it colours by."""

    tiles: TilesOut | None
    spat_stale_ms: int


class WhoAmIOut(BaseModel):
    """What the presented bearer token grants.

    ``role`` is the dashboard's view: ``admin`` or ``engineer`` when the token holds that role,
    else ``public`` (also for tokens of other services, which the dashboard cannot use);
    ``roles`` every role, ``kind`` the principal's kind (``null`` without a valid token).
    """

    role: str
    roles: list[str]
    kind: str | None


def content_security_policy(tile_url: str | None) -> str:
    """The dashboard's policy: scripts, styles, data and WebSocket from the hub only; images
    also from the tile server when one is configured (``{s}`` subdomains as ``*.``)."""
    img = "'self' data:"
    if tile_url:
        parts = urlsplit(tile_url)
        img += f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            f"img-src {img}; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")


@router.get("/", response_class=HTMLResponse, include_in_schema=True)
def dashboard(hub: HubDep) -> HTMLResponse:
    """The traffic engineers' dashboard (a single page, live over ``/ws/live``)."""
    html = resources.files("central_hub").joinpath("static/dashboard.html").read_text("utf-8")
    csp = content_security_policy(hub.runtime.settings.dashboard.tile_url)
    # the other security headers: edge_agent.http_headers.SecurityHeaders, on every answer
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


@router.get("/api/v1/dashboard/config", response_model=DashboardConfigOut)
def dashboard_config(hub: HubDep) -> DashboardConfigOut:
    """The dashboard's base-map source and staleness limit."""
    s = hub.runtime.settings
    d = s.dashboard
    tiles = None if not d.tile_url else TilesOut(url=d.tile_url, attribution=d.tile_attribution,
                                                 max_zoom=d.tile_max_zoom)
    return DashboardConfigOut(tiles=tiles, spat_stale_ms=s.alarms.spat_stale_ms)


@router.get("/api/v1/whoami", response_model=WhoAmIOut, tags=["operations"])
def whoami(principal: PrincipalDep) -> WhoAmIOut:
    """Which roles a token grants: the dashboard checks a pasted token with it."""
    if principal is None:
        return WhoAmIOut(role="public", roles=[], kind=None)
    role = next((r.value for r in (Role.ADMIN, Role.ENGINEER) if principal.has(r)), "public")
    return WhoAmIOut(role=role, roles=sorted(r.value for r in principal.roles),
                     kind=principal.kind.value)


@router.get("/api/v1/network", response_model=NetworkOut, tags=["feeds"])
def network(hub: HubDep) -> NetworkOut:
    """The static network for the map: route shapes and stops."""
    sch = hub.schedule
    if sch is None:
        return NetworkOut(routes=[], stops=[])
    shapes_of: dict[str, set[str]] = {}
    for trip in sch.trips.values():
        if trip.shape_id:
            shapes_of.setdefault(trip.route_id, set()).add(trip.shape_id)
    routes = [{"route_id": r.route_id, "short_name": r.short_name, "color": r.color,
               "shapes": [list(map(list, sch.shapes[s])) for s in sorted(shapes_of.get(
                   r.route_id, ())) if s in sch.shapes]}
              for r in sorted(sch.routes.values(), key=lambda r: r.route_id)]
    stops = [{"stop_id": s.stop_id, "name": s.name, "lat": s.lat, "lon": s.lon}
             for s in sorted(sch.stops.values(), key=lambda s: s.stop_id)]
    return NetworkOut(routes=routes, stops=stops)


@router.get("/api/v1/ingest", tags=["operations"])
def ingest_stats(hub: HubDep) -> dict[str, Any]:
    """Ingest counters: received, stored, duplicates, dropped, rejected per topic and reason."""
    return hub.ingest_stats()

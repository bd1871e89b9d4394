"""The passenger app's page (``GET /app/``) with a policy of its own, and what the page is
told about this hub (``GET /api/v1/mobility/app-config``).

WHY a route for the page when its files are static (``/app/`` is the service's ``pages``
folder): the hub's default page policy (:data:`edge_agent.http_headers.PAGE_CSP`) names no
``manifest-src`` and no tile server, so under it the browser would refuse the app's web
manifest (no installing it on a phone) and, where the city configures a tile server
(``mobility.tile_url``), every tile. The page gets the default policy plus exactly these two,
as the dashboard's page does for its tiles (:mod:`central_hub.api.routes.dashboard`); every
other file of the app is served as it is. The settings reach the page as JSON, because the
policy allows no inline script.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from central_hub.mobility.settings import MobilitySettings

#: the app's page (the rest of the folder is served by the hub as static files)
INDEX = Path(__file__).parent / "web" / "index.html"


class AppConfigOut(BaseModel):
    """What the app needs to know before it draws: the tile source (``null``: none, the map
    draws the network of ``GET /api/v1/mobility/network``), whether this hub sells
    tickets (without fares or a payment provider the booking routes answer 503) and whether
    it knows shared bikes (without an operator a journey with them answers 422): the app
    offers only what works."""

    tile_url: str | None = Field(description="an XYZ template ({z}, {x}, {y}; {s})")
    tile_attribution: str
    tickets: bool
    bike_sharing: bool


def app_config(settings: MobilitySettings, *, tickets: bool) -> AppConfigOut:
    """The body of ``GET /api/v1/mobility/app-config``."""
    return AppConfigOut(tile_url=settings.tile_url, tile_attribution=settings.tile_attribution,
                        tickets=tickets, bike_sharing=bool(settings.sharing_operators))


def content_security_policy(tile_url: str | None) -> str:
    """The page's policy: the hub's default (everything from the hub, nothing inline) plus
    its web manifest and service worker, and images from the tile server when one is
    configured (``{s}`` subdomains as ``*.``)."""
    img = "'self' data:"
    if tile_url:
        parts = urlsplit(tile_url)
        img += f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    return ("default-src 'none'; script-src 'self'; style-src 'self'; "
            f"img-src {img}; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
            "worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def create_app_page_router() -> APIRouter:
    """``GET /app/``: the app's page with :func:`content_security_policy`."""
    router = APIRouter(tags=["mobility"])

    @router.get("/app/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        """The passenger app (a single page; its files, web manifest and service worker are
        under ``/app/``)."""
        settings: MobilitySettings = request.app.state.mobility.settings
        # revalidated each time, so a service worker's copy follows a new release
        return HTMLResponse(INDEX.read_text("utf-8"), headers={
            "Content-Security-Policy": content_security_policy(settings.tile_url),
            "Cache-Control": "no-cache"})

    return router

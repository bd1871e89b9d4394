"""``GET /docs`` (Swagger UI) and ``GET /redoc`` with every file served by the hub itself.

WHY: FastAPI's default pages load Swagger UI and ReDoc from a CDN, so on a hub without internet
(a city's operations network) both pages were blank, and in production every visit told the CDN
who reads the hub's API. The Swagger UI and ReDoc files come from the ``fastapi-offline``
package (a pinned, hashed dependency that ships their distribution files) and are served
under ``/docs-assets/``; the pages are our own, start Swagger UI from a script file instead of
an inline script, and carry a Content-Security-Policy that lets nothing load from elsewhere
(ReDoc's side menu would otherwise fetch the Redocly logo from its CDN). The other security
headers come from :class:`edge_agent.http_headers.SecurityHeaders`, like every answer's.
"""

from __future__ import annotations

from html import escape
from importlib import resources

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
#: nothing from elsewhere; styles inline because both UIs inject their own style elements.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

router = APIRouter(include_in_schema=False)


def _page(title: str, head: str, body: str, csp: str | None = CSP) -> HTMLResponse:
    """A page of ours; ``csp=None``: the strict default policy of every page
    (:data:`edge_agent.http_headers.PAGE_CSP`)."""
    return HTMLResponse(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title>"
        f"<link rel=\"icon\" href=\"{ASSETS}/favicon.png\">{head}</head>{body}</html>",
        headers={"Content-Security-Policy": csp} if csp else None)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the hub's own OpenAPI document."""
    app: FastAPI = request.app
    spec = escape(app.openapi_url or "/openapi.json")
    return _page(
        f"{app.title} — API", f"<link rel=\"stylesheet\" href=\"{ASSETS}/swagger-ui.css\">",
        f"<body data-openapi=\"{spec}\"><div id=\"swagger-ui\"></div>"
        f"<script src=\"{ASSETS}/swagger-ui-bundle.js\"></script>"
        "<script src=\"/static/api-docs.js\"></script></body>")


@router.get("/docs/oauth2-redirect")
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page, its script from a file (FastAPI's is inline)."""
    return _page("Swagger UI: OAuth2 Redirect", "",
                 "<body><script src=\"/static/swagger-oauth2-redirect.js\"></script></body>",
                 csp=None)


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the hub's own OpenAPI document, without web fonts or images from elsewhere."""
    app: FastAPI = request.app
    spec = escape(app.openapi_url or "/openapi.json")
    return _page(
        f"{app.title} — API", "",
        f"<body><redoc spec-url=\"{spec}\"></redoc>"
        f"<script src=\"{ASSETS}/redoc.standalone.js\"></script></body>")


def mount_assets(app: FastAPI) -> None:
    """Serve the Swagger UI and ReDoc files of the pinned ``fastapi-offline`` package."""
    static = resources.files("fastapi_offline").joinpath("static")
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")

"""The captive portal: a German/English terms page, ``POST /accept``, the RFC 8908 API and
the answers operating systems expect from their connectivity probes.

Why these endpoints: phones decide by themselves whether a network is captive. Android asks
for ``/generate_204``, Apple for ``/hotspot-detect.html``, Windows for ``/connecttest.txt``;
the firewall redirects those (like every HTTP request of a client that has not accepted the
terms) to this app, which answers with a redirect to the terms page — so the phone opens the
portal on its own. Once admitted, the same paths answer the way the OS expects and the phone
shows "connected". RFC 8910 (DHCP option 114, set by dnsmasq) points phones that support it
straight at ``/api/captive`` (RFC 8908), which tells them whether they are captive and for how
long the session lasts.

The page is one small HTML document and one style sheet (``/portal.css``), readable on a phone
without JavaScript. Every answer carries the security headers of
:class:`edge_agent.http_headers.SecurityHeaders` with :data:`CSP`: no script at all, no inline
style, not framed, the form posted only to the portal itself. ``POST /accept`` is rate-limited
per passenger address (``wlan.accept_burst``, ``wlan.accept_per_minute``): 429 with
``Retry-After`` (:mod:`edge_agent.http_ratelimit`), so no passenger can keep the gateway busy
rewriting its firewall and shaper.

Every request body is limited to :data:`BODY_LIMIT` (the terms form is two hidden fields) by
:class:`edge_agent.http_limits.BodyLimit`: a larger one is refused with 413 before it is read,
so a passenger cannot fill the gateway's memory — the process that also runs MQTT, SREM and
GPS.
"""

from __future__ import annotations

import html
from typing import Literal
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from bus_gateway.errors import PortalError
from bus_gateway.wlan import WlanGateway
from edge_agent.http_headers import SecurityHeaders
from edge_agent.http_limits import BodyLimit
from edge_agent.http_ratelimit import RateLimit, RouteRule
from edge_agent.ratelimit import RateLimiter

Lang = Literal["de", "en"]

#: the largest request body the portal reads: the form's language and the page to go back to.
BODY_LIMIT = 8 * 1024
#: the portal's pages: a style sheet from the portal, nothing else; no script at all.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
#: where the pages' style sheet is served.
CSS_PATH = "/portal.css"
#: passengers' addresses each limiter remembers (a bus carries at most a few hundred).
MAX_CLIENTS = 4096

TEXTS: dict[Lang, dict[str, str]] = {
    "de": {
        "title": "Kostenloses WLAN im Bus",
        "intro": "Willkommen an Bord! Das WLAN ist kostenlos. Bitte lesen und akzeptieren Sie "
        "die Nutzungsbedingungen.",
        "terms": "Die Nutzung ist kostenlos und auf {hours} Stunden je Sitzung begrenzt. Jedes "
        "Gerät erhält höchstens {kbps} kbit/s. Verboten sind rechtswidrige Inhalte und "
        "Angriffe auf andere Geräte; Geräte im WLAN können einander nicht erreichen. Wir "
        "speichern keine Verlaufsdaten. Zur Zählung der Fahrgäste werden Gerätekennungen nur "
        "an Bord, gehasht mit einem täglich wechselnden Schlüssel, verarbeitet und nie "
        "übertragen.",
        "accept": "Akzeptieren und lossurfen",
        "online": "Sie sind online.",
        "remaining": "Verbleibende Zeit dieser Sitzung: {minutes} Minuten.",
        "continue": "Weiter zu Ihrer Seite",
        "other": "English",
        "error": "Das hat nicht geklappt",
        "learning": "Schon vor dem Akzeptieren frei: die Digitale Lernhilfe, Übungen für die "
        "Schule nach Klassenstufe und Fach.",
        "learning_link": "Zur Digitalen Lernhilfe",
        "app": "Auch ohne Akzeptieren: Verbindungen, Abfahrten in Echtzeit, wo Ihr Bus gerade "
        "ist, und Ihre gekauften Fahrscheine.",
        "app_link": "Zur Fahrgast-App",
    },
    "en": {
        "title": "Free WLAN on the bus",
        "intro": "Welcome on board! The WLAN is free of charge. Please read and accept the "
        "terms of use.",
        "terms": "Use is free and limited to {hours} hours per session. Each device gets at "
        "most {kbps} kbit/s. Unlawful content and attacks on other devices are forbidden; "
        "devices on this WLAN cannot reach each other. We keep no browsing history. To count "
        "passengers, device identifiers are processed on board only, hashed with a key that "
        "changes daily, and never transmitted.",
        "accept": "Accept and go online",
        "online": "You are online.",
        "remaining": "Time left in this session: {minutes} minutes.",
        "continue": "Continue to your page",
        "other": "Deutsch",
        "error": "That did not work",
        "learning": "Free even before you accept: the Digitale Lernhilfe, school exercises by "
        "grade and subject (in German).",
        "learning_link": "Open the Digitale Lernhilfe",
        "app": "Also without accepting: journeys, real-time departures, where your bus is, and "
        "the tickets you bought.",
        "app_link": "Open the passenger app",
    },
}

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:36rem;"
    "margin-inline:auto;line-height:1.5;color:#1a1a1a;background:#fafafa}"
    "h1{font-size:1.5rem;color:#00549f}p{font-size:1.05rem}"
    "button,.button{display:block;width:100%;padding:1rem;font-size:1.15rem;border:0;"
    "border-radius:.5rem;background:#00549f;color:#fff;text-align:center;text-decoration:none}"
    ".alt{background:#fff;color:#00549f;border:2px solid #00549f}"
    ".lang{float:right}.terms{background:#fff;border:1px solid #ccc;padding:.75rem;"
    "border-radius:.5rem;font-size:.95rem}"
)

#: paths the big operating systems probe, and what they expect once online.
_PROBES: dict[str, tuple[int, str, str]] = {
    "/generate_204": (204, "", "text/plain"),
    "/gen_204": (204, "", "text/plain"),
    "/hotspot-detect.html": (
        200,
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
        "text/html",
    ),
    "/library/test/success.html": (
        200,
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
        "text/html",
    ),
    "/connecttest.txt": (200, "Microsoft Connect Test", "text/plain"),
    "/ncsi.txt": (200, "Microsoft NCSI", "text/plain"),
}


def _lang(request: Request, explicit: str | None) -> Lang:
    if explicit in ("de", "en"):
        return "en" if explicit == "en" else "de"
    accept = request.headers.get("accept-language", "").lower()
    first = accept.split(",")[0].strip()
    return "en" if first.startswith("en") else "de"


def _page(lang: Lang, title: str, body: str) -> str:
    other: Lang = "en" if lang == "de" else "de"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="{CSS_PATH}"></head>'
        "<body>"
        f'<a class="lang" href="/?lang={other}">{TEXTS[lang]["other"]}</a>'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def create_portal_app(wlan: WlanGateway) -> FastAPI:
    """The portal for one :class:`WlanGateway` (no globals: built per gateway)."""
    app = FastAPI(title="Kassel bus WLAN portal", docs_url=None, redoc_url=None,
                  openapi_url=None)
    accepts = RateLimiter(burst=wlan.config.accept_burst,
                          period_s=60.0 / wlan.config.accept_per_minute, max_clients=MAX_CLIENTS)
    # outermost last: headers on every answer, the body limit, then the rate limit
    app.add_middleware(RateLimit, routes=RouteRule.templates("POST", ["/accept"], accepts))
    app.add_middleware(BodyLimit, default=BODY_LIMIT)
    app.add_middleware(SecurityHeaders, page_csp=CSP)
    gw = str(wlan.gateway.ip)
    port = wlan.config.portal_port
    own_hosts = {gw, f"{gw}:{port}"}

    def client_ip(request: Request) -> str:
        return request.client.host if request.client is not None else ""

    def to_portal(request: Request) -> RedirectResponse:
        target = wlan.portal_url
        original = str(request.url)
        if request.headers.get("host", "") not in own_hosts:
            target += f"?next={quote(original, safe='')}"
        return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})

    @app.get(CSS_PATH)
    async def style_sheet() -> Response:
        return Response(_CSS, media_type="text/css",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/", response_class=HTMLResponse)
    async def terms(request: Request, lang: str | None = None, next: str | None = None) -> Response:
        if request.headers.get("host", gw) not in own_hosts:
            return to_portal(request)
        lg = _lang(request, lang)
        t = TEXTS[lg]
        status = wlan.status(client_ip(request))
        if status.admitted:
            return HTMLResponse(_online(lg, status.seconds_remaining, next))
        hours = round(wlan.config.session_timeout_min / 60, 1)
        terms_text = t["terms"].format(hours=f"{hours:g}", kbps=wlan.config.per_client_kbps)
        hidden = f'<input type="hidden" name="next" value="{html.escape(next)}">' if next else ""
        body = (
            f"<p>{t['intro']}</p><div class=\"terms\"><p>{html.escape(terms_text)}</p></div>"
            f'<form method="post" action="/accept"><input type="hidden" name="lang" '
            f'value="{lg}">{hidden}<p><button type="submit" name="accept" value="yes">'
            f"{t['accept']}</button></p></form>"
        )
        if wlan.config.learning_url:  # in the walled garden: reachable before accepting
            body += (f"<p>{t['learning']}</p><p><a class=\"button alt\" "
                     f'href="{html.escape(wlan.config.learning_url)}">{t["learning_link"]}</a></p>')
        if wlan.config.app_url:  # in the walled garden too: the passenger app
            body += (f"<p>{t['app']}</p><p><a class=\"button alt\" "
                     f'href="{html.escape(wlan.config.app_url)}">{t["app_link"]}</a></p>')
        return HTMLResponse(_page(lg, t["title"], body), headers={"Cache-Control": "no-store"})

    def _online(lg: Lang, seconds: int | None, next_url: str | None) -> str:
        t = TEXTS[lg]
        body = f"<p><strong>{t['online']}</strong></p>"
        if seconds is not None:
            body += f"<p>{t['remaining'].format(minutes=seconds // 60)}</p>"
        if next_url and next_url.startswith(("http://", "https://")):
            body += f'<p><a class="button" href="{html.escape(next_url)}">{t["continue"]}</a></p>'
        return _page(lg, t["title"], body)

    @app.post("/accept")
    async def accept(request: Request) -> Response:
        # the form is two hidden fields: parsed here instead of pulling in python-multipart
        # (at most BODY_LIMIT bytes get this far)
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        lang = form.get("lang", [None])[0]
        next = form.get("next", [None])[0]
        lg = _lang(request, lang)
        wants_json = "application/json" in request.headers.get("accept", "")
        try:
            session = await wlan.accept(client_ip(request))
        except PortalError as exc:
            if wants_json:
                return JSONResponse({"admitted": False, "error": str(exc)}, exc.status)
            page = _page(lg, TEXTS[lg]["error"], f"<p>{html.escape(str(exc))}</p>")
            return HTMLResponse(page, exc.status)
        remaining = wlan.status(session.ip).seconds_remaining
        if wants_json:
            return JSONResponse({"admitted": True, "seconds_remaining": remaining})
        return HTMLResponse(_online(lg, remaining, next), headers={"Cache-Control": "no-store"})

    @app.get("/api/captive")
    async def captive_api(request: Request) -> Response:
        status = wlan.status(client_ip(request))
        body: dict[str, object] = {
            "captive": not status.admitted,
            "user-portal-url": wlan.portal_url,
        }
        if status.admitted and status.seconds_remaining is not None:
            body["seconds-remaining"] = status.seconds_remaining
            body["can-extend-session"] = False
        return JSONResponse(
            body,
            media_type="application/captive+json",
            headers={"Cache-Control": "private, no-store"},
        )

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"])
    async def anything(request: Request, path: str) -> Response:
        probe = _PROBES.get("/" + path)
        if probe is not None and wlan.status(client_ip(request)).admitted:
            code, text, media = probe
            return Response(text if code != 204 else None, code, media_type=media)
        if probe is not None or request.headers.get("host", "") not in own_hosts:
            return to_portal(request)
        return PlainTextResponse("not found", 404)

    return app

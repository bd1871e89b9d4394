"""Security headers on every answer of an ASGI app: the one place each header rule lives.

WHY one middleware, shared by the hub and the bus gateway's captive portal: a header set by
each page is a header forgotten by the next page (and by error pages, 404s, 413s and 429s,
which no handler writes). Every answer gets:

* ``X-Content-Type-Options: nosniff`` — a browser never runs a JSON or text answer as script;
* ``Referrer-Policy: no-referrer`` — the hub's URLs (child ids, intersection ids) and the
  portal's (the page a passenger wanted) never leave in a ``Referer``;
* ``X-Frame-Options: DENY`` — for browsers that predate ``frame-ancestors``;
* on an HTML answer, a ``Content-Security-Policy``: :data:`PAGE_CSP` unless the page sets a
  policy of its own (the dashboard names its tile server, the API docs allow the styles their
  libraries inject); ``frame-ancestors 'none'`` is added to a page's policy that lacks it, so
  no page of ours can be framed (clickjacking);
* ``Strict-Transport-Security`` only when the request came over TLS: ``scope["scheme"]`` is
  ``https``. Behind a TLS-terminating proxy that is true only when the server believed the
  proxy's ``X-Forwarded-Proto`` — uvicorn does so only for a peer in its
  ``forwarded_allow_ips`` (``FORWARDED_ALLOW_IPS``, default ``127.0.0.1``). HSTS over plain
  HTTP is ignored by browsers, and a forged ``X-Forwarded-Proto`` from anyone else must not
  switch it on (``docs/security.md``, *Web surfaces*).

A header the application already set is left as it is. Pure ASGI: no web framework.
"""

from __future__ import annotations

from collections.abc import Iterable

from edge_agent.http_limits import ASGIApp, Message, Receive, Scope, Send

#: the policy of an HTML page that states none: everything from the server itself, no inline
#: script or style, no plugins, not framed, forms only to the server itself.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
#: one year: the value the HSTS preload list asks for; no ``includeSubDomains`` (a city's
#: other hosts are not ours to decide for).
HSTS = "max-age=31536000"

_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_CSP = b"content-security-policy"


def _with_frame_ancestors(policy: bytes) -> bytes:
    if b"frame-ancestors" in policy:
        return policy
    return policy.rstrip(b"; ") + b"; frame-ancestors 'none'"


def secure_headers(headers: Iterable[tuple[bytes, bytes]], *, tls: bool,
                   page_csp: str = PAGE_CSP, hsts: str = HSTS) -> list[tuple[bytes, bytes]]:
    """An answer's headers with the security headers added (see the module docstring)."""
    out = list(headers)
    names = {name.lower() for name, _ in out}
    out.extend((name, value) for name, value in _ALWAYS if name not in names)
    html = any(name.lower() == b"content-type" and value.lower().startswith(b"text/html")
               for name, value in out)
    if html:
        if _CSP in names:
            out = [(n, _with_frame_ancestors(v) if n.lower() == _CSP else v) for n, v in out]
        else:
            out.append((_CSP, page_csp.encode()))
    if tls and b"strict-transport-security" not in names:
        out.append((b"strict-transport-security", hsts.encode()))
    return out


class SecurityHeaders:
    """ASGI middleware adding :func:`secure_headers` to every HTTP answer."""

    def __init__(self, app: ASGIApp, *, page_csp: str = PAGE_CSP, hsts: str = HSTS) -> None:
        self.app = app
        self.page_csp = page_csp
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secure_headers(
                    message.get("headers", ()), tls=tls, page_csp=self.page_csp,
                    hsts=self.hsts)}
            await send(message)

        await self.app(scope, receive, send_secured)

"""Rate limits for an ASGI app: a clear 429 with ``Retry-After`` and a JSON body, per client.

WHY a middleware of our own, shared by the hub and the bus gateway's captive portal: the
limits belong to the HTTP surface, not to any one handler or identity scheme. Two kinds of
rule:

* :class:`RouteRule` — every request to the matching routes uses one request of the client's
  bucket (the portal's ``POST /accept``, a Kita family's application writes);
* :class:`FailureRule` — every *answer* with a matching status (401) uses one; a client whose
  bucket is empty is refused every request until it refills. It watches the status the
  application answered with, so it works whatever the identity code becomes (static tokens,
  family tokens, OIDC bearer JWTs, a login form): a client that keeps presenting bad
  credentials is slowed down, and one that presents good ones is never counted.

A refusal is ``429 Too Many Requests`` with ``Retry-After`` (whole seconds, at least 1) and
``{"detail": "..."}``, the shape of every other error of the hub. The application does not
run, and the request body is not read (place :class:`~edge_agent.http_limits.BodyLimit`
outside this middleware: it closes a connection whose body was left unread).

The client is ``scope["client"]``: the address the server reports (see
:mod:`edge_agent.ratelimit` for proxies). Nothing is logged. Pure ASGI: no web framework.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge_agent.http_limits import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    method_set,
    path_pattern,
    route_path,
)
from edge_agent.ratelimit import RateLimiter, retry_after

#: requests whose client the server does not know share this one bucket.
UNKNOWN_CLIENT = "unknown"


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Each request with one of ``methods`` to a path matching ``path`` uses one request."""

    methods: frozenset[str]
    path: re.Pattern[str]
    limiter: RateLimiter

    @classmethod
    def templates(cls, methods: str | Iterable[str], templates: Iterable[str],
                  limiter: RateLimiter) -> list[RouteRule]:
        """One rule per route template (``{name}``: one segment), all on the same limiter."""
        return [cls(method_set(methods), path_pattern(t), limiter) for t in templates]

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path falls under this rule."""
        return method in self.methods and self.path.fullmatch(path) is not None


@dataclass(frozen=True, slots=True)
class FailureRule:
    """Each answer with one of ``statuses`` uses one request of the client's bucket; while it
    is empty, the client is refused every request."""

    statuses: frozenset[int]
    limiter: RateLimiter


def client_address(scope: Scope) -> str:
    """The address the server reports for this connection."""
    client = scope.get("client")
    return str(client[0]) if client else UNKNOWN_CLIENT


def too_many_requests(seconds: float) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a 429 after which the client may retry in ``seconds``."""
    wait = retry_after(seconds)
    body = json.dumps({"detail": f"too many requests; try again in {wait} s"}).encode()
    return [(b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(wait).encode()),
            (b"cache-control", b"no-store")], body


class RateLimit:
    """ASGI middleware: 429 with ``Retry-After`` for a client over one of its rules."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[RouteRule] = (),
                 failures: Sequence[FailureRule] = ()) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.failures = tuple(failures)

    def _wait(self, scope: Scope, address: str) -> float:
        """Seconds until this request would be allowed (0.0: now); uses a request of a
        matching route rule."""
        wait = max((rule.limiter.wait(address) for rule in self.failures), default=0.0)
        if wait > 0:
            return wait
        path = route_path(scope)
        for rule in self.routes:
            if rule.matches(scope["method"], path):
                return rule.limiter.take(address)
        return 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        wait = self._wait(scope, address)
        if wait > 0:
            headers, body = too_many_requests(wait)
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if not self.failures:
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                for rule in self.failures:
                    if message["status"] in rule.statuses:
                        rule.limiter.take(address)
            await send(message)

        await self.app(scope, receive, counting_send)

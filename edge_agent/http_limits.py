"""A request-body limit for every HTTP route of an ASGI app, enforced as the bytes arrive.

Used by the hub and by the bus gateway's captive portal (issue 13: a 600 MB body to the
portal took the gateway from 64 MB to 1.24 GB, a 300 MB body took the hub to 962 MB, each
before it answered 401/403).

WHY a middleware of our own: uvicorn has no body limit (``h11_max_incomplete_event_size``
bounds the request head only). Starlette's ``RequestBodyLimitMiddleware``, behind FastAPI's
``max_body_size``, checks a ``Content-Length`` only when the endpoint first reads the body or
starts its answer — an endpoint that ignores its body still runs (a family gets registered
with a terabyte announced) — and it keeps the connection open after its 413, so the server
goes on reading and discarding whatever the client sends, for as long as it sends. This
middleware sits in front of routing and settles each request before the application runs:

* a ``Content-Length`` above the route's limit is answered 413 at once: nothing is read and
  no ``100 Continue`` is sent, so a polite client does not even send the body;
* otherwise the body is counted as the server hands it over, chunk by chunk (chunked or
  not); the read that crosses the limit raises :class:`BodyTooLargeError` inside the
  application, and the middleware answers 413 in its place, whatever the application made of
  the error;
* any answer given before the request body was read to its end — that 413, or an early
  401/403/404 of an endpoint that never reads its body — carries ``Connection: close``: once
  the answer is out, at most :data:`LINGER_BYTES` more are read and thrown away (so that a
  client that sent a little too much reads the answer rather than a connection reset), then
  the server closes the connection instead of reading the rest.

Memory per request is bounded by the limit plus the server's read buffer (uvicorn pauses
reading at 64 KiB), whatever the client sends. Limits are per route: a small default for the
whole application and larger ones for the few routes that need them, matched on method and
path before routing (:class:`RouteLimit`).

Pure ASGI, no web framework imported: a controller's Pi installs no FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge_agent.errors import KasselError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: after an answer to a request whose body is still coming, the server reads (and discards)
#: at most this much more of it, for at most this long, before it closes the connection: a
#: client that sent a little too much then reads the answer instead of a connection reset
#: (closing a socket with unread data resets it); a flood is cut off there.
LINGER_BYTES = 1 << 20
LINGER_S = 1.0

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")



def route_path(scope: Scope) -> str:
    """The request's path as the routes see it: without the app's root path."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path

class BodyTooLargeError(KasselError):
    """Raised inside the application by the read that takes the body over its route's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """A body limit for the requests of some methods whose path matches ``path`` in full."""

    methods: frozenset[str]
    path: re.Pattern[str]
    limit: int

    @classmethod
    def template(cls, methods: str | Iterable[str], template: str, limit: int) -> RouteLimit:
        """From a route template such as ``/api/v1/devices/{device_id}/commands``.

        ``{name}`` matches one path segment, ``{name:path}`` the rest of the path.
        """
        return cls(method_set(methods), path_pattern(template), limit)

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path falls under this limit."""
        return method in self.methods and self.path.fullmatch(path) is not None


def path_pattern(template: str) -> re.Pattern[str]:
    """A route template such as ``/api/v1/devices/{device_id}`` as a pattern for ``fullmatch``.

    ``{name}`` matches one path segment, ``{name:path}`` the rest of the path. Shared with
    :mod:`edge_agent.ratelimit`, whose rules name routes the same way.
    """
    pattern, at = [], 0
    for param in _PARAM.finditer(template):
        pattern.append(re.escape(template[at:param.start()]))
        pattern.append(".*" if param.group(2) else "[^/]+")
        at = param.end()
    pattern.append(re.escape(template[at:]))
    return re.compile("".join(pattern))


def method_set(methods: str | Iterable[str]) -> frozenset[str]:
    """One method or several, upper-cased."""
    names = {methods} if isinstance(methods, str) else set(methods)
    return frozenset(m.upper() for m in names)


def _framing(headers: Iterable[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """(``Content-Length`` if given and valid, whether the body is chunked)."""
    length: int | None = None
    chunked = False
    for name, value in headers:
        key = name.lower()
        if key == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None  # the server refuses such a request before it gets here
        elif key == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    return length, chunked


class _Exchange:
    """One request under a limit: counts what the application reads, guards what it sends."""

    def __init__(self, limit: int, *, expects_body: bool, receive: Receive, send: Send) -> None:
        self.limit = limit
        self.received = 0
        self.body_done = not expects_body
        self.over = False
        self.started = False
        self._refusing = False
        self._receive = receive
        self._send = send

    async def receive(self) -> Message:
        """The application's ``receive``: counts body bytes, raises past the limit."""
        if self.over:
            raise BodyTooLargeError(self.limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.over = True
                raise BodyTooLargeError(self.limit)
            if not message.get("more_body", False):
                self.body_done = True
        elif message["type"] == "http.disconnect":
            self.body_done = True
        return message

    async def send(self, message: Message) -> None:
        """The application's ``send``: its answer to a refused request is dropped."""
        if self.over and not self.started and not self._refusing:
            return  # ours goes out instead
        if message["type"] == "http.response.start":
            self.started = True
            if not self.body_done:  # the rest of the body is not wanted: do not read it
                message = {**message,
                           "headers": [*message.get("headers", ()), (b"connection", b"close")]}
        elif (message["type"] == "http.response.body" and not message.get("more_body", False)
              and not self.body_done):
            # the answer is out; read a little more before the server closes (see LINGER_*)
            await self._send({**message, "more_body": True})
            await self._linger()
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await self._send(message)

    async def refuse(self) -> None:
        """Answer 413 (with ``Connection: close`` while body bytes may still come)."""
        self._refusing = True
        body = json.dumps({"detail": f"request body larger than {self.limit} bytes"}).encode()
        await self.send({
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        })
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    async def _linger(self) -> None:
        """Read and discard the body for at most ``LINGER_BYTES`` / ``LINGER_S``."""
        drained = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LINGER_S):
                while not self.body_done and drained <= LINGER_BYTES:
                    message = await self._receive()
                    if message["type"] != "http.request" or not message.get("more_body"):
                        self.body_done = True
                    drained += len(message.get("body", b""))


class BodyLimit:
    """ASGI middleware: 413 for a request body over its route's limit, before it is read.

    ``default`` applies to every HTTP route; the first of ``routes`` that matches a request
    overrides it. WebSocket and lifespan traffic pass through untouched.
    """

    def __init__(self, app: ASGIApp, *, default: int, routes: Sequence[RouteLimit] = ()) -> None:
        if default < 0 or any(r.limit < 0 for r in routes):
            raise ValueError("body limits must not be negative")
        self.app = app
        self.default = default
        self.routes = tuple(routes)

    def limit_for(self, method: str, path: str) -> int:
        """The body limit of a request with this method and path (without the root path)."""
        for route in self.routes:
            if route.matches(method, path):
                return route.limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        limit = self.limit_for(scope["method"], path)
        length, chunked = _framing(scope.get("headers", ()))
        exchange = _Exchange(limit, expects_body=chunked or bool(length), receive=receive,
                             send=send)
        if length is not None and length > limit:
            await exchange.refuse()  # the application never runs
            return
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            if not exchange.over or exchange.started:
                raise
        if exchange.over and not exchange.started:
            await exchange.refuse()

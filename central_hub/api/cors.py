"""CORS for the hub's public read-only feeds, and for nothing else.

WHY: the mobility app and third parties' web pages read the public feeds (GTFS-Realtime, live
SPaT, vehicles, the network, and whatever joins the ``feeds`` tag: the open-data and learning
catalogues) from their own origins, so those answer ``Access-Control-Allow-Origin: *`` to
``GET`` and ``HEAD`` and to a preflight for them. Nothing else does: a page elsewhere must not
be able to read or drive an operation, a Kita application or an admin route with a token its
user happens to hold. ``*`` without credentials: a browser then sends no cookies or
``Authorization`` of its own accord, and the feeds need none.

Which operations are feeds is read from the app's OpenAPI document, where clients read it
too: every ``GET`` operation tagged :data:`FEED_TAG`. A preflight to any other route gets no
CORS header at all (the app answers it as it answers any ``OPTIONS``, 405), so the browser
refuses the real request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi import FastAPI

from edge_agent.http_limits import ASGIApp, Message, Receive, Scope, Send, path_pattern, route_path

#: the OpenAPI tag of a public read-only feed; its ``GET`` operations are open to every origin.
FEED_TAG = "feeds"
#: what a cross-origin page may do with a feed.
ALLOW_METHODS = b"GET, HEAD, OPTIONS"
#: request headers a cross-origin reader may send (beyond the CORS-safelisted ones).
ALLOW_HEADERS = b"Accept, Accept-Language, If-None-Match, If-Modified-Since"
#: response headers a cross-origin reader may see (beyond the CORS-safelisted ones).
EXPOSE_HEADERS = b"ETag, Retry-After"
#: how long a browser may cache a preflight's answer, in seconds.
MAX_AGE = b"86400"


def feed_paths(app: FastAPI) -> list[re.Pattern[str]]:
    """The paths of the app's public feeds: every ``GET`` operation tagged ``feeds``."""
    return [path_pattern(path) for path, operations in app.openapi()["paths"].items()
            if FEED_TAG in operations.get("get", {}).get("tags", ())]


class PublicFeedCors:
    """ASGI middleware: ``Access-Control-Allow-Origin: *`` on the public feeds only."""

    def __init__(self, app: ASGIApp, *, feeds: Sequence[re.Pattern[str]]) -> None:
        self.app = app
        self.feeds = tuple(feeds)

    def is_feed(self, path: str) -> bool:
        """Whether ``path`` (without the root path) is a public feed's."""
        return any(feed.fullmatch(path) for feed in self.feeds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        method: str = scope["method"]
        if not self.is_feed(path) or method not in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        if method == "OPTIONS":
            if b"access-control-request-method" not in headers:
                await self.app(scope, receive, send)  # not a preflight
                return
            await send({"type": "http.response.start", "status": 204, "headers": [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-allow-methods", ALLOW_METHODS),
                (b"access-control-allow-headers", ALLOW_HEADERS),
                (b"access-control-max-age", MAX_AGE),
            ]})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return

        async def send_open(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [
                    *message.get("headers", ()),
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-expose-headers", EXPOSE_HEADERS),
                ]}
            await send(message)

        await self.app(scope, receive, send_open)

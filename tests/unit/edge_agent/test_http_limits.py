"""The body-limit middleware's decisions, driven as plain ASGI (no server, no sockets).

The attack itself, against real processes over sockets, is in ``tests/hostile``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from edge_agent.http_limits import LINGER_BYTES, BodyLimit, RouteLimit

Message = dict[str, Any]


class Peer:
    """The server side of one request: body messages to hand out, what was sent back."""

    def __init__(self, chunks: Sequence[bytes], *, endless: bool = False) -> None:
        self.chunks = list(chunks)
        self.endless = endless
        self.handed = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.endless:
            self.handed += 4096
            return {"type": "http.request", "body": b"x" * 4096, "more_body": True}
        body = self.chunks.pop(0)
        self.handed += len(body)
        return {"type": "http.request", "body": body, "more_body": bool(self.chunks)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0].get("headers", []))

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def scope(path: str = "/x", *, method: str = "POST", length: int | None = None,
          chunked: bool = False) -> Message:
    headers = []
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    if chunked:
        headers.append((b"transfer-encoding", b"chunked"))
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": headers}


class App:
    """Reads the whole body (or not) and answers 200 with its size, or 400 on a read error."""

    def __init__(self, *, reads: bool = True) -> None:
        self.reads = reads
        self.called = False

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        self.called = True
        size = 0
        if self.reads:
            try:
                more = True
                while more:
                    message = await receive()
                    size += len(message.get("body", b""))
                    more = message.get("more_body", False)
            except Exception:  # what a framework does with a failed read
                await send({"type": "http.response.start", "status": 400, "headers": []})
                await send({"type": "http.response.body", "body": b"bad body"})
                return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


def run(app: App, peer: Peer, request: Message, **limits: Any) -> None:
    asyncio.run(BodyLimit(app, **{"default": 100, **limits})(request, peer.receive, peer.send))


def test_a_content_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    app, peer = App(), Peer([b"x" * 200])
    run(app, peer, scope(length=10**12))
    assert (peer.status, app.called) == (413, False)
    assert peer.headers[b"connection"] == b"close"
    assert json.loads(peer.body) == {"detail": "request body larger than 100 bytes"}


def test_a_chunked_body_is_counted_and_the_apps_own_answer_replaced() -> None:
    app, peer = App(), Peer([b"x" * 60, b"x" * 60, b"x" * 60])
    run(app, peer, scope(chunked=True))
    assert peer.status == 413 and b"bad body" not in peer.body
    assert peer.handed == 180  # the two chunks read, then the rest drained: no reset


def test_an_endless_body_is_drained_only_a_little_after_the_answer() -> None:
    app, peer = App(reads=False), Peer([], endless=True)
    run(app, peer, scope(chunked=True))
    assert peer.status == 200 and peer.headers[b"connection"] == b"close"
    assert LINGER_BYTES <= peer.handed <= LINGER_BYTES + 8192


def test_within_the_limit_nothing_changes() -> None:
    app, peer = App(), Peer([b"x" * 50, b"x" * 50])
    run(app, peer, scope(length=100))
    assert (peer.status, peer.body, peer.headers) == (200, b"100", {})


def test_routes_override_the_default() -> None:
    commands = RouteLimit.template("POST", "/devices/{device_id}/commands", 1000)
    for path, expected in (("/devices/bus-1/commands", 200), ("/devices/bus-1", 413),
                           ("/devices/a/b/commands", 413)):
        peer = Peer([b"x" * 500])
        run(App(), peer, scope(path, length=500), routes=[commands])
        assert peer.status == expected, path
    peer = Peer([b"x" * 500])
    run(App(), peer, scope("/devices/bus-1/commands", method="PUT", length=500),
        routes=[commands])
    assert peer.status == 413
    assert RouteLimit.template("GET", "/static/{path:path}", 1).matches("GET", "/static/a/b.css")


def test_websockets_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(BodyLimit(app, default=0)({"type": "websocket", "path": "/ws"}, None, None))
    assert seen == ["websocket"]
    with pytest.raises(ValueError, match="negative"):
        BodyLimit(app, default=-1)

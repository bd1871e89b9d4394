"""WebSockets: ``/ws/spat`` and ``/ws/live`` (the
dashboard's coalesced frames).

WHY a reader task beside the sender: a client that goes away must be noticed even when its
intersection is silent, so the subscription (and its queue) is released at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from central_hub.hub import Hub
from central_hub.live.broadcast import Broadcaster, Subscriber
from edge_agent.contract.ids import ID_PATTERN

router = APIRouter(tags=["feeds"])
_ID = re.compile(ID_PATTERN)


async def _pump(ws: WebSocket, sub: Subscriber) -> None:
    while True:
        text = await sub.queue.get()
        await ws.send_text(text)


async def _serve(ws: WebSocket, bus: Broadcaster, key: str | None,
                 first: Callable[[], str] | None = None) -> None:
    await ws.accept()
    # the first message is rendered right where the subscription starts: no frame between
    sub = bus.subscribe(key)
    if first is not None:
        sub.offer(first())
    sender = asyncio.create_task(_pump(ws, sub), name="ws_pump")
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        bus.unsubscribe(sub, key)


@router.websocket("/ws/spat")
async def ws_spat(ws: WebSocket, intersection: str | None = None) -> None:
    """Every SPaT of ``intersection`` (all intersections without it), as received."""
    if intersection is not None and not _ID.match(intersection):
        await ws.close(code=1008, reason="invalid intersection id")
        return
    hub: Hub = ws.app.state.hub
    await _serve(ws, hub.spat, intersection)


@router.websocket("/ws/live")
async def ws_live(ws: WebSocket) -> None:
    """Dashboard frames: a snapshot of everything, then what visibly changed every 250 ms."""
    hub: Hub = ws.app.state.hub
    await _serve(ws, hub.dashboard.clients, None,
                 first=lambda: hub.dashboard.snapshot(int(time.time() * 1000)))

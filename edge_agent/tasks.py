"""Asyncio helpers the agent's parts share: how they start tasks and wait for the first event.

Why a module of its own: the session, the outbox, the inbound dispatcher and the health
reporter each start tasks and wait for "this, or the connection closed"; the agent owns every
task it starts (so :meth:`EdgeAgent.run` can cancel them all on its way out), so its parts
get the agent's spawn function instead of calling :func:`asyncio.ensure_future` themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

#: starts ``coro`` as a task the agent owns, named ``{device id}-{name}``.
Spawn = Callable[[Awaitable[Any], str], "asyncio.Task[Any]"]


async def first(*aws: Awaitable[Any]) -> None:
    """Wait until the first of ``aws`` is done; cancel the others it created."""
    futs = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(futs, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for f, a in zip(futs, aws, strict=True):
            if f is not a and not f.done():
                f.cancel()

"""Fan-out of live messages to WebSocket clients with a bounded queue per client.

WHY per-client bounded queues that drop the oldest: a slow phone on a bad link must not hold
up 299 other clients or grow the hub's memory; for SPaT the newest message supersedes the
old ones anyway, so dropping the oldest is the right loss. Drops are counted per client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Subscriber:
    """One WebSocket client's outbox."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, text: str) -> None:
        """Enqueue without waiting; when full, the oldest message goes."""
        q = self.queue
        if q.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                q.get_nowait()
            self.dropped += 1
        q.put_nowait(text)

    def drain(self) -> Iterator[str]:
        """Everything queued right now, without waiting."""
        q = self.queue
        while not q.empty():
            yield q.get_nowait()


class Broadcaster:
    """Subscribers keyed by an optional filter value (``None``: every message)."""

    def __init__(self, client_queue: int = 2_000) -> None:
        self.client_queue = client_queue
        self._all: set[Subscriber] = set()
        self._by_key: dict[str, set[Subscriber]] = {}

    def subscribe(self, key: str | None = None) -> Subscriber:
        sub = Subscriber(self.client_queue)
        if key is None:
            self._all.add(sub)
        else:
            self._by_key.setdefault(key, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber, key: str | None = None) -> None:
        if key is None:
            self._all.discard(sub)
        else:
            subs = self._by_key.get(key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_key[key]

    @property
    def count(self) -> int:
        return len(self._all) + sum(len(s) for s in self._by_key.values())

    def publish(self, key: str, text: str) -> None:
        """Offer ``text`` to the subscribers of ``key`` and to those of everything."""
        for sub in self._all:
            sub.offer(text)
        subs = self._by_key.get(key)
        if subs:
            for sub in subs:
                sub.offer(text)

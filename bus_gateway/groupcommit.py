"""Group commit: requests that arrive while a transaction runs go into the next one, together.

Why: when a bus stops, ten passengers may press "accept" within the same few milliseconds.
One kernel transaction per passenger, run one after the other, makes the last one wait for
all the others; one transaction for everybody who is waiting costs about as much as one for a
single passenger. The first request of a quiet period is applied at once (no batching delay);
whatever arrives while it runs is applied next, as one batch, in arrival order.

:meth:`GroupCommit.submit` is synchronous: it puts the request in line and returns a future.
A caller that must keep requests in a particular order (the session table and the firewall)
submits under its own lock and awaits the future outside it, so the lock is never held for the
duration of a kernel transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

#: applies a batch in order; one result per item: ``None`` (done) or the item's exception
BatchApply = Callable[[list[T]], Awaitable[Sequence[BaseException | None]]]


class GroupCommit(Generic[T]):
    """Feeds submitted items to ``apply`` in batches, one batch at a time, in order."""

    def __init__(self, apply: BatchApply[T], *, name: str) -> None:
        self._apply = apply
        self._name = name
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.largest_batch = 0

    def submit(self, item: T) -> asyncio.Future[None]:
        """Queue ``item``; the future is done when it is applied (or carries its error).

        Cancelling the future (a caller that went away) does not withdraw the item: it was
        already decided by the caller's state and is applied all the same.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_loop(), name=self._name)
        return future

    async def _commit_loop(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            self.batches += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            try:
                results: Sequence[BaseException | None] = await self._apply(
                    [item for item, _ in batch]
                )
            except Exception as exc:  # the whole batch failed the same way
                results = [exc] * len(batch)
            if len(results) != len(batch):
                mismatch = RuntimeError(f"{self._name}: {len(results)} results for {len(batch)}")
                results = [mismatch] * len(batch)
            for (_, future), error in zip(batch, results, strict=True):
                if future.done():  # the caller gave up waiting
                    if error is not None:
                        log.warning("%s: %s (nobody waiting)", self._name, error)
                elif error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    async def drain(self) -> None:
        """Wait until everything submitted so far is applied."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

"""Group commit: batching while a transaction runs, order, per-item errors, callers leaving."""

from __future__ import annotations

import asyncio

import pytest

from bus_gateway.groupcommit import GroupCommit


class Journal:
    """An in-memory "transaction log": each apply call is one transaction."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def apply(self, batch: list[str]) -> list[BaseException | None]:
        self.transactions.append(list(batch))
        await self.release.wait()
        return [ValueError(item) if item.startswith("bad") else None for item in batch]


def test_first_item_goes_at_once_and_the_rest_share_the_next_transaction():
    async def scenario() -> None:
        journal = Journal()
        commit: GroupCommit[str] = GroupCommit(journal.apply, name="test")
        journal.release.clear()
        first = commit.submit("a")
        await asyncio.sleep(0)  # "a" is now being applied
        later = [commit.submit(x) for x in ("b", "c", "d")]
        journal.release.set()
        await asyncio.gather(first, *later)
        assert journal.transactions == [["a"], ["b", "c", "d"]]
        assert (commit.batches, commit.largest_batch) == (2, 3)

    asyncio.run(scenario())


def test_errors_reach_only_their_own_caller():
    async def scenario() -> None:
        journal = Journal()
        commit: GroupCommit[str] = GroupCommit(journal.apply, name="test")
        ok, bad = commit.submit("ok"), commit.submit("bad-1")
        await ok
        with pytest.raises(ValueError, match="bad-1"):
            await bad

    asyncio.run(scenario())


def test_a_caller_that_leaves_does_not_withdraw_its_item():
    async def scenario() -> None:
        journal = Journal()
        commit: GroupCommit[str] = GroupCommit(journal.apply, name="test")
        journal.release.clear()
        gone = commit.submit("x")
        gone.cancel()  # e.g. the phone closed the connection
        kept = commit.submit("y")
        journal.release.set()
        await kept
        await commit.drain()
        assert journal.transactions == [["x", "y"]]

    asyncio.run(scenario())


def test_a_failing_apply_fails_the_whole_batch_and_the_next_batch_runs():
    calls: list[list[int]] = []

    async def apply(batch: list[int]) -> list[BaseException | None]:
        calls.append(batch)
        if batch[0] == 1:
            raise OSError("kernel said no")
        return [None] * len(batch)

    async def scenario() -> None:
        commit: GroupCommit[int] = GroupCommit(apply, name="test")
        futures = [commit.submit(1), commit.submit(2)]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert all(isinstance(r, OSError) for r in results)
        await commit.submit(3)
        assert calls == [[1, 2], [3]]

    asyncio.run(scenario())

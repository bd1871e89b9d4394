"""The agent's side of the store-and-forward queue: commits, ``seq`` numbers, in-order sending.

Why a module of its own: everything that touches the SQLite store (:mod:`edge_agent.store`)
goes through one writer task and one database thread, and the rules that keep the guarantees
live together here:

- QoS 1 messages are committed before they are sent and deleted on PUBACK; callers of
  :meth:`Outbox.enqueue` wait for the commit, and many of them share one transaction (the
  flush loop takes everything pending at once).
- Every topic's ``seq`` only grows, across restarts: QoS 1 counters are committed with their
  message, QoS 0 ones are reserved on disk in blocks of :data:`SEQ_BLOCK` ahead of use.
- A commit that fails (the state disk is full) never stops the agent: new messages are dropped
  and counted, acks and counters are retried every second.
- After a reconnect the backlog drains in order over the new connection, at most
  ``max_inflight`` unacknowledged; rows created before that connection are marked
  ``historical``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from edge_agent.contract.payloads import MAX_PAYLOAD_BYTES
from edge_agent.errors import PayloadError, QueueError
from edge_agent.mqtt import MqttConnection
from edge_agent.store import AgentStore, NewMessage, QueueState, StoreReset
from edge_agent.tasks import Spawn, first

# one logger for the whole agent runtime, as before it was split into modules
log = logging.getLogger("edge_agent.agent")

T = TypeVar("T")

#: rows read from the queue per round trip to the database thread.
DRAIN_CHUNK = 500
#: QoS 0 ``seq`` counters are persisted in blocks, so restarts never reuse a number.
SEQ_BLOCK = 1000
#: at most one "the store is failing" error line per this many seconds.
STORE_LOG_INTERVAL_S = 60.0
#: PUBACK reason code: accepted, but no subscription matched (nobody will read it).
NO_MATCHING_SUBSCRIBERS = 0x10
_HISTORICAL = b'"historical"'


def mark_historical(payload: bytes) -> bytes:
    """Add ``"historical": true`` to a JSON object produced by :func:`encode`; any other
    payload (the UPER bytes of an ETSI message, which start with their protocol version 2,
    never ``{``) is sent as it is."""
    if not payload.startswith(b"{") or _HISTORICAL in payload or not payload.endswith(b"}"):
        return payload
    return payload[:-1] + (b',"historical":true}' if len(payload) > 2 else b'"historical":true}')


def check_size(payload: bytes) -> None:
    """Refuse at the source what the broker would refuse (and a QoS 1 queue would resend)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")


class Outbox:
    """The durable queue and ``seq`` numbers of one device (see the module docstring).

    Owns the :class:`AgentStore` and the one thread that may call it (:meth:`call`). Its
    asyncio parts start on first use (:meth:`start`), so an agent can be built outside a loop.
    """

    def __init__(
        self,
        store: AgentStore,
        stored: dict[str, int],
        *,
        device_id: str,
        max_inflight: int,
        now_ms: Callable[[], int],
        spawn: Spawn,
    ) -> None:
        """``stored``: the store's counters as read at start (``store.counters()``)."""
        self._store = store
        self._device_id = device_id
        self.max_inflight = max_inflight
        self._now_ms = now_ms
        self._spawn = spawn
        self._db = ThreadPoolExecutor(1, thread_name_prefix=f"db-{device_id}")
        #: where every topic's ``seq`` starts (above all old ones after a store reset).
        self._seq_floor = stored.get("$seq_floor", 0)
        self._seq = {k: v for k, v in stored.items() if not k.startswith("$")}
        self._seq_hwm = dict(self._seq)
        self._seq_persisted = dict(self._seq)
        self.queue_state: QueueState = store.state()
        #: the newest reset of the state file (reported in health, alarmed by the hub).
        self.store_reset: StoreReset | None = store.last_reset()
        #: QoS 1 messages that could not be written (disk full), not yet in ``$dropped``.
        self._unwritten = 0
        #: whether the last commit failed: QoS 0 then runs on in-memory ``seq`` numbers.
        self.store_failing = False
        self._last_store_log = -STORE_LOG_INTERVAL_S
        #: QoS 1 messages the broker refused (PUBACK reason code >= 0x80).
        self.broker_rejected = 0
        #: QoS 1 messages the broker took but nobody was subscribed to (reason code 0x10).
        self.unrouted = 0

        self._inflight: dict[int, int] = {}
        self._special_acks: dict[int, asyncio.Future[bool]] = {}
        self._pending: list[NewMessage] = []
        self._pending_counters: dict[str, int] = {}
        self._acked: list[int] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_wanted: asyncio.Event | None = None
        self._appended: asyncio.Event | None = None
        self._window: asyncio.Event | None = None

    def start(self) -> None:
        """Create the loop-bound parts and the flush task (once, on the running loop)."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._flush_wanted = asyncio.Event()
        self._appended = asyncio.Event()
        self._window = asyncio.Event()
        self._spawn(self._flush_loop(), "flush")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store method on the database thread (the store is used from one thread)."""
        self.start()
        assert self._loop is not None
        return await self._loop.run_in_executor(self._db, fn, *args)

    @property
    def store(self) -> AgentStore:
        """The store, for :meth:`call` (never call it from the event loop's thread)."""
        return self._store

    def close(self) -> None:
        """Close the store on its thread and end the thread (after the last commit)."""
        self._db.submit(self._store.close).result()
        self._db.shutdown(wait=True)

    @property
    def dropped(self) -> int:
        """QoS 1 messages dropped so far: queue overflow (oldest first) and unwritable store
        (newest first), across restarts as far as the store could record them."""
        return self.queue_state.dropped + self._unwritten

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing waiting for a PUBACK (as of the last commit)."""
        return not self._inflight and self.queue_state.depth == 0

    # --- seq -------------------------------------------------------------------------------

    def next_seq(self, topic: str) -> int:
        """The ``seq`` the next message on ``topic`` gets (not taken yet: :meth:`take_seq`)."""
        return self._seq.get(topic, self._seq_floor) + 1

    def take_seq(self, topic: str, seq: int) -> None:
        """``seq`` is used on ``topic`` (its message was built)."""
        self._seq[topic] = seq

    def take_seq_now(self, topic: str) -> int | None:
        """Take ``topic``'s next ``seq`` without waiting, if a block on disk covers it (the
        next block is requested ahead); ``None`` until the first block of the topic is on disk
        (the call requests it). While the store is failing, in-memory numbers are used."""
        seq = self.next_seq(topic)
        if seq > self._seq_hwm.get(topic, self._seq_floor) - SEQ_BLOCK // 2:
            self._request_seq_block(topic, seq)
        if seq > self._seq_persisted.get(topic, self._seq_floor) and not self.store_failing:
            return None
        self._seq[topic] = seq
        return seq

    async def reserve_seq(self, topic: str, seq: int) -> None:
        """Keep QoS 0 ``seq`` numbers at or below a high-water mark that is on disk.

        The next block is requested when half of the current one is used, without waiting,
        so a 10 Hz loop waits for the disk only for the very first message of a topic.
        """
        if seq > self._seq_hwm.get(topic, self._seq_floor) - SEQ_BLOCK // 2:
            self._request_seq_block(topic, seq)
        while seq > self._seq_persisted.get(topic, self._seq_floor) and not self.store_failing:
            await self.commit_wait()

    def _request_seq_block(self, topic: str, seq: int) -> None:
        mark = max(self._seq_hwm.get(topic, self._seq_floor), seq) + SEQ_BLOCK
        self._seq_hwm[topic] = mark
        self._pending_counters[topic] = mark
        self.start()
        assert self._flush_wanted is not None
        self._flush_wanted.set()

    # --- commits ---------------------------------------------------------------------------

    async def enqueue(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        counter: tuple[str, int | None] | None = None,
        dated_ms: int | None = None,
    ) -> None:
        """Commit a QoS 1 message to the durable queue; it is sent in order from there.

        ``dated_ms`` is the message's ``ts`` when it is older than now: a row dated before the
        connection it goes out on is sent as ``historical``. A payload over the contract's
        64 KiB raises :class:`PayloadError` (``too_large``): the broker would refuse it.
        """
        check_size(payload)
        now = self._now_ms()
        created = now if dated_ms is None else min(now, dated_ms)
        self._pending.append(NewMessage(topic, payload, 1, retain, created))
        if counter is not None and counter[1] is not None:
            self._pending_counters[counter[0]] = counter[1]
        await self.commit_wait()

    async def commit_wait(self) -> None:
        """Wait until everything pending so far is committed (or its loss counted)."""
        self.start()
        assert self._loop is not None and self._flush_wanted is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(fut)
        self._flush_wanted.set()
        await fut

    async def _flush_loop(self) -> None:
        assert self._loop is not None and self._flush_wanted is not None
        assert self._appended is not None
        while True:
            await self._flush_wanted.wait()
            self._flush_wanted.clear()
            messages, self._pending = self._pending, []
            counters, self._pending_counters = self._pending_counters, {}
            acked, self._acked = self._acked, []
            waiters, self._waiters = self._waiters, []
            lost = self._unwritten
            try:
                self.queue_state = await self._loop.run_in_executor(
                    self._db, self._store.commit, messages, counters, acked, lost
                )
            except QueueError as exc:
                self._commit_failed(exc, messages, counters, acked)
                for w in waiters:  # the callers go on: what was lost is counted
                    if not w.done():
                        w.set_result(None)
                continue
            self._unwritten -= lost
            if self.store_failing:
                self.store_failing = False
                log.warning("%s: the state database is writable again", self._device_id)
            for name, value in counters.items():
                old = self._seq_persisted.get(name, self._seq_floor)
                self._seq_persisted[name] = max(value, old)
            for w in waiters:
                if not w.done():
                    w.set_result(None)
            if messages:
                self._appended.set()

    def _commit_failed(
        self,
        exc: QueueError,
        messages: list[NewMessage],
        counters: dict[str, int],
        acked: list[int],
    ) -> None:
        """A commit failed (typically: the state disk is full). The agent keeps running.

        The new messages cannot be stored, so they are dropped (newest first: what is queued
        already stays and is sent) and counted into ``queue.dropped``; their ``seq`` numbers
        stay used, so the hub sees the gap. Acks and counters are kept and retried every
        second until a commit succeeds.
        """
        assert self._loop is not None and self._flush_wanted is not None
        self.store_failing = True
        self._unwritten += len(messages)
        self._acked[:0] = acked
        for name, value in counters.items():
            self._pending_counters[name] = max(value, self._pending_counters.get(name, 0))
        now = time.monotonic()
        if now - self._last_store_log >= STORE_LOG_INTERVAL_S:
            self._last_store_log = now
            log.error("%s: %s; dropping new messages (%d so far) until it is writable",
                      self._device_id, exc, self._unwritten)
        self._loop.call_later(1.0, self._flush_wanted.set)

    # --- sending ---------------------------------------------------------------------------

    async def drain(self, conn: MqttConnection, connected_ms: int) -> None:
        """Send queued rows in order over ``conn``; at most ``max_inflight`` unacknowledged."""
        self.start()
        assert self._loop is not None and self._appended is not None
        assert self._window is not None
        cursor = 0
        low_water = self.max_inflight // 2
        while not conn.closed.done():
            self._appended.clear()
            rows = await self._loop.run_in_executor(
                self._db, self._store.read_after, cursor, DRAIN_CHUNK
            )
            if not rows:
                await first(self._appended.wait(), conn.closed)
                continue
            for row in rows:
                while len(self._inflight) >= self.max_inflight:
                    self._window.clear()
                    await first(self._window.wait(), conn.closed)
                    if conn.closed.done():
                        return
                    if len(self._inflight) > low_water:
                        continue
                payload = (
                    row.payload if row.created_ms >= connected_ms else mark_historical(row.payload)
                )
                mid = conn.publish(row.topic, payload, row.qos, row.retain)
                if mid is None:
                    return
                self._inflight[mid] = row.id
                cursor = row.id

    def expect_ack(self, mid: int) -> asyncio.Future[bool]:
        """A future for the PUBACK of a message sent outside the queue (the ``offline``
        status on a clean stop): ``True`` when the broker accepted it."""
        self.start()
        assert self._loop is not None
        ack: asyncio.Future[bool] = self._loop.create_future()
        self._special_acks[mid] = ack
        return ack

    def connection_lost(self) -> None:
        """The connection is gone: its in-flight rows are sent again on the next one."""
        self._inflight.clear()

    def on_puback(self, mid: int, code: int) -> None:
        """A PUBACK: delete the row (committed with the next flush), count refusals."""
        ok = code < 0x80
        special = self._special_acks.pop(mid, None)
        if special is not None:
            if not special.done():
                special.set_result(ok)
            return
        row_id = self._inflight.pop(mid, None)
        if row_id is None:
            return
        if not ok:
            self.broker_rejected += 1
        elif code == NO_MATCHING_SUBSCRIBERS:
            self.unrouted += 1
        self._acked.append(row_id)
        assert self._flush_wanted is not None and self._window is not None
        self._flush_wanted.set()
        if len(self._inflight) <= self.max_inflight // 2:
            self._window.set()

"""One ingest worker: an MQTT 5 shared subscription feeding batched, acknowledged writes.

WHY this shape (at-least-once delivery + idempotent storage = exactly once in storage):

* a persistent session (clean_start off, session expiry): the broker keeps what a dead worker
  did not acknowledge. With ``ingest.shared`` the subscription is ``$share/<group>/...`` and
  the broker splits messages over several workers; by default it is a plain subscription,
  because Mosquitto 2.0 does not persist shared subscriptions and would drop what devices
  publish between a broker restart and the workers' return (docs/reliability.md);
* a QoS 1 message is acknowledged only after the batch holding it committed, so ``kill -9``
  loses nothing; the broker redelivers and the unique key drops the repeat;
* a bounded inbox: when it is full, the session thread stops reading for QoS 1 (TCP pushes
  back to the broker, which queues in the session) and drops QoS 0 with a counter, so memory
  stays flat under overload; the broker's in-flight window is capped by our Receive Maximum;
* the session thread (:class:`~edge_agent.mqtt5.session.WireSubscriber`, a lean receive
  path measured faster than a bare paho subscriber) only appends to a deque; the writer thread
  validates, writes, and acknowledges a whole batch with one socket write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine

from central_hub.core.config import HubRuntime
from central_hub.domain.intake import INGESTED, Intake, Rejected, Row
from central_hub.domain.streams import SeqTracker
from central_hub.storage.health import StorageHealth
from central_hub.storage.writer import BatchWriter
from edge_agent.contract.topics import Topics
from edge_agent.mqtt5.codec import POISON
from edge_agent.mqtt5.session import Message, SessionOptions, WireSubscriber

log = logging.getLogger(__name__)

_Item = tuple[int, int, int, str, bytes]  # (generation, mid, qos, topic, payload)


@dataclass(slots=True)
class IngestStats:
    """Counters a worker exposes (API, alarms, benchmark)."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dropped: int = 0
    batches: int = 0
    write_errors: int = 0
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    connected: bool = False


class RejectLog:
    """Logs each (topic, reason) at most once a minute (docs/interfaces.md: MQTT conventions)."""

    def __init__(self, period_s: float = 60.0) -> None:
        self.period_s = period_s
        self._last: dict[tuple[str, str], float] = {}

    def __call__(self, rej: Rejected, count: int) -> None:
        key = (rej.topic, rej.reason)
        now = time.monotonic()
        if now - self._last.get(key, -1e18) >= self.period_s:
            self._last[key] = now
            log.warning("rejected %s payload (%s, %d so far): %s", rej.topic, rej.reason, count,
                        rej.detail[:200])


class IngestWorker:
    """Receives the shared subscription and writes batches; :meth:`start`/:meth:`stop`."""

    def __init__(self, runtime: HubRuntime, engine: Engine, client_id: str | None = None, *,
                 health: StorageHealth | None = None,
                 entity_device: Mapping[str, str] | None = None) -> None:
        s = runtime.settings.ingest
        self.runtime = runtime
        self.topics = Topics(runtime.topic_root)
        self.client_id = client_id or s.client_id or f"{runtime.config.device_id}-ingest-0"
        self.capacity = s.queue_size
        self.batch_max = s.batch_max
        self.batch_wait_s = s.batch_wait_ms / 1000
        self.stats = IngestStats()
        self.intake = Intake(self.topics, SeqTracker(window=s.window),
                             entity_device=entity_device)
        self.writer = BatchWriter(engine)
        #: the outcome of the latest write (shared with the hub's other writers)
        self.health = health if health is not None else StorageHealth()
        self._inbox: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._running = False
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._reject_log = RejectLog()
        self._db_duplicates = 0
        group = s.group if s.shared else None
        mc = runtime.config.mqtt
        self._session = WireSubscriber(
            runtime.broker,
            SessionOptions(client_id=self.client_id,
                           filters=tuple((self.topics.shared(group, name) if group
                                          else self.topics.filter(name), 1)
                                         for name in INGESTED),
                           keepalive_s=mc.keepalive_s, session_expiry_s=mc.session_expiry_s,
                           receive_maximum=s.receive_maximum,
                           reconnect_min_s=runtime.settings.reconnect_min_s,
                           reconnect_max_s=runtime.settings.reconnect_max_s),
            on_messages=self._on_messages, on_connected=self._on_connected,
            on_disconnected=self._on_disconnected, tls=mc.tls)
        self.subscribed = self._session.subscribed
        #: called with the rows of each committed batch (the InfluxDB sink); must not block.
        self.on_committed: Callable[[list[Row]], None] | None = None

    # --- session thread: enqueue only ---------------------------------------------------------

    def _on_connected(self, generation: int) -> None:
        with self._cond:
            self._generation = generation
            self.stats.connected = True

    def _on_disconnected(self, reason: str) -> None:
        self.stats.connected = False
        if self._running:
            log.warning("ingest %s: disconnected (%s), reconnecting", self.client_id, reason)

    def _on_messages(self, generation: int, messages: list[Message]) -> None:
        inbox = self._inbox
        if len(inbox) >= self.capacity:
            qos1 = [m for m in messages if m[0]]
            self.stats.dropped += len(messages) - len(qos1)
            messages = qos1
            with self._cond:  # backpressure: stop reading until the writer drains
                while len(inbox) >= self.capacity and self._running:
                    self._cond.wait(0.5)
        was_empty = not inbox
        inbox.extend([(generation, mid, qos, topic, payload)
                      for qos, mid, topic, payload in messages])
        if was_empty:
            with self._cond:
                self._cond.notify_all()

    # --- writer thread ------------------------------------------------------------------------

    def _take_batch(self) -> list[_Item]:
        inbox = self._inbox
        with self._cond:
            if not inbox:
                self._cond.wait(0.2)
        if not inbox:
            return []
        if len(inbox) < self.batch_max // 4:  # linger a little so a batch fills up
            time.sleep(self.batch_wait_s)
        n = min(len(inbox), self.batch_max)
        batch = [inbox.popleft() for _ in range(n)]
        with self._cond:
            self._cond.notify_all()
        return batch

    def process(self, batch: list[_Item]) -> list[Row]:
        """Validate and de-duplicate a batch (the pure part; also used by the benchmark)."""
        rows: list[Row] = []
        now = int(time.time() * 1000)
        accept = self.intake.accept
        for _gen, _mid, _qos, topic, payload in batch:
            if payload is POISON:  # skipped by the session (counted there); only acked
                continue
            try:
                out = accept(topic, payload, now)
            except Exception:  # a bug must not stop ingest: this one message is rejected
                log.exception("ingest %s: failed to take a message on %r", self.client_id,
                              topic)
                out = self.intake.reject_error(topic)
            if type(out) is Row:
                rows.append(out)
            elif isinstance(out, Rejected):
                self._reject_log(out, self.intake.rejected[(out.topic, out.reason)])
        return rows

    def _write_loop(self) -> None:
        while self._running or self._inbox:
            batch = self._take_batch()
            if not batch:
                continue
            rows = self.process(batch)
            while True:
                try:
                    inserted = self.writer.write(rows) if rows else 0
                    break
                except Exception as exc:  # the database is down: keep the batch, do not ack
                    self.stats.write_errors += 1
                    if self.health.failed("ingest", exc):
                        log.exception("ingest %s: write failed, retrying every second until "
                                      "the database is back", self.client_id)
                    if not self._running:
                        return
                    time.sleep(1.0)
            if rows:
                if not self.health.ok:
                    log.warning("ingest %s: database writable again", self.client_id)
                self.health.succeeded()
            st = self.stats
            st.received += len(batch)
            st.stored += inserted
            self._db_duplicates += len(rows) - inserted
            st.duplicates = self.intake.duplicates + self._db_duplicates
            st.batches += 1
            st.rejected = self.intake.rejected
            gen = self._generation
            # an old connection's packet ids mean nothing now: the broker redelivers those
            self._session.ack(gen, [mid for g, mid, qos, _t, _p in batch
                                    if qos == 1 and mid and g == gen])
            if rows and self.on_committed is not None:
                try:
                    self.on_committed(rows)
                except Exception:
                    log.exception("ingest %s: on_committed hook failed", self.client_id)

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Messages waiting in the inbox."""
        return len(self._inbox)

    @property
    def last_error(self) -> str | None:
        """Why the session's last connection attempt or connection ended, if it did."""
        return self._session.last_error

    @property
    def poison(self) -> Counter[str]:
        """Messages the session skipped as poison, by reason (acknowledged, never stored)."""
        return self._session.poison

    @property
    def last_poison(self) -> str | None:
        """The newest poison message, described."""
        return self._session.last_poison

    def start(self) -> None:
        """Connect (persistent session) and start the writer thread."""
        self._running = True
        self._thread = threading.Thread(target=self._write_loop, name=f"ingest-{self.client_id}",
                                        daemon=True)
        self._thread.start()
        self._session.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Drain what was received, acknowledge it, then disconnect (session kept)."""
        deadline = time.monotonic() + timeout
        while self._inbox and time.monotonic() < deadline:
            time.sleep(0.02)
        self._running = False
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
        self._session.stop(max(0.1, deadline - time.monotonic()))

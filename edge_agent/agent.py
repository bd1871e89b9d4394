"""The edge-agent runtime: one MQTT 5 session per device with everything a field device needs.

- Session: client id = device id, clean start off with a session expiry, keepalive, TLS and
  credentials when configured, reconnect with exponential backoff and jitter.
- Birth/death: every connect subscribes, waits for the SUBACK, and only then publishes a
  retained ``online`` status with a ``bdseq`` that grows per connect (so a command sent in
  reaction to the birth is never lost); the Last Will is ``offline`` with the same ``bdseq``;
  :meth:`EdgeAgent.stop` publishes ``offline`` itself.
- Store-and-forward: QoS 1 messages are committed to SQLite before they are sent and deleted on
  PUBACK (see :mod:`edge_agent.store`); after a reconnect the backlog drains in order and rows
  created before the connection are marked ``historical``.
- Inbound: payloads are validated against the contract (strict JSON, ``ts`` at most
  ``MAX_FUTURE_MS`` ahead of this device's clock); bad ones are counted per topic and
  reason, logged at most once a minute, and never reach a handler or crash the agent. The
  CONNECT announces a Maximum Packet Size, so the broker never sends a larger packet.
- Timestamps and births: the ``online`` status carries the moment the connection was
  established as its ``ts``; every message sent on that connection is either dated at or after
  it or marked ``historical`` (the hub refuses a non-historical message dated before the birth;
  docs/edge_agent.md, "Timestamps").
- Commands: handlers register by name; exactly one ack per command; repeated ids are acked
  again without running twice.
- Health every ``agent.health_interval_s``.

See ``docs/agent-api.md`` for how applications use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as paho

from edge_agent import __version__
from edge_agent.backoff import Backoff
from edge_agent.contract.commands import (
    AGENT_COMMANDS,
    COMMAND_BY_NAME,
    RotateCredentialsArgs,
    parse_args,
)
from edge_agent.contract.configs import DeviceConfig
from edge_agent.contract.payloads import (
    MAX_PAYLOAD_BYTES,
    Command,
    CommandAckFields,
    DeviceKind,
    HealthFields,
    PayloadFields,
    QueueStats,
    SequencedPayload,
    Status,
    StoreResetInfo,
    decode,
    encode,
)
from edge_agent.contract.topics import SPEC_BY_FIELDS, SPEC_BY_NAME, TopicName, TopicRef, Topics
from edge_agent.credentials import CredentialFile
from edge_agent.errors import CommandRefusedError, PayloadError, QueueError
from edge_agent.health import HealthSampler
from edge_agent.mqtt import BrokerAddress, MqttConnection, MqttError, Will, check_transport
from edge_agent.store import AgentStore, NewMessage, QueueState, StoreReset

log = logging.getLogger(__name__)

Handler = Callable[[TopicRef, Any], Awaitable[None] | None]
CommandResult = Mapping[str, object] | None
#: gets the command's validated arguments (a :class:`CommandArgs` for contract commands, the
#: raw dict for an application's own) and returns the ack's ``result``.
CommandHandler = Callable[[Any], Awaitable[CommandResult] | CommandResult]
H = TypeVar("H", bound=CommandHandler)

#: rows read from the queue per round trip to the database thread.
DRAIN_CHUNK = 500
#: QoS 0 ``seq`` counters are persisted in blocks, so restarts never reuse a number.
SEQ_BLOCK = 1000
REJECT_LOG_INTERVAL_S = 60.0
#: PUBACK reason code: accepted, but no subscription matched (nobody will read it).
NO_MATCHING_SUBSCRIBERS = 0x10
#: how long a new connection waits for the broker's SUBACK before it tries again.
SUBACK_TIMEOUT_S = 10.0
#: how long a clean stop keeps sending the queue before it says ``offline``.
GOODBYE_DRAIN_S = 2.0
_HISTORICAL = b'"historical"'


def _mark_historical(payload: bytes) -> bytes:
    """Add ``"historical": true`` to a JSON object produced by :func:`encode`."""
    if _HISTORICAL in payload or not payload.endswith(b"}"):
        return payload
    return payload[:-1] + (b',"historical":true}' if len(payload) > 2 else b'"historical":true}')


def _check_size(payload: bytes) -> None:
    """Refuse at the source what the broker would refuse (and a QoS 1 queue would resend)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")


async def _first(*aws: Awaitable[Any]) -> None:
    """Wait until the first of ``aws`` is done; cancel the others it created."""
    futs = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(futs, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for f, a in zip(futs, aws, strict=True):
            if f is not a and not f.done():
                f.cancel()


class EdgeAgent:
    """The runtime of one field device; see the module docstring and ``docs/agent-api.md``."""

    def __init__(
        self,
        config: DeviceConfig,
        *,
        kind: DeviceKind,
        entity_id: str | None = None,
        broker_url: str | None = None,
        clock: Callable[[], float] = time.time,
        password: str | None = None,
        sw: str = __version__,
    ) -> None:
        self.config = config
        self.device_id = config.device_id
        self.kind: DeviceKind = kind
        self.entity_id = entity_id or config.device_id
        self.topics = Topics(config.mqtt.topic_root)
        url = broker_url or config.mqtt.broker
        # an override must obey the same rule as the config file (plain MQTT only if insecure)
        check_transport(url, config.mqtt, "broker_url" if broker_url else "mqtt.broker")
        self.address = BrokerAddress.parse(url)
        self.health_interval_s = config.agent.health_interval_s
        self._clock = clock
        self._sw = sw
        #: the broker password: given, in the URL, or from ``mqtt.password_file``, which
        #: ``rotate_credentials`` replaces (see :mod:`edge_agent.credentials`)
        self._password = password if password is not None else self.address.password
        self._credentials: CredentialFile | None = None
        #: the password before the last rotation, tried when the new one is refused, until a
        #: login with the new one succeeded (the broker switches only after our ack)
        self._previous_password: str | None = None
        if config.mqtt.password_file and self._password is None:
            # only a password kept in this file can be rotated: one given in the URL or by
            # the caller would come back unchanged after a restart
            self._credentials = CredentialFile(Path(config.mqtt.password_file))
            self._password = self._credentials.read()
            self._previous_password = self._credentials.read_previous()
        #: failed connect attempts by :attr:`MqttError.kind` (``tls``, ``not_authorised``...)
        self.connect_failures: Counter[str] = Counter()
        #: whether the current session logged in with the previous password (fallback)
        self.on_previous_password = False
        queue = config.agent.queue
        self.max_inflight = queue.max_inflight
        state_dir = Path(config.agent.state_dir) / self.device_id
        self._store = AgentStore(
            state_dir / "agent.db",
            max_messages=queue.max_messages,
            max_bytes=queue.max_bytes,
            synchronous=queue.synchronous,
        )
        self._db = ThreadPoolExecutor(1, thread_name_prefix=f"db-{self.device_id}")
        stored = self._store.counters()
        #: where every topic's ``seq`` starts (above all old ones after a store reset).
        self._seq_floor = stored.get("$seq_floor", 0)
        self._seq = {k: v for k, v in stored.items() if not k.startswith("$")}
        self._seq_hwm = dict(self._seq)
        self._seq_persisted = dict(self._seq)
        self.queue_state: QueueState = self._store.state()
        #: the newest reset of the state file (reported in health, alarmed by the hub).
        self.store_reset: StoreReset | None = self._store.last_reset()
        #: QoS 1 messages that could not be written (disk full), not yet in ``$dropped``.
        self._unwritten = 0
        #: whether the last commit failed: QoS 0 then runs on in-memory ``seq`` numbers.
        self.store_failing = False
        self._last_store_log = -REJECT_LOG_INTERVAL_S
        #: what samples the device for health (replaceable: a process hosting simulated
        #: devices measures itself, not the host).
        self.health_sampler = HealthSampler(config.agent.state_dir, config.agent.uplink_iface)
        #: more health fields from the service (a controller's detector faults).
        self.health_extra: Callable[[], dict[str, object]] | None = None

        #: inbound payloads rejected, by (topic name, reason).
        self.rejected: Counter[tuple[str, str]] = Counter()
        self.handler_errors = 0
        self.dropped_qos0 = 0
        #: QoS 1 messages the broker refused (PUBACK reason code >= 0x80).
        self.broker_rejected = 0
        #: QoS 1 messages the broker took but nobody was subscribed to (reason code 0x10).
        self.unrouted = 0
        self._last_reject_log: dict[tuple[str, str], float] = {}
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._sub_filters: dict[str, int] = {}
        self._commands: dict[str, CommandHandler] = {}

        self._conn: MqttConnection | None = None
        self._inflight: dict[int, int] = {}
        self._special_acks: dict[int, asyncio.Future[bool]] = {}
        self._pending: list[NewMessage] = []
        self._pending_counters: dict[str, int] = {}
        self._acked: list[int] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        #: ``ts`` of the current connection's birth (QoS 0 dated before it is not sent)
        self._born_ms = 0
        self.bdseq = stored.get("$bdseq", 0)
        self._command_lock: asyncio.Lock | None = None
        self.subscribe("cmd", self.device_id, self._on_command)
        self._commands["rotate_credentials"] = self._rotate_credentials

    # --- public API ------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Whether a session with the broker is up right now."""
        return self._conn is not None and not self._conn.closed.done()

    def subscribe(self, name: TopicName, entity_id: str, handler: Handler) -> None:
        """Deliver validated payloads of contract row ``name`` for ``entity_id`` (``+``: all)."""
        self._handlers[(name, entity_id)] = handler
        self._sub_filters[self.topics.filter(name, entity_id)] = SPEC_BY_NAME[name].qos
        if self._conn is not None:
            self._conn.subscribe([(self.topics.filter(name, entity_id), SPEC_BY_NAME[name].qos)])

    def command(self, name: str) -> Callable[[H], H]:
        """Decorator registering the handler of command ``name``."""

        if name in AGENT_COMMANDS:
            raise ValueError(f"{name} is handled by the agent itself")

        def register(handler: H) -> H:
            self._commands[name] = handler
            return handler

        return register

    async def publish(
        self, fields: PayloadFields, *, entity_id: str | None = None, ts: int | None = None
    ) -> bytes:
        """Publish a contract message; returns the encoded payload (see ``docs/agent-api.md``).

        The row is the one of ``fields``' class (:data:`SPEC_BY_FIELDS`); the agent adds
        ``ts`` (``ts`` if given, e.g. a GPS fix's time, else now) and, for a sequenced row,
        the topic's next ``seq``. A wrong value raises :class:`pydantic.ValidationError`.
        """
        spec = SPEC_BY_FIELDS.get(type(fields))
        if spec is None:
            raise TypeError(f"publish takes a contract fields model (PositionFields, ...), not "
                            f"{type(fields).__name__}: the agent adds ts and seq itself")
        name = spec.name
        if entity_id is None:
            entity_id = self.device_id if spec.prefix == "device" else self.entity_id
        topic = self._topic(name, entity_id)
        now_ms = self.now_ms()
        dated = now_ms if ts is None else ts
        values = dict(fields)
        values["ts"] = dated
        seq = None
        if issubclass(spec.model, SequencedPayload):
            seq = self._seq.get(topic, self._seq_floor) + 1
            values["seq"] = seq
        # the fields are validated already; nested models are taken as they are, so this
        # validates little more than ts and seq (a wrong ts still raises)
        payload = encode(spec.model.model_validate(values))
        _check_size(payload)
        if seq is not None:
            self._seq[topic] = seq
        if spec.qos == 0:
            if seq is not None:
                await self._reserve_seq(topic, seq)
            if dated < self._born_ms:  # dated before this connection's birth: stale
                self.dropped_qos0 += 1
                return payload
            self._send_qos0(topic, payload, spec.retain)
            return payload
        await self.enqueue(topic, payload, retain=spec.retain, counter=(topic, seq),
                           dated_ms=min(dated, now_ms))
        return payload

    def publish_encoded(
        self,
        name: TopicName,
        build: Callable[[int | None], bytes],
        *,
        entity_id: str | None = None,
        dated_ms: int | None = None,
    ) -> bytes | None:
        """Publish a QoS 0 message the caller encodes itself, without awaiting (hot paths).

        ``build(seq)`` gets the row's next ``seq`` (``None`` for unsequenced rows) and returns
        the complete payload, which must be valid against the row's model: no model is built
        or validated here. Topic and ``seq`` are as in :meth:`publish`. Returns the payload, or
        ``None`` when it was dropped (counted in ``dropped_qos0``): while offline, and for the
        first messages of a topic until its first ``seq`` block is on disk (a few ms; the
        block is requested by that first call), and when ``dated_ms`` (the payload's ``ts``)
        lies before the current connection's birth. QoS 1 rows must use :meth:`publish`.
        """
        spec = SPEC_BY_NAME[name]
        if spec.qos != 0:
            raise ValueError(f"publish_encoded is for QoS 0 rows; {name} is QoS {spec.qos}")
        if entity_id is None:
            entity_id = self.device_id if spec.prefix == "device" else self.entity_id
        topic = self._topic(name, entity_id)
        if dated_ms is not None and dated_ms < self._born_ms:  # the hub would refuse it
            self.dropped_qos0 += 1
            return None
        seq = None
        if issubclass(spec.model, SequencedPayload):
            seq = self._seq.get(topic, self._seq_floor) + 1
            if seq > self._seq_hwm.get(topic, self._seq_floor) - SEQ_BLOCK // 2:
                self._request_seq_block(topic, seq)
            if seq > self._seq_persisted.get(topic, self._seq_floor) and not self.store_failing:
                self.dropped_qos0 += 1
                return None
            self._seq[topic] = seq
        payload = build(seq)
        _check_size(payload)
        self._send_qos0(topic, payload, spec.retain)
        return payload

    def _topic(self, name: TopicName, entity_id: str) -> str:
        """The topic to publish row ``name`` on; a row that names its sender (``srem``) is
        always sent as this agent's own entity, the only one the broker lets it write."""
        sender = self.entity_id if SPEC_BY_NAME[name].has_sender else None
        return self.topics.topic(name, entity_id, sender)

    def _send_qos0(self, topic: str, payload: bytes, retain: bool) -> None:
        """Hand a QoS 0 message to the connection; counted as dropped while offline."""
        conn = self._conn
        if conn is None or conn.closed.done() or conn.publish(topic, payload, 0, retain) is None:
            self.dropped_qos0 += 1

    def _request_seq_block(self, topic: str, seq: int) -> None:
        mark = max(self._seq_hwm.get(topic, self._seq_floor), seq) + SEQ_BLOCK
        self._seq_hwm[topic] = mark
        self._pending_counters[topic] = mark
        self._ensure_started()
        assert self._flush_wanted is not None
        self._flush_wanted.set()

    async def _reserve_seq(self, topic: str, seq: int) -> None:
        """Keep QoS 0 ``seq`` numbers at or below a high-water mark that is on disk.

        The next block is requested when half of the current one is used, without waiting,
        so a 10 Hz loop waits for the disk only for the very first message of a topic.
        """
        if seq > self._seq_hwm.get(topic, self._seq_floor) - SEQ_BLOCK // 2:
            self._request_seq_block(topic, seq)
        while seq > self._seq_persisted.get(topic, self._seq_floor) and not self.store_failing:
            await self._commit_wait()

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
        _check_size(payload)
        now = self.now_ms()
        created = now if dated_ms is None else min(now, dated_ms)
        self._pending.append(NewMessage(topic, payload, 1, retain, created))
        if counter is not None and counter[1] is not None:
            self._pending_counters[counter[0]] = counter[1]
        await self._commit_wait()

    def now_ms(self) -> int:
        """The injected clock in integer milliseconds."""
        return int(self._clock() * 1000)

    def stop(self) -> None:
        """Ask for a clean shutdown: ``offline`` status, DISCONNECT, queue closed."""
        self._stop_requested = True
        if self._stopping is not None:
            self._stopping.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the agent cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)

    async def run(self) -> None:
        """Run until :meth:`stop`: session, queue drain, health."""
        self._ensure_started()
        assert self._stopping is not None
        session = self._spawn(self._session_loop(), "session")
        health = self._spawn(self._health_loop(), "health")
        try:
            await self._stopping.wait()
            await session
        finally:
            health.cancel()
            session.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await session
            await self._commit_wait()
            for task in list(self._tasks):
                task.cancel()
            self._db.submit(self._store.close).result()
            self._db.shutdown(wait=True)

    # --- durable queue ---------------------------------------------------------------------

    _stopping: asyncio.Event | None = None
    _flush_wanted: asyncio.Event | None = None
    _appended: asyncio.Event | None = None
    _window: asyncio.Event | None = None

    def _ensure_started(self) -> None:
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self._stop_requested:
            self._stopping.set()
        self._flush_wanted = asyncio.Event()
        self._appended = asyncio.Event()
        self._window = asyncio.Event()
        self._command_lock = asyncio.Lock()
        self._spawn(self._flush_loop(), "flush")

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.device_id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _commit_wait(self) -> None:
        self._ensure_started()
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
                log.warning("%s: the state database is writable again", self.device_id)
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
        if now - self._last_store_log >= REJECT_LOG_INTERVAL_S:
            self._last_store_log = now
            log.error("%s: %s; dropping new messages (%d so far) until it is writable",
                      self.device_id, exc, self._unwritten)
        self._loop.call_later(1.0, self._flush_wanted.set)

    @property
    def dropped(self) -> int:
        """QoS 1 messages dropped so far: queue overflow (oldest first) and unwritable store
        (newest first), across restarts as far as the store could record them."""
        return self.queue_state.dropped + self._unwritten

    async def _drain_loop(self, conn: MqttConnection, connected_ms: int) -> None:
        """Send queued rows in order over ``conn``; at most ``max_inflight`` unacknowledged."""
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
                await _first(self._appended.wait(), conn.closed)
                continue
            for row in rows:
                while len(self._inflight) >= self.max_inflight:
                    self._window.clear()
                    await _first(self._window.wait(), conn.closed)
                    if conn.closed.done():
                        return
                    if len(self._inflight) > low_water:
                        continue
                payload = (
                    row.payload if row.created_ms >= connected_ms else _mark_historical(row.payload)
                )
                mid = conn.publish(row.topic, payload, row.qos, row.retain)
                if mid is None:
                    return
                self._inflight[mid] = row.id
                cursor = row.id

    def _on_puback(self, mid: int, code: int) -> None:
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

    # --- session ---------------------------------------------------------------------------

    def _status(self, state: str, bdseq: int, ts: int | None = None) -> bytes:
        return encode(
            Status(
                ts=self.now_ms() if ts is None else ts,
                device_id=self.device_id,
                kind=self.kind,
                state="online" if state == "online" else "offline",
                bdseq=bdseq,
                sw=self._sw,
            )
        )

    async def _session_loop(self) -> None:
        assert self._loop is not None and self._stopping is not None
        backoff = Backoff(self.config.mqtt.reconnect_min_s, self.config.mqtt.reconnect_max_s)
        status_topic = self.topics.topic("status", self.device_id)
        try_previous = False
        while not self._stopping.is_set():
            try:
                self.bdseq = await self._loop.run_in_executor(self._db, self._store.next_bdseq)
            except QueueError as exc:  # disk full: the birth sequence still grows in memory
                self.bdseq += 1
                log.warning("%s: %s; bdseq %d not persisted", self.device_id, exc, self.bdseq)
            use_previous = try_previous
            try_previous = False
            conn = MqttConnection(
                client_id=self.device_id,
                address=self.address,
                settings=self.config.mqtt,
                will=Will(status_topic, self._status("offline", self.bdseq)),
                on_message=self._on_message,
                on_puback=self._on_puback,
                max_inflight=self.max_inflight,
                password=self._previous_password if use_previous else self._password,
            )
            try:
                await conn.connect()
            except MqttError as exc:
                self.connect_failures[exc.kind] += 1
                if (exc.kind == "not_authorised" and not use_previous
                        and self._previous_password is not None):
                    # the new password is not at the broker yet (the hub switches after our
                    # ack, or never did): log in with the previous one, at once
                    log.warning("%s: the new password was refused; trying the previous one",
                                self.device_id)
                    try_previous = True
                    continue
                delay = backoff.next_delay()
                log.log(logging.ERROR if exc.kind == "tls" else logging.WARNING,
                        "%s: %s (%s, %d so far); retrying in %.1f s", self.device_id, exc,
                        exc.kind, self.connect_failures[exc.kind], delay)
                await _first(self._stopping.wait(), asyncio.sleep(delay))
                continue
            self.on_previous_password = use_previous
            if not use_previous and self._previous_password is not None:
                await self._forget_previous_password()
            try:
                # subscriptions first, acknowledged: whoever reacts to the birth (the hub
                # sending a command) must find them in place, on a new session too
                refused = await conn.subscribe_acked(
                    list(self._sub_filters.items()), SUBACK_TIMEOUT_S
                )
            except MqttError as exc:
                conn.abort()
                delay = backoff.next_delay()
                log.warning("%s: %s; reconnecting in %.1f s", self.device_id, exc, delay)
                await _first(self._stopping.wait(), asyncio.sleep(delay))
                continue
            if refused:
                log.error("%s: the broker refused subscriptions %s", self.device_id, refused)
            backoff.reset()
            connected_ms = self.now_ms()
            # the birth is dated with the moment from which rows are no longer historical
            self._born_ms = connected_ms
            conn.publish(status_topic, self._status("online", self.bdseq, connected_ms), 1, True)
            self._conn = conn
            drain = self._spawn(self._drain_loop(conn, connected_ms), "drain")
            self._spawn(self._publish_health(), "health-now")
            log.info(
                "%s: connected to %s (bdseq %d)", self.device_id, self.address.host, self.bdseq
            )
            await _first(conn.closed, self._stopping.wait())
            if self._stopping.is_set() and not conn.closed.done():
                await self._goodbye(conn, status_topic)
            drain.cancel()
            self._conn = None
            self._inflight.clear()
            if not self._stopping.is_set():
                delay = backoff.next_delay()
                log.warning(
                    "%s: connection lost (%s); reconnecting in %.1f s",
                    self.device_id,
                    conn.closed.result(),
                    delay,
                )
                await _first(self._stopping.wait(), asyncio.sleep(delay))

    async def _goodbye(self, conn: MqttConnection, status_topic: str) -> None:
        """Clean shutdown: send what is queued (for at most ``GOODBYE_DRAIN_S``), publish
        ``offline``, leave. Whatever is still queued then stays on disk for the next start."""
        assert self._loop is not None
        deadline = self._loop.time() + GOODBYE_DRAIN_S
        while self._loop.time() < deadline and not conn.closed.done():
            await self._commit_wait()  # acks so far are applied: the depth is current
            if not self._inflight and self.queue_state.depth == 0:
                break
            await asyncio.sleep(0.02)
        mid = conn.publish(status_topic, self._status("offline", self.bdseq), 1, True)
        if mid is not None:
            ack: asyncio.Future[bool] = self._loop.create_future()
            self._special_acks[mid] = ack
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(ack, conn.closed), 2.0)
        conn.disconnect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(conn.closed), 2.0)
        if not conn.closed.done():
            conn.abort()

    # --- inbound ---------------------------------------------------------------------------

    def _on_message(self, msg: paho.MQTTMessage) -> None:
        ref = self.topics.parse(msg.topic)
        if ref is None:
            self._reject("unknown", "unknown_topic", msg.topic)
            return
        handler = self._handlers.get((ref.spec.name, ref.entity_id)) or self._handlers.get(
            (ref.spec.name, "+")
        )
        if handler is None:
            self._reject(ref.spec.name, "not_subscribed", msg.topic)
            return
        try:
            payload = decode(ref.spec.model, msg.payload, now_ms=self.now_ms())
        except PayloadError as exc:
            self._reject(ref.spec.name, exc.reason, f"{msg.topic}: {exc.detail}")
            return
        try:
            result = handler(ref, payload)
        except Exception:
            self.handler_errors += 1
            log.exception("%s: handler for %s failed", self.device_id, msg.topic)
            return
        if inspect.isawaitable(result):
            self._spawn(self._guard(result, msg.topic), "handler")

    async def _guard(self, awaitable: Awaitable[Any], topic: str) -> None:
        try:
            await awaitable
        except Exception:
            self.handler_errors += 1
            log.exception("%s: handler for %s failed", self.device_id, topic)

    def _reject(self, topic_name: str, reason: str, detail: str) -> None:
        key = (topic_name, reason)
        self.rejected[key] += 1
        now = time.monotonic()
        if now - self._last_reject_log.get(key, -REJECT_LOG_INTERVAL_S) >= REJECT_LOG_INTERVAL_S:
            self._last_reject_log[key] = now
            log.warning(
                "%s: rejected %s payload (%s, %d so far): %s",
                self.device_id,
                topic_name,
                reason,
                self.rejected[key],
                detail[:200],
            )

    # --- commands --------------------------------------------------------------------------

    async def _on_command(self, _ref: TopicRef, cmd: Command) -> None:
        assert self._loop is not None and self._command_lock is not None
        ack_topic = self.topics.topic("cmd_ack", self.device_id)
        async with self._command_lock:
            earlier = await self._loop.run_in_executor(self._db, self._store.command_ack, cmd.id)
            if earlier is not None:
                await self.enqueue(ack_topic, earlier)
                return
            ok, error, result = await self._execute(cmd)
            payload = await self.publish(
                CommandAckFields(id=cmd.id, ok=ok, error=error, result=result)
            )
            try:
                await self._loop.run_in_executor(
                    self._db, self._store.record_command, cmd.id, payload, self.now_ms()
                )
            except QueueError as exc:  # acked already; only its de-duplication is lost
                log.warning("%s: command %s not recorded: %s", self.device_id, cmd.id, exc)

    async def _execute(self, cmd: Command) -> tuple[bool, str | None, dict[str, object] | None]:
        """Run the handler of ``cmd``: a contract command's handler gets its validated
        arguments (:mod:`edge_agent.contract.commands`), an application's own command the raw
        dict. A :class:`CommandRefusedError` is a deliberate no (acked with its message); any
        other exception is a bug: logged with its traceback and acked as an internal error."""
        handler = self._commands.get(cmd.name)
        if handler is None:
            return False, f"unknown command {cmd.name!r}", None
        try:
            args: object = (parse_args(cmd.name, cmd.args) if cmd.name in COMMAND_BY_NAME
                            else dict(cmd.args))
            outcome = handler(args)
            if inspect.isawaitable(outcome):
                outcome = await outcome
        except CommandRefusedError as exc:
            log.warning("%s: command %s refused: %s", self.device_id, cmd.name, exc)
            return False, str(exc), None
        except Exception as exc:
            log.exception("%s: command %s failed", self.device_id, cmd.name)
            return False, f"internal error ({type(exc).__name__}): {exc}", None
        return True, None, None if outcome is None else dict(outcome)

    # --- credentials -----------------------------------------------------------------------

    async def _rotate_credentials(self, args: RotateCredentialsArgs) -> CommandResult:
        """``rotate_credentials``: store the new broker password, keep the old as fallback.

        The new password is written to ``mqtt.password_file`` atomically (mode 0600) and the
        current one to its ``.previous`` file, both before the ack: the hub switches the
        broker to the new password only on our ``ok``, and the broker then disconnects this
        session (Mosquitto re-checks logins when it reloads its password file), so the next
        connect uses the new password; until one succeeds the previous one is kept and tried
        when the new one is refused. The password is never logged nor put in the ack.
        """
        creds = self._credentials
        if creds is None:
            raise CommandRefusedError(
                "rotate_credentials: the password does not come from mqtt.password_file, "
                "so a new one could not be kept")
        assert self._loop is not None
        old = self._previous_password if self.on_previous_password else self._password
        try:
            await self._loop.run_in_executor(None, creds.store, args.password, old)
        except OSError as exc:
            raise CommandRefusedError(
                f"rotate_credentials: cannot write {creds.path}: {exc.strerror or exc}"
            ) from exc
        self._password = args.password
        self._previous_password = old
        log.info("%s: new broker password stored in %s (the previous one is kept until a "
                 "login with the new one succeeds)", self.device_id, creds.path)
        return {"stored": True}

    async def _forget_previous_password(self) -> None:
        """A login with the new password succeeded: the previous one is no longer needed."""
        assert self._loop is not None
        self._previous_password = None
        if self._credentials is not None:
            try:
                await self._loop.run_in_executor(None, self._credentials.drop_previous)
            except OSError as exc:
                log.warning("%s: cannot remove the previous password file: %s",
                            self.device_id, exc.strerror or exc)

    # --- health ----------------------------------------------------------------------------

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval_s)
            await self._publish_health()

    async def _publish_health(self) -> None:
        if not self.is_connected:
            return
        q = self.queue_state
        oldest = (
            0.0
            if q.oldest_created_ms is None
            else max(0.0, (self.now_ms() - q.oldest_created_ms) / 1000)
        )
        values = self.health_sampler.sample()
        values["queue"] = QueueStats(
            depth=q.depth, dropped=self.dropped, oldest_age_s=oldest,
            writable=not self.store_failing, refused=self.broker_rejected,
            unrouted=self.unrouted,
        )
        if self.store_reset is not None:
            r = self.store_reset
            values["store_reset"] = StoreResetInfo(at_ms=r.at_ms, moved_to=r.moved_to,
                                                   reason=r.reason)
        values["rejected"] = {f"{t}:{r}": n for (t, r), n in self.rejected.items()}
        if self.health_extra is not None:
            values.update(self.health_extra())
        # the sampler's and the service's parts are dicts (replaceable, see health_sampler)
        await self.publish(HealthFields.model_validate(values))

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

:class:`EdgeAgent` is the public face and the publishing path; it owns one part per concern,
each built here with its collaborators: :class:`~edge_agent.device_session.DeviceSession`
(session, birth/death), :class:`~edge_agent.outbox.Outbox` (store-and-forward, ``seq``),
:class:`~edge_agent.inbound.Inbound` (subscriptions, validation, handlers),
:class:`~edge_agent.command_runner.CommandRunner` (commands and their acks),
:class:`~edge_agent.credentials.BrokerPasswords` (the login and its rotation) and
:class:`~edge_agent.health.HealthReporter` (health).

See ``docs/agent-api.md`` for how applications use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from edge_agent import __version__
from edge_agent.command_runner import CommandHandler, CommandResult, CommandRunner
from edge_agent.contract.commands import AGENT_COMMANDS
from edge_agent.contract.configs import DeviceConfig
from edge_agent.contract.payloads import DeviceKind, PayloadFields, encode
from edge_agent.contract.topics import SPEC_BY_FIELDS, SPEC_BY_NAME, TopicName, Topics
from edge_agent.credentials import BrokerPasswords
from edge_agent.device_session import DeviceSession
from edge_agent.health import HealthReporter, HealthSampler
from edge_agent.inbound import Handler, Inbound
from edge_agent.mqtt import BrokerAddress, check_transport
from edge_agent.outbox import Outbox, check_size
from edge_agent.store import AgentStore, QueueState, StoreReset

__all__ = ["CommandHandler", "CommandResult", "EdgeAgent", "Handler"]

H = TypeVar("H", bound=CommandHandler)


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
        #: QoS 0 messages not sent: offline, dated before the connection's birth, or before
        #: the topic's first ``seq`` block is on disk (:meth:`publish_encoded`).
        self.dropped_qos0 = 0
        #: every task the agent and its parts started (:meth:`_spawn`), cancelled by :meth:`run`
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping: asyncio.Event | None = None
        self._stop_requested = False
        # the parts, each with its collaborators (see the module docstring)
        #: the broker password: given, in the URL, or from ``mqtt.password_file``, which
        #: ``rotate_credentials`` replaces (see :mod:`edge_agent.credentials`)
        self._passwords = BrokerPasswords(
            device_id=self.device_id,
            given=password if password is not None else self.address.password,
            password_file=config.mqtt.password_file,
        )
        queue = config.agent.queue
        self.max_inflight = queue.max_inflight
        state_dir = Path(config.agent.state_dir) / self.device_id
        store = AgentStore(
            state_dir / "agent.db",
            max_messages=queue.max_messages,
            max_bytes=queue.max_bytes,
            synchronous=queue.synchronous,
        )
        stored = store.counters()
        self._outbox = Outbox(store, stored, device_id=self.device_id,
                              max_inflight=queue.max_inflight, now_ms=self.now_ms,
                              spawn=self._spawn)
        self._inbound = Inbound(self.topics, device_id=self.device_id, now_ms=self.now_ms,
                                spawn=self._spawn)
        self._health = HealthReporter(
            # what samples the device for health (replaceable: a process hosting simulated
            # devices measures itself, not the host).
            HealthSampler(config.agent.state_dir, config.agent.uplink_iface),
            interval_s=self.health_interval_s, outbox=self._outbox,
            rejected=self._inbound.rejected, is_connected=lambda: self.is_connected,
            publish=self.publish, now_ms=self.now_ms,
        )
        self._session = DeviceSession(
            device_id=self.device_id, kind=kind, sw=sw, address=self.address,
            settings=config.mqtt, status_topic=self.topics.topic("status", self.device_id),
            passwords=self._passwords, outbox=self._outbox, inbound=self._inbound,
            bdseq=stored.get("$bdseq", 0), now_ms=self.now_ms, spawn=self._spawn,
            on_connected=lambda: self._spawn(self._health.publish_now(), "health-now"),
        )
        self._commands = CommandRunner(
            device_id=self.device_id, ack_topic=self.topics.topic("cmd_ack", self.device_id),
            outbox=self._outbox, publish_ack=self.publish, now_ms=self.now_ms,
        )
        self.subscribe("cmd", self.device_id, self._commands.on_command)
        self._commands.handlers["rotate_credentials"] = self._passwords.rotate

    # --- state, as the parts keep it -------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Whether a session with the broker is up right now."""
        return self._session.is_connected

    @property
    def bdseq(self) -> int:
        """The birth/death sequence of the current (or last) connect attempt."""
        return self._session.bdseq

    @property
    def connect_failures(self) -> Counter[str]:
        """Failed connect attempts by :attr:`MqttError.kind` (``tls``, ``not_authorised``...)."""
        return self._session.connect_failures

    @property
    def on_previous_password(self) -> bool:
        """Whether the current session logged in with the previous password (fallback)."""
        return self._passwords.on_previous

    @property
    def queue_state(self) -> QueueState:
        """Depth, size and drops of the durable queue as of the last commit."""
        return self._outbox.queue_state

    @property
    def dropped(self) -> int:
        """QoS 1 messages dropped so far: queue overflow (oldest first) and unwritable store
        (newest first), across restarts as far as the store could record them."""
        return self._outbox.dropped

    @property
    def store_failing(self) -> bool:
        """Whether the last commit failed: QoS 0 then runs on in-memory ``seq`` numbers."""
        return self._outbox.store_failing

    @property
    def store_reset(self) -> StoreReset | None:
        """The newest reset of the state file (reported in health, alarmed by the hub)."""
        return self._outbox.store_reset

    @property
    def broker_rejected(self) -> int:
        """QoS 1 messages the broker refused (PUBACK reason code >= 0x80)."""
        return self._outbox.broker_rejected

    @property
    def unrouted(self) -> int:
        """QoS 1 messages the broker took but nobody was subscribed to (reason code 0x10)."""
        return self._outbox.unrouted

    @property
    def rejected(self) -> Counter[tuple[str, str]]:
        """Inbound payloads rejected, by (topic name, reason)."""
        return self._inbound.rejected

    @property
    def handler_errors(self) -> int:
        """Handlers (and awaited handler results) that raised."""
        return self._inbound.handler_errors

    @property
    def health_sampler(self) -> HealthSampler:
        """What samples the device for health (replaceable: a process hosting simulated
        devices measures itself, not the host)."""
        return self._health.sampler

    @health_sampler.setter
    def health_sampler(self, sampler: HealthSampler) -> None:
        self._health.sampler = sampler

    @property
    def health_extra(self) -> Callable[[], dict[str, object]] | None:
        """More health fields from the service (a controller's detector faults)."""
        return self._health.extra

    @health_extra.setter
    def health_extra(self, extra: Callable[[], dict[str, object]] | None) -> None:
        self._health.extra = extra

    # --- public API ------------------------------------------------------------------------

    def subscribe(self, name: TopicName, entity_id: str, handler: Handler) -> None:
        """Deliver validated payloads of contract row ``name`` for ``entity_id`` (``+``: all)."""
        sub = self._inbound.add(name, entity_id, handler)
        if self._session.conn is not None:
            self._session.conn.subscribe([sub])

    def command(self, name: str) -> Callable[[H], H]:
        """Decorator registering the handler of command ``name``."""

        if name in AGENT_COMMANDS:
            raise ValueError(f"{name} is handled by the agent itself")

        def register(handler: H) -> H:
            self._commands.handlers[name] = handler
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
        if entity_id is None:
            entity_id = self.device_id if spec.prefix == "device" else self.entity_id
        topic = self._topic(spec.name, entity_id)
        now_ms = self.now_ms()
        dated = now_ms if ts is None else ts
        values = dict(fields)
        values["ts"] = dated
        seq = None
        if spec.sequenced:
            seq = self._outbox.next_seq(topic)
            values["seq"] = seq
        # the fields are validated already; nested models are taken as they are, so this
        # validates little more than ts and seq (a wrong ts still raises)
        payload = encode(spec.json_model().model_validate(values))
        check_size(payload)
        if seq is not None:
            self._outbox.take_seq(topic, seq)
        if spec.qos == 0:
            if seq is not None:
                await self._outbox.reserve_seq(topic, seq)
            if dated < self._session.born_ms:  # dated before this connection's birth: stale
                self.dropped_qos0 += 1
                return payload
            self._send_qos0(topic, payload, spec.retain)
            return payload
        await self._outbox.enqueue(topic, payload, retain=spec.retain, counter=(topic, seq),
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

        ``build(seq)`` gets the row's next ``seq`` (``None`` for unsequenced rows and for the
        ETSI rows, whose bytes carry none) and returns the complete payload, which must be
        valid against the row's model or ETSI message: nothing is built or validated here.
        Topic and ``seq`` are as in :meth:`publish`. Returns the payload, or ``None`` when it
        was dropped (counted in ``dropped_qos0``): while offline, and for the
        first messages of a topic until its first ``seq`` block is on disk (a few ms; the
        block is requested by that first call), and when ``dated_ms`` (the payload's ``ts``)
        lies before the current connection's birth. QoS 1 rows must use :meth:`publish` (JSON)
        or :meth:`publish_etsi` (ETSI bytes).
        """
        spec = SPEC_BY_NAME[name]
        if spec.qos != 0:
            raise ValueError(f"publish_encoded is for QoS 0 rows; {name} is QoS {spec.qos}")
        if entity_id is None:
            entity_id = self.device_id if spec.prefix == "device" else self.entity_id
        topic = self._topic(name, entity_id)
        if dated_ms is not None and dated_ms < self._session.born_ms:  # the hub would refuse it
            self.dropped_qos0 += 1
            return None
        seq = None
        if spec.sequenced:
            seq = self._outbox.take_seq_now(topic)
            if seq is None:
                self.dropped_qos0 += 1
                return None
        payload = build(seq)
        check_size(payload)
        self._send_qos0(topic, payload, spec.retain)
        return payload

    async def publish_etsi(
        self, name: TopicName, payload: bytes, *, entity_id: str | None = None,
        dated_ms: int | None = None,
    ) -> None:
        """Publish the UPER bytes of an ETSI row (``etsi_mapem``, ``etsi_ssem``, ...) with the
        row's QoS and retain flag: QoS 1 through the durable queue as :meth:`publish` does
        (``dated_ms``: the time the message describes, for ``historical``), QoS 0 at once
        (dropped and counted while offline; the hot path uses :meth:`publish_encoded`)."""
        spec = SPEC_BY_NAME[name]
        if not spec.binary:
            raise ValueError(f"{name} is a JSON row: use publish")
        if entity_id is None:
            entity_id = self.entity_id
        topic = self._topic(name, entity_id)
        check_size(payload)
        if spec.qos == 0:
            self._send_qos0(topic, payload, spec.retain)
            return
        now_ms = self.now_ms()
        await self._outbox.enqueue(topic, payload, retain=spec.retain,
                                   dated_ms=now_ms if dated_ms is None else min(dated_ms, now_ms))

    def _topic(self, name: TopicName, entity_id: str) -> str:
        """The topic to publish row ``name`` on; a row that names its sender (``srem``) is
        always sent as this agent's own entity, the only one the broker lets it write."""
        sender = self.entity_id if SPEC_BY_NAME[name].has_sender else None
        return self.topics.topic(name, entity_id, sender)

    def _send_qos0(self, topic: str, payload: bytes, retain: bool) -> None:
        """Hand a QoS 0 message to the connection; counted as dropped while offline."""
        conn = self._session.conn
        if conn is None or conn.closed.done() or not conn.publish_qos0(topic, payload, retain):
            self.dropped_qos0 += 1

    async def enqueue(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        counter: tuple[str, int | None] | None = None,
        dated_ms: int | None = None,
    ) -> None:
        """Commit a QoS 1 message to the durable queue (:meth:`Outbox.enqueue
        <edge_agent.outbox.Outbox.enqueue>`: dating, ``historical``, the size bound)."""
        await self._outbox.enqueue(topic, payload, retain=retain, counter=counter,
                                   dated_ms=dated_ms)

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
        stopping = self._ensure_started()
        session = self._spawn(self._session.run(stopping), "session")
        health = self._spawn(self._health.loop(), "health")
        try:
            await stopping.wait()
            await session
        finally:
            health.cancel()
            session.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await session
            await self._outbox.commit_wait()
            for task in list(self._tasks):
                task.cancel()
            self._outbox.close()

    def _ensure_started(self) -> asyncio.Event:
        """Bind the agent to the running loop (once); returns the stop event."""
        if self._stopping is None:
            self._stopping = asyncio.Event()
            if self._stop_requested:
                self._stopping.set()
        self._outbox.start()
        return self._stopping

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        """Start a task the agent owns (cancelled when :meth:`run` ends)."""
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.device_id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

"""The MQTT session of one device: connect, subscribe, birth, drain, death, reconnect.

Why a module of its own: this loop holds the order the platform's guarantees depend on.

- Session: client id = device id, clean start off with a session expiry, keepalive, TLS and
  credentials when configured, reconnect with exponential backoff and jitter; a refused new
  password falls back to the previous one at once (:class:`BrokerPasswords`).
- Birth/death: every connect subscribes, waits for the SUBACK, and only then publishes a
  retained ``online`` status with a ``bdseq`` that grows per connect (so a command sent in
  reaction to the birth is never lost); the Last Will is ``offline`` with the same ``bdseq``;
  a clean stop sends what is queued (briefly) and publishes ``offline`` itself.
- Timestamps: the ``online`` status carries the moment the connection was established as its
  ``ts`` (:attr:`DeviceSession.born_ms`); every message sent on that connection is either
  dated at or after it or marked ``historical`` (docs/edge_agent.md, "Timestamps").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable

from edge_agent.backoff import Backoff
from edge_agent.contract.configs import MqttConfig
from edge_agent.contract.payloads import DeviceKind, Status, encode
from edge_agent.credentials import BrokerPasswords
from edge_agent.errors import QueueError
from edge_agent.inbound import Inbound
from edge_agent.mqtt import BrokerAddress, MqttConnection, MqttError, Will
from edge_agent.outbox import Outbox
from edge_agent.tasks import Spawn, first

# one logger for the whole agent runtime, as before it was split into modules
log = logging.getLogger("edge_agent.agent")

#: how long a new connection waits for the broker's SUBACK before it tries again.
SUBACK_TIMEOUT_S = 10.0
#: how long a clean stop keeps sending the queue before it says ``offline``.
GOODBYE_DRAIN_S = 2.0


class DeviceSession:
    """Keeps one device connected until asked to stop (see the module docstring)."""

    def __init__(
        self,
        *,
        device_id: str,
        kind: DeviceKind,
        sw: str,
        address: BrokerAddress,
        settings: MqttConfig,
        status_topic: str,
        passwords: BrokerPasswords,
        outbox: Outbox,
        inbound: Inbound,
        bdseq: int,
        now_ms: Callable[[], int],
        spawn: Spawn,
        on_connected: Callable[[], object],
    ) -> None:
        """``bdseq``: the stored birth/death sequence; ``on_connected`` runs after each birth
        (the agent publishes health at once)."""
        self._device_id = device_id
        self._kind: DeviceKind = kind
        self._sw = sw
        self._address = address
        self._settings = settings
        self._status_topic = status_topic
        self._passwords = passwords
        self._outbox = outbox
        self._inbound = inbound
        self._now_ms = now_ms
        self._spawn = spawn
        self._on_connected = on_connected
        self.bdseq = bdseq
        #: failed connect attempts by :attr:`MqttError.kind` (``tls``, ``not_authorised``...)
        self.connect_failures: Counter[str] = Counter()
        #: the connection while it is up (``None`` between connections).
        self.conn: MqttConnection | None = None
        #: ``ts`` of the current connection's birth (QoS 0 dated before it is not sent)
        self.born_ms = 0

    @property
    def is_connected(self) -> bool:
        """Whether a session with the broker is up right now."""
        return self.conn is not None and not self.conn.closed.done()

    def status(self, state: str, bdseq: int, ts: int | None = None) -> bytes:
        """The encoded ``status`` message (birth, death, Last Will)."""
        return encode(
            Status(
                ts=self._now_ms() if ts is None else ts,
                device_id=self._device_id,
                kind=self._kind,
                state="online" if state == "online" else "offline",
                bdseq=bdseq,
                sw=self._sw,
            )
        )

    async def run(self, stopping: asyncio.Event) -> None:
        """Connect, and reconnect after every loss, until ``stopping`` is set."""
        backoff = Backoff(self._settings.reconnect_min_s, self._settings.reconnect_max_s)
        status_topic = self._status_topic
        passwords = self._passwords
        try_previous = False
        while not stopping.is_set():
            try:
                self.bdseq = await self._outbox.call(self._outbox.store.next_bdseq)
            except QueueError as exc:  # disk full: the birth sequence still grows in memory
                self.bdseq += 1
                log.warning("%s: %s; bdseq %d not persisted", self._device_id, exc, self.bdseq)
            use_previous = try_previous
            try_previous = False
            conn = MqttConnection(
                client_id=self._device_id,
                address=self._address,
                settings=self._settings,
                will=Will(status_topic, self.status("offline", self.bdseq)),
                on_message=self._inbound.on_message,
                on_puback=self._outbox.on_puback,
                max_inflight=self._outbox.max_inflight,
                password=passwords.for_login(use_previous),
            )
            try:
                await conn.connect()
            except MqttError as exc:
                self.connect_failures[exc.kind] += 1
                if (exc.kind == "not_authorised" and not use_previous
                        and passwords.previous is not None):
                    # the new password is not at the broker yet (the hub switches after our
                    # ack, or never did): log in with the previous one, at once
                    log.warning("%s: the new password was refused; trying the previous one",
                                self._device_id)
                    try_previous = True
                    continue
                delay = backoff.next_delay()
                log.log(logging.ERROR if exc.kind == "tls" else logging.WARNING,
                        "%s: %s (%s, %d so far); retrying in %.1f s", self._device_id, exc,
                        exc.kind, self.connect_failures[exc.kind], delay)
                await first(stopping.wait(), asyncio.sleep(delay))
                continue
            await passwords.logged_in(use_previous)
            try:
                # subscriptions first, acknowledged: whoever reacts to the birth (the hub
                # sending a command) must find them in place, on a new session too
                refused = await conn.subscribe_acked(
                    list(self._inbound.filters.items()), SUBACK_TIMEOUT_S
                )
            except MqttError as exc:
                conn.abort()
                delay = backoff.next_delay()
                log.warning("%s: %s; reconnecting in %.1f s", self._device_id, exc, delay)
                await first(stopping.wait(), asyncio.sleep(delay))
                continue
            if refused:
                log.error("%s: the broker refused subscriptions %s", self._device_id, refused)
            backoff.reset()
            connected_ms = self._now_ms()
            # the birth is dated with the moment from which rows are no longer historical
            self.born_ms = connected_ms
            conn.publish(status_topic, self.status("online", self.bdseq, connected_ms), 1, True)
            self.conn = conn
            drain = self._spawn(self._outbox.drain(conn, connected_ms), "drain")
            self._on_connected()
            log.info(
                "%s: connected to %s (bdseq %d)", self._device_id, self._address.host, self.bdseq
            )
            await first(conn.closed, stopping.wait())
            if stopping.is_set() and not conn.closed.done():
                await self._goodbye(conn)
            drain.cancel()
            self.conn = None
            self._outbox.connection_lost()
            if not stopping.is_set():
                delay = backoff.next_delay()
                log.warning(
                    "%s: connection lost (%s); reconnecting in %.1f s",
                    self._device_id,
                    conn.closed.result(),
                    delay,
                )
                await first(stopping.wait(), asyncio.sleep(delay))

    async def _goodbye(self, conn: MqttConnection) -> None:
        """Clean shutdown: send what is queued (for at most ``GOODBYE_DRAIN_S``), publish
        ``offline``, leave. Whatever is still queued then stays on disk for the next start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GOODBYE_DRAIN_S
        while loop.time() < deadline and not conn.closed.done():
            await self._outbox.commit_wait()  # acks so far are applied: the depth is current
            if self._outbox.idle:
                break
            await asyncio.sleep(0.02)
        mid = conn.publish(self._status_topic, self.status("offline", self.bdseq), 1, True)
        if mid is not None:
            ack = self._outbox.expect_ack(mid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first(ack, conn.closed), 2.0)
        conn.disconnect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(conn.closed), 2.0)
        if not conn.closed.done():
            conn.abort()

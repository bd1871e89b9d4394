"""The hub's MQTT 5 sessions (ingest and live): one thread reading a socket in large chunks.

WHY not paho (measured in BENCHMARKS.md): a bare paho subscriber spends about 40 µs of Python
per message, so a hub that validates and stores on top of paho can never be as fast as a
subscriber that does nothing, and on the live path (SPaT of 300 intersections at 10 Hz) that
cost competes with validation and WebSocket fan-out for the same core. This session reads up
to 256 KiB per ``recv``, splits it with :mod:`edge_agent.mqtt5.codec` and hands the whole
chunk's messages over in one call; QoS 1 messages are acknowledged with one write of concatenated
PUBACKs — by the ingest worker after its batch committed, or by the session itself
(``auto_ack``) on the live path, which stores nothing. The edge agents keep paho (they publish
far more than they receive and need its in-flight handling).

The reader blocks in the ``on_messages`` callback when the owner's inbox is full: it then stops
reading, TCP pushes back, and the broker keeps the messages in the persistent session (and
never sends more than our Receive Maximum unacknowledged QoS 1 messages). Each connection
gets a new generation number; packet ids of an earlier connection are never acknowledged on a
later one (the broker redelivers them and storage drops the repeats).

Poison (issue 13): the CONNECT announces a Maximum Packet Size
(:data:`edge_agent.mqtt5.codec.MAX_PACKET_SIZE`), so a conforming broker discards a larger
message for this session instead of sending it (MQTT 5 §3.1.2.11.4), also one already queued in
the persistent session or retained. Whatever comes anyway and cannot be taken (oversized,
broken property, topic not UTF-8, QoS 2) is skipped by the splitter, acknowledged in order with
its neighbours when it is QoS 1, counted by reason in :attr:`WireSubscriber.poison` (``GET
/api/v1/ingest``, the ``hub_poison_message`` alarm) and logged at most once a minute per
reason; the connection stays up. Reconnecting instead would
only bring the same packet back, forever.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent.backoff import Backoff
from edge_agent.contract.configs import TlsConfig
from edge_agent.mqtt import BrokerAddress, tls_context
from edge_agent.mqtt5 import codec

log = logging.getLogger(__name__)

#: ``(qos, packet id, topic, payload)`` as split by :class:`edge_agent.mqtt5.codec.Splitter`.
Message = tuple[int, int, str, bytes]

_CHUNK = 256 * 1024
#: after our DISCONNECT, how long the session waits for the broker to close the connection.
CLOSE_WAIT_S = 2.0


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How the session connects: persistent session, in-flight window, keepalive."""

    client_id: str
    filters: tuple[tuple[str, int], ...]
    keepalive_s: int = 30
    session_expiry_s: int = 3600
    receive_maximum: int = 4000
    clean_start: bool = False
    connect_timeout_s: float = 10.0
    #: acknowledge QoS 1 messages as soon as they were handed over (a path that stores nothing)
    auto_ack: bool = False
    #: names the session in log lines (``<label> <client id>: ...``)
    label: str = "ingest"
    #: reconnect backoff (jittered, doubling from min to max): the hub has a handful of
    #: sessions, so unlike a fleet of devices it can retry quickly after a broker restart
    reconnect_min_s: float = 0.1
    reconnect_max_s: float = 1.0
    #: announced in CONNECT and enforced by the splitter (poison beyond it is skipped)
    max_packet_size: int = codec.MAX_PACKET_SIZE

#: a poison reason is logged at most this often (it is counted every time)
POISON_LOG_INTERVAL_S = 60.0


class WireSubscriber:
    """A subscriber thread that reconnects with backoff until :meth:`stop`."""

    def __init__(self, address: BrokerAddress, options: SessionOptions, *,
                 on_messages: Callable[[int, list[Message]], None],
                 on_connected: Callable[[int], None] | None = None,
                 on_disconnected: Callable[[str], None] | None = None,
                 tls: TlsConfig | None = None) -> None:
        self.address = address
        self.options = options
        self.on_messages = on_messages
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self._tls = tls_context(tls) if address.tls else None
        self.generation = 0
        self.subscribed = threading.Event()
        self.connected = False
        #: why the last connection attempt or connection ended (``None`` while all is well).
        self.last_error: str | None = None
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._last_send = 0.0
        self._running = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self._packet_id = 0
        #: PUBLISHes skipped as poison, by reason (``too_large``, ``malformed``, ``bad_topic``,
        #: ``qos2``); the session stayed connected for each.
        self.poison: Counter[str] = Counter()
        #: the newest poison, described for the alarm and the API (``None``: none yet)
        self.last_poison: str | None = None
        self._poison_logged: dict[str, float] = {}

    # --- public -------------------------------------------------------------------------------

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.options.client_id}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect normally (the broker keeps the session) and end the thread.

        DISCONNECT goes out after every PUBACK already written; then only our sending side is
        shut, and the thread reads (and drops) what still arrives until the broker closes the
        connection. Closing at once could reset the connection while the broker has not read
        our last PUBACKs yet (a close with unread data sends RST, and the broker's kernel then
        drops what it had not handed over): those messages came back as duplicates.
        """
        self._running = False
        sock = self._sock
        if sock is not None:
            try:
                self._send(sock, codec.DISCONNECT_PACKET)
                self._closing = True
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        if sock is not None and self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(OSError):  # the broker did not close: cut it
                sock.shutdown(socket.SHUT_RDWR)
            self._thread.join(1.0)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Send one PUBLISH (QoS 0 or 1); False when not connected. The broker's PUBACK is
        not awaited: callers of the hub (commands) wait for the device's own ack instead."""
        sock = self._sock
        if sock is None or not self.connected:
            return False
        packet_id = self._next_packet_id() if qos else 0
        try:
            self._send(sock, codec.publish(topic, payload, qos, packet_id, retain))
        except OSError:
            return False
        return True

    def ack(self, generation: int, packet_ids: list[int]) -> bool:
        """PUBACK ``packet_ids`` received on connection ``generation``; False if it is gone."""
        sock = self._sock
        if generation != self.generation or sock is None or not packet_ids:
            return False
        try:
            self._send(sock, codec.pubacks(packet_ids))
        except OSError:
            return False
        return True

    # --- thread -------------------------------------------------------------------------------

    def _next_packet_id(self) -> int:
        """1…65535, wrapping (publishes come from the caller's thread, SUBSCRIBE from ours)."""
        with self._send_lock:
            self._packet_id = self._packet_id % 0xFFFF + 1
            return self._packet_id

    def _send(self, sock: socket.socket, data: bytes) -> None:
        with self._send_lock:
            sock.sendall(data)
            self._last_send = time.monotonic()

    def _run(self) -> None:
        backoff = Backoff(min_s=self.options.reconnect_min_s, max_s=self.options.reconnect_max_s)
        while self._running:
            reason = "closed"
            try:
                self._session(backoff)
            except (OSError, codec.ProtocolError, ConnectionError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if self._running:  # not the socket shutdown of our own stop()
                    self.last_error = reason
            finally:
                sock, self._sock = self._sock, None
                if sock is not None:
                    sock.close()
                if self.connected:
                    self.connected = False
                    if self.on_disconnected is not None:
                        self.on_disconnected(reason)
            if self._running:
                delay = backoff.next_delay()
                log.warning("%s %s: %s; reconnecting in %.1f s",
                            self.options.label, self.options.client_id, reason, delay)
                time.sleep(delay)

    def _open(self) -> socket.socket:
        o, a = self.options, self.address
        raw = socket.create_connection((a.host, a.port), timeout=o.connect_timeout_s)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is None:
            return raw
        try:
            return self._tls.wrap_socket(raw, server_hostname=a.host)
        except (OSError, ssl.SSLError):
            raw.close()
            raise

    def _session(self, backoff: Backoff) -> None:
        o, a = self.options, self.address
        sock = self._open()
        self._sock = sock
        self._closing = False
        splitter = codec.Splitter(max_packet=o.max_packet_size)
        self._send(sock, codec.connect(
            o.client_id, keepalive_s=o.keepalive_s, clean_start=o.clean_start,
            session_expiry_s=o.session_expiry_s, receive_maximum=o.receive_maximum,
            max_packet_size=o.max_packet_size, username=a.username, password=a.password))
        connack = self._await(sock, splitter, codec.CONNACK)
        if connack.failed:
            raise ConnectionError(f"broker refused the connection (reason 0x"
                                  f"{connack.reason_codes[0]:02x})")
        self.generation += 1
        generation = self.generation
        self.connected = True
        backoff.reset()
        if self.on_connected is not None:
            self.on_connected(generation)
        self._send(sock, codec.subscribe(self._next_packet_id(), list(o.filters)))
        if splitter.messages:  # a persistent session's backlog may follow CONNACK at once
            self._hand_over(generation, splitter)
        sock.settimeout(min(1.0, o.keepalive_s / 2))
        last_recv = time.monotonic()
        half = o.keepalive_s / 2
        recv = sock.recv
        while self._running or self._closing:
            try:
                data = recv(_CHUNK)
            except TimeoutError:
                data = None
            now = time.monotonic()
            if self._closing:  # after our DISCONNECT: wait for the broker's close, drop the rest
                if data == b"" or now - self._last_send > CLOSE_WAIT_S:
                    return
                continue
            if data is not None:
                if not data:
                    raise ConnectionError("broker closed the connection")
                last_recv = now
                splitter.feed(data)
                if splitter.messages:
                    self._hand_over(generation, splitter)
                if splitter.controls:
                    self._controls(splitter)
            elif now - last_recv > 1.5 * o.keepalive_s:
                raise ConnectionError("no PINGRESP within 1.5 × keepalive")
            if now - self._last_send >= half:
                self._send(sock, codec.PINGREQ_PACKET)

    def _hand_over(self, generation: int, splitter: codec.Splitter) -> None:
        messages, splitter.messages = splitter.messages, []
        if splitter.poison:
            self._count_poison(splitter)
        self.on_messages(generation, messages)
        if self.options.auto_ack:
            # QoS 1 only: a QoS 2 packet id (poison) must not be answered with a PUBACK
            self.ack(generation, [mid for qos, mid, _t, _p in messages if qos == 1 and mid])

    def _count_poison(self, splitter: codec.Splitter) -> None:
        found, splitter.poison = splitter.poison, []
        now = time.monotonic()
        for p in found:
            self.poison[p.reason] += 1
            self.last_poison = (f"{p.reason}: {p.size} bytes on {p.topic or '(unreadable topic)'}"
                                f" (QoS {p.qos})")
            if now - self._poison_logged.get(p.reason, -1e18) >= POISON_LOG_INTERVAL_S:
                self._poison_logged[p.reason] = now
                log.error("%s %s: skipped a poison message (%s, %d so far); the session "
                          "stays connected", self.options.label, self.options.client_id,
                          self.last_poison, self.poison[p.reason])

    def _controls(self, splitter: codec.Splitter) -> None:
        controls, splitter.controls = splitter.controls, []
        for kind, ack in controls:
            if kind == codec.SUBACK and ack is not None:
                if ack.failed:
                    log.error("%s %s: subscription refused: %s", self.options.label,
                              self.options.client_id, [hex(c) for c in ack.reason_codes])
                else:
                    self.subscribed.set()
                    log.info("%s %s: subscribed", self.options.label, self.options.client_id)
            elif kind == codec.DISCONNECT and ack is not None:
                raise ConnectionError(f"broker sent DISCONNECT (reason 0x"
                                      f"{ack.reason_codes[0]:02x})")

    def _await(self, sock: socket.socket, splitter: codec.Splitter, kind: int) -> codec.Ack:
        deadline = time.monotonic() + self.options.connect_timeout_s
        while True:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            data = sock.recv(_CHUNK)
            if not data:
                raise ConnectionError("broker closed the connection during CONNECT")
            splitter.feed(data)
            for k, ack in splitter.controls:
                if k == kind and ack is not None:
                    splitter.controls.clear()
                    return ack
            if time.monotonic() > deadline:
                raise TimeoutError("no CONNACK")

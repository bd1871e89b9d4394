"""A thin asyncio adapter over paho-mqtt 2 (MQTT 5).

paho does the protocol; asyncio drives its socket (``add_reader``/``add_writer`` and a
once-a-second ``loop_misc`` for keepalive), so hundreds of sessions share one thread and no
lock is needed. The blocking TCP/TLS connect runs in an executor so a slow LTE link never stalls
a signal controller's tick loop. Callbacks do no business logic: they resolve futures or call
the owner's ``on_message``/``on_puback`` functions, which only enqueue.

One :class:`MqttConnection` is one connect attempt; the agent makes a new one for every
reconnect (the Last Will carries that attempt's ``bdseq``).

Every CONNECT announces a Maximum Packet Size (:data:`edge_agent.mqtt5.codec.MAX_PACKET_SIZE`): paho
reads a packet with ``recv(remaining length)`` on the event loop, so without the limit one
150 MB message allocated and copied hundreds of megabytes between two ticks of a signal
controller (issue 13). Mosquitto honours it (tested in ``tests/hostile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.contract.configs import MqttConfig, TlsConfig, plain_mqtt_refusal
from edge_agent.errors import ConfigError, KasselError
from edge_agent.mqtt5 import codec
from edge_agent.mqtt5.codec import MAX_PACKET_SIZE, Will

__all__ = [
    "BrokerAddress",
    "MqttConnection",
    "MqttError",
    "Will",
    "check_transport",
    "tls_context",
]

log = logging.getLogger(__name__)


class MqttError(KasselError):
    """A connect attempt failed or the connection was lost.

    ``kind`` says why, as counted by the agent: ``tls`` (handshake or certificate refused:
    the broker is not who it claims, or our CA file is wrong), ``not_authorised`` (the broker
    refused our login), ``network`` (no route, refused, timed out) or ``protocol``.
    """

    def __init__(self, message: str, kind: str = "protocol") -> None:
        super().__init__(message)
        self.kind = kind


#: CONNACK reason codes that mean "your credentials are not accepted" (MQTT 5 §3.2.2.2)
NOT_AUTHORISED_CODES = frozenset({0x86, 0x87})


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where and how to reach the broker, from ``mqtt://user:pass@host:port`` or ``mqtts://``."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse a broker URL; a ``ValueError`` names what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts"}:
            raise ValueError(f"broker URL must start with mqtt:// or mqtts://: {url!r}")
        if not parts.hostname:
            raise ValueError(f"broker URL has no host: {url!r}")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise ValueError(f"broker URL has a bad port: {url!r}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def tls_context(tls: TlsConfig | None) -> ssl.SSLContext:
    """The TLS context of every ``mqtts://`` connection, the agents' and the hub's alike.

    WHY one function: the rule (TLS 1.2 or newer, the server certificate checked against
    ``ca_file`` or the system CAs, the host name checked) must not differ between the paho
    sessions of the devices and the hub's own socket sessions. An optional client certificate
    comes from ``cert_file``/``key_file``.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                     cafile=tls.ca_file if tls else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if tls and tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    return ctx


def check_transport(url: str, settings: MqttConfig, source: str) -> None:
    """Refuse a plain ``mqtt://`` ``url`` unless ``settings.insecure`` (the rule is
    :func:`~edge_agent.contract.configs.plain_mqtt_refusal`); :class:`ConfigError` names
    ``source`` (``mqtt.broker``, ``--broker``, ``KASSEL_BROKER``, ``broker_url``)."""
    refusal = plain_mqtt_refusal(url, settings.insecure)
    if refusal is not None:
        raise ConfigError(source, [("", refusal)])


#: how long one reader callback may keep reading packets (at least one is always read)
READ_BUDGET_S = 0.002
#: the most packets one reader callback reads (PUBACKs of a draining queue come in bursts)
READ_MAX_PACKETS = 256


#: the one delivery handle of the QoS 0 fast path (paho marks each written packet's handle as
#: published; nobody waits on these).
_UNAWAITED = paho.MQTTMessageInfo(0)


class _BoundedReadClient(paho.Client):
    """paho's client whose :meth:`loop_read` honours ``max_packets`` and a time budget.

    paho ignores the argument and reads as many packets as it has QoS > 0 messages in flight
    (``len(_out_messages) + len(_in_messages)``): with 100 messages in flight and a flood of
    64 KiB SREMs arriving, one reader callback would parse and validate 100 of them while a
    signal controller's tick waits (issue 13). Here a callback stops after
    :data:`READ_BUDGET_S` (or ``max_packets``), so the work between two ticks is bounded by
    the budget plus one packet of at most :data:`~edge_agent.mqtt5.codec.MAX_PACKET_SIZE`; what is
    left in the socket is read in the next event-loop iteration.
    """

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read up to ``max_packets`` packets within :data:`READ_BUDGET_S`."""
        deadline = time.monotonic() + READ_BUDGET_S
        for _ in range(max_packets):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN or time.monotonic() >= deadline:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_qos0(self, topic: str, payload: bytes, retain: bool) -> bool:
        """Queue a QoS 0 PUBLISH without paho's per-message objects; ``False`` without a socket.

        Why: paho's :meth:`publish` builds a ``MQTTMessageInfo`` (a lock and a condition), a
        message id and debug-log arguments for every message (17.7 µs per message until
        written, against 7.5 µs here: ``bench/bench_agent.py``); SPaT and SPATEM go out at
        10 Hz per controller. The packet comes from this project's
        codec (:func:`~edge_agent.mqtt5.codec.publish`, no properties) and joins paho's own
        outgoing queue, so order, partial writes and the socket's writer stay paho's. The
        topic must be a valid topic name (the agents' come from
        :class:`~edge_agent.contract.topics.Topics`, which refuses wildcards).
        """
        if self._sock is None:
            return False
        packet = codec.publish(topic, payload, 0, retain=retain)
        self._packet_queue(packet[0], packet, 0, 0, _UNAWAITED)
        return True

    #: called with ``(mid, reason code)`` for each PUBACK/PUBCOMP (set by the connection).
    on_ack: Callable[[int, ReasonCode], None] | None = None

    def _do_on_publish(self, mid: int, reason_code: ReasonCode,
                       properties: Properties) -> MQTTErrorCode:
        """A QoS 1/2 acknowledgement: hand it to :attr:`on_ack`, then paho's bookkeeping.

        Why not paho's ``on_publish``: with it set, paho also calls it for every QoS 0 message
        it writes, building a ``ReasonCode`` and a ``Properties`` each time; at 10 Hz SPaT and
        SPATEM from hundreds of controllers that cost 30.6 against 17.7 µs per message
        (``bench/bench_agent.py``). ``on_publish`` stays unset, so QoS 0 writes skip it.
        """
        ack = self.on_ack
        if ack is not None:
            ack(mid, reason_code)
        return super()._do_on_publish(mid, reason_code, properties)


class MqttConnection:
    """One MQTT 5 connection driven by the running asyncio loop."""

    def __init__(
        self,
        *,
        client_id: str,
        address: BrokerAddress,
        settings: MqttConfig,
        will: Will | None,
        on_message: Callable[[paho.MQTTMessage], None],
        on_puback: Callable[[int, int], None],
        max_inflight: int = 100,
        password: str | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._address = address
        self._settings = settings
        self._connected: asyncio.Future[None] = self._loop.create_future()
        self.closed: asyncio.Future[str] = self._loop.create_future()
        self._misc_task: asyncio.Task[None] | None = None
        self._on_message = on_message
        self._on_puback = on_puback
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self.session_present = False
        c = _BoundedReadClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            reconnect_on_failure=False,
        )
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(0)
        user = address.username or settings.username
        secret = password if password is not None else address.password
        if user is not None:
            c.username_pw_set(user, secret)
        if address.tls:  # mqtts:// only: configs refuse TLS settings with mqtt://
            c.tls_set_context(tls_context(settings.tls))
        if will is not None:
            c.will_set(will.topic, will.payload, will.qos, will.retain)
        c.on_connect = self._handle_connect
        c.on_disconnect = self._handle_disconnect
        c.on_message = self._handle_message
        c.on_ack = self._handle_ack
        c.on_subscribe = self._handle_subscribe
        c.on_socket_open = self._socket_open
        c.on_socket_close = self._socket_close
        c.on_socket_register_write = self._socket_register_write
        c.on_socket_unregister_write = self._socket_unregister_write
        self._client = c

    # --- lifecycle -------------------------------------------------------------------------

    async def connect(self, timeout: float = 10.0) -> bool:
        """Connect with clean start off; return whether the broker still had our session."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._settings.session_expiry_s
        # the broker must not send us anything larger (MQTT 5 §3.1.2.11.4: it discards it and
        # behaves as if delivered), so no message can make paho read and hold megabytes
        props.MaximumPacketSize = MAX_PACKET_SIZE
        try:
            await asyncio.wait_for(
                self._loop.run_in_executor(
                    None,
                    lambda: self._client.connect(
                        self._address.host,
                        self._address.port,
                        keepalive=self._settings.keepalive_s,
                        clean_start=False,
                        properties=props,
                    ),
                ),
                timeout,
            )
            await asyncio.wait_for(asyncio.shield(self._connected), timeout)
        except ssl.SSLError as exc:  # before OSError: SSLError is one
            self._teardown()
            what = (f"the broker's certificate is not trusted ({exc.verify_message})"
                    if isinstance(exc, ssl.SSLCertVerificationError) else exc.reason or exc)
            raise MqttError(
                f"TLS with {self._address.host}:{self._address.port} failed: {what}",
                kind="tls",
            ) from exc
        except (OSError, TimeoutError) as exc:
            self._teardown()
            raise MqttError(
                f"cannot connect to {self._address.host}:{self._address.port}: "
                f"{exc or type(exc).__name__}", kind="network"
            ) from exc
        except MqttError:
            self._teardown()
            raise
        return self.session_present

    def disconnect(self) -> None:
        """Send DISCONNECT (no Last Will) and close."""
        self._client.disconnect()

    def abort(self) -> None:
        """Drop the socket without DISCONNECT (the broker will publish the Last Will)."""
        self._teardown()

    def _teardown(self) -> None:
        sock = self._client.socket()
        if sock is not None:
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_reader(sock)
                self._loop.remove_writer(sock)
            with contextlib.suppress(OSError):
                sock.close()
        if self._misc_task is not None:
            self._misc_task.cancel()
        if not self.closed.done():
            self.closed.set_result("aborted")

    # --- operations ------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> int | None:
        """Hand a message to paho; the mid for QoS 1 (PUBACK and its reason code arrive via
        ``on_puback``),
        ``None`` when not connected."""
        info = self._client.publish(topic, payload, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        return info.mid

    def publish_qos0(self, topic: str, payload: bytes, retain: bool) -> bool:
        """Hand a QoS 0 message to the socket's queue; ``False`` when not connected."""
        return self._client.publish_qos0(topic, payload, retain)

    def subscribe(self, topics: list[tuple[str, int]]) -> None:
        """Subscribe to ``(filter, qos)`` pairs (fire and forget; the broker keeps them)."""
        if topics:
            self._client.subscribe(topics)

    async def subscribe_acked(self, topics: list[tuple[str, int]], timeout: float) -> list[str]:
        """Subscribe and wait for the broker's SUBACK; return the filters it refused.

        A device announces itself only after this returns, so a command sent in reaction to
        its birth always finds the subscription in place. :class:`MqttError` when no SUBACK
        comes within ``timeout`` or the connection ends first.
        """
        if not topics:
            return []
        rc, mid = self._client.subscribe(topics)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            raise MqttError(f"cannot subscribe: {paho.error_string(rc)}")
        fut: asyncio.Future[list[ReasonCode]] = self._loop.create_future()
        self._subacks[mid] = fut
        try:
            waiting: set[asyncio.Future[Any]] = {fut, self.closed}
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            self._subacks.pop(mid, None)
        if fut not in done:
            why = f"connection closed ({self.closed.result()})" if self.closed.done() else (
                f"no SUBACK within {timeout:.0f} s"
            )
            raise MqttError(f"subscribe failed: {why}")
        codes = fut.result()
        return [f for (f, _q), rc in zip(topics, codes, strict=False) if rc.is_failure]

    # --- paho callbacks (loop thread, or the executor during connect) ---------------------

    def _handle_connect(
        self, _c: paho.Client, _u: Any, flags: paho.ConnectFlags, rc: ReasonCode, _p: Any
    ) -> None:
        def resolve() -> None:
            if self._connected.done():
                return
            if rc.is_failure:
                kind = "not_authorised" if rc.value in NOT_AUTHORISED_CODES else "protocol"
                self._connected.set_exception(MqttError(f"broker refused: {rc}", kind=kind))
            else:
                self.session_present = bool(flags.session_present)
                self._connected.set_result(None)

        self._loop.call_soon_threadsafe(resolve)

    def _handle_disconnect(
        self, _c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any
    ) -> None:
        def resolve() -> None:
            if not self._connected.done():
                self._connected.set_exception(MqttError(f"disconnected during connect: {rc}"))
            if not self.closed.done():
                self.closed.set_result(str(rc))
            if self._misc_task is not None:
                self._misc_task.cancel()

        self._loop.call_soon_threadsafe(resolve)

    def _handle_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        self._on_message(msg)

    def _handle_subscribe(
        self, _c: paho.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        fut = self._subacks.get(mid)
        if fut is not None and not fut.done():
            fut.set_result(list(codes))

    def _handle_ack(self, mid: int, rc: ReasonCode) -> None:
        self._on_puback(mid, int(rc.value))

    def _socket_open(self, client: paho.Client, _u: Any, sock: Any) -> None:
        def start() -> None:
            self._loop.add_reader(sock, self._read)
            self._misc_task = self._loop.create_task(self._misc_loop(), name="mqtt-misc")

        self._loop.call_soon_threadsafe(start)

    def _read(self) -> None:
        # a bounded amount per event-loop iteration: whatever arrives, a tick due meanwhile
        # runs before more is read (see _BoundedReadClient)
        rc = self._client.loop_read(READ_MAX_PACKETS)
        if rc != paho.MQTT_ERR_SUCCESS:
            log.debug("mqtt read ended: %s", rc)
            return
        sock = self._client.socket()
        # TLS sockets may hold decoded bytes that select() does not announce: read them in
        # the next iteration
        pending = getattr(sock, "pending", None)
        if pending is not None and pending() > 0:
            self._loop.call_soon(self._read)

    def _socket_close(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        def stop() -> None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(sock)
                self._loop.remove_writer(sock)
            if self._misc_task is not None:
                self._misc_task.cancel()
            if not self.closed.done():
                self.closed.set_result("socket closed")

        self._loop.call_soon_threadsafe(stop)

    def _socket_register_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._loop.call_soon_threadsafe(self._loop.add_writer, sock, self._client.loop_write)

    def _socket_unregister_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        def stop() -> None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_writer(sock)

        self._loop.call_soon_threadsafe(stop)

    async def _misc_loop(self) -> None:
        while self._client.loop_misc() == paho.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1.0)

"""MQTT 5 packets as bytes: the few a subscriber needs, and a decoder that splits a stream.

WHY our own codec beside paho: paho parses every packet through per-packet Python objects
(``MQTTMessage``, ``Properties``, ``ReasonCode``, a callback and a lock each), which costs a
subscriber about 40 µs per message on a Pi-class core — more than validating and storing the
message. A hub ingest worker receives tens of thousands of messages a second, so its receive
path reads large chunks from the socket and splits them here with a handful of slicing
operations per PUBLISH (a few µs), and acknowledges a whole committed batch with one write of
concatenated PUBACKs. Pure functions and a small stateful splitter; no I/O, so it is tested
directly against the specification's byte layouts (OASIS MQTT 5.0, §2–§3).

Only what a QoS ≤ 1 client needs is here: CONNECT, CONNACK, SUBSCRIBE, SUBACK, PUBLISH,
PUBACK, PINGREQ/PINGRESP and DISCONNECT. A subscriber that never sets Topic Alias Maximum in
its CONNECT never receives topic aliases, and one that subscribes with QoS ≤ 1 never receives
QoS 2, so neither is handled.

Poison (issue 13): a PUBLISH that cannot be taken — larger than :data:`MAX_PACKET_SIZE`, a
topic that is not UTF-8 or runs past its packet, a broken property length, QoS 2 — is *not* a
reason to drop the connection: the broker would send the same packet again after every
reconnect (a persistent session redelivers it, a retained message comes with every
SUBSCRIBE), and the session would never get past it. As long as the packet's frame (the
remaining length) is intact, the splitter skips exactly that packet — an oversized one without
ever holding it in memory — and reports it as a :class:`Poison` plus a placeholder message
whose payload is :data:`POISON`, so that the owner acknowledges it in order with its
neighbours. Only a broken frame (a remaining length over four bytes, an unknown control
packet) is a :class:`ProtocolError`: then the stream itself cannot be followed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from edge_agent.errors import KasselError

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 0x10, 0x20, 0x30, 0x40, 0x80, 0x90
PINGREQ, PINGRESP, DISCONNECT = 0xC0, 0xD0, 0xE0

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # normal disconnection, no reason code, no properties
_MAX_REMAINING = 268_435_455  # the largest value a four-byte variable integer can hold
#: The largest MQTT packet any Kassel client or broker takes (65 KiB = 66,560 bytes): a payload
#: of the contract's 64 KiB (``edge_agent.contract.payloads.MAX_PAYLOAD_BYTES``) plus 1 KiB for
#: the fixed header, the topic (ours are under 100 bytes) and properties (ours send none).
#: Announced as Maximum Packet Size in every CONNECT (hub and agents) and configured as the
#: broker's ``max_packet_size`` (docs/hub.md, "Message size limits").
MAX_PACKET_SIZE: Final = 65 * 1024

# property identifiers (MQTT 5 §2.2.2.2)
_SESSION_EXPIRY = 0x11
_RECEIVE_MAXIMUM = 0x21
_MAX_PACKET_SIZE = 0x27


class ProtocolError(KasselError):
    """The peer sent bytes that cannot be followed as a stream of MQTT packets."""


class _PoisonPayload(bytes):
    """The type of :data:`POISON` (a distinct object: slicing never returns it)."""


#: The payload of the placeholder message that stands for a skipped poison PUBLISH; test
#: with ``payload is POISON``.
POISON: Final = _PoisonPayload(b"")


class Poison(NamedTuple):
    """A PUBLISH the splitter skipped: why, its QoS and packet id (0: unreadable), its topic
    as far as it could be read, and its size in bytes (the remaining length)."""

    reason: str
    qos: int
    packet_id: int
    topic: str
    size: int


def varint(n: int) -> bytes:
    """The variable byte integer encoding of ``n`` (§1.5.5)."""
    if not 0 <= n <= _MAX_REMAINING:
        raise ValueError(f"variable byte integer out of range: {n}")
    out = bytearray()
    while True:
        n, b = divmod(n, 128)
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _string(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    if len(b) > 0xFFFF:
        raise ValueError("MQTT strings are at most 65,535 bytes")
    return len(b).to_bytes(2, "big") + b


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


@dataclass(frozen=True, slots=True)
class Will:
    """The Last Will of a CONNECT (the agents' paho sessions set the same)."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def connect(client_id: str, *, keepalive_s: int, clean_start: bool,
            session_expiry_s: int = 0, receive_maximum: int | None = None,
            max_packet_size: int | None = None, username: str | None = None,
            password: str | None = None, will: Will | None = None) -> bytes:
    """A CONNECT packet (§3.1)."""
    flags = 0x02 if clean_start else 0
    props = bytearray()
    if session_expiry_s:
        props += bytes((_SESSION_EXPIRY,)) + session_expiry_s.to_bytes(4, "big")
    if receive_maximum is not None:
        props += bytes((_RECEIVE_MAXIMUM,)) + receive_maximum.to_bytes(2, "big")
    if max_packet_size is not None:
        props += bytes((_MAX_PACKET_SIZE,)) + max_packet_size.to_bytes(4, "big")
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += b"\x00" + _string(will.topic) + _string(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _string(password)
    body = (b"\x00\x04MQTT\x05" + bytes((flags,)) + keepalive_s.to_bytes(2, "big")
            + varint(len(props)) + bytes(props) + payload)
    return _packet(CONNECT, body)


def subscribe(packet_id: int, filters: list[tuple[str, int]]) -> bytes:
    """A SUBSCRIBE packet (§3.8): ``(topic filter, maximum QoS)`` pairs, no properties."""
    body = packet_id.to_bytes(2, "big") + b"\x00"
    for topic, qos in filters:
        body += _string(topic) + bytes((qos & 0x03,))
    return _packet(SUBSCRIBE | 0x02, body)


def publish(topic: str, payload: bytes, qos: int = 0, packet_id: int = 0,
            retain: bool = False) -> bytes:
    """A PUBLISH packet (§3.3) without properties."""
    body = _string(topic)
    if qos:
        body += packet_id.to_bytes(2, "big")
    return _packet(PUBLISH | (qos << 1) | (1 if retain else 0), body + b"\x00" + payload)


_PUBACK = struct.Struct(">BBH")


def pubacks(packet_ids: list[int]) -> bytes:
    """PUBACKs (§3.4, success, reason code omitted) for many packet ids, concatenated."""
    pack = _PUBACK.pack
    return b"".join([pack(PUBACK, 2, mid) for mid in packet_ids])


@dataclass(frozen=True, slots=True)
class Ack:
    """A CONNACK or SUBACK: what a client waits for after its request."""

    kind: int
    session_present: bool = False
    reason_codes: tuple[int, ...] = ()

    @property
    def failed(self) -> bool:
        """True when any reason code is an error (0x80 and above)."""
        return any(rc >= 0x80 for rc in self.reason_codes)


@dataclass(slots=True)
class Splitter:
    """Splits a byte stream into packets; PUBLISHes come out as tuples, the rest as :class:`Ack`.

    ``feed`` takes whatever the socket returned and appends ``(qos, packet_id, topic,
    payload)`` for every complete PUBLISH to ``messages``; control packets go to ``controls``
    as ``(type, Ack | None)``. Incomplete packets wait for the next ``feed``. A PUBLISH that
    cannot be taken is appended to ``poison`` and stands in ``messages`` as ``(qos,
    packet_id, topic, POISON)`` (see the module docstring); an oversized one is skipped as its
    bytes arrive, so memory never holds more than :data:`MAX_PACKET_SIZE` of it.
    """

    max_packet: int = MAX_PACKET_SIZE
    messages: list[tuple[int, int, str, bytes]] = field(default_factory=list)
    controls: list[tuple[int, Ack | None]] = field(default_factory=list)
    poison: list[Poison] = field(default_factory=list)
    _rest: bytes = b""
    _skip: int = 0  # bytes of an oversized PUBLISH still to be discarded

    def _poison(self, reason: str, qos: int, mid: int, topic: str, size: int) -> None:
        self.poison.append(Poison(reason, qos, mid, topic, size))
        self.messages.append((qos, mid, topic, POISON))

    def feed(self, data: bytes) -> None:
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return
            data = data[self._skip:]
            self._skip = 0
        buf = self._rest + data if self._rest else data
        n = len(buf)
        pos = 0
        append = self.messages.append
        while pos + 2 <= n:
            first = buf[pos]
            # remaining length: 1–4 bytes
            length = 0
            shift = 0
            i = pos + 1
            while True:
                if i >= n:
                    self._rest = buf[pos:]
                    return
                b = buf[i]
                length |= (b & 0x7F) << shift
                i += 1
                if not b & 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("remaining length longer than four bytes")
            end = i + length
            kind = first & 0xF0
            if length > self.max_packet:
                if kind != PUBLISH:
                    raise ProtocolError(f"packet of {length} bytes exceeds {self.max_packet}")
                # read the header (topic, packet id) for the ack, then skip the rest unread
                header = _publish_header(buf, i, min(end, n), first)
                if header is None:  # not all of the header is here yet (at most 64 KiB)
                    self._rest = buf[pos:]
                    return
                qos, mid, topic = header
                self._poison("too_large", qos, mid, topic, length)
                if end > n:
                    self._skip = end - n
                    self._rest = b""
                    return
                pos = end
                continue
            if end > n:
                break
            if kind == PUBLISH:
                qos = (first >> 1) & 0x03
                if length < 3:
                    self._poison("malformed", qos, 0, "", length)
                    pos = end
                    continue
                tlen = (buf[i] << 8) | buf[i + 1]
                t_end = i + 2 + tlen
                p_at = t_end + 2 if qos else t_end  # where the properties start
                if p_at > end:  # the topic (or the packet id) runs past the packet
                    self._poison("malformed", qos, 0, "", length)
                    pos = end
                    continue
                mid = (buf[t_end] << 8) | buf[t_end + 1] if qos else 0
                try:
                    topic = buf[i + 2:t_end].decode()
                except UnicodeDecodeError:
                    self._poison("bad_topic", qos, mid, "", length)
                    pos = end
                    continue
                if qos >= 2:
                    self._poison(f"qos{qos}", qos, mid, topic, length)
                    pos = end
                    continue
                # properties: a variable byte integer length, then skipped
                plen = buf[p_at] if p_at < end else 0x100  # 0x100: the length is missing
                if plen == 0x100:
                    start = end + 1
                elif plen < 0x80:
                    start = p_at + 1 + plen
                else:
                    try:
                        plen, used = _read_varint(buf[:end], p_at)
                    except ProtocolError:
                        start = end + 1
                    else:
                        start = p_at + used + plen
                if start > end:
                    self._poison("malformed", qos, mid, topic, length)
                    pos = end
                    continue
                append((qos, mid, topic, buf[start:end]))
            else:
                self.controls.append((kind, _control(kind, buf[i:end])))
            pos = end
        self._rest = buf[pos:] if pos < n else b""


def _publish_header(buf: bytes, i: int, avail: int, first: int) -> tuple[int, int, str] | None:
    """``(qos, packet id, topic)`` of the PUBLISH whose variable header starts at ``buf[i]``,
    or ``None`` while fewer than ``avail`` bytes hold it (packet id 0 when unreadable)."""
    qos = (first >> 1) & 0x03
    if avail < i + 2:
        return None
    t_end = i + 2 + ((buf[i] << 8) | buf[i + 1])
    if avail < t_end + (2 if qos else 0):
        return None
    try:
        topic = buf[i + 2:t_end].decode()
    except UnicodeDecodeError:
        topic = ""
    mid = (buf[t_end] << 8) | buf[t_end + 1] if qos else 0
    return qos, mid, topic


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value = 0
    for k in range(4):
        if i + k >= len(buf):
            raise ProtocolError("variable byte integer runs past the packet")
        b = buf[i + k]
        value |= (b & 0x7F) << (7 * k)
        if not b & 0x80:
            return value, k + 1
    raise ProtocolError("variable byte integer longer than four bytes")


def _control(kind: int, body: bytes) -> Ack | None:
    """Decode the control packets a subscriber waits for; others carry no data it needs."""
    if kind == CONNACK:
        if len(body) < 2:
            raise ProtocolError("short CONNACK")
        return Ack(kind, bool(body[0] & 0x01), (body[1],))
    if kind == SUBACK:
        if len(body) < 3:
            raise ProtocolError("short SUBACK")
        plen, used = _read_varint(body, 2)
        return Ack(kind, False, tuple(body[2 + used + plen:]))
    if kind == DISCONNECT:
        return Ack(kind, False, (body[0] if body else 0,))
    if kind in (PINGRESP, PUBACK):
        return None
    raise ProtocolError(f"unexpected packet type 0x{kind:02x}")

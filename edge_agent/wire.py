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
QoS 2, so neither is handled; a QoS 2 PUBLISH is reported as a protocol error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 0x10, 0x20, 0x30, 0x40, 0x80, 0x90
PINGREQ, PINGRESP, DISCONNECT = 0xC0, 0xD0, 0xE0

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # normal disconnection, no reason code, no properties
_MAX_REMAINING = 268_435_455  # the largest value a four-byte variable integer can hold

# property identifiers (MQTT 5 §2.2.2.2)
_SESSION_EXPIRY = 0x11
_RECEIVE_MAXIMUM = 0x21
_MAX_PACKET_SIZE = 0x27


class ProtocolError(Exception):
    """The peer sent bytes that are not a packet this client can accept."""


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
    as ``(type, Ack | None)``. Incomplete packets wait for the next ``feed``.
    """

    max_packet: int = 1 << 20
    messages: list[tuple[int, int, str, bytes]] = field(default_factory=list)
    controls: list[tuple[int, Ack | None]] = field(default_factory=list)
    _rest: bytes = b""

    def feed(self, data: bytes) -> None:
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
            if length > self.max_packet:
                raise ProtocolError(f"packet of {length} bytes exceeds {self.max_packet}")
            if end > n:
                break
            kind = first & 0xF0
            if kind == PUBLISH:
                qos = (first >> 1) & 0x03
                if qos >= 2:
                    raise ProtocolError(f"PUBLISH with QoS {qos} on a QoS ≤ 1 session")
                if length < 3:
                    raise ProtocolError("PUBLISH shorter than its topic length")
                tlen = (buf[i] << 8) | buf[i + 1]
                t_end = i + 2 + tlen
                if t_end + (3 if qos else 1) > end:
                    raise ProtocolError("PUBLISH topic runs past the packet")
                try:
                    topic = buf[i + 2:t_end].decode()
                except UnicodeDecodeError:
                    topic = ""  # counted as an unknown topic by the intake
                if qos:
                    mid = (buf[t_end] << 8) | buf[t_end + 1]
                    t_end += 2
                else:
                    mid = 0
                # properties: a variable byte integer length, then skipped
                plen = buf[t_end]
                if plen < 0x80:
                    start = t_end + 1 + plen
                else:
                    plen, used = _read_varint(buf[:end], t_end)
                    start = t_end + used + plen
                if start > end:
                    raise ProtocolError("PUBLISH properties run past the packet")
                append((qos, mid, topic, buf[start:end]))
            else:
                self.controls.append((kind, _control(kind, buf[i:end])))
            pos = end
        self._rest = buf[pos:] if pos < n else b""


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

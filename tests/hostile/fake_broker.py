"""A scripted MQTT 5 "broker" on loopback that sends packets Mosquitto would never forward.

WHY: a real broker re-encodes what it forwards, so a PUBLISH with a broken property, an invalid
UTF-8 topic, QoS 2 on a QoS 1 subscription or a topic running past its packet can only reach
the hub from a broken or hostile broker. The hub's session must survive those too; this server
accepts any CONNECT, grants every SUBSCRIBE and then sends its script on every connection,
recording what the client sent back (CONNECT properties, PUBACK packet ids).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from edge_agent.mqtt5 import codec


def read_varint(buf: bytes, i: int) -> tuple[int, int]:
    """``(value, bytes used)`` of the variable byte integer at ``buf[i]``."""
    value, k = 0, 0
    while True:
        b = buf[i + k]
        value |= (b & 0x7F) << (7 * k)
        k += 1
        if not b & 0x80:
            return value, k


def connect_properties(body: bytes) -> dict[int, bytes]:
    """Property id -> raw value bytes of a CONNECT body (only the fixed-size ones we use)."""
    i = 10  # protocol name (6), level (1), flags (1), keepalive (2)
    plen, used = read_varint(body, i)
    i += used
    end = i + plen
    sizes = {0x11: 4, 0x21: 2, 0x27: 4, 0x22: 2, 0x17: 1, 0x19: 1}
    out: dict[int, bytes] = {}
    while i < end:
        pid = body[i]
        n = sizes[pid]
        out[pid] = body[i + 1:i + 1 + n]
        i += 1 + n
    return out


@dataclass
class Connection:
    """What one client connection sent."""

    client_id: str
    properties: dict[int, bytes]
    pubacks: list[int] = field(default_factory=list)


class FakeBroker:
    """Serves ``script`` (raw packets) after the SUBACK of every connection."""

    def __init__(self, script: list[bytes]) -> None:
        self.script = script
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while self._running:
            try:
                sock, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        buf = b""
        conn: Connection | None = None
        try:
            while self._running:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                while len(buf) >= 2:
                    length, used = read_varint(buf, 1)
                    end = 1 + used + length
                    if len(buf) < end:
                        break
                    kind, body, buf = buf[0] & 0xF0, buf[1 + used:end], buf[end:]
                    if kind == codec.CONNECT:
                        props = connect_properties(body)
                        plen, u = read_varint(body, 10)
                        i = 10 + u + plen
                        cid = body[i + 2:i + 2 + int.from_bytes(body[i:i + 2], "big")].decode()
                        conn = Connection(cid, props)
                        with self._lock:
                            self.connections.append(conn)
                        sock.sendall(b"\x20\x03\x00\x00\x00")  # CONNACK, no session
                    elif kind == codec.SUBSCRIBE:
                        pid = body[:2]
                        n_filters = _count_filters(body)
                        sock.sendall(bytes((codec.SUBACK, 3 + n_filters)) + pid + b"\x00"
                                     + b"\x01" * n_filters)
                        for packet in self.script:
                            sock.sendall(packet)
                    elif kind == codec.PUBACK and conn is not None:
                        with self._lock:
                            conn.pubacks.append(int.from_bytes(body[:2], "big"))
                    elif kind == codec.PINGREQ:
                        sock.sendall(b"\xd0\x00")
                    elif kind == codec.DISCONNECT:
                        return
        except OSError:
            return
        finally:
            sock.close()

    def of(self, prefix: str) -> list[Connection]:
        """The connections whose client id starts with ``prefix``."""
        with self._lock:
            return [c for c in self.connections if c.client_id.startswith(prefix)]

    def close(self) -> None:
        self._running = False
        self.server.close()


def _count_filters(body: bytes) -> int:
    plen, used = read_varint(body, 2)
    i = 2 + used + plen
    n = 0
    while i < len(body):
        tlen = int.from_bytes(body[i:i + 2], "big")
        i += 2 + tlen + 1
        n += 1
    return n


def raw_publish(first: int, body: bytes) -> bytes:
    """A packet with any first byte and any body (the length is always right)."""
    return bytes((first,)) + codec.varint(len(body)) + body

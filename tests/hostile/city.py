"""What the hostile tests share: a broker run on the registry's own password and ACL files,
raw MQTT 5 clients that log in as a device, and a strict JSON reader.

WHY raw sockets for the attackers: an attacker does not use our agent; it sends exactly the
bytes it wants (any size, as fast as TCP takes them), so the tests build packets with
:mod:`edge_agent.mqtt5.codec` and write them to a plain socket.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from central_hub.broker import MosquittoBroker
from central_hub.registry import DeviceRegistry
from central_hub.storage.db import make_engine
from edge_agent.contract.topics import Topics
from edge_agent.mqtt5 import codec

TOPICS = Topics()


@dataclass
class City:
    """A running broker with the registry's files and the credentials of its devices."""

    broker: MosquittoBroker
    registry: DeviceRegistry
    creds: dict[str, str]

    def url(self, device_id: str) -> str:
        """``mqtt://device:password@host:port`` of one registered device."""
        b = self.broker
        return f"mqtt://{device_id}:{self.creds[device_id]}@{b.host}:{b.port}"


def start_city(tmp_path: Path, broker_factory: type[MosquittoBroker],
               **broker_options: Any) -> City:
    """A hub, a bus (vehicle 1234) and a controller (ks-0042) registered; the broker started
    on the password and ACL files the registry generated. The registry is the hub's own
    database, :func:`hub_database` (as in a deployment: the hub knows its devices)."""
    pw, acl = tmp_path / "passwd", tmp_path / "acl"
    engine = make_engine(hub_database(tmp_path))
    reg = DeviceRegistry(engine, TOPICS, str(pw), str(acl))
    creds = {"hub-1": reg.register("hub-1", "hub"),
             "bus-1234": reg.register("bus-1234", "bus", "1234"),
             "ks-0042": reg.register("ks-0042", "intersection")}
    broker = broker_factory(tmp_path / "mq", password_file=pw, acl_file=acl, **broker_options)
    broker.start()
    reg.reload = broker.reload
    return City(broker, reg, creds)


def hub_database(tmp_path: Path) -> str:
    """The database URL of the hub (and its registry) in a hostile test."""
    return f"sqlite:///{tmp_path / 'hub.db'}"


def strict_json(text: str | bytes) -> Any:
    """``json.loads`` as a browser's ``JSON.parse``: NaN and Infinity are not JSON."""

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


class RawClient:
    """An MQTT 5 client on a plain socket: CONNECT as a device, then any bytes it likes."""

    def __init__(self, city: City, device_id: str, *, client_id: str | None = None,
                 clean_start: bool = True) -> None:
        b = city.broker
        self.sock = socket.create_connection((b.host, b.port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.splitter = codec.Splitter(max_packet=1 << 30)
        self.sock.sendall(codec.connect(client_id or f"{device_id}-raw-{time.monotonic_ns()}",
                                       keepalive_s=60, clean_start=clean_start,
                                       username=device_id, password=city.creds[device_id]))
        found, ack = self._await(codec.CONNACK)
        assert found and ack is not None and not ack.failed, f"{device_id} refused: {ack}"
        self._mid = 0

    def _await(self, kind: int, timeout: float = 10.0) -> tuple[bool, codec.Ack | None]:
        """``(found, ack)`` of the next control packet of ``kind`` (``ack`` None for PUBACK)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, (k, ack) in enumerate(self.splitter.controls):
                if k == kind:
                    del self.splitter.controls[i]
                    return True, ack
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return False, None
            self.splitter.feed(data)
        return False, None

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Send one PUBLISH; False when the broker has closed the connection."""
        self._mid = self._mid % 0xFFFF + 1
        try:
            self.sock.sendall(codec.publish(topic, payload, qos, self._mid if qos else 0, retain))
        except OSError:
            return False
        return True

    def puback(self, timeout: float = 10.0) -> bool:
        """Wait for the next PUBACK; False when the connection closed first or none came."""
        try:
            return self._await(codec.PUBACK, timeout)[0]
        except OSError:
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(codec.DISCONNECT_PACKET)
        self.sock.close()

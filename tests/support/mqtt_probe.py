"""A synchronous MQTT 5 client for tests: subscribe, collect, wait for a condition, publish."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.contract.configs import TlsConfig
from edge_agent.mqtt import BrokerAddress, tls_context


@dataclass
class Received:
    """One received message."""

    topic: str
    payload: bytes
    retain: bool
    at: float

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class MqttProbe:
    """Collects every message on its subscriptions; reconnects with a persistent session."""

    url: str
    client_id: str = "probe"
    persistent: bool = False
    #: the CA that signed the broker's certificate, for an ``mqtts://`` url
    ca_file: str | None = None
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._subs: list[tuple[str, int]] = []
        self.connected = threading.Event()
        addr = BrokerAddress.parse(self.url)
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                        protocol=paho.MQTTv5)
        if addr.username:
            c.username_pw_set(addr.username, addr.password)
        if addr.tls:
            c.tls_set_context(tls_context(TlsConfig(ca_file=self.ca_file)))
        c.on_message = self._on_message
        c.on_connect = self._on_connect
        c.reconnect_delay_set(0.2, 1.0)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600 if self.persistent else 0
        c.connect(addr.host, addr.port, keepalive=5, clean_start=not self.persistent,
                  properties=props)
        c.loop_start()
        self.client = c
        if not self.connected.wait(10):
            raise TimeoutError("probe could not connect")

    def _on_connect(self, c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if self._subs:
            c.subscribe(self._subs)
        self.connected.set()

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain),
                                          time.monotonic()))
            self._cond.notify_all()

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self._subs.append((topic, qos))
        done = threading.Event()
        self.client.on_subscribe = lambda *_a: done.set()
        self.client.subscribe(topic, qos)
        done.wait(5)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1,
                retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos, retain)
        if qos:
            info.wait_for_publish(10)

    def on(self, topic_suffix: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(topic_suffix)]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

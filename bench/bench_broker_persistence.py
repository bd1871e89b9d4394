"""What a SIGKILL of Mosquitto loses, and what ``autosave_on_changes`` costs.

Mosquitto 2.0 acknowledges a QoS 1 PUBLISH (PUBACK) as soon as it has queued the message in
memory; its persistence file is rewritten whole, either every ``autosave_interval`` seconds or
(``autosave_on_changes true``) once ``autosave_interval`` changes have accumulated, checked once
per main-loop pass, i.e. after the PUBACKs of that pass were written. A message queued for a
subscriber that is offline (or at its in-flight limit) lives only in memory until the next
save, so an edge agent that deleted it on PUBACK cannot resend it. A connected subscriber with
room in its window gets the message written to its socket before the publisher's PUBACK.

Scenarios, each ``--runs`` times per configuration:

* ``offline``: a persistent subscriber session is offline; a QoS 1 publisher sends ``--rate``
  msg/s; the broker is killed at a random moment, restarted, and the subscriber collects its
  queue. Lost = PUBACKed but never delivered.
* ``online``: the same with the subscriber connected and acknowledging.
* ``cost``: QoS 1 publish throughput (in-flight 100) into an offline session's queue.

Run: ``python -m bench.bench_broker_persistence [--runs 5]`` (about a minute per run set).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from central_hub.broker import MosquittoBroker

TOPIC = "bench/persist"


def _client(broker: MosquittoBroker, cid: str, *, persistent: bool) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if persistent:
        props.SessionExpiryInterval = 3600
    c.connect(broker.host, broker.port, clean_start=not persistent, properties=props)
    return c


class Subscriber:
    """A persistent QoS 1 session that records every payload it receives."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.broker = broker
        self.got: set[int] = set()
        self.client: mqtt.Client | None = None

    def connect(self) -> None:
        c = _client(self.broker, "bench-sub", persistent=True)
        c.on_message = lambda _c, _u, m: self.got.add(int(m.payload))
        done = threading.Event()
        c.on_subscribe = lambda *_a: done.set()
        c.loop_start()
        c.subscribe(TOPIC, qos=1)
        done.wait(5)
        self.client = c

    def disconnect(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None


def kill_run(conf: dict[str, object], *, online: bool, rate: float, rng: random.Random) -> int:
    """One kill; returns how many PUBACKed messages were never delivered."""
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(Path(tmp), **conf)  # type: ignore[arg-type]
        broker.start()
        try:
            sub = Subscriber(broker)
            sub.connect()
            if not online:
                sub.disconnect()
            acked: set[int] = set()
            pub = _client(broker, "bench-pub", persistent=False)
            mids: dict[int, int] = {}
            pub.on_publish = lambda _c, _u, mid, _rc, _p: acked.add(mids.get(mid, -1))
            pub.loop_start()
            kill_at = time.monotonic() + rng.uniform(1.5, 3.5)
            i = 0
            while time.monotonic() < kill_at:
                i += 1
                info = pub.publish(TOPIC, str(i).encode(), qos=1)
                mids[info.mid] = i
                time.sleep(1 / rate)
            broker.kill()
            pub.loop_stop()
            broker.start()
            sub.connect()
            time.sleep(2.0)
            sub.disconnect()
            return len(acked - sub.got - {-1})
        finally:
            broker.stop()


def cost(conf: dict[str, object], n: int) -> float:
    """QoS 1 messages per second into an offline session's queue."""
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(Path(tmp), **conf)  # type: ignore[arg-type]
        broker.start()
        try:
            sub = Subscriber(broker)
            sub.connect()
            sub.disconnect()
            pub = _client(broker, "bench-pub", persistent=False)
            pub.loop_start()
            t0 = time.perf_counter()
            infos = [pub.publish(TOPIC, str(i).encode(), qos=1) for i in range(n)]
            for info in infos:
                info.wait_for_publish(600)
            dt = time.perf_counter() - t0
            pub.disconnect()
            pub.loop_stop()
            return n / dt
        finally:
            broker.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--cost-n", type=int, default=20_000)
    a = p.parse_args()
    rng = random.Random(12)
    confs: dict[str, dict[str, object]] = {
        "autosave_interval 1": {"autosave_interval": 1},
        "autosave_on_changes true, autosave_interval 1": {"autosave_interval": 1,
                                                           "autosave_on_changes": True},
    }
    for name, conf in confs.items():
        offline = [kill_run(conf, online=False, rate=a.rate, rng=rng) for _ in range(a.runs)]
        online = [kill_run(conf, online=True, rate=a.rate, rng=rng) for _ in range(a.runs)]
        rate = cost(conf, a.cost_n)
        print(f"{name}: lost (offline session, {a.rate:.0f} msg/s) {offline}; "
              f"lost (connected subscriber) {online}; "
              f"QoS 1 into a queue: {rate:,.0f} msg/s ({a.cost_n} messages)", flush=True)


if __name__ == "__main__":
    main()

"""Attack 1 of issue 13: one oversized (or unparseable) MQTT message must not poison the hub.

Before: a bus published a 2 MiB QoS 1 message on its own ``bus/{id}/position``; the hub's
persistent ingest session got it redelivered on every reconnect (its codec refuses packets over
1 MiB), so ingest stored nothing any more; a 2 MiB retained ``device/{id}/status`` did the
same to the live session. Three ways in, three tests, each with a real ``kassel hub`` process:

* the broker as shipped refuses the message at the door (``max_packet_size`` in the generated
  config: the bus is disconnected once the header is read) and the hub keeps storing;
* a broker without those limits: the hub announces its Maximum Packet Size, so the broker
  discards what is too large for it, also a message already queued in the persistent session
  and a retained one, instead of sending it (MQTT 5 §3.1.2.11.4);
* a broker that sends what no real broker forwards (oversized, a broken property, a topic
  that is not UTF-8 or runs past its packet, QoS 2): the session skips each packet,
  acknowledges it when it is QoS 1, counts it and raises an alarm, and stays connected.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from central_hub.broker import MosquittoBroker
from edge_agent.mqtt5 import codec
from tests.hostile.city import TOPICS, RawClient, hub_database, start_city, strict_json
from tests.hostile.fake_broker import FakeBroker, raw_publish
from tests.integration.central_hub.helpers import position, status, wait_for
from tests.support.hub_process import HubProcess

BIG = 2 * 1024 * 1024
POS = TOPICS.topic("position", "1234")
STATUS = TOPICS.topic("status", "bus-1234")


def _oversized(size: int = BIG) -> bytes:
    """A well-formed position padded with an unknown field to ``size`` bytes."""
    head = position("1234", 999_999)[:-1] + b',"pad":"'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def _stored(hub: HubProcess) -> int:
    return int(hub.ingest()["ingest"]["stored"])


def _reconnects(hub: HubProcess) -> int:
    return hub.log.read_text(errors="replace").count("reconnecting in")


def _vehicle_seq(hub: HubProcess) -> int | None:
    vehicles = strict_json(hub.http.get("/api/v1/vehicles").text)
    for v in vehicles:
        if v.get("vehicle_id") == "1234" or (v.get("position") or {}).get("vehicle_id") == "1234":
            pos = v.get("position") or v
            return int(pos["seq"])
    return None


class Bus:
    """The bus's own device login publishing positions; reconnects when the broker cuts it."""

    def __init__(self, city: object) -> None:
        self.city = city
        self.client = RawClient(city, "bus-1234", client_id="bus-1234")  # type: ignore[arg-type]

    def send(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """QoS 1; True when the broker acknowledged it (False: refused or connection cut)."""
        if self.client.publish(topic, payload, 1, retain) and self.client.puback(5):
            return True
        self.client.close()
        self.client = RawClient(self.city, "bus-1234", client_id="bus-1234")  # type: ignore[arg-type]
        return False

    def close(self) -> None:
        self.client.close()


def test_broker_refuses_oversized_messages_and_hub_keeps_storing(
        tmp_path: Path, broker_factory: type[MosquittoBroker]) -> None:
    city = start_city(tmp_path, broker_factory)
    hub = HubProcess(tmp_path, city.url("hub-1"), hub_database(tmp_path))
    hub.start()
    bus = Bus(city)
    try:
        assert bus.send(STATUS, status("bus-1234", "online", kind="bus"), retain=True)
        assert bus.send(POS, position("1234", 1))
        wait_for(lambda: _stored(hub) >= 1, what="the first position stored")
        # the attack: 2 MiB on the bus's own position topic and as its retained status
        bus.send(POS, _oversized())
        bus.send(STATUS, _oversized(), retain=True)
        before = _reconnects(hub)
        for seq in range(2, 22):
            assert bus.send(POS, position("1234", seq)), f"position {seq} not acknowledged"
        try:
            wait_for(lambda: _stored(hub) >= 21, timeout=15, what="positions 2..21 stored")
        finally:
            print("ingest:", hub.ingest())
        assert _vehicle_seq(hub) == 21
        # a restart of the hub: the persistent session and the retained status come again
        hub.stop()
        hub.http = type(hub.http)(base_url=f"http://127.0.0.1:{hub.port}", timeout=5.0)
        hub.start()
        assert bus.send(POS, position("1234", 22))
        wait_for(lambda: _stored(hub) >= 1, timeout=15, what="position 22 after a restart")
        assert _vehicle_seq(hub) == 22
        st = hub.ingest()
        assert st["live"]["connected"] and st["ingest"]["connected"]
        assert _reconnects(hub) - before == 0, hub.log.read_text()[-3000:]
    finally:
        bus.close()
        hub.stop()


def test_hub_announces_its_limit_so_a_broker_without_limits_discards_oversized(
        tmp_path: Path, broker_factory: type[MosquittoBroker]) -> None:
    """The persistent-session redelivery case: the 2 MiB message is already queued in the
    hub's ingest session (and retained) when the hub connects."""
    city = start_city(tmp_path, broker_factory, **_NO_LIMITS)
    hub = HubProcess(tmp_path, city.url("hub-1"), hub_database(tmp_path))
    hub.start()  # creates the persistent ingest session ...
    hub.stop()  # ... which now queues while the hub is away
    bus = Bus(city)
    stop = threading.Event()
    sent: list[int] = []
    try:
        assert bus.send(STATUS, status("bus-1234", "online", kind="bus"), retain=True)
        assert bus.send(POS, position("1234", 1))
        assert bus.send(POS, _oversized()), "this broker has no limit: it takes 2 MiB"
        assert bus.send(STATUS, _oversized(), retain=True)
        sent.append(1)  # the position before the oversized one

        def keep_publishing() -> None:
            seq = 2
            while not stop.is_set() and seq <= 60:
                if bus.send(POS, position("1234", seq)):
                    sent.append(seq)
                seq += 1
                time.sleep(0.1)

        publisher = threading.Thread(target=keep_publishing, daemon=True)
        publisher.start()
        hub.http = type(hub.http)(base_url=f"http://127.0.0.1:{hub.port}", timeout=5.0)
        hub.start(timeout=30)
        publisher.join(20)
        try:
            wait_for(lambda: _stored(hub) >= len(sent) + 1, timeout=15,
                     what=f"the birth and all {len(sent)} valid positions stored")
        finally:
            print("ingest:", hub.ingest())
        assert _stored(hub) == len(sent) + 1
        assert _vehicle_seq(hub) == sent[-1]
        st = hub.ingest()
        assert st["live"]["connected"] and st["ingest"]["connected"]
        assert _reconnects(hub) == 0, hub.log.read_text()[-3000:]
    finally:
        stop.set()
        bus.close()
        hub.stop()


#: a broker without the shipped size limits (0: none)
_NO_LIMITS: dict[str, int] = {"max_packet_size": 0}


def _poison_script() -> list[bytes]:
    good = position("1234", 1)
    topic = POS.encode()
    t = len(topic).to_bytes(2, "big") + topic
    return [
        # oversized: 2 MiB QoS 1
        raw_publish(codec.PUBLISH | 0x02, t + (101).to_bytes(2, "big") + b"\x00" + b"x" * BIG),
        # a property length that runs past the packet
        raw_publish(codec.PUBLISH | 0x02, t + (102).to_bytes(2, "big") + b"\x7f" + b"{}"),
        # a topic that is not UTF-8
        raw_publish(codec.PUBLISH | 0x02, b"\x00\x04\xff\xfe\xfd\xfc" + (103).to_bytes(2, "big")
                    + b"\x00" + good),
        # QoS 2 on a QoS 1 subscription
        raw_publish(codec.PUBLISH | 0x04, t + (104).to_bytes(2, "big") + b"\x00" + good),
        # a topic length that runs past the packet (no packet id can be read)
        raw_publish(codec.PUBLISH | 0x02, b"\x40\x00" + b"kassel"),
        # and then a good message
        raw_publish(codec.PUBLISH | 0x02, t + (106).to_bytes(2, "big") + b"\x00" + good),
    ]


def test_hub_session_skips_acks_counts_and_alarms_poison_packets(tmp_path: Path) -> None:
    fake = FakeBroker(_poison_script())
    hub = HubProcess(tmp_path, fake.url, hub_database(tmp_path))
    try:
        hub.start()
        wait_for(lambda: _stored(hub) >= 1, timeout=15, what="the good message stored")
        time.sleep(1.0)  # a reconnect into the same poison would have happened by now
        for prefix in ("hub-1-ingest", "hub-1-live"):
            conns = fake.of(prefix)
            assert len(conns) == 1, f"{prefix}: {len(conns)} connections (reconnect loop)"
            mps = conns[0].properties.get(0x27)
            assert mps is not None, f"{prefix} announces no Maximum Packet Size"
            assert int.from_bytes(mps, "big") < BIG
            conn = conns[0]
            wait_for(lambda: {101, 102, 103, 106} <= set(conn.pubacks),  # noqa: B023
                     timeout=5, what=f"{prefix}: PUBACKs of the QoS 1 poison")
            assert 104 not in conn.pubacks, "a QoS 2 packet id was answered with a PUBACK"
        st = hub.ingest()
        print("ingest:", st)
        for path in ("ingest", "live"):
            poison = {p["reason"]: p["count"] for p in st[path]["poison"]}
            assert sum(poison.values()) == 5, (path, poison)
        wait_for(lambda: {("hub_poison_message", "ingest"), ("hub_poison_message", "live")}
                 <= hub.active_kinds(), timeout=5, what="hub_poison_message alarms")
    finally:
        hub.stop()
        fake.close()



"""Attack 2 of issue 13: no bus can put an intersection into fail-safe by sending it data.

Before: every bus may write ``signal/+/srem`` and the controller's MQTT client read messages of
any size, checking the 64 KiB limit only once the whole message was in memory; one 150 MB SREM
took a controller from 45 MB to 508 MB RSS, its tick ran 854 ms late and the watchdog put the
junction into flashing until ``resume``.

Here a real ``kassel signal`` process logs in as ks-0042 on a broker with the registry's
password and ACL files; the bus logs in with its own credentials and sends (1) one 150 MB SREM,
then (2) for 10 s a flood of SREMs as large as the broker lets through, as fast as TCP takes
them, on the SREM topic its ACL lets it write into the controller's subscription. The
controller must stay out of fail-safe with no tick later than the watchdog allows; the test
prints the worst tick lag it measured.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from central_hub.broker import MosquittoBroker
from edge_agent.contract.payloads import MAX_PAYLOAD_BYTES
from edge_agent.mqtt5.codec import MAX_PACKET_SIZE
from signal_controller.domain.intersection import WATCHDOG_MS
from tests.hostile.city import TOPICS, City, RawClient, start_city
from tests.integration.signal_controller.helpers import config_data, write_config
from tests.support.mqtt_probe import MqttProbe

ROOT = Path(__file__).resolve().parents[2]
IX = "ks-0042"
#: the SREM topic bus 1234 may write and the controller reads (``signal/{ix}/srem/{vehicle}``)
SREM_TOPIC = TOPICS.topic("srem", IX, "1234")
HUGE = 150 * 1024 * 1024
FLOOD_S = 10.0


def srem(size: int) -> bytes:
    """A valid SREM from bus 1234 padded with an unknown field to exactly ``size`` bytes."""
    now = int(time.time() * 1000)
    head = json.dumps({"v": 1, "ts": now, "request_id": f"r{now}", "vehicle_id": "1234",
                       "intersection_id": IX, "type": "request", "sg": "K1", "eta": now + 20_000,
                       "role": "transit", "route_id": None}).encode()[:-1] + b',"pad":"'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def payload_in(packet: int) -> int:
    """The largest SREM payload on :data:`SREM_TOPIC` at QoS 0 in a packet of ``packet``
    bytes: fixed header (1 + 3 bytes of remaining length), topic (2 + n), properties (1)."""
    return packet - (1 + 3 + 2 + len(SREM_TOPIC) + 1)


def broker_payload_limit(broker: MosquittoBroker) -> int | None:
    """The largest SREM payload the broker lets through, from its generated config (None: no
    limit)."""
    m = re.search(r"^(max_packet_size|message_size_limit) (\d+)$", broker.conf_path.read_text(),
                  re.M)
    if m is None or not int(m.group(2)):
        return None
    if m.group(1) == "message_size_limit":
        return int(m.group(2))
    return payload_in(int(m.group(2)))


def command(probe: MqttProbe, name: str, timeout: float = 10.0) -> dict[str, Any]:
    """Send a command as the hub and return its ack's result."""
    cid = f"{name}-{time.monotonic_ns()}"
    probe.publish(TOPICS.topic("cmd", IX), json.dumps({"v": 1, "id": cid, "name": name,
                                                      "args": {}}), qos=1)

    def acked(ms: list[Any]) -> bool:
        return any(m.topic.endswith("/cmd/ack") and json.loads(m.payload)["id"] == cid
                   for m in ms)

    assert probe.wait_for(acked, timeout), f"no ack for {name}"
    ack = next(json.loads(m.payload) for m in probe.on("/cmd/ack")
               if json.loads(m.payload)["id"] == cid)
    assert ack["ok"], ack
    result: dict[str, Any] = ack["result"]
    return result


def _flood(city: City, sizes: list[int], seconds: float,
           max_messages: int) -> tuple[int, int]:
    """As fast as TCP takes them, the sizes in turn; reconnect when the broker cuts the
    connection. Returns (messages sent, connections the broker cut)."""
    client = RawClient(city, "bus-1234", client_id="bus-1234")
    payloads = [srem(size) for size in sizes]
    sent = cut = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and sent < max_messages:
            if client.publish(SREM_TOPIC, payloads[sent % len(payloads)], 0):
                sent += 1
            else:
                cut += 1
                client.sock.close()
                client = RawClient(city, "bus-1234", client_id="bus-1234")
    finally:
        client.close()
    return sent, cut


@pytest.mark.parametrize("broker_limit", [True, False], ids=["shipped-broker", "no-broker-limit"])
def test_srem_flood_never_delays_the_tick(
        tmp_path: Path, broker_factory: type[MosquittoBroker], broker_limit: bool) -> None:
    """With the shipped broker the 150 MB SREM is cut at the door; without the broker's limit
    it is the controller's Maximum Packet Size that makes the broker discard it."""
    city = start_city(tmp_path, broker_factory, **({} if broker_limit else {"max_packet_size": 0}))
    cfg = write_config(config_data(f"{IX}.yaml", tmp_path), tmp_path)
    probe = MqttProbe(city.url("hub-1"), client_id="hub-1-probe")
    probe.subscribe(TOPICS.topic("spat", IX), qos=0)
    probe.subscribe(TOPICS.topic("cmd_ack", IX), qos=1)
    probe.subscribe(TOPICS.topic("health", IX), qos=0)
    log = (tmp_path / "signal.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli", "signal", "--config", str(cfg),
         "--broker", city.url(IX)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert probe.wait_for(lambda ms: any(m.topic.endswith("/spat") for m in ms), 20)
        time.sleep(1.0)
        before = command(probe, "status")
        # (1) one 150 MB SREM
        client = RawClient(city, "bus-1234", client_id="bus-1234")
        client.publish(SREM_TOPIC, srem(HUGE), 0)
        client.close()
        # (2) a flood of the largest SREM the broker forwards, in turn with the largest one
        # the controller must parse (a valid SREM of exactly the contract's 64 KiB)
        # (without a broker limit: the largest the controller announces it takes)
        limit = broker_payload_limit(city.broker)
        if limit is None and not broker_limit:
            limit = payload_in(MAX_PACKET_SIZE)
        sizes = [limit, MAX_PAYLOAD_BYTES] if limit is not None else [HUGE]
        sent, cut = _flood(city, sizes, FLOOD_S, 10**6 if limit is not None else 3)
        time.sleep(6.0)  # a health report (every 5 s) after the flood
        after = command(probe, "status", timeout=30)
        statuses = {json.loads(m.payload)["status"] for m in probe.on("/spat")}
        rejected = (json.loads(probe.on("/health")[-1].payload).get("rejected") or {}
                    if probe.on("/health") else {})
        print(f"flood: {sent} SREMs of {sizes} bytes in {FLOOD_S} s ({cut} cut); worst tick lag "
              f"{after.get('max_lag_ms')} ms (before the attack {before.get('max_lag_ms')} ms);"
              f" late ticks {after['late_ticks']}; fault {after['fault']}; SPaT {statuses}; "
              f"dropped {after['dropped']}; rejected {rejected}; "
              f"priority {after['priority_counts']}")
        assert after["fault"] is None, after["fault"]
        assert statuses <= {"operational", "fixed_time"}, statuses
        assert after["max_lag_ms"] < WATCHDOG_MS
        assert cut == 0, "the flood was larger than the broker lets through"
        # both kinds reached the controller: the valid ones its priority logic (or its full
        # request queue), the larger ones were refused by size
        taken = sum(after["priority_counts"].values()) + after["dropped"].get("srem_queue_full", 0)
        assert taken > sum(before["priority_counts"].values())
        assert rejected.get("srem:too_large", 0) > 0
        if not broker_limit:  # the broker kept the 150 MB SREM from the controller
            assert f"Dropping too large outgoing PUBLISH for {IX}" in \
                city.broker.log_path.read_text(errors="replace")
        assert proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        probe.close()

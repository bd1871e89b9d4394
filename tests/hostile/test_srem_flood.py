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

from central_hub.broker import MosquittoBroker
from signal_controller.domain.intersection import WATCHDOG_MS
from tests.hostile.city import TOPICS, City, RawClient, start_city
from tests.integration.signal_controller.helpers import config_data, write_config
from tests.support.mqtt_probe import MqttProbe

ROOT = Path(__file__).resolve().parents[2]
IX = "ks-0042"
#: the topic a bus may write and the controller reads; SREM moves to .../srem/{vehicle} later
SREM_TOPIC = TOPICS.topic("srem", IX)
HUGE = 150 * 1024 * 1024
FLOOD_S = 10.0


def srem(size: int) -> bytes:
    """A valid SREM from bus 1234 padded with an unknown field to exactly ``size`` bytes."""
    now = int(time.time() * 1000)
    head = json.dumps({"v": 1, "ts": now, "request_id": f"r{now}", "vehicle_id": "1234",
                       "intersection_id": IX, "type": "request", "sg": "K1", "eta": now + 20_000,
                       "role": "transit", "route_id": None}).encode()[:-1] + b',"pad":"'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def broker_payload_limit(broker: MosquittoBroker) -> int | None:
    """The largest payload the broker forwards, from its generated config (None: no limit)."""
    m = re.search(r"^message_size_limit (\d+)$", broker.conf_path.read_text(), re.M)
    return int(m.group(1)) or None if m else None


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


def _flood(city: City, size: int, seconds: float, max_messages: int) -> int:
    """As fast as TCP takes them; reconnect when the broker cuts the connection."""
    client = RawClient(city, "bus-1234", client_id="bus-1234")
    payload = srem(size)
    sent = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and sent < max_messages:
            if client.publish(SREM_TOPIC, payload, 0):
                sent += 1
            else:
                client.sock.close()
                client = RawClient(city, "bus-1234", client_id="bus-1234")
    finally:
        client.close()
    return sent


def test_srem_flood_never_delays_the_tick(
        tmp_path: Path, broker_factory: type[MosquittoBroker]) -> None:
    city = start_city(tmp_path, broker_factory)
    cfg = write_config(config_data(f"{IX}.yaml", tmp_path), tmp_path)
    probe = MqttProbe(city.url("hub-1"), client_id="hub-1-probe")
    probe.subscribe(TOPICS.topic("spat", IX), qos=0)
    probe.subscribe(TOPICS.topic("cmd_ack", IX), qos=1)
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
        # (2) a flood of the largest SREM the broker forwards
        limit = broker_payload_limit(city.broker)
        size = limit if limit is not None else HUGE
        sent = _flood(city, size, FLOOD_S, 10**6 if limit is not None else 3)
        time.sleep(2.0)
        after = command(probe, "status", timeout=30)
        statuses = {json.loads(m.payload)["status"] for m in probe.on("/spat")}
        print(f"flood: {sent} SREMs of {size} bytes in {FLOOD_S} s; worst tick lag "
              f"{after.get('max_lag_ms')} ms (before the attack {before.get('max_lag_ms')} ms);"
              f" late ticks {after['late_ticks']}; fault {after['fault']}; SPaT {statuses}; "
              f"dropped {after['dropped']}")
        assert after["fault"] is None, after["fault"]
        assert statuses <= {"operational", "fixed_time"}, statuses
        assert after["max_lag_ms"] < WATCHDOG_MS
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

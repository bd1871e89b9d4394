"""The contract every field agent passes, whatever it is (docs/design.md: one shared suite).

Each agent runs as the real ``kassel`` process against a private Mosquitto: it is born with a
retained ``online`` status, acks commands (unknown ones with ``ok: false``), survives garbage
on every topic it subscribes to and counts it, and dies with the Last Will carrying its
``bdseq`` when killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from central_hub.broker import MosquittoBroker, free_port
from edge_agent.contract.topics import SPEC_BY_NAME, Topics
from tests.support.mqtt_probe import MqttProbe

ROOT = Path(__file__).resolve().parents[2]
#: The last one is over the agent's 64 KiB payload limit but under the broker's packet limit
#: (64 KiB + 1 KiB), so it reaches the agent; anything larger the broker itself refuses
#: (tests/hostile/test_oversized_message.py).
GARBAGE = [b"", b"\xff\xfe", b"null", b"[]", b'{"v": 1}', b'{"v": 2, "ts": "x"}',
           b"{" * 1000, json.dumps({"v": 1, "ts": -5, "junk": "x" * 65_600}).encode()]


@dataclass(frozen=True)
class AgentKind:
    """How to start one kind of agent and what it listens to."""

    name: str
    command: str
    config: Path
    kind: str
    #: (contract row, entity id) it subscribes to besides its commands.
    inbound: tuple[tuple[str, str], ...]


KINDS = [
    AgentKind("signal-controller", "signal",
              ROOT / "firmware_configs/intersections/ks-0042.yaml", "intersection",
              (("srem", "ks-0042"), ("detector", "ks-0042"))),
    AgentKind("bus-gateway", "bus", ROOT / "firmware_configs/buses/demo-bus-0001.yaml", "bus",
              (("ssem", "ks-0042"), ("spat", "ks-0042"))),
]


@pytest.fixture(params=KINDS, ids=[k.name for k in KINDS])
def running(request: pytest.FixtureRequest, tmp_path: Path,
            broker: MosquittoBroker) -> Iterator[tuple[AgentKind, subprocess.Popen[bytes],
                                                       MqttProbe, str]]:
    kind: AgentKind = request.param
    data = yaml.safe_load(kind.config.read_text(encoding="utf-8"))
    data["agent"] = {**data.get("agent", {}), "state_dir": str(tmp_path / "state"),
                     "health_interval_s": 1}
    # the local broker has no TLS: plain MQTT is asked for explicitly
    data["mqtt"] = {**data.get("mqtt", {}), "keepalive_s": 4, "insecure": True}
    if kind.kind == "bus":
        data["wlan"]["portal_port"] = free_port()
    cfg = tmp_path / kind.config.name
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    if (kind.config.parent / "routes").is_dir():
        (tmp_path / "routes").symlink_to(kind.config.parent / "routes")
    device_id = data["device_id"]
    probe = MqttProbe(broker.url, f"contract-{uuid.uuid4().hex[:8]}")
    probe.subscribe(f"kassel/v1/device/{device_id}/#")
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli", kind.command, "--config", str(cfg),
         "--broker", broker.url],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert probe.wait_for(lambda _m: bool(_online(probe)), 20), (
            tmp_path / "agent.log").read_text()
        yield kind, proc, probe, device_id
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
        probe.close()


def _online(probe: MqttProbe) -> list[dict[str, object]]:
    return [m.json() for m in probe.on("/status") if m.json()["state"] == "online"]


def _command(probe: MqttProbe, device_id: str, name: str) -> dict[str, object]:
    cmd_id = uuid.uuid4().hex
    before = len(probe.on("/cmd/ack"))
    probe.publish(f"kassel/v1/device/{device_id}/cmd",
                  json.dumps({"v": 1, "id": cmd_id, "name": name, "args": {}}))
    assert probe.wait_for(lambda _m: len(probe.on("/cmd/ack")) > before, 10)
    ack = probe.on("/cmd/ack")[-1].json()
    assert ack["id"] == cmd_id
    return ack


def test_birth_is_retained_online_with_kind_and_bdseq(running: tuple) -> None:
    kind, _proc, probe, device_id = running
    birth = _online(probe)[0]
    assert birth["device_id"] == device_id
    assert birth["kind"] == kind.kind
    assert int(birth["bdseq"]) >= 1
    assert birth["sw"]


def test_unknown_command_is_acked_not_ok(running: tuple) -> None:
    _kind, _proc, probe, device_id = running
    ack = _command(probe, device_id, "no_such_command")
    assert ack["ok"] is False
    assert "unknown command" in str(ack["error"])


def test_garbage_on_every_inbound_topic_is_counted_and_survived(running: tuple) -> None:
    kind, proc, probe, device_id = running
    topics = Topics()
    inbound = [*kind.inbound, ("cmd", device_id)]
    for name, entity in inbound:
        sender = "1234" if SPEC_BY_NAME[name].has_sender else None  # a bus's own srem topic
        for raw in GARBAGE:
            probe.publish(topics.topic(name, entity, sender), raw, qos=1)  # type: ignore[arg-type]
    assert _command(probe, device_id, "no_such_command")["ok"] is False
    assert proc.poll() is None

    def rejected_everywhere(_m: object) -> bool:
        for m in probe.on("/health"):
            counts = m.json().get("rejected") or {}
            if all(sum(n for key, n in counts.items() if key.startswith(f"{name}:")) >= 5
                   for name, _ in inbound):
                return True
        return False

    assert probe.wait_for(rejected_everywhere, 10)


def test_kill9_leaves_the_will_with_the_same_bdseq(running: tuple) -> None:
    _kind, proc, probe, _device_id = running
    bdseq = _online(probe)[-1]["bdseq"]
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert probe.wait_for(
        lambda _m: any(m.json()["state"] == "offline" for m in probe.on("/status")), 6)
    offline = [m.json() for m in probe.on("/status") if m.json()["state"] == "offline"]
    assert offline[-1]["bdseq"] == bdseq

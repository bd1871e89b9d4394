"""Birth and death status against a real Mosquitto."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from central_hub.broker import MosquittoBroker
from tests.support.agents import AgentProcess, write_bus_config
from tests.support.mqtt_probe import MqttProbe

STATUS = "kassel/v1/device/bus-1234/status"


@pytest.fixture
def agent(tmp_path: Path, broker: MosquittoBroker) -> Iterator[AgentProcess]:
    proc = AgentProcess(write_bus_config(tmp_path, broker.url), rate_hz=5)
    yield proc
    proc.cleanup()


def _statuses(probe: MqttProbe) -> list[dict[str, object]]:
    return [m.json() for m in probe.on("/status")]


def test_kill9_publishes_offline_with_same_bdseq_within_1_5_keepalive(
    broker: MosquittoBroker, agent: AgentProcess
) -> None:
    probe = MqttProbe(broker.url, "status-probe")
    probe.subscribe(STATUS)
    agent.start()
    assert probe.wait_for(lambda _m: any(s["state"] == "online" for s in _statuses(probe)), 15)
    online = next(s for s in _statuses(probe) if s["state"] == "online")
    assert online["kind"] == "bus"
    assert online["device_id"] == "bus-1234"
    killed_at = time.monotonic()
    agent.kill9()
    keepalive_s = 4
    assert probe.wait_for(
        lambda _m: any(s["state"] == "offline" for s in _statuses(probe)), 1.5 * keepalive_s
    )
    offline = next(s for s in _statuses(probe) if s["state"] == "offline")
    assert offline["bdseq"] == online["bdseq"]
    assert time.monotonic() - killed_at <= 1.5 * keepalive_s
    probe.close()


def test_bdseq_grows_and_sigterm_publishes_offline_itself(
    broker: MosquittoBroker, agent: AgentProcess
) -> None:
    probe = MqttProbe(broker.url, "status-probe")
    probe.subscribe(STATUS)
    seen: list[int] = []
    for _ in range(2):
        agent.start()
        assert probe.wait_for(
            lambda _m: sum(s["state"] == "online" for s in _statuses(probe)) > len(seen), 15
        )
        seen.append(int([s for s in _statuses(probe) if s["state"] == "online"][-1]["bdseq"]))
        assert agent.terminate() == 0
        assert probe.wait_for(
            lambda _m: sum(s["state"] == "offline" for s in _statuses(probe)) == len(seen), 5
        )
        last = _statuses(probe)[-1]
        assert last["state"] == "offline"
        assert last["bdseq"] == seen[-1]
    assert seen[1] > seen[0]
    # the retained status is the last word: a new subscriber sees "offline"
    late = MqttProbe(broker.url, "late-probe")
    late.subscribe(STATUS)
    assert late.wait_for(lambda m: len(m) == 1, 5)
    assert late.messages[0].retain
    assert late.messages[0].json()["state"] == "offline"
    late.close()
    probe.close()

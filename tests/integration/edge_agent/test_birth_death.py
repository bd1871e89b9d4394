"""Birth and death status against a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from central_hub.broker import MosquittoBroker
from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import load_config
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


def test_a_command_sent_in_reaction_to_the_birth_is_always_answered(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    """200 first connects (new sessions, the worst case): whoever reacts to ``online`` with a
    command must always get its ack, because the agent subscribes before it announces itself."""
    base = load_config(write_bus_config(tmp_path, broker.url))
    births, batch = 200, 20
    acks: dict[str, dict[str, object]] = {}
    sent: set[str] = set()
    lock = threading.Lock()
    got_ack = threading.Condition(lock)
    ready = threading.Event()

    def on_message(c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        if msg.topic.endswith("/status") and body["state"] == "online":
            cmd_id = f"{body['device_id']}-{body['bdseq']}"
            with lock:
                sent.add(cmd_id)
            c.publish(f"kassel/v1/device/{body['device_id']}/cmd",
                      json.dumps({"v": 1, "id": cmd_id, "name": "ping", "args": {}}), qos=1)
        elif msg.topic.endswith("/cmd/ack"):
            with got_ack:
                acks[body["id"]] = body
                got_ack.notify_all()

    hub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="reacting-hub",
                      protocol=paho.MQTTv5)
    hub.on_message = on_message
    hub.on_subscribe = lambda *_a: ready.set()
    hub.connect(broker.host, broker.port)
    hub.subscribe([("kassel/v1/device/+/status", 1), ("kassel/v1/device/+/cmd/ack", 1)])
    hub.loop_start()
    assert ready.wait(10)

    async def one_batch(first: int) -> list[str]:
        agents = []
        for i in range(first, first + batch):
            agent = EdgeAgent(base.model_copy(update={"device_id": f"bus-birth-{i}"}),
                              kind="bus", entity_id=f"b{i}")
            agent.command("ping")(lambda _args: {"pong": True})
            agents.append(agent)
        runners = [asyncio.create_task(a.run()) for a in agents]
        ids = {f"bus-birth-{i}" for i in range(first, first + batch)}

        def answered() -> set[str]:
            with lock:
                return {k.rsplit("-", 1)[0] for k in acks} & ids

        for _ in range(200):  # until every device of the batch answered, at most 10 s
            if answered() == ids:
                break
            await asyncio.sleep(0.05)
        for a in agents:
            a.stop()
        await asyncio.gather(*runners)
        return sorted(ids - answered())

    try:
        unanswered = [d for first in range(0, births, batch)
                      for d in asyncio.run(one_batch(first))]
    finally:
        hub.loop_stop()
        hub.disconnect()
    assert len(sent) == births
    assert unanswered == []
    assert all(a["ok"] is True and a["result"] == {"pong": True} for a in acks.values())

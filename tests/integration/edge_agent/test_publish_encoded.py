"""``EdgeAgent.publish_encoded``: pre-encoded QoS 0 payloads, seq from the agent, real broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from central_hub.broker import MosquittoBroker
from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import MqttConfig
from edge_agent.contract.payloads import Spat, decode
from edge_agent.mqtt import BrokerAddress, MqttConnection
from tests.integration.signal_controller.helpers import as_config, config_data
from tests.support.mqtt_probe import MqttProbe

TOPIC = "kassel/v1/signal/ks-0042/spat"


def _spat(seq: int | None) -> bytes:
    assert seq is not None
    return json.dumps({
        "v": 1, "ts": 1_750_000_000_000 + seq, "seq": seq, "intersection_id": "ks-0042",
        "revision": 1, "status": "operational", "groups": [],
    }, separators=(",", ":")).encode()


async def _session(agent: EdgeAgent, count: int) -> list[bytes | None]:
    runner = asyncio.create_task(agent.run())
    for _ in range(200):
        if agent.is_connected:
            break
        await asyncio.sleep(0.05)
    assert agent.is_connected
    sent = []
    for _ in range(count):
        sent.append(agent.publish_encoded("spat", _spat, entity_id="ks-0042"))
        await asyncio.sleep(0.01)
    with pytest.raises(ValueError, match="QoS 0"):
        agent.publish_encoded("ssem", _spat, entity_id="ks-0042")
    await asyncio.sleep(0.3)
    agent.stop()
    await runner
    return sent


def test_publish_encoded_sends_the_bytes_with_persisted_seq(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    probe = MqttProbe(broker.url, client_id="encoded-probe")
    probe.subscribe(TOPIC, qos=0)
    try:
        cfg = as_config(config_data("ks-0042.yaml", tmp_path, mqtt={"broker": broker.url}))
        first = asyncio.run(_session(EdgeAgent(cfg, kind="intersection"), 50))
        # The first call only requests the seq block; nothing goes out before it is on disk.
        assert first[0] is None
        published = [p for p in first if p is not None]
        assert len(published) >= 45
        assert probe.wait_for(lambda _m: len(probe.on("/spat")) >= len(published), 10)
        received = [m.payload for m in probe.on("/spat")]
        assert received == published
        seqs = [decode(Spat, p).seq for p in received]
        assert seqs == list(range(1, len(seqs) + 1))
        # A restarted agent never reuses a seq (blocks are persisted ahead of use).
        again = asyncio.run(_session(EdgeAgent(cfg, kind="intersection"), 5))
        later = [decode(Spat, p).seq for p in again if p is not None]
        assert later and min(later) > max(seqs)
    finally:
        probe.close()


def test_publish_encoded_offline_is_counted_as_dropped(tmp_path: Path) -> None:
    cfg = as_config(config_data("ks-0042.yaml", tmp_path))
    agent = EdgeAgent(cfg, kind="intersection", broker_url="mqtt://127.0.0.1:1")

    async def offline() -> list[bytes | None]:
        out = [agent.publish_encoded("spat", _spat, entity_id="ks-0042") for _ in range(3)]
        await asyncio.sleep(0.2)  # the seq block commits
        out.append(agent.publish_encoded("spat", _spat, entity_id="ks-0042"))
        agent.stop()
        await agent.run()
        return out

    out = asyncio.run(offline())
    assert out[:3] == [None, None, None]
    assert out[3] is not None and decode(Spat, out[3]).seq == 1  # built, but not sent
    assert agent.dropped_qos0 == 4


def test_the_qos0_fast_path_keeps_order_retain_and_the_acks(broker: MosquittoBroker) -> None:
    """QoS 0 packets built by the project's codec join paho's own queue: interleaved with
    QoS 1 messages they arrive in the order sent, the retain flag holds, and every QoS 1
    message is still acknowledged (paho's ``on_publish`` is unset; acks come through
    ``_do_on_publish``)."""
    probe = MqttProbe(broker.url, client_id="fast-probe")
    probe.subscribe("kassel/v1/test/#", qos=1)
    acks: list[tuple[int, int]] = []

    async def session() -> list[int | None]:
        conn = MqttConnection(client_id="fast-path", address=BrokerAddress.parse(broker.url),
                              settings=MqttConfig(insecure=True), will=None,
                              on_message=lambda _m: None,
                              on_puback=lambda mid, rc: acks.append((mid, rc)))
        await conn.connect()
        mids: list[int | None] = []
        for i in range(200):
            if i % 10 == 0:
                mids.append(conn.publish("kassel/v1/test/q1", f"{i}".encode(), 1, False))
            else:
                assert conn.publish_qos0("kassel/v1/test/q0", f"{i}".encode(), False)
        assert conn.publish_qos0("kassel/v1/test/kept", b"retained", True)
        for _ in range(100):
            if len(acks) == len(mids):
                break
            await asyncio.sleep(0.05)
        conn.disconnect()
        return mids

    try:
        mids = asyncio.run(session())
        assert probe.wait_for(lambda m: len(m) >= 201, 10)
        assert [int(m.payload) for m in probe.messages[:200]] == list(range(200))
        assert sorted(mid for mid, _rc in acks) == sorted(m for m in mids if m is not None)
        assert all(rc == 0 for _mid, rc in acks) and len(acks) == 20
        late = MqttProbe(broker.url, client_id="fast-probe-2")
        try:
            late.subscribe("kassel/v1/test/kept", qos=0)
            assert late.wait_for(lambda m: len(m) >= 1, 10)
            assert late.messages[0].payload == b"retained" and late.messages[0].retain
        finally:
            late.close()
    finally:
        probe.close()

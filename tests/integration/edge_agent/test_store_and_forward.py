"""Store-and-forward against a real Mosquitto: outages, kill -9, a full queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import pytest

from central_hub.broker import MosquittoBroker
from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import load_config
from edge_agent.contract.payloads import HealthFields, PositionFields, QueueStats, UplinkStats
from tests.support.agents import AgentProcess, write_bus_config
from tests.support.mqtt_probe import MqttProbe

POSITION = "kassel/v1/bus/1234/position"


def _positions(probe: MqttProbe) -> list[dict[str, object]]:
    return [m.json() for m in probe.on("/position")]


def _wait_until_drained(agent: AgentProcess, timeout: float) -> bool:
    """Wait until the agent's durable queue is empty (it reconnected and got every PUBACK)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        with contextlib.closing(agent.state_db()) as db:
            if db.execute("SELECT count(*) FROM outbox").fetchone() == (0,):
                return True
    return False


def _dedup_in_order(items: list[dict[str, object]]) -> list[dict[str, object]]:
    seen: set[object] = set()
    out = []
    for item in items:
        if item["seq"] not in seen:
            seen.add(item["seq"])
            out.append(item)
    return out


@pytest.mark.slow
def test_60s_outage_with_kill9_loses_nothing_and_keeps_order(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    probe = MqttProbe(broker.url, "hub-probe", persistent=True)
    probe.subscribe(POSITION, qos=1)
    agent = AgentProcess(write_bus_config(tmp_path, broker.url), rate_hz=5)
    try:
        agent.start()
        assert probe.wait_for(lambda _m: len(_positions(probe)) >= 10, 20)
        live_since_ms = time.time() * 1000  # connected by now: what follows is sent live
        time.sleep(2)
        outage_start_ms = time.time() * 1000
        broker.stop()
        time.sleep(25)
        agent.kill9()  # during the outage, with a backlog in its queue
        agent.start()
        time.sleep(35)
        broker.start()
        outage_end_ms = time.time() * 1000
        assert _wait_until_drained(agent, 60), "the backlog did not drain"
        assert agent.terminate() == 0
        last_seq = agent.counter(POSITION)
        # ~5 Hz for ~60 s, minus the restart; a loaded machine commits (fsync) and starts
        # slower, so only a backlog large enough to mean something is required
        assert last_seq >= 100
        # a message the producer committed after the stop began stays queued for the next
        # start (a clean stop sends the queue for at most 2 s): kept, so not lost
        with contextlib.closing(agent.state_db()) as db:
            kept = [json.loads(p)["seq"] for (p,) in
                    db.execute("SELECT payload FROM outbox ORDER BY id")]
        sent = set(range(1, last_seq + 1)) - set(kept)
        complete = probe.wait_for(lambda _m: {p["seq"] for p in _positions(probe)} >= sent, 30)
        missing = sorted(sent - {p["seq"] for p in _positions(probe)})
        assert complete, f"missing seqs (of 1..{last_seq}, {kept} still queued): {missing}"
        assert kept == list(range(last_seq - len(kept) + 1, last_seq + 1)), kept
        assert len(kept) <= 10, f"a clean stop left {kept} queued"  # 2 s at 5 Hz
    finally:
        agent.cleanup()
        probe.close()
    received = _dedup_in_order(_positions(probe))
    seqs = [p["seq"] for p in received]
    assert seqs == sorted(sent), "every message once, in order"
    during = [p for p in received if outage_start_ms + 500 < p["ts"] < outage_end_ms - 500]
    assert len(during) >= 50, len(during)
    assert all(p.get("historical") is True for p in during)
    before = [p for p in received if live_since_ms <= p["ts"] < outage_start_ms - 500]
    assert before
    assert not any(p.get("historical") for p in before)


def test_full_queue_drops_the_oldest_and_reports_the_count(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "mosq")
    broker.start()
    probe = MqttProbe(broker.url, "hub-probe", persistent=True)
    probe.subscribe(POSITION, qos=1)
    probe.subscribe("kassel/v1/device/bus-1234/health", qos=0)
    broker.stop()
    config = load_config(write_bus_config(
        tmp_path, broker.url,
        agent={"queue": {"max_messages": 5}, "health_interval_s": 0.5},
    ))

    async def scenario() -> EdgeAgent:
        agent = EdgeAgent(config, kind="bus", entity_id="1234")
        runner = asyncio.create_task(agent.run())
        for i in range(20):
            await agent.publish(PositionFields(
                vehicle_id="1234", lat=51.0 + i / 1000, lon=9.5, bearing=0.0,
                speed_mps=1.0, route_id="4", trip_id=None, stop_id=None,
                stop_status="IN_TRANSIT_TO"))
        assert agent.queue_state.depth == 5
        assert agent.queue_state.dropped == 15
        await asyncio.to_thread(broker.start)
        for _ in range(200):
            if agent.queue_state.depth == 0 and len(probe.on("/health")) >= 1:
                break
            await asyncio.sleep(0.05)
        agent.stop()
        await runner
        return agent

    try:
        agent = asyncio.run(scenario())
        assert probe.wait_for(lambda _m: len(_positions(probe)) >= 5, 10)
    finally:
        probe.close()
        broker.stop()
    assert [p["seq"] for p in _dedup_in_order(_positions(probe))] == [16, 17, 18, 19, 20]
    assert agent.queue_state.dropped == 15
    health = probe.on("/health")[-1].json()
    assert health["queue"]["dropped"] == 15


def test_seq_only_grows_across_restarts_for_qos0_and_qos1(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "mosq")  # never started: the agent stays offline
    config = load_config(write_bus_config(tmp_path, broker.url))
    health = HealthFields(cpu_pct=1.0, mem_pct=1.0, rss_mb=1.0, disk_pct=1.0, uptime_s=1.0,
                          queue=QueueStats(depth=0, dropped=0, oldest_age_s=0.0),
                          uplink=UplinkStats(iface="", up=False, rx_bps=0.0, tx_bps=0.0))
    position = PositionFields(vehicle_id="1234", lat=51.0, lon=9.5, bearing=0.0,
                              speed_mps=1.0, route_id="4", trip_id=None, stop_id=None,
                              stop_status="IN_TRANSIT_TO")

    async def session(n: int) -> tuple[list[int], list[int]]:
        agent = EdgeAgent(config, kind="bus", entity_id="1234")
        runner = asyncio.create_task(agent.run())
        qos0 = [json.loads(await agent.publish(health))["seq"] for _ in range(n)]
        qos1 = [json.loads(await agent.publish(position))["seq"] for _ in range(3)]
        agent.stop()
        await runner
        return qos0, qos1

    first0, first1 = asyncio.run(session(700))
    second0, second1 = asyncio.run(session(5))
    assert first0 == list(range(1, 701))
    assert second0[0] > first0[-1]
    assert second0 == list(range(second0[0], second0[0] + 5))
    assert second1 == [first1[-1] + 1, first1[-1] + 2, first1[-1] + 3]

"""``EdgeAgent.publish(fields)``: the fields model selects the row, the agent adds ``ts``/``seq``.

No broker: the agent runs against a closed port, so QoS 1 messages stay in its queue and
QoS 0 ones are counted as dropped; ``publish`` returns the encoded payload either way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from pydantic import ValidationError

from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import AgentConfig, DeviceConfig, MqttConfig
from edge_agent.contract.etsi.errors import ItsMessageError
from edge_agent.contract.payloads import (
    HealthFields,
    Position,
    PositionFields,
    QueueStats,
    SequencedPayload,
    Srem,
    SremFields,
    UplinkStats,
    encode,
)
from edge_agent.contract.topics import SPEC_BY_FIELDS, SPECS, TopicRef

NOW_S = 1_750_000_000.0
NOW_MS = int(NOW_S * 1000)
POSITION = PositionFields(vehicle_id="1234", lat=51.3, lon=9.5, bearing=90.0, speed_mps=8.0,
                          route_id="4", trip_id=None, stop_id=None, stop_status="IN_TRANSIT_TO")


def test_every_row_a_device_sends_has_a_fields_model_and_the_wire_order_is_kept() -> None:
    published = {spec.name for spec in SPEC_BY_FIELDS.values()}
    # status is the agent's session's own, cmd the hub's: neither goes through publish
    # ETSI rows carry bytes (publish_encoded, publish_etsi)
    assert published == {s.name for s in SPECS if not s.binary} - {"status", "cmd"}
    for fields, spec in SPEC_BY_FIELDS.items():
        assert "ts" not in fields.model_fields and "seq" not in fields.model_fields
        assert spec.model is not None
        owned = ["ts", "seq"] if issubclass(spec.model, SequencedPayload) else ["ts"]
        # v, historical, ts and seq first, then the fields: the encoding's order as before
        assert list(spec.model.model_fields) == ["v", "historical", *owned,
                                                 *fields.model_fields]
        assert fields.model_config == spec.model.model_config


def _offline(tmp_path: Path, scenario: Callable[[EdgeAgent], Awaitable[Any]]) -> Any:
    config = DeviceConfig(
        device_id="bus-1",
        mqtt=MqttConfig(broker="mqtt://127.0.0.1:1", insecure=True),
        agent=AgentConfig(state_dir=str(tmp_path / "state")),
    )
    agent = EdgeAgent(config, kind="bus", entity_id="1234", clock=lambda: NOW_S)

    async def main() -> Any:
        runner = asyncio.create_task(agent.run())
        try:
            return await scenario(agent)
        finally:
            agent.stop()
            await runner

    return asyncio.run(main())


def test_publish_adds_ts_and_seq_and_encodes_like_the_wire_model(tmp_path: Path) -> None:
    async def scenario(agent: EdgeAgent) -> list[bytes]:
        return [
            await agent.publish(POSITION),
            await agent.publish(POSITION, ts=NOW_MS - 5_000),  # e.g. the GPS fix's time
            await agent.publish(SremFields(
                request_id="r1", vehicle_id="1234", intersection_id="ks-0042", type="request",
                sg="K1", eta=NOW_MS + 20_000, role="transit", route_id="4"),
                entity_id="ks-0042"),
            await agent.publish(HealthFields(
                cpu_pct=1.0, mem_pct=2.0, rss_mb=3.0, disk_pct=4.0, uptime_s=5.0,
                queue=QueueStats(depth=0, dropped=0, oldest_age_s=0.0),
                uplink=UplinkStats(iface="", up=False, rx_bps=0.0, tx_bps=0.0))),
        ]

    first, dated, srem, health = _offline(tmp_path, scenario)
    assert first == encode(Position(ts=NOW_MS, seq=1, **dict(POSITION)))
    assert dated == encode(Position(ts=NOW_MS - 5_000, seq=2, **dict(POSITION)))
    assert srem.startswith(b'{"v":1,"ts":%d,"request_id":"r1",' % NOW_MS)
    assert "seq" not in json.loads(srem)
    assert Srem.model_validate_json(srem).eta == NOW_MS + 20_000
    assert json.loads(health)["seq"] == 1  # its own topic's numbering


def test_publish_refuses_a_wire_model_and_wrong_values(tmp_path: Path) -> None:
    async def scenario(agent: EdgeAgent) -> None:
        wire = Position(ts=NOW_MS, seq=7, **dict(POSITION))
        with pytest.raises(TypeError, match="fields model"):
            await agent.publish(wire)
        with pytest.raises(ValidationError):
            await agent.publish(POSITION, ts=-1)
        # a fields model that skipped validation is still checked when the message is built
        unchecked = PositionFields.model_construct(**{**dict(POSITION), "lat": 500.0})
        with pytest.raises(ValidationError):
            await agent.publish(unchecked)
        assert agent.queue_state.depth == 0

    _offline(tmp_path, scenario)


def test_etsi_bytes_go_out_on_their_rows_unchanged(tmp_path: Path) -> None:
    """Issue 17: the ETSI rows take bytes: QoS 1 (MAPEM, SSEM) through the durable queue,
    QoS 0 (SPATEM) on the hot path; neither takes a fields model nor a ``seq``."""
    uper = bytes([2, 5, 0, 0, 0, 1, 0x7D])

    async def scenario(agent: EdgeAgent) -> tuple[int, list[int | None]]:
        await agent.publish_etsi("etsi_mapem", uper, entity_id="ks-0042")
        seqs: list[int | None] = []
        # offline: the QoS 0 row is dropped and counted; its bytes carry no seq
        dropped = agent.dropped_qos0
        assert agent.publish_encoded("etsi_spatem", lambda s: seqs.append(s) or uper,
                                     entity_id="ks-0042") == uper
        assert agent.dropped_qos0 == dropped + 1
        with pytest.raises(ValueError, match="JSON row"):
            await agent.publish_etsi("map", uper)
        return agent.queue_state.depth, seqs

    depth, seqs = _offline(tmp_path, scenario)
    assert depth == 1 and seqs == [None]


def test_an_etsi_row_delivers_raw_bytes_and_counts_what_its_handler_refuses(
        tmp_path: Path) -> None:
    """Issue 17: a handler of an ETSI row gets the bytes and the topic's sender; an
    ItsMessageError it raises is counted as a rejected payload (like bad JSON), not as a
    handler failure."""
    got: list[tuple[str | None, bytes]] = []

    def handler(ref: TopicRef, data: bytes) -> None:
        if data == b"bad":
            raise ItsMessageError("malformed", "not a SREM")
        got.append((ref.sender_id, data))

    async def scenario(agent: EdgeAgent) -> tuple[int, int]:
        agent.subscribe("etsi_srem", "ks-0042", handler)
        for payload in (b"\x02\x09ok", b"bad"):
            msg = paho.MQTTMessage(topic=b"kassel/v1/signal/ks-0042/etsi/srem/bus-7")
            msg.payload = payload
            agent._inbound.on_message(msg)
        return agent.rejected[("etsi_srem", "malformed")], agent.handler_errors

    assert _offline(tmp_path, scenario) == (1, 0)
    assert got == [("bus-7", b"\x02\x09ok")]

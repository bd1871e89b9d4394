"""Commands and hostile input against a real agent process and a real Mosquitto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central_hub.broker import MosquittoBroker
from edge_agent.contract.payloads import MAX_PAYLOAD_BYTES
from tests.support.agents import AgentProcess, write_bus_config
from tests.support.mqtt_probe import MqttProbe

CMD = "kassel/v1/device/bus-1234/cmd"
ACK = "kassel/v1/device/bus-1234/cmd/ack"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentProcess, MqttProbe]]:
    tmp = tmp_path_factory.mktemp("cmds")
    with MosquittoBroker(tmp / "mosq") as broker:
        agent = AgentProcess(write_bus_config(tmp, broker.url, agent={"health_interval_s": 1}),
                             rate_hz=1)
        probe = MqttProbe(broker.url, "cmd-probe")
        probe.subscribe(ACK)
        probe.subscribe("kassel/v1/device/bus-1234/status")
        probe.subscribe("kassel/v1/device/bus-1234/health", qos=0)
        agent.start()
        assert probe.wait_for(lambda _m: bool(probe.on("/status")), 15)
        yield agent, probe
        agent.cleanup()
        probe.close()


def _command(probe: MqttProbe, name: str, args: object = None, cmd_id: str | None = None,
             ) -> dict[str, object]:
    cmd_id = cmd_id or uuid.uuid4().hex
    before = len(probe.on("/cmd/ack"))
    probe.publish(CMD, json.dumps({"v": 1, "id": cmd_id, "name": name, "args": args or {}}))
    assert probe.wait_for(lambda _m: len(probe.on("/cmd/ack")) > before, 10), "no ack"
    acks = [m.json() for m in probe.on("/cmd/ack")[before:]]
    assert [a["id"] for a in acks] == [cmd_id]
    return acks[0]


def test_command_acks(live: tuple[AgentProcess, MqttProbe]) -> None:
    _agent, probe = live
    ok = _command(probe, "echo", {"x": 1})
    assert ok["ok"] is True
    assert ok["error"] is None
    assert ok["result"] == {"echo": {"x": 1}}
    unknown = _command(probe, "self_destruct")
    assert unknown["ok"] is False
    assert "unknown command" in str(unknown["error"])
    failing = _command(probe, "boom")
    assert failing["ok"] is False
    assert "boom on purpose" in str(failing["error"])


def test_repeated_command_id_is_acked_again_but_runs_once(
    live: tuple[AgentProcess, MqttProbe],
) -> None:
    _agent, probe = live
    first = _command(probe, "count", cmd_id="count-1")
    again = _command(probe, "count", cmd_id="count-1")
    assert again == first
    assert _command(probe, "count")["result"] == {"count": int(first["result"]["count"]) + 1}  # type: ignore[index]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                   max_size=3),
    max_leaves=12,
)
hostile = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"v": st.sampled_from([1, 2, "1"]), "id": json_values,
                           "name": json_values, "args": json_values}).map(
        lambda d: json.dumps(d).encode()),
    st.just(b"{" * (MAX_PAYLOAD_BYTES + 100)),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payloads=st.lists(hostile, min_size=1, max_size=10))
def test_hostile_payloads_never_crash_the_agent(
    live: tuple[AgentProcess, MqttProbe], payloads: list[bytes],
) -> None:
    agent, probe = live
    for raw in payloads:
        probe.publish(CMD, raw, qos=1)
    # The agent still answers a valid command after the barrage, and is alive.
    assert _command(probe, "echo", {"after": len(payloads)})["ok"] is True
    assert agent.alive()


def test_rejections_are_counted_in_health(live: tuple[AgentProcess, MqttProbe]) -> None:
    _agent, probe = live
    probe.publish(CMD, b"definitely not json")
    assert probe.wait_for(
        lambda _m: any((m.json().get("rejected") or {}).get("cmd:not_json", 0) >= 1
                       for m in probe.on("/health")), 10)

"""The broker's message size limits: the generated config and the production file agree with
the contract's payload limit and the packet size every client announces (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

from central_hub.broker import TLS_VERSION, BrokerTls, MosquittoBroker
from edge_agent.contract.payloads import MAX_PAYLOAD_BYTES
from edge_agent.contract.topics import Topics
from edge_agent.mqtt5 import codec
from edge_agent.mqtt5.codec import MAX_PACKET_SIZE

PRODUCTION = Path(__file__).resolve().parents[3] / "firmware_configs/mosquitto/kassel.conf"


def _options(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\w+) (.+)$", text, re.M)}


def test_a_packet_holds_a_full_payload_with_the_longest_topic_of_the_contract() -> None:
    topic = Topics().topic("srem", "x" * 64, "y" * 64).encode()  # ids: at most 64 characters
    packet = codec.publish(topic.decode(), b"x" * MAX_PAYLOAD_BYTES, 1, 1)
    assert len(packet) <= MAX_PACKET_SIZE


def test_generated_config_sets_the_limit(tmp_path: Path) -> None:
    opts = _options(MosquittoBroker(tmp_path, port=1).write_config().read_text())
    assert int(opts["max_packet_size"]) == MAX_PACKET_SIZE
    assert "message_size_limit" not in opts


def test_a_broker_without_limits_can_be_had_for_tests(tmp_path: Path) -> None:
    text = MosquittoBroker(tmp_path, port=1, max_packet_size=0).write_config().read_text()
    assert "max_packet_size" not in text


def test_production_config_has_the_same_limit() -> None:
    opts = _options(PRODUCTION.read_text(encoding="utf-8"))
    assert int(opts["max_packet_size"]) == MAX_PACKET_SIZE
    assert "message_size_limit" not in opts
    assert opts["allow_anonymous"] == "false"
    assert opts["allow_anonymous"] == "false"


def test_production_and_test_brokers_speak_tls_1_2_or_newer_only(tmp_path: Path) -> None:
    opts = _options(PRODUCTION.read_text(encoding="utf-8"))
    assert opts["tls_version"] == TLS_VERSION == "tlsv1.2"
    assert opts["listener"] == "8883"  # the one listener, with TLS
    tls = BrokerTls(tmp_path / "ca.crt", tmp_path / "server.crt", tmp_path / "server.key")
    broker = MosquittoBroker(tmp_path, port=1, tls=tls)
    assert _options(broker.write_config().read_text())["tls_version"] == TLS_VERSION
    assert broker.url == "mqtts://127.0.0.1:1"

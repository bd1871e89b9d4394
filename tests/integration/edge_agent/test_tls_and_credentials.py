"""The agent logs in over TLS, as on the production broker, and refuses a broker it cannot trust.

A real Mosquitto with a TLS listener (TLS 1.2 or newer, the production listener's settings)
and a throw-away PKI made by the test: the agent connects with its CA file, logs in with its
password and publishes its birth; a wrong password is refused; a broker whose certificate
another CA signed is refused by the agent (counted, logged, no crash, no password sent).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from central_hub.broker import BrokerTls, MosquittoBroker
from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import TlsConfig, load_config
from edge_agent.mqtt import tls_context
from tests.support.agents import write_bus_config
from tests.support.mqtt_probe import MqttProbe
from tests.support.pki import make_ca_and_server_cert


def _pki(tmp_path: Path, name: str) -> tuple[Path, BrokerTls]:
    d = tmp_path / name
    d.mkdir()
    make_ca_and_server_cert(d, ca_name=name)
    return d / "ca.crt", BrokerTls(d / "ca.crt", d / "server.crt", d / "server.key")


def _tls_config(tmp_path: Path, url: str, ca: Path, **mqtt: object) -> Path:
    """A bus config as in production: ``mqtts://``, the CA file, no ``insecure``."""
    path = write_bus_config(tmp_path, url, mqtt={"tls": {"ca_file": str(ca)},
                                                   "insecure": False, **mqtt})
    assert not load_config(path).mqtt.insecure
    return path


async def _run(config_path: Path, seconds: float, broker_url: str | None = None) -> EdgeAgent:
    """Run an agent until it is connected (or ``seconds`` passed), then stop it cleanly."""
    agent = EdgeAgent(load_config(config_path), kind="bus", entity_id="1234",
                      broker_url=broker_url)
    runner = asyncio.create_task(agent.run())
    for _ in range(int(seconds / 0.05)):
        if agent.is_connected:
            break
        await asyncio.sleep(0.05)
    agent.stop()
    await runner
    return agent


def test_tls_with_password_connects_and_wrong_password_is_refused(tmp_path: Path) -> None:
    ca, tls = _pki(tmp_path, "city-ca")
    passwd = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwd), "bus-1234", "s3cret"],
        check=True,
        capture_output=True,
    )
    acl = tmp_path / "acl"
    acl.write_text(
        "user bus-1234\ntopic readwrite kassel/v1/device/bus-1234/#\n"
        "topic write kassel/v1/bus/1234/#\n"
    )
    broker = MosquittoBroker(tmp_path / "mosq", password_file=passwd, acl_file=acl, tls=tls)
    with broker:
        config = _tls_config(tmp_path, broker.url, ca)
        good = asyncio.run(
            _run(config, 10, f"mqtts://bus-1234:s3cret@127.0.0.1:{broker.port}")
        )
        assert good.bdseq >= 1 and good.connect_failures == {}
        bad = asyncio.run(_run(config, 2, f"mqtts://bus-1234:wrong@127.0.0.1:{broker.port}"))
        # refused: the agent kept retrying (bdseq grows per attempt) and never connected
        assert bad.bdseq > good.bdseq + 1
        assert bad.connect_failures["not_authorised"] >= 1
    assert "disconnected, not authorised" in broker.log_path.read_text()


def test_agent_connects_over_tls_and_publishes_its_birth(tmp_path: Path) -> None:
    ca, tls = _pki(tmp_path, "city-ca")
    with MosquittoBroker(tmp_path / "mosq", tls=tls) as broker:
        assert broker.url.startswith("mqtts://")
        probe = MqttProbe(broker.url, "tls-probe", ca_file=str(ca))
        try:
            probe.subscribe("kassel/v1/device/bus-1234/status")
            config = _tls_config(tmp_path, broker.url, ca)

            async def run_until_birth() -> EdgeAgent:
                agent = EdgeAgent(load_config(config), kind="bus", entity_id="1234")
                runner = asyncio.create_task(agent.run())
                try:
                    online = await asyncio.to_thread(probe.wait_for, lambda ms: any(
                        m.json().get("state") == "online" for m in ms), 15)
                    assert online, "no birth over TLS"
                    assert agent.is_connected
                finally:
                    agent.stop()
                    await runner
                return agent

            agent = asyncio.run(run_until_birth())
            births = [m.json() for m in probe.on("/status") if m.json()["state"] == "online"]
            assert births[0]["device_id"] == "bus-1234" and births[0]["bdseq"] == agent.bdseq
            assert agent.connect_failures == {}
        finally:
            probe.close()


def test_our_tls_is_1_2_or_newer_with_the_host_name_checked(tmp_path: Path) -> None:
    ca, tls = _pki(tmp_path, "city-ca")
    ctx = tls_context(TlsConfig(ca_file=str(ca)))
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    with MosquittoBroker(tmp_path / "mosq", tls=tls) as broker:
        with socket.create_connection((broker.host, broker.port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() in {"TLSv1.2", "TLSv1.3"}
        # a name the certificate does not carry is refused, though the CA is right
        with socket.create_connection((broker.host, broker.port), timeout=5) as raw, \
                pytest.raises(ssl.SSLCertVerificationError, match="match"):
            ctx.wrap_socket(raw, server_hostname="broker.elsewhere.example")


def test_a_broker_certificate_from_another_ca_is_refused_without_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ours, _ = _pki(tmp_path, "city-ca")
    _, impostor = _pki(tmp_path, "impostor-ca")  # a broker on the right address, wrong CA
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "bus-1234", "s3cret"],
                   check=True, capture_output=True)
    pw_file = tmp_path / "mqtt.pass"
    pw_file.write_text("s3cret\n")
    with MosquittoBroker(tmp_path / "mosq", tls=impostor, password_file=passwd) as broker:
        config = _tls_config(tmp_path, broker.url, ours, username="bus-1234",
                             password_file=str(pw_file))
        with caplog.at_level(logging.WARNING, logger="edge_agent.agent"):
            agent = asyncio.run(_run(config, 2.5))
    assert agent.bdseq >= 2  # it kept trying, and stopped cleanly when asked
    assert agent.connect_failures["tls"] >= 2 and not agent.is_connected
    assert set(agent.connect_failures) == {"tls"}
    refused = [r for r in caplog.records if "TLS with 127.0.0.1" in r.getMessage()]
    assert refused and all(r.levelno == logging.ERROR for r in refused)
    assert "the broker's certificate is not trusted" in refused[0].getMessage()
    assert all("s3cret" not in r.getMessage() for r in caplog.records)
    # the handshake failed before any CONNECT: the impostor never saw a login attempt
    log = broker.log_path.read_text()
    assert "bus-1234" not in log and json.dumps("s3cret") not in log

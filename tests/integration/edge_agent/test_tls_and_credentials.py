"""The agent logs in with credentials over TLS, as on the production broker."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from central_hub.broker import MosquittoBroker
from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import load_config
from tests.support.agents import write_bus_config
from tests.support.pki import make_ca_and_server_cert


async def _connects(config_path: Path, broker_url: str, seconds: float) -> EdgeAgent:
    agent = EdgeAgent(
        load_config(config_path),
        kind="bus",
        entity_id="1234",  # type: ignore[arg-type]
        broker_url=broker_url,
    )
    runner = asyncio.create_task(agent.run())
    for _ in range(int(seconds / 0.05)):
        if agent.is_connected:
            break
        await asyncio.sleep(0.05)
    agent.stop()
    await runner
    return agent


def test_tls_with_password_connects_and_wrong_password_is_refused(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_ca_and_server_cert(pki)
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
    broker = MosquittoBroker(
        tmp_path / "mosq",
        password_file=passwd,
        acl_file=acl,
        extra_conf=f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\n"
        f"keyfile {pki / 'server.key'}\n",
    )
    with broker:
        config = write_bus_config(
            tmp_path, broker.url, mqtt={"tls": {"ca_file": str(pki / "ca.crt")}}
        )
        good = asyncio.run(
            _connects(config, f"mqtts://bus-1234:s3cret@127.0.0.1:{broker.port}", 10)
        )
        assert good.bdseq >= 1
        bad = asyncio.run(_connects(config, f"mqtts://bus-1234:wrong@127.0.0.1:{broker.port}", 2))
        # refused: the agent kept retrying (bdseq grows per attempt) and never connected
        assert bad.bdseq > good.bdseq + 1
    assert "disconnected, not authorised" in broker.log_path.read_text()

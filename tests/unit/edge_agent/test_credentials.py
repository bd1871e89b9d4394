"""The device's password file: atomic replacement, mode 0600, the previous password kept apart,
and a rotation refused where the password would not survive a restart."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from edge_agent.agent import EdgeAgent
from edge_agent.contract.configs import AgentConfig, DeviceConfig, MqttConfig
from edge_agent.contract.payloads import Command
from edge_agent.credentials import CredentialFile


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_replaces_atomically_with_0600_and_keeps_the_previous(tmp_path: Path) -> None:
    creds = CredentialFile(tmp_path / "etc" / "mqtt.pass")
    assert creds.read() is None and creds.read_previous() is None
    creds.store("first-password", None)
    assert creds.read() == "first-password" and creds.read_previous() is None
    assert _mode(creds.path) == 0o600
    creds.store("second-password", "first-password")
    assert (creds.read(), creds.read_previous()) == ("second-password", "first-password")
    assert _mode(creds.path) == _mode(creds.previous_path) == 0o600
    assert sorted(p.name for p in creds.path.parent.iterdir()) == [
        "mqtt.pass", "mqtt.pass.previous"]  # no temporary file left behind
    creds.drop_previous()
    creds.drop_previous()  # idempotent
    assert creds.read_previous() is None and creds.read() == "second-password"


def _agent(tmp_path: Path, **mqtt: object) -> EdgeAgent:
    cfg = DeviceConfig(device_id="bus-1", mqtt=MqttConfig.model_validate(
        {"broker": "mqtts://broker.example:8883", **mqtt}),
        agent=AgentConfig(state_dir=str(tmp_path / "state")))
    return EdgeAgent(cfg, kind="bus")


def test_an_agent_reads_both_passwords_and_refuses_a_rotation_it_could_not_keep(
        tmp_path: Path) -> None:
    pw = tmp_path / "mqtt.pass"
    CredentialFile(pw).store("new-password", "old-password")
    agent = _agent(tmp_path, password_file=str(pw))
    passwords = agent._passwords
    assert (passwords.current, passwords.previous) == ("new-password", "old-password")

    url_password = EdgeAgent(agent.config, kind="bus",
                             broker_url="mqtts://bus-1:in-the-url@broker.example:8883")
    cmd = Command(id="r1", name="rotate_credentials", args={"password": "A" * 43})
    ok, error, result = asyncio.run(url_password._commands.execute(cmd))
    assert not ok and result is None
    assert error is not None and "does not come from mqtt.password_file" in error
    assert "A" * 43 not in error
    assert pw.read_text().strip() == "new-password"  # untouched


def test_applications_cannot_take_over_the_agents_own_commands(tmp_path: Path) -> None:
    from signal_controller.app import COMMANDS as CONTROLLER_COMMANDS  # noqa: PLC0415

    agent = _agent(tmp_path)
    own = agent._commands.handlers["rotate_credentials"]
    with pytest.raises(ValueError, match="handled by the agent itself"):
        agent.command("rotate_credentials")
    assert agent._commands.handlers["rotate_credentials"] == own
    # the signal controller registers every intersection command but this one
    assert "rotate_credentials" not in CONTROLLER_COMMANDS and "set_plan" in CONTROLLER_COMMANDS

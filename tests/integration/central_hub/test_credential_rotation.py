"""``rotate_credentials`` end to end against a real Mosquitto with the registry's password file.

A real hub (its own registry, password and ACL files, SIGHUP to the broker), a real agent
process logged in with its password file, one admin request: afterwards the agent is logged
in with a new password, the real broker refuses the old one (CONNACK "not authorised") and
accepts the new one, and the password appears in no response, ack, log line or database.
A device that stored a new password the broker never got (ack lost, hub gone before the
switch) falls back to its old password and stays reachable.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from central_hub.broker import MosquittoBroker
from central_hub.registry import DeviceRegistry
from central_hub.storage.db import make_engine
from tests.integration.central_hub.helpers import (
    ADMIN,
    ENGINEER,
    TOPICS,
    HubServer,
    hub_config,
    start_hub,
    wait_for,
)
from tests.support.agents import AgentProcess, write_bus_config
from tests.support.mqtt_probe import MqttProbe

OLD = "old-password-of-the-device-0123456789"
ROOT = Path(__file__).resolve().parents[3]


class Controller:
    """A real ``kassel signal`` process for ks-0042, logging in with its password file."""

    def __init__(self, d: Path, broker_url: str, pass_file: Path) -> None:
        data = yaml.safe_load((ROOT / "firmware_configs/intersections/ks-0042.yaml")
                              .read_text(encoding="utf-8"))
        data["agent"] = {"state_dir": str(d / "state"), "health_interval_s": 5}
        data["mqtt"] = {"broker": broker_url, "insecure": True, "username": "ks-0042",
                        "password_file": str(pass_file), "keepalive_s": 4,
                        "reconnect_min_s": 0.2, "reconnect_max_s": 1.0}
        self.config = d / "ks-0042.yaml"
        self.config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        self.log = d / "signal.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent.cli", "signal", "--config", str(self.config)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT)})

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


#: device id, kind, entity id, and a topic it keeps publishing on
DEVICES = {"bus": ("bus-1234", "bus", "1234", "kassel/v1/bus/1234/position"),
           "intersection": ("ks-0042", "intersection", "ks-0042",
                            "kassel/v1/signal/ks-0042/spat")}


def connack(broker: MosquittoBroker, user: str, password: str) -> int:
    """The reason code of the broker's CONNACK for a fresh login (0: accepted)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"check-{time.monotonic_ns()}",
                    protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    codes: list[int] = []
    done = threading.Event()

    def on_connect(_c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        codes.append(rc.value)  # type: ignore[attr-defined]
        done.set()

    c.on_connect = on_connect
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        assert done.wait(10), "no CONNACK"
    finally:
        c.disconnect()
        c.loop_stop()
    return codes[0]


class City:
    """Registry files made before the broker starts, the broker, the hub, one device."""

    def __init__(self, tmp_path: Path, broker_factory: type[MosquittoBroker],
                 kind: str = "bus") -> None:
        self.tmp = tmp_path
        self.device_id, dkind, entity, self.busy_topic = DEVICES[kind]
        pw, acl = tmp_path / "passwd", tmp_path / "acl"
        db = f"sqlite:///{tmp_path / 'hub.db'}"
        self.db_path = tmp_path / "hub.db"
        registry = DeviceRegistry(make_engine(db), TOPICS, str(pw), str(acl))
        self.hub_password = registry.register("hub-1", "hub")
        registry.register(self.device_id, dkind, entity, password=OLD)  # type: ignore[arg-type]
        self.broker = broker_factory(tmp_path / "mq", password_file=pw, acl_file=acl)
        self.broker.start()
        self.hub_url = f"mqtt://hub-1:{self.hub_password}@{self.broker.host}:{self.broker.port}"
        self.hub: HubServer = start_hub(
            hub_config(tmp_path, self.broker, database=db), broker_url=self.hub_url,
            reload_broker=self.broker.reload,
            registry={"password_file": str(pw), "acl_file": str(acl)})
        d = tmp_path / "device"
        d.mkdir()
        self.pass_file = d / "mqtt.pass"
        self.pass_file.write_text(OLD + "\n")
        self.pass_file.chmod(0o600)
        self.agent: AgentProcess | Controller
        if kind == "bus":
            config = write_bus_config(d, self.broker.url, mqtt={
                "username": self.device_id, "password_file": str(self.pass_file)})
            self.agent = AgentProcess(config, rate_hz=2)
        else:
            self.agent = Controller(d, self.broker.url, self.pass_file)
        self.agent.start()
        self.wait_online()

    def wait_online(self, after_bdseq: int = 0) -> int:
        def born() -> bool:
            state = self.hub.hub.state.devices.get(self.device_id)
            return state is not None and bool(state.online) and (state.bdseq or 0) > after_bdseq

        wait_for(born, 20, what=f"{self.device_id} online after bdseq {after_bdseq}")
        state = self.hub.hub.state.devices[self.device_id]
        assert state.bdseq is not None
        return state.bdseq

    def close(self) -> None:
        self.agent.cleanup()
        self.hub.stop()
        self.broker.stop()


@pytest.fixture(params=["bus", "intersection"])
def city(request: pytest.FixtureRequest, tmp_path: Path,
         broker_factory: type[MosquittoBroker]) -> Iterator[City]:
    c = City(tmp_path, broker_factory, request.param)
    try:
        yield c
    finally:
        c.close()


def test_rotation_end_to_end_new_password_works_old_is_refused_by_the_real_broker(
    city: City, caplog: pytest.LogCaptureFixture
) -> None:
    assert connack(city.broker, city.device_id, OLD) == 0
    bdseq = city.wait_online()
    adm = {"Authorization": f"Bearer {ADMIN}"}
    eng = {"Authorization": f"Bearer {ENGINEER}"}
    path = f"/api/v1/devices/{city.device_id}/credentials/rotate"
    with caplog.at_level(logging.DEBUG), httpx.Client(base_url=city.hub.url, timeout=30) as http:
        # admin only; and the generic command route does not take it (the hub makes the args)
        assert http.post(path, headers=eng).status_code == 403
        assert http.post(path).status_code in (401, 403)
        sneaky = http.post(f"/api/v1/devices/{city.device_id}/commands", headers=eng, json={
            "name": "rotate_credentials", "args": {"password": "x" * 40}})
        assert sneaky.status_code == 422
        assert http.post("/api/v1/devices/nobody/credentials/rotate",
                         headers=adm).status_code == 404
        r = http.post(path, headers=adm, json={"timeout_s": 15})
        assert r.status_code == 200, r.text
        body = r.json()
    assert body["ack"]["ok"] is True and body["ack"]["result"] == {"stored": True}
    assert body["switched"] is True and body["reconnected"] is True

    # the device holds the new password, readable by its owner only, atomically replaced
    new = city.pass_file.read_text().strip()
    assert new != OLD and len(new) >= 32
    assert stat.S_IMODE(city.pass_file.stat().st_mode) == 0o600
    # it logged in with the new one (the previous one is forgotten only after that)
    wait_for(lambda: not city.pass_file.with_name("mqtt.pass.previous").exists(), 10,
             what="the previous password forgotten after a login with the new one")
    assert city.wait_online(bdseq) > bdseq

    # the real broker: the old password is refused, the new one accepted
    assert connack(city.broker, city.device_id, OLD) in (0x86, 0x87)
    assert connack(city.broker, city.device_id, new) == 0

    # the agent keeps publishing on the new login
    probe = MqttProbe(city.hub_url, "rotation-probe")
    try:
        probe.subscribe(city.busy_topic, qos=0)
        assert probe.wait_for(lambda ms: len(ms) >= 2, 15)
    finally:
        probe.close()

    # the password is nowhere but in the device's file and (hashed) in the broker's
    assert new not in r.text
    assert all(new not in rec.getMessage() for rec in caplog.records)
    assert new not in city.agent.log.read_text(errors="replace")
    assert new.encode() not in city.db_path.read_bytes()
    assert new not in (city.tmp / "passwd").read_text()
    assert new not in city.broker.log_path.read_text(errors="replace")


def test_a_new_password_the_broker_never_got_falls_back_to_the_old_one(city: City) -> None:
    # the command reaches the device, but the hub never switches the broker (ack lost, hub
    # gone): sent here as the hub would, then nothing else happens
    bdseq = city.wait_online()
    unknown = "never-at-the-broker-0123456789abcdef"
    probe = MqttProbe(city.hub_url, "rotation-probe")
    try:
        probe.subscribe(f"kassel/v1/device/{city.device_id}/cmd/ack")
        probe.publish(f"kassel/v1/device/{city.device_id}/cmd",
                      f'{{"v":1,"id":"r1","name":"rotate_credentials",'
                      f'"args":{{"password":"{unknown}"}}}}')
        assert probe.wait_for(lambda ms: any(m.json().get("id") == "r1" for m in ms), 15)
        ack = next(m.json() for m in probe.messages if m.json().get("id") == "r1")
        assert ack["ok"] is True and unknown not in str(ack)
    finally:
        probe.close()
    assert city.pass_file.read_text().strip() == unknown
    previous = city.pass_file.with_name("mqtt.pass.previous")
    assert previous.read_text().strip() == OLD
    assert stat.S_IMODE(previous.stat().st_mode) == 0o600
    # a power cut: the restarted agent tries the new password, is refused, logs in with the
    # old one and keeps it
    city.agent.kill9()
    city.agent.start()
    city.wait_online(bdseq)
    assert previous.exists()
    assert connack(city.broker, city.device_id, OLD) == 0
    assert "the new password was refused; trying the previous one" in city.agent.log.read_text()

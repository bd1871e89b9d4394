"""Alarms end to end: SPaT stale, a flashing controller, a device dying (its Last Will);
list, acknowledge, history."""

from __future__ import annotations

import time

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.exc import OperationalError

from central_hub.broker import MosquittoBroker
from tests.integration.central_hub.helpers import (
    ENGINEER,
    TOPICS,
    HubServer,
    client,
    spat,
    status,
    wait_for,
)


def _open(http: httpx.Client) -> set[tuple[str, str]]:
    return {(a["kind"], a["device_id"]) for a in http.get("/api/v1/alarms").json()}


def test_stale_flashing_and_last_will_raise_alarms(hub: HubServer,
                                                   broker: MosquittoBroker) -> None:
    dev = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ks-9", protocol=mqtt.MQTTv5)
    dev.will_set(TOPICS.topic("status", "ks-9"), status("ks-9", "offline", bdseq=3), qos=1,
                 retain=True)
    dev.connect(broker.host, broker.port, keepalive=5)
    dev.loop_start()
    dev.publish(TOPICS.topic("status", "ks-9"), status("ks-9", "online", bdseq=3), qos=1,
                retain=True).wait_for_publish()
    for seq in range(5):
        dev.publish(TOPICS.topic("spat", "ks-9"), spat("ks-9", seq)).wait_for_publish()
        time.sleep(0.1)
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        wait_for(lambda: ("spat_stale", "ks-9") in _open(http), what="SPaT stale alarm")
        dev.publish(TOPICS.topic("spat", "ks-9"), spat("ks-9", 9, status="flashing",
                                                      state="caution-Conflicting-Traffic"))
        wait_for(lambda: ("signal_degraded", "ks-9") in _open(http), what="flashing alarm")
        dev.loop_stop()
        dev.socket().close()  # the controller dies: no DISCONNECT, so the broker sends its Will
        wait_for(lambda: ("device_offline", "ks-9") in _open(http), timeout=20,
                 what="Last Will alarm")
        alarm = next(a for a in http.get("/api/v1/alarms").json()
                     if a["kind"] == "device_offline")
        assert alarm["severity"] == "critical" and alarm["acked_ms"] is None
        r = http.post(f"/api/v1/alarms/{alarm['id']}/ack",
                      headers={"Authorization": f"Bearer {ENGINEER}"})
        assert r.status_code == 200 and r.json()["acked_by"] == "engineer"
        assert alarm["id"] not in {a["id"] for a in http.get(
            "/api/v1/alarms", params={"state": "unacked"}).json()}
        back = client(broker, "ks-9-again")
        back.publish(TOPICS.topic("status", "ks-9"), status("ks-9", "online", bdseq=4), qos=1,
                     retain=True).wait_for_publish()
        wait_for(lambda: ("device_offline", "ks-9") not in _open(http), what="alarm cleared")
        history = http.get("/api/v1/alarms", params={"state": "all"}).json()
        cleared = next(a for a in history if a["id"] == alarm["id"])
        assert cleared["active"] is False and cleared["cleared_ms"] >= cleared["raised_ms"]
        back.disconnect()
        back.loop_stop()


def test_alarms_are_listed_from_memory_while_the_table_is_unreadable(
        hub: HubServer, broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = client(broker, "ks-8-test")
    dev.publish(TOPICS.topic("status", "ks-8"), status("ks-8", "offline", bdseq=1), qos=1,
                retain=True).wait_for_publish()
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        wait_for(lambda: ("device_offline", "ks-8") in _open(http), what="offline alarm")
        assert http.get("/api/v1/alarms").headers["x-alarms-source"] == "database"

        def unreachable(*_a: object) -> None:
            raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

        monkeypatch.setattr(hub.hub.alarm_store, "list", unreachable)
        r = http.get("/api/v1/alarms", params={"state": "all", "device_id": "ks-8"})
        assert r.status_code == 200 and r.headers["x-alarms-source"] == "memory"
        (rec,) = r.json()
        assert (rec["id"], rec["kind"], rec["active"]) == (0, "device_offline", True)
    dev.disconnect()
    dev.loop_stop()

"""Acceptance: two ingest workers on one shared subscription store 100,000 messages exactly
once, also when one of them is killed with SIGKILL halfway (and restarted, resuming its
persistent session)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from sqlalchemy import create_engine, func, select, text

from central_hub.broker import MosquittoBroker
from central_hub.storage.db import make_engine, normalise_url
from central_hub.storage.schema import samples
from tests.integration.central_hub.helpers import TOPICS, client, now_ms, wait_for

TOTAL = 100_000
VEHICLES = 500


def _worker(cfg: Path, client_id: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KASSEL_HUB_INGEST__SHARED": "true"}  # two workers split the stream
    return subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli", "hub", "--config", str(cfg), "--ingest-only",
         "--client-id", client_id],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"), env=env)


def _subscribed(log: Path, client_id: str, times: int = 1) -> bool:
    return log.exists() and log.read_text().count(f"ingest {client_id}: subscribed") >= times


def _payload(i: int, ts: int) -> tuple[str, bytes]:
    vid = f"v{i % VEHICLES}"
    seq = i // VEHICLES
    body = (f'{{"v":1,"ts":{ts},"seq":{seq},"vehicle_id":"{vid}","lat":51.3,"lon":9.5,'
            f'"bearing":90.0,"speed_mps":8.0,"route_id":"1","trip_id":null,"stop_id":null,'
            f'"stop_status":"IN_TRANSIT_TO"}}')
    return TOPICS.topic("position", vid), body.encode()


@pytest.mark.slow
def test_two_workers_exactly_once_with_kill_9(broker: MosquittoBroker, tmp_path: Path,
                                              pg_db: str) -> None:
    make_engine(pg_db).dispose()  # schema first, so both workers start on the same tables
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(yaml.safe_dump({"device_id": "hub-1", "kind": "hub", "database": pg_db,
                                   "mqtt": {"broker": broker.url, "insecure": True,
                                            "session_expiry_s": 3600},
                                   "agent": {"state_dir": str(tmp_path)}}))
    logs = {w: tmp_path / f"{w}.log" for w in ("w1", "w2")}
    procs = {w: _worker(cfg, w, logs[w]) for w in logs}
    try:
        for w in procs:
            wait_for(lambda w=w: _subscribed(logs[w], w), what=f"{w} subscribed")
        pub = client(broker, "load")
        ts = now_ms()
        infos: list[mqtt.MQTTMessageInfo] = []
        for i in range(TOTAL):
            topic, body = _payload(i, ts)
            infos.append(pub.publish(topic, body, qos=1))
            if i == TOTAL // 2:
                for info in infos:
                    info.wait_for_publish(30)
                infos.clear()
                procs["w1"].send_signal(signal.SIGKILL)
                procs["w1"].wait(10)
        for info in infos:
            info.wait_for_publish(60)
        pub.disconnect()
        pub.loop_stop()
        procs["w1"] = _worker(cfg, "w1", logs["w1"])  # resumes its session and the backlog
        engine = create_engine(normalise_url(pg_db))

        def stored() -> int:
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(samples)).scalar_one())

        wait_for(lambda: stored() >= TOTAL, timeout=180, what="all messages stored")
        with engine.connect() as conn:
            distinct = conn.execute(text(
                "SELECT COUNT(*) FROM (SELECT DISTINCT device_id, seq FROM samples) d")).scalar()
            per_vehicle = conn.execute(text(
                "SELECT MIN(c), MAX(c) FROM (SELECT COUNT(*) c FROM samples GROUP BY device_id) x"
            )).one()
        assert stored() == TOTAL
        assert distinct == TOTAL
        assert tuple(per_vehicle) == (TOTAL // VEHICLES, TOTAL // VEHICLES)
        assert "w1: subscribed" in logs["w1"].read_text()
        engine.dispose()
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(20)

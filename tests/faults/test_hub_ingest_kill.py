"""Fault: the ingest worker is killed (SIGKILL) while its PostgreSQL write transaction is open.

The kill must land inside a transaction that has already written rows, every time, not by
luck: the test holds a lock on ``events`` (``SHARE ROW EXCLUSIVE``, which every INSERT waits
for), so a batch holding positions and a status message inserts its positions into
``samples`` and then waits on ``events``; the test sees that backend in ``pg_stat_activity``
(``active``, waiting on a lock, with a transaction id, i.e. rows written and not committed),
kills the worker, releases the lock and checks with ``txid_status`` that PostgreSQL rolled that
transaction back. Three times under a steady QoS 1 stream; the worker is restarted on its
persistent session each time. Every message must be stored exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
import yaml

from central_hub.broker import MosquittoBroker
from central_hub.storage.db import make_engine
from tests.faults.hub_faults import wait_until
from tests.integration.central_hub.helpers import TOPICS, client, position, status
from tests.support.agents import ROOT
from tests.support.pgcluster import PgCluster

VEHICLES = 100
TOTAL = 12_000  # positions, about 15 s at the rate below
RATE = 800.0
EVENT_EVERY = 40  # one status message (an ``events`` row) per this many positions
KILLS = 3
APP = "ingest-fault"


@pytest.fixture
def pg() -> Iterator[PgCluster]:
    with PgCluster() as cluster:
        yield cluster


class Worker:
    """``kassel hub --ingest-only`` with a fixed client id (its persistent session)."""

    def __init__(self, cfg: Path, log: Path) -> None:
        self.cfg, self.log = cfg, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent.cli", "hub", "--config", str(self.cfg),
                 "--ingest-only", "--client-id", "w1"], cwd=ROOT, stdout=subprocess.DEVNULL,
                stderr=out, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.starts += 1
        wait_until(lambda: self.log.read_text().count("ingest w1: subscribed") >= self.starts,
                   30, "worker subscribed")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def _publish(broker: MosquittoBroker, done: threading.Event) -> None:
    pub = client(broker, "fault-load")
    infos: list[mqtt.MQTTMessageInfo] = []
    start = time.monotonic()
    for i in range(TOTAL):
        vid = f"v{i % VEHICLES}"
        infos.append(pub.publish(TOPICS.topic("position", vid), position(vid, i // VEHICLES + 1),
                                 qos=1))
        if i % EVENT_EVERY == 0:
            dev = f"bus-v{i % VEHICLES}"
            infos.append(pub.publish(TOPICS.topic("status", dev),
                                     status(dev, "online", bdseq=i + 1, kind="bus"), qos=1))
        delay = start + (i + 1) / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for info in infos:
        info.wait_for_publish(60)
    pub.disconnect()
    pub.loop_stop()
    done.set()


@pytest.mark.slow
def test_ingest_kill_9_inside_an_open_transaction_stores_exactly_once(
        broker: MosquittoBroker, pg: PgCluster, tmp_path: Path) -> None:
    url = f"{pg.url}?application_name={APP}"
    make_engine(url).dispose()  # schema first
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(yaml.safe_dump({"device_id": "hub-1", "kind": "hub", "database": url,
                                   "mqtt": {"broker": broker.url, "insecure": True,
                                            "session_expiry_s": 3600},
                                   "agent": {"state_dir": str(tmp_path)}}))
    worker = Worker(cfg, tmp_path / "w1.log")
    published = threading.Event()
    killed: list[dict[str, object]] = []
    with psycopg.connect(pg.url, autocommit=True) as watch:
        try:
            worker.start()
            load = threading.Thread(target=_publish, args=(broker, published), daemon=True)
            load.start()
            for _ in range(KILLS):
                time.sleep(1.5)  # commits between the kills
                with psycopg.connect(pg.url) as locker:
                    locker.execute("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
                    found: list[tuple[int, str, str]] = []

                    def open_tx(found: list[tuple[int, str, str]] = found) -> bool:
                        found[:] = watch.execute(
                            "SELECT pid, backend_xid::text, query FROM pg_stat_activity "
                            "WHERE application_name = %s AND state = 'active' AND "
                            "wait_event_type = 'Lock' AND backend_xid IS NOT NULL",
                            (APP,)).fetchall()
                        return bool(found)

                    wait_until(open_tx, 20, "a write transaction with rows, waiting on events",
                               period=0.01)
                    worker.kill9()
                    locker.rollback()  # the orphaned backend goes on, then finds its client gone
                pid, xid, query = found[0]
                wait_until(lambda pid=pid: not watch.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchall(), 20,
                    "the killed worker's backend to end")
                (outcome,) = watch.execute("SELECT txid_status(%s::bigint)", (xid,)).fetchone()
                killed.append({"xid": xid, "outcome": outcome, "query": query[:40]})
                worker.start()  # resumes its persistent session: unacknowledged messages return
            assert published.wait(120), "publisher did not finish"

            def count(sql: str) -> int:
                return int(watch.execute(sql).fetchone()[0])  # type: ignore[index]

            events = TOTAL // EVENT_EVERY
            wait_until(lambda: count("SELECT COUNT(*) FROM samples") >= TOTAL
                       and count("SELECT COUNT(*) FROM events") >= events, 120,
                       "every message stored")
            time.sleep(0.5)  # a late duplicate would show now
            stored = count("SELECT COUNT(*) FROM samples")
            distinct = count("SELECT COUNT(*) FROM (SELECT DISTINCT device_id, seq FROM samples) d")
            stored_events = count("SELECT COUNT(*) FROM events")
            print(f"\ningest SIGKILL in an open transaction: {killed}; samples {stored}/{TOTAL} "
                  f"({distinct} distinct), events {stored_events}/{events}")
            assert [k["outcome"] for k in killed] == ["aborted"] * KILLS
            assert (stored, distinct, stored_events) == (TOTAL, TOTAL, events)
            per_vehicle = watch.execute("SELECT MIN(c), MAX(c) FROM (SELECT COUNT(*) c FROM "
                                        "samples GROUP BY device_id) x").fetchone()
            assert tuple(per_vehicle or ()) == (TOTAL // VEHICLES, TOTAL // VEHICLES)
        finally:
            worker.stop()

"""Fault: PostgreSQL is stopped for 30 s under a steady QoS 1 load into a real ``kassel hub``.

Expected: ingest stops acknowledging (the broker keeps the messages in the hub's persistent
session), the hub's memory stays bounded (its inbox holds at most the Receive Maximum of
unacknowledged messages), ``hub_storage_down`` is active within seconds of the first failed
write and visible through ``GET /api/v1/alarms`` although the alarm table is unreachable
(``X-Alarms-Source: memory``), it clears after the first successful write, the alarm row is
written once the database is back, and every message is stored exactly once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from central_hub.broker import MosquittoBroker
from tests.faults.hub_faults import wait_until
from tests.integration.central_hub.helpers import TOPICS, client, position
from tests.support.hub_process import HubProcess
from tests.support.pgcluster import PgCluster

VEHICLES = 100
RATE = 300.0  # QoS 1 positions per second
BEFORE_S, DOWN_S, AFTER_S = 4.0, 30.0, 4.0
TOTAL = int(RATE * (BEFORE_S + DOWN_S + AFTER_S))
STORAGE_DOWN = ("hub_storage_down", "database")
#: what the hub may grow by while it holds back: the inbox is bounded by the Receive Maximum
#: (4,000 unacknowledged messages of ~250 bytes, a few MB as Python objects); a leak of the
#: whole outage's 9,000 messages, or of retried batches, would show well above this
RSS_GROWTH_MB = 40.0


@pytest.fixture
def pg() -> Iterator[PgCluster]:
    with PgCluster() as cluster:
        yield cluster


def _publish(broker: MosquittoBroker, done: threading.Event) -> None:
    pub = client(broker, "fault-load")
    infos: list[mqtt.MQTTMessageInfo] = []
    start = time.monotonic()
    for i in range(TOTAL):
        vid = f"v{i % VEHICLES}"
        infos.append(pub.publish(TOPICS.topic("position", vid), position(vid, i // VEHICLES + 1),
                                 qos=1))
        delay = start + (i + 1) / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for info in infos:
        info.wait_for_publish(60)
    pub.disconnect()
    pub.loop_stop()
    done.set()


@pytest.mark.slow
def test_postgres_stopped_30_s_under_load(broker: MosquittoBroker, pg: PgCluster,
                                          tmp_path: Path) -> None:
    hub = HubProcess(tmp_path, broker.url, pg.url)
    published = threading.Event()
    samples: list[tuple[float, float, int]] = []  # (t, RSS MB, ingest inbox depth)
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            with contextlib.suppress(Exception):  # the hub is starting or stopping
                samples.append((time.monotonic(), hub.rss_mb(), hub.ingest()["ingest"]["depth"]))
            time.sleep(0.5)

    try:
        hub.start()
        rss_start = hub.rss_mb()
        threading.Thread(target=_publish, args=(broker, published), daemon=True).start()
        threading.Thread(target=sample, daemon=True).start()
        time.sleep(BEFORE_S)

        stopped = time.monotonic()
        pg.stop("fast")
        raised_after = wait_until(lambda: STORAGE_DOWN in hub.active_kinds(), 10,
                                  "hub_storage_down while the database is stopped")
        source, open_alarms = hub.alarms()
        stats = hub.ingest()
        assert source == "memory", "the alarm table is unreachable: the list comes from memory"
        assert not stats["storage"]["ok"] and stats["ingest"]["write_errors"] > 0
        stored_before = stats["ingest"]["stored"]
        time.sleep(max(0.0, stopped + DOWN_S - time.monotonic()))
        during = hub.ingest()
        assert during["ingest"]["stored"] == stored_before  # nothing written, nothing acked
        assert STORAGE_DOWN in hub.active_kinds()
        rss_during = max(r for t, r, _d in samples if t >= stopped)
        depth_max = max(d for t, _r, d in samples if t >= stopped)

        restarted = time.monotonic()
        pg.start()
        wait_until(lambda: STORAGE_DOWN not in hub.active_kinds()
                   and hub.alarms()[0] == "database", 15,
                   "hub_storage_down cleared after the first successful write")
        cleared_after = time.monotonic() - restarted
        wait_until(lambda: hub.ingest()["ingest"]["depth"] < 100, 30, "the inbox drained")
        drained_after = time.monotonic() - restarted
        assert published.wait(60), "publisher did not finish"

        with psycopg.connect(pg.url, autocommit=True) as db:
            def count(sql: str) -> int:
                return int(db.execute(sql).fetchone()[0])  # type: ignore[index]

            wait_until(lambda: count("SELECT COUNT(*) FROM samples") >= TOTAL, 60,
                       "every message stored")
            time.sleep(0.5)
            stored = count("SELECT COUNT(*) FROM samples")
            distinct = count("SELECT COUNT(*) FROM (SELECT DISTINCT device_id, seq FROM samples) d")
            rows = db.execute("SELECT raised_ms, cleared_ms, active FROM alarms WHERE kind = %s",
                              (STORAGE_DOWN[0],)).fetchall()
        sampling.set()
        rss_after = hub.rss_mb()
        print(f"\nPostgreSQL stopped {DOWN_S:.0f} s: alarm after {raised_after:.2f} s "
              f"(listed from {source}: {[a['kind'] for a in open_alarms]}); inbox depth max "
              f"{depth_max}/{during['ingest']['capacity']}; RSS start {rss_start:.1f} MB, "
              f"max during {rss_during:.1f} MB, after {rss_after:.1f} MB; alarm cleared "
              f"{cleared_after:.2f} s after pg_ctl start began, inbox drained after "
              f"{drained_after:.2f} s; samples {stored}/{TOTAL} ({distinct} distinct); "
              f"alarm rows {rows}; write errors {hub.ingest()['ingest']['write_errors']}")
        assert (stored, distinct) == (TOTAL, TOTAL)
        assert depth_max <= 4_000  # the Receive Maximum: the broker holds the rest
        assert rss_during - rss_start < RSS_GROWTH_MB
        assert raised_after < 5.0
        assert len(rows) == 1 and rows[0][1] is not None and not rows[0][2], rows
        assert restarted - stopped >= DOWN_S
    finally:
        sampling.set()
        hub.stop()

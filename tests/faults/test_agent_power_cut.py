"""Fault: power cut. The agent is ``kill -9``-ed in the middle of store transactions, 50 times.

A real agent process publishes QoS 1 positions as fast as its SQLite store commits (no broker
is reachable, so everything stays queued) and prints each ``seq`` once ``publish`` returned,
that is once the message is committed. It is killed at a random moment, 50 times in a row on
the same state file. Expected after every kill: the file opens cleanly
(``PRAGMA integrity_check`` is ``ok``), every acknowledged message is in the queue, and the
next start continues the ``seq`` numbers without reusing one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from central_hub.broker import free_port
from tests.support.agents import ROOT, write_bus_config

KILLS = 50
TOPIC = "kassel/v1/bus/1234/position"


def _run_until_killed(config: Path, rng: random.Random) -> list[int]:
    """Start the agent, kill -9 it at a random moment after its first commit; announced seqs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.agent_process", str(config), "0", "--announce"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    seqs: list[int] = []
    first = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seqs.append(int(line.split()[1]))
            first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert first.wait(30), "the agent never committed a message"
        time.sleep(rng.uniform(0.0, 0.4))  # commits run back to back: most kills land in one
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    reader.join(10)
    return seqs


@pytest.mark.slow
def test_fifty_kills_mid_transaction_keep_the_store_sound_and_lose_nothing(
        tmp_path: Path) -> None:
    rng = random.Random(12)
    # a broker port nobody listens on: the agent stays offline and keeps everything queued
    config = write_bus_config(tmp_path, f"mqtt://127.0.0.1:{free_port()}",
                              agent={"queue": {"synchronous": "full"}})
    db_path = tmp_path / "state" / "bus-1234" / "agent.db"
    acknowledged: list[int] = []
    for kill in range(KILLS):
        announced = _run_until_killed(config, rng)
        assert announced, f"kill {kill}: nothing acknowledged"
        assert announced == sorted(set(announced)), f"kill {kill}: seqs not increasing"
        if acknowledged:
            assert announced[0] > acknowledged[-1], f"kill {kill}: a seq was reused"
        acknowledged += announced
        with sqlite3.connect(db_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",), f"kill {kill}"
            queued = {json.loads(p)["seq"] for (p,) in
                      db.execute("SELECT payload FROM outbox WHERE topic = ?", (TOPIC,))}
            (depth,) = db.execute("SELECT value FROM counters WHERE name = '$depth'").fetchone()
            (total,) = db.execute("SELECT count(*) FROM outbox").fetchone()
        db.close()
        missing = sorted(set(acknowledged) - queued)
        assert missing == [], f"kill {kill}: acknowledged but not in the queue: {missing[:20]}"
        assert depth == total, f"kill {kill}: depth counter {depth} != {total} rows"
    print(f"\npower cut: {KILLS} kills, {len(acknowledged)} acknowledged messages, "
          f"all queued; integrity_check ok every time")

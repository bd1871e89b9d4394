"""Fault: a corrupt or foreign file where the agent's state database should be.

Two cases: a file that is not SQLite at all (a stray log file), and a real state database whose
pages were overwritten with random bytes. Expected: the agent does not crash; it logs one clear
error naming the file, moves the file aside (kept for inspection), starts with a fresh store
whose ``seq`` numbers are above every old one, and once connected reports the reset in its
health, so the hub raises ``device_store_reset``.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from pathlib import Path

import pytest

from central_hub.broker import MosquittoBroker
from tests.faults.hub_faults import wait_until
from tests.support.agents import AgentProcess, write_bus_config
from tests.support.hub_process import HubProcess
from tests.support.mqtt_probe import MqttProbe

POSITION = "kassel/v1/bus/1234/position"


def _foreign(db_path: Path, _config: Path) -> int:
    db_path.parent.mkdir(parents=True)
    db_path.write_text("2026-12-03 10:00:01 kernel: usb 1-1: new device\n" * 200)
    return 0


def _corrupted(db_path: Path, config: Path) -> int:
    """A real store with queued rows (written offline), then pages 2.. overwritten."""
    offline = config.with_name("offline.yaml")
    offline.write_text(config.read_text().replace("mqtt://127.0.0.1", "mqtt://127.0.0.2"))
    agent = AgentProcess(offline, rate_hz=0)
    agent.start()
    wait_until(lambda: db_path.exists() and agent.counter(POSITION) >= 500, 30,
               "an offline backlog")
    agent.kill9()
    last = agent.counter(POSITION)
    raw = bytearray(db_path.read_bytes())
    page = 4096
    rng = random.Random(5)
    for start in range(page, len(raw), page):
        raw[start:start + page] = rng.randbytes(page)
    db_path.write_bytes(bytes(raw))
    for side in ("-wal", "-shm"):
        db_path.with_name(db_path.name + side).unlink(missing_ok=True)
    return last


@pytest.mark.slow
@pytest.mark.parametrize("damage", [_foreign, _corrupted], ids=["foreign", "corrupted"])
def test_unusable_state_file_is_moved_aside_and_alarmed(
        broker: MosquittoBroker, tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    config = write_bus_config(tmp_path, broker.url,
                              agent={"health_interval_s": 1.0})
    db_path = tmp_path / "state" / "bus-1234" / "agent.db"
    old_last_seq = damage(db_path, config)
    hub = HubProcess(tmp_path, broker.url, f"sqlite:///{tmp_path / 'hub.db'}")
    probe = MqttProbe(broker.url, "reset-probe")
    probe.subscribe(POSITION)
    agent = AgentProcess(config, rate_hz=5)
    try:
        hub.start()
        started = time.time() * 1000
        agent.start()
        wait_until(lambda: ("device_store_reset", "bus-1234") in hub.active_kinds(), 30,
                   "device_store_reset at the hub")
        assert agent.alive(), "the agent died on its state file"
        wait_until(lambda: len(probe.on("/position")) >= 3, 15, "positions after the reset")
        alarm = next(a for a in hub.alarms()[1] if a["kind"] == "device_store_reset")
        assert alarm["severity"] == "warning"
        assert "agent.db.unusable-" in alarm["message"]
    finally:
        agent.cleanup()
        probe.close()
        hub.stop()
    seqs = [m.json()["seq"] for m in probe.on("/position")]
    assert seqs == sorted(seqs)
    assert seqs[0] > old_last_seq and seqs[0] >= started  # above every number of the old file
    moved = sorted(db_path.parent.glob("agent.db.unusable-*"))
    assert [p.name for p in moved if not p.name.endswith(("-wal", "-shm"))], "file not kept"
    log = agent.log.read_text()
    errors = [line for line in log.splitlines() if "unusable" in line]
    assert len(errors) == 1 and str(db_path) in errors[0] and "moved it to" in errors[0], errors
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (reason,) = db.execute("SELECT reason FROM resets").fetchone()
    db.close()
    print(f"\n{damage.__name__.strip('_')}: reset reason {json.dumps(reason)}")

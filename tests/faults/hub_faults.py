"""Shared pieces of the hub's fault tests: real bus and controller agents, stored-row checks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.support.agents import ROOT, AgentProcess, write_bus_config

#: agents reconnect quickly so that a broker's return is noticed within half a second:
#: equal-jitter backoff, delay in [base/2, base], base doubling from 0.1 s to a 0.5 s cap.
FAST_RECONNECT = {"keepalive_s": 4, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5}
INTERSECTIONS = ROOT / "firmware_configs" / "intersections"


def wait_until(predicate: Callable[[], Any], timeout: float, what: str,
               period: float = 0.05) -> float:
    """Poll until ``predicate()`` is truthy; seconds it took, or fail naming ``what``."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(period)


class Bus:
    """A real bus agent process publishing QoS 1 positions at ``rate_hz``."""

    def __init__(self, tmp_path: Path, broker_url: str, n: int, rate_hz: float = 5.0) -> None:
        self.device_id = f"bus-f{n}"
        self.vehicle_id = f"f{n}"
        d = tmp_path / self.device_id
        d.mkdir()
        template = yaml.safe_load((ROOT / "firmware_configs/buses/bus-1234.yaml").read_text())
        vehicle = {**template["vehicle"], "id": self.vehicle_id}
        cfg = write_bus_config(d, broker_url, mqtt=dict(FAST_RECONNECT),
                               device_id=self.device_id, vehicle=vehicle)  # type: ignore[arg-type]
        self.state_dir = d / "state"
        self.proc = AgentProcess(cfg, rate_hz)

    @property
    def topic(self) -> str:
        return f"kassel/v1/bus/{self.vehicle_id}/position"

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.state_dir / self.device_id / "agent.db")

    def counters(self) -> dict[str, int]:
        with self.db() as db:
            return dict(db.execute("SELECT name, value FROM counters").fetchall())

    def queued_seqs(self) -> set[int]:
        """The positions still in the agent's queue (no PUBACK yet)."""
        with self.db() as db:
            rows = db.execute("SELECT payload FROM outbox WHERE topic = ?", (self.topic,))
            return {int(json.loads(p)["seq"]) for (p,) in rows}


class Controller:
    """A real ``kassel signal`` process (SPaT at 10 Hz) from a shipped intersection config."""

    def __init__(self, tmp_path: Path, broker_url: str, name: str) -> None:
        data = yaml.safe_load((INTERSECTIONS / name).read_text(encoding="utf-8"))
        self.id: str = data["device_id"]
        d = tmp_path / self.id
        d.mkdir()
        data["agent"] = {"state_dir": str(d / "state"), "health_interval_s": 5}
        # the shipped reconnect defaults of a controller (0.5 s, capped at 1 s): SPaT must be
        # back within 2 s of the broker's return without tuning
        data["mqtt"] = {"keepalive_s": 4, "insecure": True}  # the local broker has no TLS
        self.config = d / f"{self.id}.yaml"
        self.config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        self.broker_url = broker_url
        self.log = d / "signal.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent.cli", "signal", "--config", str(self.config),
                 "--broker", self.broker_url], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT)})

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def seq_counts(rows: list[tuple[int, int]]) -> tuple[set[int], list[int]]:
    """``(seq, count)`` rows -> (stored seqs, seqs stored more than once)."""
    return {s for s, _ in rows}, [s for s, n in rows if n != 1]

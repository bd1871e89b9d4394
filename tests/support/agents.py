"""Start real edge-agent processes for tests (so they can be ``kill -9``-ed)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUS_TEMPLATE = ROOT / "firmware_configs" / "buses" / "bus-1234.yaml"


def write_bus_config(tmp_path: Path, broker_url: str, **sections: dict[str, Any]) -> Path:
    """A bus config pointing at ``broker_url`` with its state under ``tmp_path``."""
    data = yaml.safe_load(BUS_TEMPLATE.read_text(encoding="utf-8"))
    # plain MQTT for the test's local broker must be asked for (production configs: TLS)
    data["mqtt"] = {"broker": broker_url, "insecure": True, "keepalive_s": 4,
                    "reconnect_min_s": 0.2,
                    "reconnect_max_s": 2.0, **sections.pop("mqtt", {})}
    data["agent"] = {"state_dir": str(tmp_path / "state"), "health_interval_s": 30.0,
                     **sections.pop("agent", {})}
    data.update(sections)
    path = tmp_path / f"{data['device_id']}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class AgentProcess:
    """``tests.support.agent_process`` as a child process publishing positions."""

    def __init__(self, config: Path, rate_hz: float = 5.0) -> None:
        self.config = config
        self.rate_hz = rate_hz
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = config.with_suffix(".log")

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.agent_process", str(self.config),
                 str(self.rate_hz)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)

    def state_db(self, device_id: str = "bus-1234") -> sqlite3.Connection:
        data = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        return sqlite3.connect(Path(data["agent"]["state_dir"]) / device_id / "agent.db")

    def counter(self, name: str) -> int:
        db = self.state_db()
        try:
            row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        finally:
            db.close()
        return 0 if row is None else int(row[0])

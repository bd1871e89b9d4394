"""A real ``kassel hub --config`` process for fault tests: HTTP on a free port, its RSS, kill.

In a process of its own (not uvicorn in the test's thread) so that its memory can be measured
and it can be killed, and so that the test's own work does not share its event loop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from central_hub.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin-token-for-fault-tests"


class HubProcess:
    """``python -m edge_agent.cli hub --config CFG`` (the ``kassel hub`` entry point)."""

    def __init__(self, tmp_path: Path, broker_url: str, database: str, *,
                 args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.config = tmp_path / "hub.yaml"
        self.config.write_text(yaml.safe_dump({
            "device_id": "hub-1", "kind": "hub", "database": database,
            "http": {"host": "127.0.0.1", "port": self.port},
            "mqtt": {"broker": broker_url, "insecure": True, "session_expiry_s": 3600,
                     "keepalive_s": 10},
            "agent": {"state_dir": str(tmp_path / "hub-state")}}), encoding="utf-8")
        self.log = tmp_path / "hub.log"
        self.args = args
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "KASSEL_HUB_ADMIN_TOKEN": ADMIN,
                    **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5.0)

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait until both broker sessions have subscribed (SUBACK: a message
        published from then on reaches them)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent.cli", "hub", "--config", str(self.config),
                 *self.args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"hub exited: {self.log.read_text()[-2000:]}"
            try:
                st = self.ingest()
                if st["live"]["subscribed"] and st.get("ingest", {}).get("subscribed", True):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"hub not ready: {self.log.read_text()[-2000:]}")

    def ingest(self) -> dict[str, Any]:
        """``GET /api/v1/ingest``."""
        out: dict[str, Any] = self.http.get("/api/v1/ingest").json()
        return out

    def alarms(self, state: str = "open") -> tuple[str, list[dict[str, Any]]]:
        """``GET /api/v1/alarms``: (source header, records)."""
        r = self.http.get("/api/v1/alarms", params={"state": state})
        r.raise_for_status()
        return r.headers.get("x-alarms-source", ""), r.json()

    def active_kinds(self) -> set[tuple[str, str]]:
        return {(a["kind"], a["device_id"]) for a in self.alarms()[1]}

    def rss_mb(self) -> float:
        assert self.proc is not None
        return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20

    def stop(self) -> None:
        self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

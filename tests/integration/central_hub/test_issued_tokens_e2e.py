"""Issued tokens end to end: ``kassel hub token issue`` against a running ``kassel hub``'s
database, the token used over HTTP, ``kassel hub token revoke`` refusing it from the next
request on, and the token in no log line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from central_hub.broker import MosquittoBroker
from tests.support.hub_process import ROOT, HubProcess


def kassel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_agent.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def test_issue_use_revoke_against_a_running_hub(broker: MosquittoBroker, tmp_path: Path) -> None:
    hub = HubProcess(tmp_path, broker.url, f"sqlite:///{tmp_path / 'hub.db'}",
                     args=("--log-level", "DEBUG"))
    hub.start()
    try:
        issued = kassel("hub", "token", "issue", "--config", str(hub.config), "--name",
                        "Leitstelle", "--role", "engineer", "--expires-days", "7")
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip()
        auth = {"Authorization": f"Bearer {token}"}
        me = hub.http.get("/api/v1/whoami", headers=auth).json()
        assert me == {"role": "engineer", "roles": ["engineer"], "kind": "staff"}
        assert hub.http.post("/api/v1/alarms/424242/ack", headers=auth).status_code == 404
        assert hub.http.post("/api/v1/devices", json={}, headers=auth).status_code == 403
        listed = kassel("hub", "token", "list", "--config", str(hub.config))
        assert "Leitstelle" in listed.stdout and token not in listed.stdout
        revoked = kassel("hub", "token", "revoke", "1", "--config", str(hub.config))
        assert revoked.returncode == 0, revoked.stderr
        r = hub.http.post("/api/v1/alarms/424242/ack", headers=auth)
        assert r.status_code == 401
    finally:
        hub.stop()
    assert token not in hub.log.read_text(encoding="utf-8")

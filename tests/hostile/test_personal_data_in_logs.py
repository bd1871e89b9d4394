"""Issue 15: no log line of a full Kita run or of a portal session holds personal data.

Both at log level DEBUG, everything the process writes to stdout and stderr captured:

* a real ``kassel hub``: staff set up Kitas and the period, families register over HTTP, apply
  for their children, staff verify claims (a note naming the parent's e-mail), the round runs,
  a family reads its result and answers the offer, staff export ``R.csv``; clients from their
  own address, with the parent's e-mail also in a query string, and the dashboard's WebSocket
  open meanwhile. Not one child's name, parent's e-mail, token, child id or client address may
  appear in the hub's output.
* a real ``kassel bus`` in network namespaces: a passenger gets an address by DHCP, is
  redirected to the portal, reads the terms and accepts them, then browses. Neither the
  passenger's MAC nor its IP address may appear in the gateway's output.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from websockets.sync.client import connect

from central_hub.broker import MosquittoBroker
from testbed.netlab import INTERNET_WEB
from tests.integration.bus_gateway.gatewaylab import Gateway
from tests.support.hub_process import HubProcess

STAFF = "kita-staff-token-for-the-log-test"
CLIENT = "127.0.0.12"
PARENT_EMAIL = "mia.parent@example.org"
CHILDREN = ("Mia Lindqvist-Okonkwo", "Jonas Brökelmann", "Aylin Demirtaş")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def leaks(log: str, secrets: dict[str, str]) -> list[str]:
    """The names of the secrets that appear in ``log`` (case-insensitive), as they are, in a
    URL (percent-encoded) or in JSON (``\\u`` escapes)."""
    low = log.lower()
    return [what for what, value in secrets.items()
            if any(form.lower() in low for form in (
                value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]))]


def test_a_full_kita_run_logs_no_name_email_token_or_address(broker: MosquittoBroker,
                                                             tmp_path: Path) -> None:
    hub = HubProcess(tmp_path, broker.url, f"sqlite:///{tmp_path / 'hub.db'}",
                     args=("--log-level", "DEBUG"),
                     env={"KASSEL_HUB_KITA_STAFF_TOKEN": STAFF})
    hub.start()
    secrets: dict[str, str] = {"staff token": STAFF, "parent e-mail": PARENT_EMAIL,
                               "client address": CLIENT}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{hub.port}/api/v1/kita/", timeout=10,
                          transport=httpx.HTTPTransport(local_address=CLIENT)) as http, \
                connect(f"ws://127.0.0.1:{hub.port}/ws/live") as dashboard:
            dashboard.recv(timeout=10)
            for kita_id, lat in (("K1", 51.3155), ("K2", 51.33)):
                r = http.put(f"kitas/{kita_id}/U3", headers=bearer(STAFF), json={
                    "name": f"Kita {kita_id}", "capacity": 1, "lat": lat, "lon": 9.4975,
                    "catchment_km": 1.0})
                assert r.status_code == 201, r.text
            deadline = (datetime.now(UTC) + timedelta(days=1)).isoformat()
            assert http.put("period", json={"deadline": deadline},
                            headers=bearer(STAFF)).status_code == 200
            families: dict[str, str] = {}
            for n, name in enumerate(CHILDREN):
                token = http.post("families", params={"contact": PARENT_EMAIL}).json()["token"]
                secrets[f"family token {n}"] = token
                secrets[f"child name {n}"] = name
                r = http.post("applications", headers=bearer(token), json={
                    "child_name": name, "date_of_birth": "2024-05-01", "age_group": "U3",
                    "choices": ["K1", "K2"], "sibling_kita": None, "hardship": n == 0,
                    "lat": 51.3160, "lon": 9.4980})
                assert r.status_code == 201, r.text
                child = r.json()["child_id"]
                secrets[f"child id {n}"] = child
                families[child] = token
                assert http.get(f"applications/{child}", headers=bearer(token),
                                params={"email": PARENT_EMAIL}).status_code == 200
            first = next(iter(families))
            r = http.put(f"applications/{first}/claims/hardship", headers=bearer(STAFF), json={
                "verdict": "verified", "checked_by": "Frau Schmidt",
                "note": f"letter seen; parent reachable at {PARENT_EMAIL}"})
            assert r.status_code == 200, r.text
            # a wrong token and an unknown child: errors must not log them either
            assert http.get(f"applications/{first}", headers=bearer("not-" + STAFF)
                            ).status_code == 401
            closed = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
            assert http.put("period", json={"deadline": closed},
                            headers=bearer(STAFF)).status_code == 200
            r = http.post("rounds", json={"seed": 7}, headers=bearer(STAFF))
            assert r.status_code == 201, r.text
            for child, token in families.items():
                result = http.get(f"applications/{child}/result", headers=bearer(token)).json()
                if result["status"] == "offered":
                    assert http.put(f"applications/{child}/decision", headers=bearer(token),
                                    json={"decision": "accept"}).status_code == 200
            export = http.get("rounds/1/results.csv", headers=bearer(STAFF))
            assert export.status_code == 200 and first in export.text
    finally:
        hub.stop()
    log = hub.log.read_text(encoding="utf-8", errors="replace")
    # the scrubbed access log is there: method, path, status
    assert '"GET /api/v1/kita/applications/{child_id}/result HTTP/1.1" 200' in log, log[-3000:]
    assert '"WebSocket /ws/live" [accepted]' in log
    assert leaks(log, secrets) == [], log[-3000:]


def test_a_portal_session_logs_no_passenger_mac_or_ip(tmp_path: Path) -> None:
    gw = Gateway(tmp_path, passengers=1, bridge=True, log_level="DEBUG")
    try:
        ip = gw.lab.dhcp(0)
        mac = "02:00:00:00:00:01"  # the lab's first passenger (netlab.NetLab)
        code, location, _ = gw.lab.http(0, f"http://{INTERNET_WEB}/news?user=me")
        assert code == 302
        assert gw.lab.http(0, location)[0] == 200
        assert gw.lab.http(0, "http://10.77.0.1:8080/accept", "-X", "POST",
                           "-d", "lang=en&accept=yes")[0] == 200
        assert gw.lab.http(0, f"http://{INTERNET_WEB}/")[0] == 200
        assert gw.lab.http(0, "http://10.77.0.1:8080/api/captive")[0] == 200
    finally:
        gw.close()
    log = gw.log.read_text(encoding="utf-8", errors="replace")
    assert " DEBUG " in log
    personal = re.compile("|".join([
        rf"(?<![\d.]){re.escape(ip)}(?!\d)",
        *(re.escape(mac.replace(":", sep)) for sep in (":", "-", ""))]), re.IGNORECASE)
    leaked = [line[:300] for line in log.splitlines() if personal.search(line)]
    assert leaked == [], "\n".join(leaked[:20])


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx must talk to the hub itself, whatever proxy the environment names."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

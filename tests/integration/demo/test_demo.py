"""`kassel demo` runs the whole city: every bus and intersection is live at the hub, and the
citizen services have their seeded data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from central_hub.broker import free_port
from edge_agent.contract.payloads import Position, Spat

ROOT = Path(__file__).resolve().parents[3]


def test_demo_for_30_s_has_every_bus_and_intersection_live(tmp_path: Path) -> None:
    port = free_port()
    buses, intersections = 8, 5
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli", "demo", "--buses", str(buses),
         "--intersections", str(intersections), "--http-port", str(port), "--duration", "30",
         "--workdir", str(tmp_path / "demo")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 25
        vehicles: list[dict[str, object]] = []
        crossings: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                vehicles = httpx.get(f"{base}/api/v1/vehicles").json()
                crossings = httpx.get(f"{base}/api/v1/intersections").json()
            except httpx.HTTPError:
                continue
            if (sum(1 for v in vehicles if v["online"] and v["position"]) == buses
                    and sum(1 for c in crossings if c["online"]) == intersections
                    and all(httpx.get(f"{base}/api/v1/intersections/{c['intersection_id']}"
                                      "/spat").status_code == 200 for c in crossings)):
                break  # the birth can reach the hub before the first SPaT on a busy machine
        assert len(vehicles) == buses
        for v in vehicles:
            assert v["online"] is True
            assert Position.model_validate(v["position"]).vehicle_id == v["vehicle_id"]
        assert len(crossings) == intersections
        for c in crossings:
            assert c["online"] is True
            spat = Spat.model_validate(httpx.get(
                f"{base}/api/v1/intersections/{c['intersection_id']}/spat").json())
            assert spat.intersection_id == c["intersection_id"]
            assert spat.groups
            assert time.time() * 1000 - spat.ts < 5_000
        assert httpx.get(f"{base}/").status_code == 200
        # the learning platform with its starter content
        assert httpx.get(f"{base}/api/v1/learning/items").json()["total"] >= 40
        # open data: the six datasets published, harvestable through CKAN's API
        listed = httpx.get(f"{base}/opendata/api/3/action/package_list").json()
        assert listed["success"] is True and len(listed["result"]) == 6
        # mobility: journeys across town by bus and by the simulated operator's bikes
        options = httpx.get(f"{base}/api/v1/journeys", params={
            "from": "stop:S1-01", "to": "stop:S4-01",
            "modes": "transit,walk,bike_sharing"}).json()["itineraries"]
        modes = {leg["mode"] for it in options for leg in it["legs"]}
        assert "BUS" in modes and "BIKE_SHARING" in modes
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert f"dashboard: http://127.0.0.1:{port}/" in out
    assert "stopped" in out
    assert "learning a pupil's answer checked: mathe-dezimalzahlen.d1 '6.150': Richtig!" in out
    assert (f"learning pupils' pages http://127.0.0.1:{port}/lernen/, linked from every bus's "
            "WLAN portal") in out
    assert "learning class 6a (Demo): code " in out and "6 pupils practised as " in out
    assert "draft demo-runden waits for review" in out
    assert "opendata 6 of 6 datasets published from 168 hours of city statistics" in out
    assert f"portal http://127.0.0.1:{port}/opendata/" in out
    assert "sharing  bike operator 'kasselrad': " in out
    assert "mobility " in out and "options Bahnhof Wilhelmshöhe → Auestadion" in out
    assert "mobility ticket B-" in out and ", confirmed, signed (EdDSA)" in out


def test_demo_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "edge_agent.cli", "demo", "--http-port", str(port),
             "--duration", "1", "--workdir", str(tmp_path)],
            check=False, cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert result.returncode == 2
    assert f"HTTP port {port}" in result.stderr
    assert "--http-port" in result.stderr

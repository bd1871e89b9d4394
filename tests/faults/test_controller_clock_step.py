"""Fault: the controller's wall clock is stepped by +30 s and then by -30 s.

A real ``kassel signal`` process runs with its wall clock (``time.time``) shifted by the offset
in a file the test rewrites while it runs (``clockshift/sitecustomize.py``, loaded at the
process's start), as an NTP step or a wrong RTC would; the monotonic clock stays true. The
specified behaviour is fail-safe: a wall clock that jumps against the monotonic clock (either
way) puts the junction into flashing amber within a tick, and only an operator's ``resume``
leaves it. Checked on every SPaT message received: never two conflicting groups green, and
within each stretch of continuous time no intergreen cut.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from central_hub.broker import MosquittoBroker
from tests.faults.hub_faults import INTERSECTIONS, wait_until
from tests.support.agents import ROOT
from tests.support.mqtt_probe import MqttProbe, Received

GREEN = {"protected-Movement-Allowed", "permissive-Movement-Allowed"}
STEP_S = 30
CLOCKSHIFT = Path(__file__).resolve().parent / "clockshift"


def _check_safety(spats: list[Received], intergreen: dict[str, dict[str, float]]) -> int:
    """Assert no conflicting greens in any message and no cut intergreen within continuous
    time (consecutive ``ts`` 1-1000 ms apart); return how many transitions were checked."""
    last_green: dict[str, int] = {}
    prev_green: set[str] = set()
    prev_ts: int | None = None
    checked = 0
    for m in spats:
        spat = m.json()
        ts = int(spat["ts"])
        if prev_ts is not None and not 0 < ts - prev_ts <= 1000:
            last_green.clear()  # the clock stepped (or messages are missing): a new stretch
        prev_ts = ts
        green = {g["sg"] for g in spat["groups"] if g["state"] in GREEN}
        for a in green:
            conflicting = green & set(intergreen.get(a, {}))
            assert not conflicting, f"conflicting greens {a} and {conflicting} at {ts}"
        for b in green - prev_green:  # b's first green instant
            for a, row in intergreen.items():
                if b in row and a in last_green:
                    gap = ts - last_green[a]
                    assert gap >= row[b] * 1000 - 1, f"intergreen {a}->{b} {gap} ms < {row[b]} s"
                    checked += 1
        for sg in green:
            last_green[sg] = ts
        prev_green = green
    return checked


def _set_offset(path: Path, offset: str) -> None:
    """Replace the offset file atomically (a half-written file would read as a second,
    spurious step)."""
    tmp = path.with_suffix(".new")
    tmp.write_text(offset + "\n")
    os.replace(tmp, path)


@pytest.mark.slow
def test_wall_clock_steps_fail_safe_and_never_a_conflicting_green(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    data = yaml.safe_load((INTERSECTIONS / "ks-0042.yaml").read_text(encoding="utf-8"))
    data["agent"] = {"state_dir": str(tmp_path / "state"), "health_interval_s": 5}
    data["mqtt"] = {"broker": broker.url, "insecure": True, "keepalive_s": 4,
                    "reconnect_min_s": 0.1,
                    "reconnect_max_s": 0.5}
    config = tmp_path / "ks-0042.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    offset = tmp_path / "clock-offset"
    _set_offset(offset, "+0")
    probe = MqttProbe(broker.url, "clock-probe")
    probe.subscribe("kassel/v1/signal/ks-0042/spat", qos=0)
    probe.subscribe("kassel/v1/device/ks-0042/cmd/ack")
    log = tmp_path / "signal.log"
    env = {**os.environ, "PYTHONPATH": f"{CLOCKSHIFT}{os.pathsep}{ROOT}",
           "KASSEL_TEST_CLOCK_OFFSET_FILE": str(offset)}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli", "signal", "--config",
                                 str(config)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env=env)

    def spats() -> list[Received]:
        return probe.on("/spat")

    def status() -> str:
        s = spats()
        return str(s[-1].json()["status"]) if s else ""

    def resume(n: int) -> None:
        probe.publish("kassel/v1/device/ks-0042/cmd",
                      json.dumps({"v": 1, "id": f"resume-{n}", "name": "resume", "args": {}}))
        wait_until(lambda: any(m.json()["id"] == f"resume-{n}" and m.json()["ok"]
                               for m in probe.on("/cmd/ack")), 10, f"resume {n} acked")

    calling = threading.Event()

    def call_every_stage() -> None:  # traffic on every approach: the stages keep changing
        while not calling.wait(1.0):
            for det in ("D2", "D4", "D5", "D6"):
                for occupied in (True, False):
                    probe.publish("kassel/v1/signal/ks-0042/detector", json.dumps(
                        {"v": 1, "ts": int(time.time() * 1000), "detector": det,
                         "occupied": occupied}), qos=0)

    caller = threading.Thread(target=call_every_stage, daemon=True)

    def green_now(sg: str, since: int) -> bool:
        return any(g["sg"] == sg and g["state"] in GREEN
                   for m in spats()[since:] for g in m.json()["groups"])

    reactions: list[float] = []
    try:
        caller.start()
        # under true time: start-up all-red, stage S1, then S2 (K5) after S1 gapped out
        wait_until(lambda: green_now("K5", 0), 60, "a stage change under true time")
        for n, step in enumerate((f"+{STEP_S}", "+0")):  # forward, then back by the same
            before = len(spats())
            _set_offset(offset, step)
            stepped = time.monotonic()
            wait_until(lambda b=before: any(m.json()["status"] == "flashing"
                                            for m in spats()[b:]), 5, f"fail-safe after {step}")
            reactions.append(time.monotonic() - stepped)
            assert proc.poll() is None, log.read_text()[-2000:]
            resume(n)
            resumed = len(spats())
            wait_until(lambda r=resumed: green_now("K1", r), 30, "green again after resume")
            assert "flashing" not in {m.json()["status"] for m in spats()[resumed + 5:]}
    finally:
        calling.set()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        probe.close()
    received = spats()
    (tmp_path / "spat.jsonl").write_bytes(b"\n".join(m.payload for m in received))
    jumps = [int(b.json()["ts"]) - int(a.json()["ts"]) for a, b in pairwise(received)]
    assert max(jumps) > (STEP_S - 1) * 1000 and min(jumps) < -(STEP_S - 1) * 1000, \
        "the published time did not follow the stepped clock"
    checked = _check_safety(received, data["intergreen_s"])
    print(f"\nclock step ±{STEP_S} s: fail-safe {[round(r, 2) for r in reactions]} s after "
          f"the steps; {len(received)} SPaT messages, {checked} intergreens checked, "
          "no conflicting green")
    assert checked >= 4  # S1 -> S2 under true time: K1->K6, K3->K5, F2->K5, F4->K6
    out = log.read_text()
    assert out.count("clock_jump") >= 2, out[-2000:]

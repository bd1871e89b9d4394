"""A real `kassel signal` process: SPaT at 10 Hz for 30 s, MAP retained, kill -9 -> offline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from central_hub.broker import MosquittoBroker
from edge_agent.contract.payloads import Map, Spat, Status, decode
from tests.integration.signal_controller.helpers import config_data, write_config
from tests.support.mqtt_probe import MqttProbe

WINDOW_S = 30.0


@pytest.mark.slow
def test_spat_10hz_valid_then_kill_9_goes_offline(broker: MosquittoBroker, tmp_path: Path) -> None:
    cfg = write_config(config_data("ks-0042.yaml", tmp_path), tmp_path)
    probe = MqttProbe(broker.url, client_id="spat-probe")
    probe.subscribe("kassel/v1/signal/ks-0042/#", qos=1)
    probe.subscribe("kassel/v1/device/ks-0042/status", qos=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli", "signal", "--config", str(cfg),
         "--broker", broker.url],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    try:
        assert probe.wait_for(lambda ms: any(m.topic.endswith("/spat") for m in ms), 20)
        time.sleep(1.0)  # let the connection settle; then measure a clean window
        start = time.monotonic()
        time.sleep(WINDOW_S)
        end = time.monotonic()
        spats = [m for m in probe.on("/spat") if start <= m.at < end]
        rate = len(spats) / (end - start)
        assert abs(rate - 10.0) <= 0.2, f"SPaT rate {rate:.3f} Hz ({len(spats)} messages)"
        decoded = [decode(Spat, m.payload) for m in probe.on("/spat")]
        assert all(s.intersection_id == "ks-0042" for s in decoded)
        assert {g.sg for g in decoded[-1].groups} == {
            "K1", "K2", "K3", "K4", "K5", "K6", "F1", "F2", "F3", "F4"
        }
        seqs = [s.seq for s in decoded]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert all(s.status in ("operational", "fixed_time") for s in decoded)
        maps = [decode(Map, m.payload) for m in probe.on("/map")]
        assert maps and maps[0].conflicts["K1"]["K2"] == 4
        online = [json.loads(m.payload) for m in probe.on("/status")]
        assert online and online[-1]["state"] == "online"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert probe.wait_for(
            lambda ms: any(
                m.topic.endswith("/status") and json.loads(m.payload)["state"] == "offline"
                for m in ms
            ),
            15,
        )
        offline = [decode(Status, m.payload) for m in probe.on("/status")][-1]
        assert offline.state == "offline" and offline.kind == "intersection"
        assert offline.bdseq == decode(Status, probe.on("/status")[0].payload).bdseq
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        probe.close()

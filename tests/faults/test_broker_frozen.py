"""Fault: the broker freezes (``SIGSTOP``) for 20 s and then continues (``SIGCONT``).

A frozen broker keeps its TCP connections open (the kernel even accepts new ones), so nothing
but MQTT's keepalive can tell it is gone. Two real bus agents (keepalive 4 s) publish QoS 1
positions at 5 Hz into a real hub (keepalive 10 s). Expected: the agents notice the silence
by keepalive, drop the connection and keep queueing; the hub raises ``hub_broker_down``; after
``SIGCONT`` everything reconnects by itself (new ``bdseq``) and every position is stored at the
hub exactly once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from central_hub.broker import MosquittoBroker
from tests.faults.hub_faults import Bus, seq_counts, wait_until
from tests.support.hub_process import HubProcess
from tests.support.mqtt_probe import MqttProbe

FROZEN_S = 20.0


@pytest.mark.slow
def test_frozen_broker_is_detected_by_keepalive_and_nothing_is_lost(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    db_path = tmp_path / "hub.db"
    hub = HubProcess(tmp_path, broker.url, f"sqlite:///{db_path}")
    buses = [Bus(tmp_path, broker.url, n) for n in (1, 2)]
    status = MqttProbe(broker.url, "status-probe")
    status.subscribe("kassel/v1/device/+/status")

    def stored(vehicle: str) -> list[tuple[int, int]]:
        with contextlib.closing(sqlite3.connect(db_path)) as db:
            return db.execute("SELECT seq, COUNT(*) FROM samples WHERE device_id = ? AND "
                              "topic = 'position' GROUP BY seq", (vehicle,)).fetchall()

    def births(device: str) -> list[int]:
        return [m.json()["bdseq"] for m in status.on(f"/{device}/status")
                if m.json()["state"] == "online"]

    assert broker._proc is not None
    pid = broker._proc.pid
    try:
        hub.start()
        for b in buses:
            b.proc.start()
        wait_until(lambda: all(len(stored(b.vehicle_id)) >= 10 for b in buses), 30,
                   "positions stored")
        before = {b.device_id: births(b.device_id)[-1] for b in buses}
        os.kill(pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            down = ("hub_broker_down", "live")
            wait_until(lambda: down in hub.active_kinds(), FROZEN_S - 1,
                       "hub_broker_down while the broker is frozen")
            detected = {b.device_id: "connection lost" in b.proc.log.read_text() for b in buses}
            time.sleep(max(0.0, frozen_at + FROZEN_S - time.monotonic()))
        finally:
            os.kill(pid, signal.SIGCONT)
        thawed = time.monotonic()
        wait_until(lambda: all(births(b.device_id)[-1] > before[b.device_id] for b in buses),
                   30, "every agent born again")
        reconnected_after = time.monotonic() - thawed
        wait_until(lambda: down not in hub.active_kinds(), 30, "hub_broker_down cleared")
        time.sleep(1.0)
        for b in buses:
            assert b.proc.terminate() == 0
        lost: dict[str, list[int]] = {}
        for b in buses:
            n = b.counters()[b.topic]
            want = set(range(1, n + 1)) - b.queued_seqs()
            wait_until(lambda b=b, w=want: w <= seq_counts(stored(b.vehicle_id))[0], 30,
                       f"every position of {b.device_id} stored")
            seqs, repeated = seq_counts(stored(b.vehicle_id))
            assert repeated == [], f"{b.device_id}: stored twice: {repeated}"
            lost[b.device_id] = sorted(want - seqs)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        for b in buses:
            b.proc.cleanup()
        status.close()
        hub.stop()
    print(f"\nbroker frozen {FROZEN_S:.0f} s: keepalive noticed by {detected}; all agents born "
          f"again {reconnected_after:.1f} s after SIGCONT; positions "
          f"{ {b.device_id: b.counters()[b.topic] for b in buses} }; lost {lost}")
    assert all(detected.values()), f"keepalive did not notice the frozen broker: {detected}"
    assert all(not v for v in lost.values()), f"positions lost: {lost}"

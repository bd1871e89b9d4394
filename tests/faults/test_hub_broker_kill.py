"""Fault: the broker is killed (SIGKILL) and restarted under a live stream (issue 12).

Three real bus agents publish QoS 1 positions at 5 Hz and two real ``kassel signal``
controllers publish SPaT (QoS 0) at 10 Hz into a real ``kassel hub``. The broker is killed
with SIGKILL, stays away for 3 s and is started again on its persistence. Expected: while it is
away the hub raises ``hub_broker_down`` for its live and ingest sessions; SPaT reaches the hub
again within 2 s of the broker's return; the alarm clears; every position the buses counted is
stored exactly once (``seq`` 1..N per bus, compared with each agent's own counter and queue).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from central_hub.broker import MosquittoBroker
from tests.faults.hub_faults import Bus, Controller, seq_counts, wait_until
from tests.support.hub_process import HubProcess

DOWN_S = 3.0
SPAT_RESUME_S = 2.0


@pytest.mark.slow
def test_broker_sigkill_and_restart_loses_nothing_and_spat_resumes(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    db_path = tmp_path / "hub.db"
    hub = HubProcess(tmp_path, broker.url, f"sqlite:///{db_path}")
    buses = [Bus(tmp_path, broker.url, n) for n in (1, 2, 3)]
    controllers = [Controller(tmp_path, broker.url, f"{c}.yaml") for c in ("ks-0042", "ks-0107")]
    try:
        hub.start()
        for agent in buses:
            agent.proc.start()
        for c in controllers:
            c.start()

        def spat_ts(iid: str) -> int:
            r = hub.http.get(f"/api/v1/intersections/{iid}/spat")
            return int(r.json()["ts"]) if r.status_code == 200 else 0

        def stored(vehicle: str) -> list[tuple[int, int]]:
            with sqlite3.connect(db_path) as db:
                return db.execute("SELECT seq, COUNT(*) FROM samples WHERE device_id = ? AND "
                                  "topic = 'position' GROUP BY seq", (vehicle,)).fetchall()

        wait_until(lambda: all(spat_ts(c.id) for c in controllers), 30, "first SPaT at the hub")
        assert all(spat_ts(c.id) <= time.time() * 1000 + 50 for c in controllers)
        wait_until(lambda: all(len(stored(b.vehicle_id)) >= 5 for b in buses), 30,
                   "positions stored")
        time.sleep(1.0)

        killed = time.time()
        broker.kill()
        down = {("hub_broker_down", "live"), ("hub_broker_down", "ingest")}
        raised_after = wait_until(lambda: down <= hub.active_kinds(), DOWN_S,
                                  "hub_broker_down while the broker is gone")
        time.sleep(max(0.0, killed + DOWN_S - time.time()))

        back = time.time()  # SPaT newer than this was published after the restart began
        broker.start()
        resumed: dict[str, float] = {}  # seconds from the restart to a new SPaT at the hub

        def spat_back() -> bool:
            for c in controllers:
                if c.id not in resumed and spat_ts(c.id) > back * 1000:
                    resumed[c.id] = time.time() - back
            return len(resumed) == len(controllers)

        wait_until(spat_back, 10, "SPaT of every intersection after the broker's return",
                   period=0.02)
        cleared_after = wait_until(lambda: not down & hub.active_kinds(), 10,
                                   "hub_broker_down cleared")
        history = {(a["kind"], a["device_id"]) for a in hub.alarms("all")[1]
                   if a["cleared_ms"] is not None}
        time.sleep(2.0)  # stream on after the recovery

        for agent in buses:
            assert agent.proc.terminate() == 0
        lost: dict[str, list[int]] = {}
        for agent in buses:
            n = agent.counters()[agent.topic]
            queued = agent.queued_seqs()  # still on the device, not lost: sent after a restart
            assert len(queued) <= 10, f"{agent.device_id} kept {len(queued)} positions queued"
            want = set(range(1, n + 1)) - queued
            wait_until(lambda a=agent, w=want: w <= seq_counts(stored(a.vehicle_id))[0], 20,
                       f"every acknowledged position of {agent.device_id} stored")
            seqs, repeated = seq_counts(stored(agent.vehicle_id))
            assert repeated == [], f"{agent.device_id}: seqs stored twice: {repeated}"
            assert seqs <= set(range(1, n + 1))
            lost[agent.device_id] = sorted(want - seqs)
        print(f"\nbroker SIGKILL: alarm after {raised_after:.2f} s; SPaT back "
              f"{ {k: round(v, 2) for k, v in resumed.items()} } s after the restart; alarm "
              f"cleared after {cleared_after:.2f} s; positions per bus "
              f"{ {b.device_id: b.counters()[b.topic] for b in buses} }; lost {lost}")
        assert all(not v for v in lost.values()), f"positions lost: {lost}"
        assert all(t < SPAT_RESUME_S for t in resumed.values()), f"SPaT resumed after {resumed}"
        assert down <= history, f"hub_broker_down not in the alarm history: {history}"
    finally:
        for c in controllers:
            c.stop()
        for agent in buses:
            agent.proc.cleanup()
        hub.stop()

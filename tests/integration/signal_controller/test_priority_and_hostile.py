"""Against a real Mosquitto: bus priority end to end, and hostile payloads never break safety."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from central_hub.broker import MosquittoBroker
from edge_agent.contract.payloads import MAX_PAYLOAD_BYTES, Spat, Ssem, decode
from signal_controller.domain.lamps import Lamp
from tests.integration.signal_controller.helpers import ControllerThread, as_config, config_data
from tests.support.mqtt_probe import MqttProbe

ROOT = "kassel/v1"


def two_phase(tmp_path: Path) -> dict[str, Any]:
    """A main road K1 (bus route, loop D1) and a side road K2 (loop D2)."""
    return {
        "device_id": "ks-9001", "kind": "intersection", "name": "Test junction",
        "location": {"lat": 51.3, "lon": 9.5},
        "agent": {"state_dir": str(tmp_path / "state")},
        "mqtt": {"keepalive_s": 2, "insecure": True},  # the local broker has no TLS
        "signal_groups": [
            {"sg": "K1", "kind": "vehicle", "approach": "N", "min_green_s": 5, "amber_s": 3,
             "red_amber_s": 1},
            {"sg": "K2", "kind": "vehicle", "approach": "E", "min_green_s": 5, "amber_s": 3,
             "red_amber_s": 1},
        ],
        "intergreen_s": {"K1": {"K2": 4}, "K2": {"K1": 4}},
        "control": {"mode": "actuated", "stages": [
            {"id": "S1", "groups": ["K1"], "min_green_s": 5, "max_green_s": 30, "gap_s": 2},
            {"id": "S2", "groups": ["K2"], "min_green_s": 5, "max_green_s": 20, "gap_s": 2},
        ]},
        "detectors": [{"id": "D1", "sg": "K1", "kind": "loop"},
                      {"id": "D2", "sg": "K2", "kind": "loop"}],
        "priority": {"enabled": True, "max_extension_s": 15, "max_early_s": 10,
                     "groups": ["K1"]},
    }


def _state(spat: Spat, sg: str) -> str:
    return next(g.state for g in spat.groups if g.sg == sg)


def test_priority_request_is_granted_and_extends_green(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    cfg = as_config(two_phase(tmp_path))
    probe = MqttProbe(broker.url, client_id="prio-probe")
    probe.subscribe(f"{ROOT}/signal/ks-9001/#", qos=1)
    with ControllerThread(cfg, broker.url):
        def k1_green(ms: list[Any]) -> bool:
            spats = [m for m in ms if m.topic.endswith("/spat")]
            return bool(spats) and _state(decode(Spat, spats[-1].payload), "K1").endswith(
                "Movement-Allowed")

        assert probe.wait_for(k1_green, 30), "K1 never got green"
        last = decode(Spat, probe.on("/spat")[-1].payload)
        # Conflicting demand: the side road's loop is occupied, so K1 would gap out at its
        # minimum green (no vehicle on D1).
        probe.publish(f"{ROOT}/signal/ks-9001/detector", json.dumps(
            {"v": 1, "ts": last.ts, "detector": "D2", "occupied": True}), qos=0)
        eta = last.ts + 9_000
        probe.publish(f"{ROOT}/signal/ks-9001/srem/77", json.dumps({
            "v": 1, "ts": last.ts, "request_id": "bus-77-1", "vehicle_id": "77",
            "intersection_id": "ks-9001", "type": "request", "sg": "K1", "eta": eta,
            "role": "transit", "route_id": "4"}))

        def granted(ms: list[Any]) -> bool:
            return any(
                r.status == "granted"
                for m in ms if m.topic.endswith("/ssem")
                for r in decode(Ssem, m.payload).requests
            )

        assert probe.wait_for(granted, 10), "no ssem granted"

        def k1_ended(ms: list[Any]) -> bool:
            spats = [decode(Spat, m.payload) for m in ms if m.topic.endswith("/spat")]
            return any(s.ts > eta and not _state(s, "K1").endswith("Movement-Allowed")
                       for s in spats)

        assert probe.wait_for(k1_ended, 30)
    spats = [decode(Spat, m.payload) for m in probe.on("/spat")]
    green = [s for s in spats if _state(s, "K1").endswith("Movement-Allowed")]
    green_start = green[0].ts
    green_end = next(s.ts for s in spats if s.ts > green_start
                     and not _state(s, "K1").endswith("Movement-Allowed"))
    # Without priority K1 ends at its 5 s minimum green; the bus holds it until ETA + 2 s.
    assert green_end >= eta + 2_000
    assert green_end - green_start > 5_000 + 2_000
    probe.close()


def test_hostile_payloads_never_break_the_kernel(broker: MosquittoBroker, tmp_path: Path) -> None:
    cfg = as_config(config_data("ks-0042.yaml", tmp_path))
    probe = MqttProbe(broker.url, client_id="hostile-probe")
    probe.subscribe(f"{ROOT}/signal/ks-0042/#", qos=1)
    probe.subscribe(f"{ROOT}/device/ks-0042/cmd/ack", qos=1)
    base = f"{ROOT}/signal/ks-0042"
    with ControllerThread(cfg, broker.url) as ct:
        def running(ms: list[Any]) -> bool:  # start-up over: some group is green
            spats = [m for m in ms if m.topic.endswith("/spat")]
            return bool(spats) and any(g.state.endswith("Movement-Allowed")
                                       for g in decode(Spat, spats[-1].payload).groups)

        assert probe.wait_for(running, 30)
        ts = decode(Spat, probe.on("/spat")[-1].payload).ts
        junk = [b"", b"not json", b"[1,2,3]", b'{"v":1}', b"\xff\xfe",
                b"x" * (MAX_PAYLOAD_BYTES + 100),
                json.dumps({"v": 1, "ts": "now", "detector": "D2", "occupied": "yes"}).encode()]
        for payload in junk:
            for topic in ("srem/66", "detector"):
                probe.publish(f"{base}/{topic}", payload, qos=0)
            probe.publish(f"{ROOT}/device/ks-0042/cmd", payload, qos=1)
        srem: dict[str, Any] = {"v": 1, "ts": ts, "vehicle_id": "66", "intersection_id": "ks-0042",
                                "type": "request", "eta": ts + 20_000, "role": "emergency",
                                "route_id": None}
        probe.publish(f"{base}/srem/66", json.dumps({**srem, "request_id": "u1", "sg": "K9"}))
        probe.publish(f"{base}/srem/66", json.dumps({**srem, "request_id": "s1", "sg": "K1",
                                                     "eta": ts - 600_000}))
        for i in range(300):  # a flood from one vehicle, and unknown detectors
            probe.publish(f"{base}/srem/flood", json.dumps({
                **srem, "request_id": f"f{i}", "vehicle_id": "flood", "sg": "K1"}), qos=0)
            probe.publish(f"{base}/detector", json.dumps(
                {"v": 1, "ts": ts, "detector": f"X{i}", "occupied": True}), qos=0)
        bad_plan = {"mode": "actuated", "stages": [
            {"id": "S1", "groups": ["K1", "K2"], "min_green_s": 5, "max_green_s": 9}]}
        for cid, name, args in (("c1", "set_plan", {"control": bad_plan}),
                                ("c2", "self_destruct", {}), ("c3", "set_mode", {"mode": 7})):
            probe.publish(f"{ROOT}/device/ks-0042/cmd",
                          json.dumps({"v": 1, "id": cid, "name": name, "args": args}))
        assert probe.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/ack")]) >= 3,
                              15)
        time.sleep(2.0)
        status = ct.call(ct.controller.status)
        rejected = dict(ct.controller.agent.rejected)
    acks = {json.loads(m.payload)["id"]: json.loads(m.payload) for m in probe.on("/ack")}
    assert acks["c1"]["ok"] is False and "K1 and K2 conflict" in acks["c1"]["error"]
    assert acks["c2"]["ok"] is False and acks["c3"]["ok"] is False
    assert status["fault"] is None and status["program"] == "ActRun"
    counts = status["priority_counts"]
    assert isinstance(counts, dict)
    assert counts.get("rejected_unknown_group", 0) >= 1
    assert counts.get("rejected_stale_eta", 0) >= 1
    assert counts.get("rejected_flood", 0) + counts.get("rejected_too_many_per_vehicle", 0) > 0
    assert status["counts"] == {"unknown_detector": 300}
    assert sum(rejected.values()) >= len(junk)
    spats = [decode(Spat, m.payload) for m in probe.on("/spat")]
    assert all(s.status == "operational" for s in spats)
    # No two conflicting groups were ever green together on the (fake) lamp outputs.
    history = ct.heads.history
    events = sorted((t, sg, lamp) for sg, seen in history.items() for t, lamp in seen)
    current: dict[str, Lamp] = {}
    for t, sg, lamp in events:
        current[sg] = lamp
        greens = {g for g, v in current.items() if v is Lamp.GREEN}
        for a in greens:
            assert not greens & set(cfg.intergreen_s.get(a, {})), f"conflict at {t}"
    ssem_rows = [r for m in probe.on("/ssem") for r in decode(Ssem, m.payload).requests]
    assert any(r.request_id == "u1" and r.status == "rejected" for r in ssem_rows)
    probe.close()

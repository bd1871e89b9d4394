"""Against a real Mosquitto: a priority request in UPER (SREM on
``signal/{id}/etsi/srem/{vehicle_id}``) is served like the JSON ``srem`` — same validation,
same priority logic, same safety kernel — and answered with the JSON ``ssem`` and its UPER
twin on ``etsi/ssem``; bad SREMs are refused with a counted reason and the session goes on;
the requester is the topic's vehicle, never the message's station id (issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from central_hub.broker import MosquittoBroker
from edge_agent.contract.etsi.spatem import ItsIntersection, encode_spatem
from edge_agent.contract.etsi.srem import (
    AccessPoint,
    SremTarget,
    encode_srem,
    srem_target,
    station_id_of,
)
from edge_agent.contract.etsi.ssem import decode_ssem
from edge_agent.contract.payloads import Spat, SremFields, Ssem, decode
from signal_controller.domain.lamps import Lamp
from tests.integration.signal_controller.helpers import ControllerThread, as_config, config_data
from tests.support.mqtt_probe import MqttProbe

ROOT = "kassel/v1"
BASE = f"{ROOT}/signal/ks-0042"


def _srem(ts: int, request_id: str, **changes: Any) -> SremFields:
    values: dict[str, Any] = {
        "request_id": request_id, "vehicle_id": "77", "intersection_id": "ks-0042",
        "type": "request", "sg": "K1", "eta": ts + 9_000, "role": "transit",
        "route_id": "4", "delay_s": None} | changes
    return SremFields(**values)


def test_a_uper_srem_is_granted_answered_in_uper_and_bad_ones_are_counted(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    cfg = as_config(config_data("ks-0042.yaml", tmp_path))
    probe = MqttProbe(broker.url, client_id="etsi-prio-probe")
    probe.subscribe(f"{BASE}/#", qos=1)
    with ControllerThread(cfg, broker.url) as ct:
        def running(ms: list[Any]) -> bool:  # start-up over: some group is green
            spats = [m for m in ms if m.topic.endswith("/spat")]
            return bool(spats) and any(g.state.endswith("Movement-Allowed")
                                       for g in decode(Spat, spats[-1].payload).groups)

        assert probe.wait_for(running, 30)
        last = decode(Spat, probe.on("/spat")[-1].payload)
        ts = last.ts
        good = encode_srem(_srem(ts, "5"), srem_target(cfg, "K1"), now_ms=ts, sequence=9,
                           station_id=4242)  # the message claims another station
        spatem = encode_spatem(last, ItsIntersection.from_config(cfg))
        bad = {
            "malformed": good[: len(good) // 2],
            "wrong_message_id": spatem,
            "unknown_lane": encode_srem(_srem(ts, "6"), SremTarget(None, 42,
                                        AccessPoint("lane", 77)), now_ms=ts, sequence=1),
            "wrong_intersection": encode_srem(_srem(ts, "7"), SremTarget(
                None, 43, AccessPoint("lane", 2), AccessPoint("lane", 11)), now_ms=ts,
                sequence=2),
        }
        for payload in bad.values():
            probe.publish(f"{BASE}/etsi/srem/66", payload)
        probe.publish(f"{BASE}/etsi/srem/77", good)

        def granted(ms: list[Any]) -> bool:
            return any(e.status == "granted" and e.station_id == station_id_of("77")
                       for m in ms if m.topic.endswith("/etsi/ssem")
                       for e in decode_ssem(m.payload).entries())

        assert probe.wait_for(granted, 15), "no UPER SSEM granted"
        # the session goes on: the cancel in UPER still works
        probe.publish(f"{BASE}/etsi/srem/77", encode_srem(
            _srem(ts, "5", type="cancel"), srem_target(cfg, "K1"), now_ms=ts + 100,
            sequence=10))
        assert probe.wait_for(lambda ms: any(
            m.topic == f"{BASE}/ssem" and not decode(Ssem, m.payload).requests
            for m in ms), 15), "the cancel emptied no ssem"
        rejected = ct.call(lambda: dict(ct.controller.agent.rejected))
        status = ct.call(ct.controller.status)
    probe.close()
    assert ct.errors == []
    for reason in bad:
        assert rejected.get(("etsi_srem", reason)) == 1, (reason, rejected)
    assert status["fault"] is None
    # the requester is the topic's vehicle: "77" in JSON, its station id in UPER
    json_ssems = [decode(Ssem, m.payload) for m in probe.on(f"{BASE}/ssem")]
    rows = [r for s in json_ssems for r in s.requests]
    assert {(r.request_id, r.vehicle_id) for r in rows} == {("5", "77")}
    assert any(r.status == "granted" for r in rows)
    # every non-empty JSON ssem has its UPER twin with the same statuses, in order
    uper = [decode_ssem(m.payload) for m in probe.on("/etsi/ssem")]
    twins = [s for s in json_ssems if s.requests]
    assert len(uper) == len(twins)
    for j, u in zip(twins, uper, strict=True):
        assert [e.status for e in u.entries()] == [r.status for r in j.requests]
        assert all(e.station_id == station_id_of("77") and e.request_id == 5
                   and e.sequence == 9 for e in u.entries())
        assert {e.inbound for e in u.entries()} == {AccessPoint("lane", 2)}
    # through the safety kernel: no two conflicting groups ever green together
    events = sorted((t, sg, lamp) for sg, seen in ct.heads.history.items() for t, lamp in seen)
    current: dict[str, Lamp] = {}
    for t, sg, lamp in events:
        current[sg] = lamp
        greens = {g for g, v in current.items() if v is Lamp.GREEN}
        for a in greens:
            assert not greens & set(cfg.intergreen_s.get(a, {})), f"conflict at {t}"

"""The documented HTTP paths against a real hub on a real broker."""

from __future__ import annotations

import threading

import httpx

from central_hub.broker import MosquittoBroker
from edge_agent.contract.etsi import uper
from edge_agent.contract.etsi.header import MessageId, header_for
from edge_agent.contract.etsi.spatem import ItsIntersection, encode_spatem
from edge_agent.contract.payloads import Command, CommandAck, Spat, SpatGroup, decode, encode
from tests.integration.central_hub.helpers import (
    ADMIN,
    ENGINEER,
    TOPICS,
    HubServer,
    client,
    now_ms,
    occupancy,
    position,
    spat,
    status,
    wait_for,
)


def test_contract_paths_serve_latest_payloads_as_received(hub: HubServer,
                                                          broker: MosquittoBroker) -> None:
    pub = client(broker, "dev-pub")
    pub.publish(TOPICS.topic("status", "ks-0042"), status("ks-0042", "online"), qos=1,
                retain=True).wait_for_publish()
    # stamped after the birth: a message older than its device's birth is refused (before_birth)
    pos = position("1234", 1)
    occ = occupancy("1234", 1, 30)
    sp = spat("ks-0042", 7)
    pub.publish(TOPICS.topic("position", "1234"), pos, qos=1).wait_for_publish()
    pub.publish(TOPICS.topic("occupancy", "1234"), occ, qos=1).wait_for_publish()
    pub.publish(TOPICS.topic("spat", "ks-0042"), sp, qos=0).wait_for_publish()
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        wait_for(lambda: http.get("/api/v1/intersections/ks-0042/spat").status_code == 200,
                 what="spat")
        assert http.get("/api/v1/intersections/ks-0042/spat").content == sp
        wait_for(lambda: any(v["occupancy"] for v in http.get("/api/v1/vehicles").json()),
                 what="vehicle")
        (veh,) = http.get("/api/v1/vehicles").json()
        assert veh["vehicle_id"] == "1234"
        assert veh["position"]["seq"] == 1 and veh["occupancy"]["passengers"] == 30
        assert veh["online"] is True
        (ix,) = http.get("/api/v1/intersections").json()
        assert ix == {"intersection_id": "ks-0042", "name": "ks-0042", "status": "operational",
                      "online": True, "lat": None, "lon": None, "etsi_agrees": None}
        assert http.get("/api/v1/intersections/nope/spat").status_code == 404
        assert http.get("/api/v1/alarms").status_code == 200
        devices = http.get("/api/v1/devices").json()
        assert [d["device_id"] for d in devices] == ["ks-0042"]
        assert devices[0]["online"] is True
        assert "Kassel" in http.get("/").text
        paths = http.get("/openapi.json").json()["paths"]
        assert {"/api/v1/vehicles", "/api/v1/intersections",
                "/api/v1/intersections/{intersection_id}/spat", "/api/v1/alarms",
                "/api/v1/devices", "/gtfs-rt/vehicle-positions", "/gtfs-rt/trip-updates",
                "/"} <= set(paths)
        wait_for(lambda: hub.hub.ingest is not None and hub.hub.ingest.stats.stored >= 3,
                 what="storage")
    pub.disconnect()
    pub.loop_stop()


def test_the_latest_spatem_and_mapem_as_received_or_as_jer(hub: HubServer,
                                                            broker: MosquittoBroker) -> None:
    """Issue 17: the hub keeps the C-ITS bytes of each intersection, serves them as they came
    (or as JER for people), checks a sampled SPATEM against its SPaT, and counts bad ones."""
    its = ItsIntersection(561000042, 42, None, {"K1": 1, "K2": 2})
    pub = client(broker, "etsi-pub")
    ts = now_ms()
    sp = spat("ks-0042", 1, ts=ts)
    spatem = encode_spatem(decode(Spat, sp), its)
    mapem = uper.encode(MessageId.MAPEM, {"header": header_for(MessageId.MAPEM, 1).as_value(),
                                          "map": {"msgIssueRevision": 1}})
    base = "/api/v1/intersections/ks-0042"
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        assert http.get(f"{base}/spatem").status_code == 404
        assert http.get(f"{base}/mapem").status_code == 404
        pub.publish(TOPICS.topic("spat", "ks-0042"), sp, qos=0).wait_for_publish()
        pub.publish(TOPICS.topic("etsi_spatem", "ks-0042"), spatem, qos=0).wait_for_publish()
        pub.publish(TOPICS.topic("etsi_mapem", "ks-0042"), mapem, qos=1,
                    retain=True).wait_for_publish()
        wait_for(lambda: http.get(f"{base}/mapem").status_code == 200, what="mapem")
        got = http.get(f"{base}/spatem")
        assert got.content == spatem
        assert got.headers["content-type"] == "application/octet-stream"
        assert http.get(f"{base}/mapem").content == mapem
        jer = http.get(f"{base}/spatem", params={"format": "jer"})
        assert jer.headers["content-type"] == "application/json"
        assert jer.json()["header"] == {"protocolVersion": 2, "messageID": 4,
                                        "stationID": 561000042}
        assert http.get(f"{base}/mapem?format=jer").json()["map"]["msgIssueRevision"] == 1
        assert http.get(f"{base}/spatem?format=xml").status_code == 422
        (health,) = http.get("/api/v1/intersections/health").json()
        assert health["etsi_agrees"] is True
        assert (health["etsi"], health["etsi_difference"]) == ("agrees", None)
        # bad bytes are refused and counted like a bad JSON payload; the latest stays
        pub.publish(TOPICS.topic("etsi_spatem", "ks-0042"), b"xyz",
                    qos=0).wait_for_publish()
        wait_for(lambda: hub.hub.live.rejected[("etsi_spatem", "wrong_message_id")] == 1,
                 what="refused SPATEM")
        assert http.get(f"{base}/spatem").content == spatem
    pub.disconnect()
    pub.loop_stop()


def test_health_scores_the_predictions_of_the_last_hour(hub: HubServer,
                                                        broker: MosquittoBroker) -> None:
    """Issue 18: a red sampled once a second for 40 s, each likely end 0.5 s after the switch,
    inside its bounds: the health has the errors by band, the bounds kept, the reliability
    bucket of its confidence, and no baseline yet."""
    pub = client(broker, "quality-pub")
    t0 = now_ms() - 45_000

    def row(ts: int, n: int, state: str) -> bytes:
        return encode(Spat(ts=ts, seq=n, intersection_id="ks-0042", revision=1,
                           status="operational", groups=[SpatGroup(
                               sg="K1", state=state, min_end=t0 + 35_000,  # type: ignore[arg-type]
                               max_end=t0 + 45_000, likely_end=t0 + 40_500, confidence=85)]))

    rows = [row(t0 + 1_000 * k, k + 1, "stop-And-Remain") for k in range(40)]
    rows.append(row(t0 + 40_000, 41, "pre-Movement"))
    for r in rows:
        pub.publish(TOPICS.topic("spat", "ks-0042"), r, qos=0).wait_for_publish()
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        def scored() -> bool:
            got = http.get("/api/v1/intersections/health").json()
            return bool(got) and got[0]["prediction"] is not None

        wait_for(scored, what="a scored switch")
        (health,) = http.get("/api/v1/intersections/health").json()
    p = health["prediction"]
    assert (p["window_s"], p["switches"], p["rows"]) == (3600, 1, 40)
    assert p["bands"] == [{"band": "le10s", "rows": 10, "mae_s": 0.5},
                          {"band": "10to30s", "rows": 20, "mae_s": 0.5},
                          {"band": "gt30s", "rows": 10, "mae_s": 0.5}]
    assert (p["bounded_switches"], p["within_bounds_pct"]) == (1, 100.0)
    assert len(p["reliability"]) == 10
    assert p["reliability"][8] == {"lo": 80, "hi": 89, "rows": 40, "mean_confidence": 85.0,
                                   "observed_pct": 100.0}
    assert p["reliability"][9] == {"lo": 90, "hi": 100, "rows": 0, "mean_confidence": None,
                                   "observed_pct": None}
    assert (p["baseline_mae_s"], p["baseline_hours"]) == (None, 0)
    assert health["confidence"] == 85
    pub.disconnect()
    pub.loop_stop()


def test_state_changes_need_a_role(hub: HubServer) -> None:
    with httpx.Client(base_url=hub.url, timeout=10) as http:
        body = {"device_id": "bus-9", "kind": "bus", "entity_id": "9"}
        assert http.post("/api/v1/devices", json=body).status_code == 401
        eng = {"Authorization": f"Bearer {ENGINEER}"}
        assert http.post("/api/v1/devices", json=body, headers=eng).status_code == 403
        adm = {"Authorization": f"Bearer {ADMIN}"}
        r = http.post("/api/v1/devices", json=body, headers=adm)
        assert r.status_code == 201
        assert r.json()["username"] == "bus-9" and len(r.json()["password"]) >= 20
        assert http.post("/api/v1/devices", json=body, headers=adm).status_code == 409
        assert http.post("/api/v1/alarms/1/ack").status_code == 401
        assert http.post("/api/v1/devices/bus-9/commands", json={"name": "status"}).status_code \
            == 401


def test_command_waits_for_the_ack(hub: HubServer, broker: MosquittoBroker) -> None:
    dev = client(broker, "dev-ks-7")
    silent = threading.Event()

    def on_message(c: object, _u: object, msg: object) -> None:
        if silent.is_set():  # a device that hangs: receives, never acks
            return
        cmd = decode(Command, msg.payload)  # type: ignore[attr-defined]
        ack = CommandAck(ts=1, id=cmd.id, ok=cmd.name == "status",
                         error=None if cmd.name == "status" else "refused")
        dev.publish(TOPICS.topic("cmd_ack", "ks-7"), encode(ack), qos=1)

    dev.on_message = on_message
    dev.subscribe(TOPICS.topic("cmd", "ks-7"), qos=1)
    dev.publish(TOPICS.topic("status", "ks-7"), status("ks-7", "online"), qos=1).wait_for_publish()
    eng = {"Authorization": f"Bearer {ENGINEER}"}
    with httpx.Client(base_url=hub.url, timeout=20) as http:
        wait_for(lambda: "ks-7" in hub.hub.state.devices, what="device seen")
        r = http.post("/api/v1/devices/ks-7/commands", json={"name": "status"}, headers=eng)
        assert r.status_code == 200, r.text
        assert r.json()["ack"]["ok"] is True
        r = http.post("/api/v1/devices/ks-7/commands", json={"name": "flash"}, headers=eng)
        assert r.json()["ack"] == {**r.json()["ack"], "ok": False, "error": "refused"}
        # what the contract does not know, and bad arguments, never leave the hub
        r = http.post("/api/v1/devices/ks-7/commands", json={"name": "dance"}, headers=eng)
        assert r.status_code == 422 and "status" in r.text  # the allowed names are listed
        r = http.post("/api/v1/devices/ks-7/commands",
                      json={"name": "set_mode", "args": {"mode": "disco"}}, headers=eng)
        assert r.status_code == 422 and "mode" in r.text
        r = http.post("/api/v1/devices/ks-7/commands",
                      json={"name": "set_delay", "args": {"delay_s": 60}}, headers=eng)
        assert r.status_code == 422 and "ks-7 is a intersection; set_delay is for a bus" \
            in r.json()["detail"]
        silent.set()
        r = http.post("/api/v1/devices/ks-7/commands",
                      json={"name": "status", "timeout_s": 0.5}, headers=eng)
        assert r.status_code == 504
        assert http.post("/api/v1/devices/ghost/commands", json={"name": "status"},
                         headers=eng).status_code == 404
        dev.disconnect()
        dev.loop_stop()
        broker.stop()  # the hub cannot reach the broker: refused at once, not a timeout
        wait_for(lambda: not hub.hub.live.session_connected, what="hub disconnected")
        r = http.post("/api/v1/devices/ks-7/commands", json={"name": "status"}, headers=eng)
        assert r.status_code == 503 and "not connected" in r.text
        live = http.get("/api/v1/ingest").json()["live"]  # operators see why
        assert live["connected"] is False and live["last_error"]

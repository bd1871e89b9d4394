"""A controller against a real Mosquitto sends, with every SPaT, the SPATEM of the same tick
(issue 17): raw UPER bytes on ``signal/{id}/etsi/spatem`` whose values equal the SPaT's."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

from central_hub.broker import MosquittoBroker
from edge_agent.contract.etsi.mapem import decode_mapem
from edge_agent.contract.etsi.spatem import ItsIntersection, decode_spatem
from edge_agent.contract.payloads import Spat, decode
from tests.integration.signal_controller.helpers import ControllerThread, as_config, config_data
from tests.support.mqtt_probe import MqttProbe
from tests.unit.etsi.test_spatem import check_round_trip

ROOT = "kassel/v1"
#: consecutive SPaT ticks that must each have their SPATEM (12 s at 10 Hz: start-up clearing,
#: then green)
TICKS = 120


def test_every_spat_has_a_spatem_with_the_same_values(broker: MosquittoBroker,
                                                      tmp_path: Path) -> None:
    cfg = as_config(config_data("ks-0042.yaml", tmp_path))
    its = ItsIntersection.from_config(cfg)
    probe = MqttProbe(broker.url, client_id="spatem-probe")
    probe.subscribe(f"{ROOT}/signal/ks-0042/spat", qos=0)
    probe.subscribe(f"{ROOT}/signal/ks-0042/etsi/spatem", qos=0)
    with ControllerThread(cfg, broker.url) as ct:
        assert probe.wait_for(lambda _m: len(probe.on("/spat")) >= TICKS + 5, 40)
        map_revision = ct.call(lambda: ct.controller.map_revision)
    probe.close()
    assert ct.errors == []
    spats = [decode(Spat, m.payload) for m in probe.on("/spat")]
    spatems = [decode_spatem(m.payload) for m in probe.on("/etsi/spatem")]
    year = time.gmtime(spats[-1].ts / 1000).tm_year
    by_ts = {}
    for msg in spatems:
        (state,) = msg.intersections
        sent = state.sent_at_ms(year)
        assert sent is not None and sent not in by_ts, "one SPATEM per tick"
        by_ts[sent] = msg
    # a run of consecutive ticks after start-up (QoS 0 on loopback: none is lost)
    run = spats[5:5 + TICKS]
    assert [s.seq for s in run] == list(range(run[0].seq, run[0].seq + TICKS))
    states: set[str] = set()
    timed = 0
    for spat in run:
        msg = by_ts.get(spat.ts)
        assert msg is not None, f"no SPATEM for the SPaT of {spat.ts} (seq {spat.seq})"
        # header, id, revision (the MAP's), status bits, moy/timeStamp, and per group the
        # state, min/max/likely TimeMarks (100 ms) and the confidence class
        check_round_trip(spat, its, msg, map_revision)
        states |= {g.state for g in spat.groups}
        timed += sum(g.likely_end is not None for g in spat.groups)
    # the run covers clearing, red and green, and known likely ends (confidence classes)
    assert {"stop-And-Remain", "protected-Movement-Allowed"} <= states and timed > 0


def test_its_publish_false_sends_no_spatem(broker: MosquittoBroker, tmp_path: Path) -> None:
    data = config_data("ks-0042.yaml", tmp_path)
    data["its"] = {**data["its"], "publish": False}
    cfg = as_config(data)
    probe = MqttProbe(broker.url, client_id="spatem-off-probe")
    probe.subscribe(f"{ROOT}/signal/ks-0042/#", qos=0)
    with ControllerThread(cfg, broker.url):
        assert probe.wait_for(lambda _m: len(probe.on("/spat")) >= 20, 40)
    probe.close()
    assert probe.on("/etsi/spatem") == []


def test_a_roadside_unit_gets_the_spatem_of_every_tick(broker: MosquittoBroker,
                                                       tmp_path: Path) -> None:
    """``its.rsu``: besides MQTT, each tick's SPATEM is one UDP datagram to the unit's port
    (docs/c-its.md, "Roadside unit"), every one a SPATEM of a tick, one per tick."""
    unit = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unit.bind(("127.0.0.1", 0))
    unit.settimeout(0.5)
    data = config_data("ks-0042.yaml", tmp_path)
    data["its"] = {**data["its"], "rsu": {"host": "localhost", "port": unit.getsockname()[1],
                                          "messages": ["spatem"]}}
    cfg = as_config(data)
    its = ItsIntersection.from_config(cfg)
    datagrams: list[bytes] = []
    with ControllerThread(cfg, broker.url) as ct:
        deadline = time.monotonic() + 30
        while len(datagrams) < TICKS and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                datagrams.append(unit.recv(65535))
        ct.stop()
    with contextlib.suppress(TimeoutError):  # what was sent before the stop
        while True:
            datagrams.append(unit.recv(65535))
    unit.close()
    assert ct.errors == []
    rsu = ct.controller.rsu
    assert rsu is not None and not rsu.dropped
    assert len(datagrams) == rsu.sent["spatem"] >= TICKS
    year = time.gmtime().tm_year
    sent_at = []
    for raw in datagrams:
        msg = decode_spatem(raw)
        assert msg.header.station_id == its.station_id
        (state,) = msg.intersections
        assert state.intersection_id == its.intersection_id
        sent_at.append(state.sent_at_ms(year))
    # one per tick, in order, 100 ms apart (loopback UDP loses none here)
    assert sent_at == list(range(sent_at[0], sent_at[0] + 100 * len(sent_at), 100))
    assert ct.controller.status()["rsu"] == rsu.counters()


def test_a_roadside_unit_hears_the_mapem_again_every_second(broker: MosquittoBroker,
                                                            tmp_path: Path) -> None:
    """A broadcast reaches only the vehicles in range, so the MAPEM goes to the unit again
    once a second (the retained MQTT message is sent once)."""
    unit = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unit.bind(("127.0.0.1", 0))
    unit.settimeout(0.5)
    data = config_data("ks-0042.yaml", tmp_path)
    data["its"] = {**data["its"], "rsu": {"host": "localhost", "port": unit.getsockname()[1],
                                          "messages": ["mapem"]}}
    cfg = as_config(data)
    mapems: list[bytes] = []
    with ControllerThread(cfg, broker.url) as ct:
        deadline = time.monotonic() + 30
        while len(mapems) < 3 and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                mapems.append(unit.recv(65535))
        ct.stop()  # the count follows sendto: read it once the controller has stopped
        sent = ct.controller.rsu.sent["mapem"] if ct.controller.rsu is not None else 0
    unit.close()
    assert ct.errors == []
    assert len(mapems) == 3 and sent >= 3
    assert {raw[1] for raw in mapems} == {5}  # MAPEM only: SPATEM was not asked for
    assert len(set(mapems)) == 1  # the same MAP revision repeated
    (geometry,) = decode_mapem(mapems[0]).intersections
    assert geometry.intersection_id == ItsIntersection.from_config(cfg).intersection_id

"""A controller against a real Mosquitto sends, with every JSON ``map``, the MAPEM of the
same revision: retained UPER bytes on ``signal/{id}/etsi/mapem`` (issue 17)."""

from __future__ import annotations

from pathlib import Path

from central_hub.broker import MosquittoBroker
from edge_agent.contract.etsi.mapem import decode_mapem, encode_mapem
from tests.integration.signal_controller.helpers import ControllerThread, as_config, config_data
from tests.support.mqtt_probe import MqttProbe

ROOT = "kassel/v1"


def test_the_mapem_follows_the_map_at_start_and_on_change(broker: MosquittoBroker,
                                                          tmp_path: Path) -> None:
    cfg = as_config(config_data("ks-0042.yaml", tmp_path))
    with ControllerThread(cfg, broker.url) as ct:
        probe = MqttProbe(broker.url, client_id="mapem-probe")
        probe.subscribe(f"{ROOT}/signal/ks-0042/map", qos=1)
        probe.subscribe(f"{ROOT}/signal/ks-0042/etsi/mapem", qos=1)
        assert probe.wait_for(lambda _m: probe.on("/etsi/mapem") != [], 20)
        (first,) = probe.on("/etsi/mapem")
        assert first.payload == encode_mapem(cfg, 1)
        late = MqttProbe(broker.url, client_id="mapem-late")  # retained: read on arrival
        late.subscribe(f"{ROOT}/signal/ks-0042/etsi/mapem", qos=1)
        assert late.wait_for(lambda m: m != [], 10)
        late.close()
        assert late.messages[0].retain and late.messages[0].payload == first.payload
        # a command that changes the config makes a new revision of both
        ct.call(lambda: _new_revision(ct))
        assert probe.wait_for(lambda _m: len(probe.on("/etsi/mapem")) >= 2, 20)
        probe.close()
    second = decode_mapem(probe.on("/etsi/mapem")[-1].payload)
    assert second.revision == 2
    assert [m.json()["revision"] for m in probe.on("/map")][-1] == 2
    assert ct.errors == []


def _new_revision(ct: ControllerThread) -> None:
    c = ct.controller
    c.map_revision += 1
    c._spawn_map()  # what a config-changing command does


def test_its_publish_false_or_no_geometry_sends_no_mapem(broker: MosquittoBroker,
                                                         tmp_path: Path) -> None:
    off = config_data("ks-0042.yaml", tmp_path)
    off["its"] = {**off["its"], "publish": False}
    bare = config_data("ks-0042.yaml", tmp_path / "b", device_id="ks-0043")
    bare.pop("geometry")
    bare["its"] = {**bare["its"], "intersection_id": 43}
    probe = MqttProbe(broker.url, client_id="mapem-off-probe")
    probe.subscribe(f"{ROOT}/signal/+/#", qos=1)
    for data in (off, bare):
        with ControllerThread(as_config(data), broker.url) as ct:
            assert probe.wait_for(lambda _m, d=data: any(
                m.topic.endswith(f"{d['device_id']}/map") for m in probe.messages), 20)
            assert ct.errors == []
    probe.close()
    assert probe.on("/etsi/mapem") == []

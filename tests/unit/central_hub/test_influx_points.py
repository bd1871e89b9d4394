"""The InfluxDB sink's pure conversion (payload -> measurement, tags, fields) and its queue."""

from __future__ import annotations

import json
from typing import Any

import pytest

from central_hub.core.config import HubSettings, InfluxSettings
from central_hub.domain.intake import Intake, Row
from central_hub.ingest.influx import InfluxSink, PointData, point_data_of_row, to_point_data
from tests.integration.central_hub.helpers import TOPICS, health, occupancy, position, spat

TS = 1_700_000_000_123


def _load(raw: bytes) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(raw)
    return out


def test_position_tags_ids_and_route_fields_are_floats() -> None:
    p = to_point_data("position", "7", _load(position("7", 1, TS, route_id="R1", trip_id="T9")))
    assert p == PointData("position", {"vehicle_id": "7", "route_id": "R1"},
                          {"lat": 51.3155, "lon": 9.49, "bearing": 90.0, "speed_mps": 8.0}, TS)
    assert all(type(v) is float for v in p.fields.values())
    # an integer in JSON stays a float field (InfluxDB refuses a field whose type changes)
    q = to_point_data("position", "7", {"ts": TS, "lat": 51, "lon": 9, "bearing": 0,
                                        "speed_mps": 0, "route_id": None})
    assert q is not None and q.tags == {"vehicle_id": "7"}
    assert all(type(v) is float for v in q.fields.values())


def test_occupancy_counts_are_integers() -> None:
    p = to_point_data("occupancy", "7", _load(occupancy("7", 1, 45, TS)))
    assert p is not None and p.measurement == "occupancy" and p.ts_ms == TS
    assert p.tags == {"vehicle_id": "7"}
    assert p.fields == {"passengers": 45, "capacity_seated": 40, "capacity_total": 90,
                        "occupancy_percentage": 50, "door_in": 45, "door_out": 0,
                        "wlan_clients": 0, "probe_devices": 0}
    assert all(type(v) is int for v in p.fields.values())


def test_wlan() -> None:
    p = to_point_data("wlan", "7", {"ts": TS, "seq": 1, "vehicle_id": "7",
                                    "clients_associated": 3, "clients_authenticated": 2,
                                    "rx_bytes": 10, "tx_bytes": 20, "uplink_kbps": 5,
                                    "per_client_kbps": 1})
    assert p is not None and p.tags == {"vehicle_id": "7"}
    assert p.fields == {"clients_associated": 3, "clients_authenticated": 2, "rx_bytes": 10,
                        "tx_bytes": 20, "uplink_kbps": 5, "per_client_kbps": 1}


def test_health_flattens_queue_and_uplink() -> None:
    payload = _load(health(1, cpu=42.5)) | {"ts": TS}
    p = to_point_data("health", "bus-7", payload)
    assert p is not None and p.tags == {"device_id": "bus-7", "iface": "wwan0"}
    assert p.fields == {"cpu_pct": 42.5, "mem_pct": 20.0, "rss_mb": 50.0, "disk_pct": 30.0,
                        "uptime_s": 100.0, "queue_depth": 0, "queue_dropped": 0,
                        "queue_oldest_age_s": 0.0, "uplink_up": 1, "uplink_rx_bps": 1.0,
                        "uplink_tx_bps": 1.0}


def test_spat_summary() -> None:
    p = to_point_data("spat", "ix-1", _load(spat("ix-1", 3, ts=TS)))
    assert p == PointData("spat", {"intersection_id": "ix-1", "status": "operational"},
                          {"groups": 2, "green": 1, "next_change_s": 3.0, "revision": 1}, TS)
    q = to_point_data("spat", "ix-1", _load(spat("ix-1", 3, "flashing", TS, "dark")))
    assert q is not None and q.fields["green"] == 0 and q.tags["status"] == "flashing"


@pytest.mark.parametrize("topic", ["status", "map", "cmd_ack", "srem", "nonsense"])
def test_other_topics_are_not_converted(topic: str) -> None:
    assert to_point_data(topic, "x", {"ts": TS, "v": 1}) is None


def test_no_timestamp_or_no_numbers_is_none() -> None:
    assert to_point_data("position", "7", {"lat": 1.0}) is None
    assert to_point_data("position", "7", {"ts": True, "lat": 1.0}) is None
    assert to_point_data("wlan", "7", {"ts": TS}) is None


def test_point_of_a_stored_row() -> None:
    row = Intake(TOPICS).accept(TOPICS.topic("position", "7"), position("7", 1, TS), TS + 5)
    assert isinstance(row, Row)
    p = point_data_of_row(row)
    assert p is not None and p.measurement == "position" and p.ts_ms == TS
    assert point_data_of_row(Row("samples", {"topic": "position", "device_id": "7",
                                             "payload": "{"})) is None


def test_settings_enabled_only_with_url(monkeypatch: pytest.MonkeyPatch) -> None:
    s = HubSettings()
    assert not s.influx.enabled
    assert (s.influx.batch_size, s.influx.gzip) == (5_000, True)
    monkeypatch.setenv("KASSEL_HUB_INFLUX__URL", "http://influx:8086")
    monkeypatch.setenv("KASSEL_HUB_INFLUX__BUCKET", "buses")
    s = HubSettings()
    assert s.influx.enabled and s.influx.bucket == "buses"


def test_queue_is_bounded_and_drops_are_counted() -> None:
    sink = InfluxSink(InfluxSettings(url="http://127.0.0.1:9", queue_size=10))
    rows = [Row("samples", {"topic": "position", "device_id": "7", "payload": "{}"})] * 15
    rows.append(Row("events", {"topic": "status", "device_id": "7", "payload": "{}"}))
    sink.submit_rows(rows)  # never blocks
    assert (sink.depth, sink.stats.queued, sink.stats.dropped) == (10, 10, 5)
    assert not sink.submit("status", "7", "{}")  # not a converted topic


def test_convert_skips_unconvertible() -> None:
    sink = InfluxSink(InfluxSettings(url="http://127.0.0.1:9"))
    out = sink.convert([("position", "7", position("7", 1, TS)), ("position", "7", b"{"),
                        ("wlan", "7", b"[]")])
    assert len(out) == 1 and out[0]["time"] == TS and out[0]["measurement"] == "position"
    assert sink.stats.skipped == 2

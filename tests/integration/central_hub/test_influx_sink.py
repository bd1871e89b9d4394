"""The InfluxDB sink against a real server speaking the InfluxDB v2 write API.

Debian's ``victoria-metrics`` accepts ``/api/v2/write`` (what influxdb-client posts, gzipped)
and names each series ``<measurement>_<field>`` with the tags as labels; ``/api/v1/export``
reads the raw points back with their millisecond timestamps.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from central_hub.broker import MosquittoBroker, free_port
from central_hub.core.config import InfluxSettings
from central_hub.ingest.influx import InfluxSink
from tests.integration.central_hub.helpers import (
    TOPICS,
    client,
    health,
    hub_config,
    now_ms,
    occupancy,
    position,
    spat,
    start_hub,
    wait_for,
)

VM_BIN = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"

@dataclass
class Victoria:
    url: str

    def export(self, match: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{q}", timeout=5) as resp:
            return [json.loads(line) for line in resp.read().decode().splitlines() if line]

    def force_flush(self) -> None:
        """Make just-ingested points searchable now (VictoriaMetrics buffers for seconds)."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=5):
            pass

    def series(self, match: str) -> dict[str, tuple[dict[str, str], list[float], list[int]]]:
        out = {}
        for s in self.export(match):
            labels = dict(s["metric"])
            out[labels.pop("__name__")] = (labels, s["values"], s["timestamps"])
        return out

    def wait_series(self, match: str, names: set[str], points: int = 1,
                    timeout: float = 20.0) -> dict[str, tuple[dict[str, str], list[float],
                                                              list[int]]]:
        found: dict[str, tuple[dict[str, str], list[float], list[int]]] = {}

        def ready() -> bool:
            nonlocal found
            self.force_flush()
            found = self.series(match)
            return names <= found.keys() and all(len(found[n][1]) >= points for n in names)

        wait_for(lambda: ready() or bool(time.sleep(0.2)), timeout=timeout,
                 what=f"{names} in victoria-metrics")
        return found


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[Victoria]:
    """A private victoria-metrics on a free port, data in the test's temp dir."""
    port = free_port()
    log = (tmp_path / "vm.log").open("wb")
    proc = subprocess.Popen([VM_BIN, f"-storageDataPath={tmp_path / 'vm-data'}",
                             f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
                             "-loggerLevel=WARN"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, timeout=20, what="victoria-metrics start")
        yield Victoria(url)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_sink_writes_points_that_read_back(victoria: Victoria) -> None:
    sink = InfluxSink(InfluxSettings(url=victoria.url, org="kassel", bucket="kassel",
                                     token="unused", batch_size=5_000, flush_interval_ms=100))
    sink.start()
    t0 = now_ms() - 60_000
    try:
        assert sink._client is not None
        assert sink._client.api_client.configuration.enable_gzip  # gzip on the wire
        for i in range(12_000):  # more than two batches of 5,000
            sink.submit("position", "7", position("7", i, t0 + i, route_id="R1",
                                                  lat=51.0 + i / 1e5))
        sink.submit("occupancy", "7", occupancy("7", 1, 45, t0))
        sink.submit("spat", "ix-1", spat("ix-1", 1, ts=t0))
        sink.submit("health", "bus-7", health(1, cpu=42.5))
        wait_for(lambda: sink.stats.written == 12_003, what="points written")
    finally:
        sink.stop()
    assert sink.stats.batches >= 3 and sink.stats.write_errors == 0
    assert sink.stats.dropped == 0

    got = victoria.wait_series('{__name__=~"position_.*"}',
                               {"position_lat", "position_speed_mps"}, points=12_000)
    labels, values, stamps = got["position_lat"]
    assert labels == {"vehicle_id": "7", "route_id": "R1"}
    assert stamps[:3] == [t0, t0 + 1, t0 + 2] and len(stamps) == 12_000
    assert values[0] == pytest.approx(51.0) and values[-1] == pytest.approx(51.0 + 11_999 / 1e5)
    assert set(got["position_speed_mps"][1]) == {8.0}

    occ = victoria.wait_series('{__name__=~"occupancy_.*"}',
                               {"occupancy_passengers", "occupancy_occupancy_percentage"})
    assert occ["occupancy_passengers"] == ({"vehicle_id": "7"}, [45], [t0])
    assert occ["occupancy_occupancy_percentage"][1] == [50]

    sp = victoria.wait_series('{__name__=~"spat_.*"}', {"spat_green", "spat_next_change_s"})
    assert sp["spat_green"][0] == {"intersection_id": "ix-1", "status": "operational"}
    assert sp["spat_green"][1] == [1] and sp["spat_next_change_s"][1] == [3.0]

    hl = victoria.wait_series('{__name__=~"health_.*"}', {"health_cpu_pct"})
    assert hl["health_cpu_pct"][0] == {"device_id": "bus-7", "iface": "wwan0"}
    assert hl["health_cpu_pct"][1] == [42.5]


def test_server_down_is_counted_not_fatal() -> None:
    sink = InfluxSink(InfluxSettings(url=f"http://127.0.0.1:{free_port()}",
                                     flush_interval_ms=50, timeout_ms=1_000))
    sink.start()
    try:
        sink.submit("position", "7", position("7", 1))
        wait_for(lambda: sink.stats.write_errors >= 1, what="a counted write error")
        assert sink.stats.failed_points == 1 and sink.stats.written == 0
        assert sink._thread is not None and sink._thread.is_alive()
    finally:
        sink.stop()


def test_hub_ingest_feeds_the_sink(broker: MosquittoBroker, victoria: Victoria,
                                   tmp_path: Path) -> None:
    srv = start_hub(hub_config(tmp_path, broker),
                    influx={"url": victoria.url, "flush_interval_ms": 100,
                            "spat_interval_s": 0.2})
    pub = client(broker, "influx-test-pub")
    t0 = now_ms() - 120_000  # 50 points 1 s apart, all in the past (export stops at now)
    try:
        for i in range(50):
            pub.publish(TOPICS.topic("position", "11"),
                        position("11", i, t0 + i * 1000, route_id="R4"), qos=1).wait_for_publish()
        pub.publish(TOPICS.topic("occupancy", "11"), occupancy("11", 1, 30, t0),
                    qos=1).wait_for_publish()
        pub.publish(TOPICS.topic("spat", "ix-9"), spat("ix-9", 1), qos=0).wait_for_publish()
        got = victoria.wait_series('{__name__="position_speed_mps"}', {"position_speed_mps"},
                                   points=50)
        labels, values, stamps = got["position_speed_mps"]
        assert labels == {"vehicle_id": "11", "route_id": "R4"}
        assert stamps == [t0 + i * 1000 for i in range(50)] and set(values) == {8.0}
        occ = victoria.wait_series('{__name__="occupancy_passengers"}',
                                   {"occupancy_passengers"})
        assert occ["occupancy_passengers"][1:] == ([30], [t0])
        sp = victoria.wait_series('{__name__="spat_groups"}', {"spat_groups"})
        assert sp["spat_groups"][0] == {"intersection_id": "ix-9", "status": "operational"}

        with urllib.request.urlopen(f"{srv.url}/api/v1/ingest", timeout=5) as resp:
            stats = json.loads(resp.read())["ingest"]["influx"]
        assert stats["written"] >= 52 and stats["dropped"] == 0
        assert stats["write_errors"] == 0 and stats["capacity"] == 50_000
    finally:
        pub.loop_stop()
        pub.disconnect()
        srv.stop()

"""The configs the demo gives its buses: their portals link the hub's learning pages, whose
address is in each bus's walled garden (free before the terms are accepted)."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from simulations.demo.device_configs import bus_config, learning_url
from simulations.demo.domain.city import PlannedBus
from simulations.demo.options import DemoOptions


def test_a_demo_bus_links_the_learning_pages_in_its_walled_garden(tmp_path: Path) -> None:
    bus = PlannedBus(device_id="bus-demo-01", vehicle_id="demo01", route_id="4",
                     intersections=())
    for host, garden in (("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1")):
        url = learning_url(DemoOptions(http_host=host, http_port=8123))
        assert url == f"http://{garden}:8123/lernen/"
        cfg = bus_config(bus, None, [], "mqtt://127.0.0.1:1883", tmp_path, learning=url)
        assert cfg.wlan.learning_url == url
        assert cfg.wlan.walled_garden == [IPv4Address(garden)]
    named = bus_config(bus, None, [], "mqtt://127.0.0.1:1883", tmp_path,
                       learning="http://hub.local:8000/lernen/")
    assert named.wlan.walled_garden == []  # a name: its address is the deployment's to add

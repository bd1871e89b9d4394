"""The configs the demo gives its devices: the hub, each signal controller, each bus.

Why a module of its own: every device of the demo runs from the same validated config a
deployed one reads (:mod:`edge_agent.contract.configs`); only a few values differ — the
private broker on loopback, the shared state folder, the simulated sensors, a health sampler
that charges the devices for the demo's own CPU. Those differences are written here once;
the runner only says which device gets which.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bus_gateway.domain.stops import RouteStop
from central_hub.broker import free_port
from edge_agent.contract.configs import (
    AgentConfig,
    BusConfig,
    GtfsConfig,
    HttpConfig,
    HubConfig,
    IntersectionConfig,
    MqttConfig,
    QueueConfig,
    learning_host,
    load_config,
)
from edge_agent.health import HealthSampler
from simulations.demo.domain.city import PlannedBus
from simulations.demo.domain.timetable import ScheduledTrip
from simulations.demo.options import DemoError, DemoOptions

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "firmware_configs" / "intersections"
#: a standard city bus: 40 seats, 90 people in all.
SEATS, CAPACITY = 40, 90


def load_templates() -> list[IntersectionConfig]:
    """The shipped intersection configs the demo's intersections are copied from."""
    templates = []
    for path in sorted(TEMPLATES_DIR.glob("*.yaml")):
        cfg = load_config(path)
        if isinstance(cfg, IntersectionConfig):
            templates.append(cfg)
    if not templates:
        raise DemoError(f"no intersection configs in {TEMPLATES_DIR}")
    return templates


def agent_config(state_dir: Path) -> AgentConfig:
    """Every device's edge agent: state in the demo's folder, health every 10 s."""
    return AgentConfig(state_dir=str(state_dir), health_interval_s=10.0,
                       queue=QueueConfig(synchronous="normal"))


def _process_cpu() -> tuple[float, float]:
    """``(busy, total)`` CPU seconds of this process: its own CPU time, and the wall time
    times the cores since boot of the monotonic clock (what the process could have used)."""
    t = os.times()
    return t.user + t.system, time.monotonic() * (os.cpu_count() or 1)


def demo_health(state_dir: Path) -> HealthSampler:
    """Health of a simulated device: CPU is the demo process's share of the machine.

    Why: every simulated device lives in this one process on a machine shared with other
    work; the host's CPU is not theirs (two busy processes beside the demo would put every
    device over the alarm limit). The demo's own share is what its devices cost."""
    return HealthSampler(str(state_dir), None, cpu_reading=_process_cpu)


def demo_mqtt(url: str) -> dict[str, Any]:
    """The demo's broker section: its private Mosquitto speaks plain MQTT on loopback, which a
    config must ask for (``insecure: true``); production configs use ``mqtts://``."""
    return {"broker": url, "insecure": True}


def hub_config(opts: DemoOptions, workdir: Path, gtfs: Path, broker_url: str,
               state_dir: Path) -> HubConfig:
    """The hub: the asked-for HTTP address, SQLite in the work folder, the demo's feed."""
    return HubConfig(
        device_id="hub-demo", kind="hub",
        http=HttpConfig(host=opts.http_host, port=opts.http_port),
        database=f"sqlite:///{workdir / 'hub.db'}", gtfs=GtfsConfig(static=str(gtfs)),
        mqtt=MqttConfig(**demo_mqtt(broker_url)), agent=agent_config(state_dir),
    )


def controller_config(template: IntersectionConfig, *, device_id: str, name: str,
                      lat: float, lon: float, url: str, state_dir: Path) -> IntersectionConfig:
    """A shipped intersection config moved to one of the demo's junctions."""
    data = template.model_dump(mode="json")
    data.update(device_id=device_id, name=name, location={"lat": lat, "lon": lon},
                mqtt=demo_mqtt(url), agent=agent_config(state_dir).model_dump(mode="json"))
    return IntersectionConfig.model_validate(data)


def learning_url(opts: DemoOptions) -> str:
    """The demo hub's learning pages, as a passenger on a bus would open them."""
    host = "127.0.0.1" if opts.http_host in ("", "0.0.0.0") else opts.http_host
    return f"http://{host}:{opts.http_port}/lernen/"


def app_url(opts: DemoOptions) -> str:
    """The demo hub's passenger app, as a passenger on a bus would open it."""
    return learning_url(opts).removesuffix("/lernen/") + "/app/"


def bus_config(bus: PlannedBus, trip: ScheduledTrip | None,
               templates: list[IntersectionConfig], url: str, state_dir: Path, *,
               learning: str | None = None, app: str | None = None) -> BusConfig:
    """A planned bus on simulated WLAN, doors and GPS, with priority at its intersections;
    ``learning`` (the hub's learning pages) and ``app`` (its passenger app) are linked from
    its portal and, when given as an address, in its walled garden."""
    points = []
    for p in bus.intersections:
        template = templates[p.template]
        groups = template.priority.groups or [template.signal_groups[0].sg]
        points.append({"intersection_id": p.device_id, "sg": groups[0], "lat": p.lat,
                       "lon": p.lon})
    return BusConfig.model_validate({
        "device_id": bus.device_id,
        "kind": "bus",
        "vehicle": {"id": bus.vehicle_id, "capacity_seated": SEATS, "capacity_total": CAPACITY},
        "wlan": {"backend": "simulated", "interface": "sim0", "uplink": "sim1",
                 "portal_port": free_port(), "per_client_kbps": 2000, "uplink_kbps": 20000,
                 "learning_url": learning, "app_url": app,
                 "walled_garden": sorted({str(a) for a in (learning_host(learning),
                                                           learning_host(app)) if a})},
        "occupancy": {"door_counters": "sim"},
        "gps": {"source": "sim"},
        "route": {"route_id": bus.route_id, "trip_id": None if trip is None else trip.trip_id,
                  "priority_points": points},
        "mqtt": demo_mqtt(url),
        "agent": agent_config(state_dir).model_dump(mode="json"),
    })


def route_stops(trip: ScheduledTrip) -> list[RouteStop]:
    """A trip's stops as the gateway's stop tracking takes them."""
    return [RouteStop(s.stop_id, s.name, s.lat, s.lon) for s in trip.stops]

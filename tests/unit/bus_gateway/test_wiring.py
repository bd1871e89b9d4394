"""build_gateway: adapters picked from the config without I/O; the door port's stop signal."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bus_gateway.clock import ScaledClock
from bus_gateway.domain.nmea import GpsFix
from bus_gateway.domain.stops import RouteStop
from bus_gateway.doors import DoorEvent, SimulatedDoors
from bus_gateway.gps import NmeaFileSource
from bus_gateway.wiring import build_gateway
from edge_agent.contract.configs import BusConfig

STOP = RouteStop("A", "Am Stern", 51.3160, 9.4980)
T0 = 1_780_000_000_000


def _config(tmp_path: Path, **occupancy: str) -> BusConfig:
    return BusConfig.model_validate({
        "device_id": "bus-wiring",
        "kind": "bus",
        "vehicle": {"id": "4711", "capacity_seated": 40, "capacity_total": 90},
        "mqtt": {"insecure": True},
        "agent": {"state_dir": str(tmp_path / "state")},
        "wlan": {"backend": "simulated", "interface": "wlan0", "uplink": "wwan0",
                 "portal_port": 8080, "per_client_kbps": 2000, "uplink_kbps": 20000},
        "occupancy": occupancy,
        "gps": {"source": "nmea:trip.nmea"},
        "route": {"route_id": "4", "trip_id": "4-0815", "priority_points": []},
    })


def test_building_resolves_no_name_and_picks_the_configured_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_lookup(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("a name was resolved while building")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    monkeypatch.setattr(socket, "gethostbyname", no_lookup)
    gateway = build_gateway(
        _config(tmp_path, door_counters="sim"), "mqtt://hub.kassel.example:1883",
        config_dir=tmp_path, stops=[STOP], clock=ScaledClock(T0 / 1000),
    )
    assert gateway.broker_guard.host == "hub.kassel.example"
    assert gateway.broker_guard.lookups == 0 and gateway.broker_guard.applied is None
    assert isinstance(gateway._doors, SimulatedDoors)
    assert gateway.fusion.doors_fitted and not gateway.fusion.probes_fitted
    assert isinstance(gateway._gps, NmeaFileSource)
    assert gateway._gps.path == tmp_path / "trip.nmea"
    assert gateway.portal_host == "127.0.0.1"
    assert gateway.uplink is None  # autorate needs the kernel backend


class CountingDoors:
    """A door port that records when the gateway says the bus stopped."""

    def __init__(self) -> None:
        self.stopped = 0

    async def events(self) -> AsyncIterator[DoorEvent]:
        await asyncio.Event().wait()
        yield DoorEvent(0, 1, 0, 0)

    def bus_stopped(self) -> None:
        self.stopped += 1


class QuietAgent:
    """The slice of EdgeAgent the gateway registers with and publishes through."""

    def subscribe(self, *_args: object) -> None:
        pass

    def command(self, _name: str) -> Callable[[object], object]:
        return lambda handler: handler

    async def publish(self, *_args: object, **_kwargs: object) -> bytes:
        return b"{}"


def test_every_door_source_is_told_once_per_stop(tmp_path: Path) -> None:
    doors = CountingDoors()
    gateway = build_gateway(
        _config(tmp_path), "mqtt://127.0.0.1:1883", config_dir=tmp_path, stops=[STOP],
        clock=ScaledClock(T0 / 1000), agent=QuietAgent(),  # type: ignore[arg-type]
        doors=doors,
    )

    async def main() -> None:
        for i in range(3):  # standing at the stop: told once
            await gateway.on_fix(GpsFix(T0 + i * 1000, STOP.lat, STOP.lon, 0.0, None))

    asyncio.run(main())
    assert gateway.state.stop is not None and gateway.state.stop.status == "STOPPED_AT"
    assert doors.stopped == 1

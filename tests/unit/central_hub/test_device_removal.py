"""Removing a device through the API: an intersection's SPaT alarms go with it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from fastapi import HTTPException

from central_hub.alarms import AlarmService, AlarmStore
from central_hub.api.routes.devices import remove_device
from central_hub.domain.alarms import AlarmEngine, Thresholds
from central_hub.registry import DeviceRecord


@dataclass
class _Registry:
    records: dict[str, DeviceRecord] = field(default_factory=dict)

    def get(self, device_id: str) -> DeviceRecord | None:
        return self.records.get(device_id)

    def remove(self, device_id: str) -> bool:
        return self.records.pop(device_id, None) is not None


@dataclass
class _Hub:
    registry: _Registry
    alarms: AlarmService


def _record(device_id: str, kind: str, entity_id: str) -> DeviceRecord:
    return DeviceRecord(device_id=device_id, kind=kind, entity_id=entity_id, created_ms=0,
                        label="")


def _hub() -> _Hub:
    engine = AlarmEngine(Thresholds(spat_stale_ms=1000))
    engine.on_spat("ks-7", "operational", 0)
    engine.on_spat("ks-8", "operational", 0)
    engine.tick(1001)
    registry = _Registry({"ctl-7": _record("ctl-7", "intersection", "ks-7"),
                          "bus-1": _record("bus-1", "bus", "v-1")})
    return _Hub(registry, AlarmService(engine, cast(AlarmStore, None)))


def test_removing_an_intersection_clears_its_stale_spat_alarm() -> None:
    hub = _hub()
    asyncio.run(remove_device("ctl-7", cast(Any, hub)))
    assert set(hub.alarms.engine.active) == {("spat_stale", "ks-8")}
    assert [(c.kind, c.device_id, c.active) for c in hub.alarms.take()] == [
        ("spat_stale", "ks-7", False)]
    assert hub.alarms.engine.tick(60_000) == []


def test_removing_a_bus_leaves_intersection_alarms_alone() -> None:
    hub = _hub()
    asyncio.run(remove_device("bus-1", cast(Any, hub)))
    assert set(hub.alarms.engine.active) == {("spat_stale", "ks-7"), ("spat_stale", "ks-8")}
    assert hub.alarms.take() == []


def test_removing_an_unknown_device_is_404() -> None:
    hub = _hub()
    with pytest.raises(HTTPException) as err:
        asyncio.run(remove_device("nope", cast(Any, hub)))
    assert err.value.status_code == 404

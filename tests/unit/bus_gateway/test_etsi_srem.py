"""A bus whose route asks for it (``route.etsi_srem``) sends each srem also as a UPER SREM
on ``signal/{intersection}/etsi/srem/{its id}``, meaning the same request (issue 17)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bus_gateway.clock import ScaledClock
from bus_gateway.domain.priority import PriorityRequester, SremAction
from bus_gateway.wiring import build_gateway
from edge_agent.contract.configs import BusConfig, IntersectionConfig, parse_config
from edge_agent.contract.etsi.srem import decode_srem, srem_payloads
from edge_agent.contract.payloads import SremFields

T0 = 1_780_000_000_000
CONFIGS = Path(__file__).resolve().parents[3] / "firmware_configs" / "intersections"
POINT = {"intersection_id": "ks-0042", "sg": "K1", "lat": 51.3227, "lon": 9.5067}


def _config(tmp_path: Path, etsi_srem: bool, **point: Any) -> BusConfig:
    return BusConfig.model_validate({
        "device_id": "bus-etsi", "kind": "bus",
        "vehicle": {"id": "4711", "capacity_seated": 40, "capacity_total": 90},
        "mqtt": {"insecure": True}, "agent": {"state_dir": str(tmp_path / "state")},
        "wlan": {"backend": "simulated", "interface": "wlan0", "uplink": "wwan0",
                 "portal_port": 8080, "per_client_kbps": 2000, "uplink_kbps": 20000},
        "gps": {"source": "sim"},
        "route": {"route_id": "4", "etsi_srem": etsi_srem,
                  "priority_points": [POINT | point]},
    })


class RecordingAgent:
    """The slice of EdgeAgent the gateway uses, recording what it publishes."""

    def __init__(self) -> None:
        self.json: list[Any] = []
        self.etsi: list[tuple[str, bytes, str | None]] = []

    def subscribe(self, *_args: object) -> None:
        pass

    def command(self, _name: str) -> Callable[[object], object]:
        return lambda handler: handler

    async def publish(self, fields: Any, **_kwargs: object) -> bytes:
        self.json.append(fields)
        return b"{}"

    async def publish_etsi(self, name: str, payload: bytes, *, entity_id: str | None = None
                           ) -> None:
        self.etsi.append((name, payload, entity_id))


def _send(tmp_path: Path, config: BusConfig) -> RecordingAgent:
    agent = RecordingAgent()
    gateway = build_gateway(config, "mqtt://127.0.0.1:1883", config_dir=tmp_path,
                            clock=ScaledClock(T0 / 1000), agent=agent)  # type: ignore[arg-type]
    asyncio.run(gateway._send_srem([SremAction("request", "17", "ks-0042", "K1", T0 + 20_000)]))
    return agent


def test_the_uper_srem_goes_with_the_json_and_means_the_same(tmp_path: Path) -> None:
    agent = _send(tmp_path, _config(tmp_path, True, etsi={"intersection": 42, "lane": 2,
                                                          "out_lane": 11}))
    (fields,) = agent.json
    assert isinstance(fields, SremFields)
    ((name, payload, entity),) = agent.etsi
    assert (name, entity) == ("etsi_srem", "ks-0042")
    cfg = parse_config(yaml.safe_load((CONFIGS / "ks-0042.yaml").read_text()), "ks-0042")
    assert isinstance(cfg, IntersectionConfig)
    (srem,) = srem_payloads(decode_srem(payload), cfg, "4711", T0)
    assert srem.model_dump(exclude={"v", "historical", "ts"}) == fields.model_dump()


def test_off_by_default_and_every_point_needs_its_lanes(tmp_path: Path) -> None:
    agent = _send(tmp_path, _config(tmp_path, False))
    assert len(agent.json) == 1 and agent.etsi == []
    with pytest.raises(ValidationError, match="no etsi"):
        _config(tmp_path, True)


def test_request_ids_are_request_numbers_when_sent_as_srem() -> None:
    requester = PriorityRequester("4711", [], numeric_ids=True)
    ids = [requester._new_id(None, T0) for _ in range(300)]  # type: ignore[arg-type]
    assert all(i.isdigit() and 0 <= int(i) <= 255 for i in ids)
    assert len(set(ids[:256])) == 256

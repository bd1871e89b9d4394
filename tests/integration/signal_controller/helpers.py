"""Helpers for the controller's integration tests: configs in tmp, a controller in a thread."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import yaml

from edge_agent.contract.configs import IntersectionConfig, parse_config
from edge_agent.heap import freeze_start_up_heap
from signal_controller.heads import FakeSignalHeads
from signal_controller.host import ControllerHost
from signal_controller.wiring import build_controller

CONFIGS = Path(__file__).resolve().parents[3] / "firmware_configs" / "intersections"


def config_data(name: str, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A shipped config with its state in ``tmp_path`` and a short keepalive."""
    data = yaml.safe_load((CONFIGS / name).read_text(encoding="utf-8"))
    data["agent"] = {"state_dir": str(tmp_path / "state"), "health_interval_s": 5}
    # the test's local broker has no TLS: plain MQTT is asked for explicitly
    data["mqtt"] = {"insecure": True, "keepalive_s": 2, "reconnect_min_s": 0.2,
                    "reconnect_max_s": 1.0}
    if "mqtt" in overrides:
        overrides = {**overrides, "mqtt": {"insecure": True, **overrides["mqtt"]}}
    data.update(overrides)
    return data


def write_config(data: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / f"{data['device_id']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def as_config(data: dict[str, Any]) -> IntersectionConfig:
    cfg = parse_config(json.loads(json.dumps(data)), "<test>")
    assert isinstance(cfg, IntersectionConfig)
    return cfg


class ControllerThread(ControllerHost):
    """One :class:`SignalController` with fake lamps on a :class:`ControllerHost`: its own
    event loop on its own thread, with the weight a deployed controller has."""

    def __init__(self, config: IntersectionConfig, broker_url: str) -> None:
        self.heads = FakeSignalHeads()
        self.controller = build_controller(config, heads=self.heads, broker_url=broker_url)
        super().__init__([self.controller], name=f"controller-{config.device_id}")

    def __enter__(self) -> ControllerThread:
        # As ``kassel signal`` does before its first tick: what exists now stays out of the
        # full collections the scheduler runs in its gaps. Here that is every earlier test's
        # objects (about 700,000 after the unit tests): one full collection of them took
        # 360-550 ms, a tick ran that late, and the controller went to fail-safe.
        freeze_start_up_heap()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        gc.unfreeze()  # the test process collects them again

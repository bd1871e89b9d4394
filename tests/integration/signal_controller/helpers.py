"""Helpers for the controller's integration tests: configs in tmp, a controller in a thread."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import yaml

from edge_agent.contract.configs import IntersectionConfig, parse_config
from signal_controller.app import SignalController
from signal_controller.heads import FakeSignalHeads

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


class ControllerThread:
    """A :class:`SignalController` running its own event loop in a thread."""

    def __init__(self, config: IntersectionConfig, broker_url: str) -> None:
        self.heads = FakeSignalHeads()
        self.controller = SignalController(config, heads=self.heads, broker_url=broker_url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        async def runner() -> None:
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            await self.controller.run()

        try:
            asyncio.run(runner())
        except BaseException as exc:  # surfaced by the test through .error
            self.error = exc

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the controller's loop (thread-safe) and return its result."""
        assert self._loop is not None
        fut: Any = asyncio.run_coroutine_threadsafe(_call(fn, *args), self._loop)
        return fut.result(10)

    def __enter__(self) -> ControllerThread:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.controller.stop)
        self._thread.join(15)


async def _call(fn: Any, *args: Any) -> Any:
    return fn(*args)

"""TickScheduler: one task ticks many controllers on the grid, each with its own watchdog."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.payloads import Spat, decode
from signal_controller.app import SignalController, TickScheduler


class FakeAgent:
    """The slice of EdgeAgent a controller uses, recording SPaT payloads."""

    device_id = "host"

    def __init__(self) -> None:
        self.spat: dict[str, list[bytes]] = {}
        self.seq = 0

    def subscribe(self, *_args: object) -> None:
        pass

    async def publish(self, *_a: object, **_k: object) -> bytes:
        return b"{}"

    def publish_encoded(
        self, _name: str, build: Callable[[int | None], bytes], *, entity_id: str,
        dated_ms: int | None = None,
    ) -> bytes:
        self.seq += 1
        payload = build(self.seq)
        self.spat.setdefault(entity_id, []).append(payload)
        return payload


def _controllers(
    two_phase: IntersectionConfig, n: int, scheduler: TickScheduler, agent: FakeAgent
) -> list[SignalController]:
    out = []
    for i in range(n):
        cfg = two_phase.model_copy(update={"device_id": f"ks-{i}"})
        out.append(SignalController(cfg, agent=agent, scheduler=scheduler))  # type: ignore[arg-type]
    return out


async def _run_for(controllers: list[SignalController], seconds: float) -> None:
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    await asyncio.sleep(seconds)
    for c in controllers:
        c.stop()
    await asyncio.gather(*tasks)


def test_one_scheduler_ticks_every_controller_on_the_grid(two_phase: IntersectionConfig) -> None:
    agent = FakeAgent()
    scheduler = TickScheduler()

    async def main() -> None:
        controllers = _controllers(two_phase, 5, scheduler, agent)
        await _run_for(controllers, 1.05)
        assert len(scheduler) == 0

    asyncio.run(main())
    assert sorted(agent.spat) == [f"ks-{i}" for i in range(5)]
    for payloads in agent.spat.values():
        stamps = [decode(Spat, p).ts for p in payloads]
        assert len(stamps) >= 9
        assert all(t % 100 == 0 for t in stamps)
        assert {b - a for a, b in itertools.pairwise(stamps)} == {100}
        assert all(json.loads(p)["status"] == "operational" for p in payloads)


def test_a_clock_jump_puts_every_controller_into_fail_safe(two_phase: IntersectionConfig) -> None:
    agent = FakeAgent()
    offset = [0.0]
    scheduler = TickScheduler(clock=lambda: time.time() + offset[0])

    async def main() -> list[SignalController]:
        controllers = _controllers(two_phase, 3, scheduler, agent)
        tasks = [asyncio.create_task(c.run()) for c in controllers]
        await asyncio.sleep(0.5)
        offset[0] = 2.0  # the wall clock jumps 2 s against the monotonic clock
        await asyncio.sleep(0.5)
        for c in controllers:
            c.stop()
        await asyncio.gather(*tasks)
        return controllers

    controllers = asyncio.run(main())
    for c in controllers:
        fault: Mapping[str, Any] | None = c.status()["fault"]  # type: ignore[assignment]
        assert fault is not None and fault["rule"] == "clock_jump"

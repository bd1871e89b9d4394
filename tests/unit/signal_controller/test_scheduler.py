"""TickScheduler: one task ticks many controllers on the grid, each with its own watchdog."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pytest

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.payloads import Spat, decode
from signal_controller import scheduler as scheduler_module
from signal_controller.app import SignalController
from signal_controller.domain.intersection import TICK_MS, ceil_tick
from signal_controller.scheduler import STAGGER_TICKS, Tickable, TickScheduler
from signal_controller.wiring import build_controller


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
        out.append(build_controller(cfg, agent=agent, scheduler=scheduler))  # type: ignore[arg-type]
    return out


async def _run_for(controllers: list[SignalController], seconds: float) -> None:
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    await asyncio.sleep(seconds)
    for c in controllers:
        c.stop()
    await asyncio.gather(*tasks)


async def _attach_for(scheduler: TickScheduler, devices: Sequence[Tickable],
                      seconds: float) -> None:
    """Add ``devices`` to ``scheduler`` together, let it tick them ``seconds``, take them off."""
    for d in devices:
        scheduler.add(d)
    await asyncio.sleep(seconds)
    for d in devices:
        scheduler.discard(d)


def test_one_scheduler_ticks_every_controller_on_the_grid(two_phase: IntersectionConfig) -> None:
    agent = FakeAgent()
    scheduler = TickScheduler()

    async def main() -> None:
        controllers = _controllers(two_phase, 5, scheduler, agent)
        # the last of five powers up 400-500 ms after they were added, then ticks 10 times
        await _run_for(controllers, 1.75)
        assert len(scheduler) == 0

    asyncio.run(main())
    assert sorted(agent.spat) == [f"ks-{i}" for i in range(5)]
    firsts = []
    for payloads in agent.spat.values():
        stamps = [decode(Spat, p).ts for p in payloads]
        assert len(stamps) >= 9
        firsts.append(stamps[0])
        assert all(t % 100 == 0 for t in stamps)
        assert {b - a for a, b in itertools.pairwise(stamps)} == {100}
        assert all(json.loads(p)["status"] == "operational" for p in payloads)
    assert len(set(firsts)) == 5  # started together, powered up on five grid instants


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


class FakeDevice:
    """A tickable that is no controller: the scheduler needs only the public protocol."""

    def __init__(self, device_id: str, *, fail_first: bool = False) -> None:
        self.device_id = device_id
        self.stopped = False
        self.next_tick = 0
        self.powered_at: int | None = None
        self.ran: list[int] = []
        self.published: list[int] = []
        self.skipped: list[int] = []
        self._fail = fail_first

    def power_up(self, wall_ms: int) -> None:
        self.powered_at = wall_ms
        self.next_tick = ceil_tick(wall_ms) + TICK_MS

    def run_due(self, wall_ms: int, jump: bool) -> None:
        if self.next_tick > wall_ms:  # not due yet (a device powering up later)
            return
        if self._fail:
            self._fail = False
            raise RuntimeError("broken lamp driver")
        self.ran.append(self.next_tick)
        self.next_tick += TICK_MS

    def publish_due(self) -> None:
        self.published.extend(self.ran[len(self.published):])

    def skip_to(self, wall_ms: int) -> None:
        self.skipped.append(wall_ms)
        self.next_tick = ceil_tick(wall_ms) + TICK_MS


def test_a_failing_device_is_skipped_ahead_and_the_others_keep_ticking() -> None:
    scheduler = TickScheduler()
    good, bad = FakeDevice("ks-good"), FakeDevice("ks-bad", fail_first=True)

    async def main() -> None:
        # the bad one powers up 100-200 ms after it is added: room for its failed tick, the
        # skip ahead and two ticks more
        await _attach_for(scheduler, [good, bad], 0.85)
        assert len(scheduler) == 0

    asyncio.run(main())
    assert good.powered_at is not None and bad.powered_at is not None
    assert len(good.ran) >= 4 and all(t % TICK_MS == 0 for t in good.ran)
    assert len(bad.skipped) == 1 and len(bad.ran) >= 2
    assert bad.ran[0] == ceil_tick(bad.skipped[0]) + TICK_MS


class OrderedDevice(FakeDevice):
    """A fake device that writes its id into a shared list when it runs, and what it
    publishes into another."""

    def __init__(self, device_id: str, ran_in: list[tuple[int, str]],
                 sent_in: list[tuple[int, str]] | None = None) -> None:
        super().__init__(device_id)
        self._log = ran_in
        self._sent = sent_in if sent_in is not None else []

    def run_due(self, wall_ms: int, jump: bool) -> None:
        if self.next_tick <= wall_ms:
            self._log.append((self.next_tick, self.device_id))
        super().run_due(wall_ms, jump)

    def publish_due(self) -> None:
        self._sent.extend((t, self.device_id) for t in self.ran[len(self.published):])
        super().publish_due()


def test_each_pass_starts_at_another_device_and_ticks_every_one_once() -> None:
    """The devices late in a pass leave their prediction refresh to a tick on time: which
    ones are late must change from pass to pass."""
    ran: list[tuple[int, str]] = []
    scheduler = TickScheduler()
    devices = [OrderedDevice(f"ks-{i}", ran) for i in range(7)]

    # the last of seven powers up 600-700 ms after they were added
    asyncio.run(_attach_for(scheduler, devices, 2.3))
    passes: dict[int, list[str]] = {}
    for tick, device_id in ran:
        passes.setdefault(tick, []).append(device_id)
    full = [ids for ids in passes.values() if len(ids) == len(devices)]
    assert len(full) >= 10
    assert all(sorted(ids) == sorted(d.device_id for d in devices) for ids in full)
    assert len({ids[0] for ids in full}) >= 5  # the first device moves on


def test_devices_added_together_power_up_spread_and_one_alone_at_once() -> None:
    """Identical controllers powered up in the same tick would switch in the same tick for
    many cycles: added together, they start on the ten next grid instants, evenly; a device
    added when no start-up is pending starts at the next instant."""
    scheduler = TickScheduler()
    together = [FakeDevice(f"ks-{i}") for i in range(25)]
    alone = FakeDevice("ks-late")

    async def main() -> int:
        for d in together:
            scheduler.add(d)
        await asyncio.sleep(1.1)  # every start-up of the group is past
        added = int(time.time() * 1000)
        scheduler.add(alone)
        for d in [*together, alone]:
            scheduler.discard(d)
        return added

    added = asyncio.run(main())
    starts = [d.powered_at for d in together if d.powered_at is not None]
    assert len(starts) == len(together) and all(s % TICK_MS == 0 for s in starts)
    counts = Counter(starts)
    assert len(counts) == STAGGER_TICKS
    assert max(counts.values()) - min(counts.values()) <= 1
    first = min(starts)
    assert sorted(counts) == [first + k * TICK_MS for k in range(STAGGER_TICKS)]
    assert alone.powered_at in (ceil_tick(added), ceil_tick(added) + TICK_MS)


def test_a_pass_runs_every_due_tick_before_it_sends_a_message() -> None:
    """The lamps of the last controller in a pass wait for the others' steps only: every
    device's messages go out after every due device has run its tick."""
    events: list[tuple[str, int]] = []  # both kinds of event, in the order they happen
    scheduler = TickScheduler()
    devices = [OrderedDevice(f"ks-{i}", _Tap(events, "run"), _Tap(events, "send"))
               for i in range(4)]

    # the last of four powers up 300-400 ms after they were added
    asyncio.run(_attach_for(scheduler, devices, 1.3))
    by_tick: dict[int, list[str]] = {}
    for kind, tick in events:
        by_tick.setdefault(tick, []).append(kind)
    full = [kinds for kinds in by_tick.values() if kinds.count("run") == len(devices)]
    assert len(full) >= 5
    for kinds in full:  # every run of the tick, then every message of it
        assert kinds == ["run"] * len(devices) + ["send"] * kinds.count("send")
        assert kinds.count("send") == len(devices)


class _Tap(list[tuple[int, str]]):
    """A list that also writes what is appended or extended into a shared event log."""

    def __init__(self, events: list[tuple[str, int]], kind: str) -> None:
        super().__init__()
        self._events, self._kind = events, kind

    def append(self, item: tuple[int, str]) -> None:
        self._events.append((self._kind, item[0]))
        super().append(item)

    def extend(self, items: Iterable[tuple[int, str]]) -> None:
        for item in items:
            self.append(item)


def test_full_collections_run_between_passes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a scheduler runs, CPython's automatic full scans are off and the scheduler runs
    them in the gaps between passes; afterwards the thresholds are as they were."""
    monkeypatch.setattr(scheduler_module, "FULL_GC_EVERY_MS", 0)  # every gap long enough
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    scheduler = TickScheduler()
    device = FakeDevice("ks-0")

    async def main() -> int:
        scheduler.add(device)
        await asyncio.sleep(0.05)
        seen.append(gc.get_threshold())
        full = gc.get_stats()[2]["collections"]
        await asyncio.sleep(0.5)
        full = gc.get_stats()[2]["collections"] - full
        scheduler.discard(device)
        await asyncio.sleep(0.15)  # the loop ends with the last device
        return int(full)

    full = asyncio.run(main())
    assert seen[0][:2] == before[:2] and seen[0][2] >= 2**30
    assert full >= 1  # in the gaps (each may take long in a big test process)
    assert gc.get_threshold() == before

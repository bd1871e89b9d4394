"""The shared tick timer and the public protocol it drives.

Why a module of its own: the scheduler only needs what a tickable device says about itself
(its next grid instant, whether it stopped, how to run what is due), not a controller's
internals. :class:`Tickable` is that contract; :class:`~signal_controller.app.SignalController`
implements it, and a test or a benchmark may tick anything else that does.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import Protocol

from signal_controller.domain.intersection import TICK_MS, ceil_tick

log = logging.getLogger(__name__)

#: a wall clock that moves this far against the monotonic clock is a clock jump.
CLOCK_JUMP_MS = 200
#: the stride (as a share of the devices) by which each pass's first device moves on.
GOLDEN = 0.6180339887
#: while a scheduler runs, the collector's full scans run only between passes: at most this
#: often, and only when the next grid instant is at least FULL_GC_GAP_MS away.
FULL_GC_EVERY_MS = 5_000
FULL_GC_GAP_MS = 40
#: devices added together power up spread over this many grid instants (see TickScheduler)
STAGGER_TICKS = 10


class _FullCollections:
    """Full collections in the schedulers' gaps instead of wherever the allocator triggers
    them. Why: with hundreds of controllers, whose states are replaced every tick, CPython
    ran a full scan (15-25 ms) about once a second, often inside a pass, which then ran late.
    While any scheduler runs, the automatic full scans are off (the young generations are
    still collected as usual); each scheduler runs one in its gaps instead."""

    users = 0
    saved: tuple[int, int, int] = (700, 10, 10)

    @classmethod
    def take(cls) -> None:
        if cls.users == 0:
            cls.saved = gc.get_threshold()
            young, middle, _full = cls.saved
            gc.set_threshold(young, middle, 2**31 - 1)
        cls.users += 1

    @classmethod
    def release(cls) -> None:
        cls.users -= 1
        if cls.users == 0:
            gc.set_threshold(*cls.saved)


class Tickable(Protocol):
    """What :class:`TickScheduler` needs of a device it ticks (all on the 100 ms grid, ms)."""

    @property
    def device_id(self) -> str:
        """The device's id (named in the log when its tick fails)."""
        ...

    @property
    def stopped(self) -> bool:
        """Whether the device stopped: it is skipped until the scheduler discards it."""
        ...

    @property
    def next_tick(self) -> int:
        """The wall time (ms) of the device's next logical tick."""
        ...

    def power_up(self, wall_ms: int) -> None:
        """The scheduler takes the device on: it powers up at the grid instant ``wall_ms``
        (now or up to ``STAGGER_TICKS`` - 1 ticks ahead) and ticks from the next one on."""

    def run_due(self, wall_ms: int, jump: bool) -> None:
        """Run every tick due at ``wall_ms`` up to its real-time outputs (the lamps); ``jump``:
        the wall clock jumped since the last call (against the monotonic clock)."""

    def publish_due(self) -> None:
        """Send the messages of the ticks the last :meth:`run_due` ran, in order."""

    def skip_to(self, wall_ms: int) -> None:
        """A tick failed at ``wall_ms``: carry on from the next grid instant after it."""


class TickScheduler:
    """One task that ticks any number of controllers on the shared 100 ms grid.

    Why not a task per controller: at Kassel's scale (hundreds of intersections in one process,
    e.g. the demo or a cabinet hosting several) a sleeping task per controller costs a timer,
    a wake-up and a task switch per tick each, several times the domain step. Here one timer
    fires per grid instant and the due controllers are ticked in a plain loop; each still
    keeps its own logical time, lateness (the watchdog's input), catch-up and re-anchoring
    exactly as a controller alone would. All controllers must share the scheduler's clock.
    The task starts with the first controller added and ends when the last one leaves.

    A pass runs every due controller's ticks up to the lamps first and sends their messages
    (SPaT, SPATEM) after, so the last lamp of a pass waits for the others' steps, not for
    their encoding. Controllers added together power up spread over ``stagger_ticks`` grid
    instants (``STAGGER_TICKS``; 1 powers each up at the next one): identical controllers
    started in the same tick would otherwise switch in the same tick for many cycles
    (measured: up to all 300 of a bench run in one pass of 250 ms, against at most 43 and
    90 ms staggered; BENCHMARKS.md).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        stagger_ticks: int = STAGGER_TICKS,
    ) -> None:
        self._clock = clock
        self._mono = monotonic
        self._devices: dict[int, Tickable] = {}
        #: how many devices power up at each grid instant still to come (``add``)
        self._starts: dict[int, int] = {}
        self._stagger = stagger_ticks
        self._task: asyncio.Task[None] | None = None
        self._passes = 0

    def __len__(self) -> int:
        return len(self._devices)

    def add(self, device: Tickable) -> None:
        """Start ticking ``device`` on the least crowded of the next ``stagger_ticks`` grid
        instants (powering it up first), the earliest of them when several are."""
        base = ceil_tick(self._wall_ms())
        starts = self._starts
        for t in [t for t in starts if t < base]:
            del starts[t]
        first = min((base + k * TICK_MS for k in range(self._stagger)),
                    key=lambda t: (starts.get(t, 0), t))
        starts[first] = starts.get(first, 0) + 1
        device.power_up(first)
        self._devices[id(device)] = device
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._tick_loop(), name="signal-ticks")

    def discard(self, device: Tickable) -> None:
        """Stop ticking ``device`` (no-op if it is not ticked here)."""
        self._devices.pop(id(device), None)

    def _turn_order(self) -> tuple[Tickable, ...]:
        """This pass's order: every pass starts at another device (a golden-ratio stride),
        so the devices late in a long pass, which leave their prediction refresh to a tick
        on time (``SAMPLED_LAG_LIMIT_MS``), are different ones each pass."""
        devices = tuple(self._devices.values())
        self._passes += 1
        k = int(self._passes * GOLDEN * len(devices)) % len(devices) if devices else 0
        return devices[k:] + devices[:k]

    def _wall_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _tick_loop(self) -> None:
        _FullCollections.take()
        try:
            await self._ticks()
        finally:
            _FullCollections.release()
            self._task = None

    async def _ticks(self) -> None:
        offset = self._clock() - self._mono()
        collected = self._mono()
        while self._devices:
            due = min(d.next_tick for d in self._devices.values())
            delay = (due - self._wall_ms()) / 1000
            if delay > 0:  # an added controller never needs an earlier wake-up (same grid)
                await asyncio.sleep(delay)
            new_offset = self._clock() - self._mono()
            jump = abs(new_offset - offset) * 1000 > CLOCK_JUMP_MS
            offset = new_offset
            order = self._turn_order()
            for device in order:
                if device.stopped:
                    continue
                wall = self._wall_ms()
                try:
                    device.run_due(wall, jump)
                except Exception:  # one broken adapter must not stop the others' ticks
                    log.exception("%s: tick failed", device.device_id)
                    device.skip_to(wall)
            for device in order:
                try:
                    device.publish_due()
                except Exception:  # nor one that fails to send
                    log.exception("%s: publishing failed", device.device_id)
            mono = self._mono()
            if (mono - collected) * 1000 >= FULL_GC_EVERY_MS and self._devices and (
                    min(d.next_tick for d in self._devices.values()) - self._wall_ms()
                    >= FULL_GC_GAP_MS):
                gc.collect()
                collected = mono

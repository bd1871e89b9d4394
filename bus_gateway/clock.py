"""The gateway's notion of time: the wall clock on a bus, a faster one for replays.

Why injectable: a recorded trip (NMEA file, pcap of probe requests, door log) is replayed
against the same code in tests and demos. Replays set the clock to the recording's start and
may run it faster; every loop of the app sleeps through :meth:`Clock.sleep`, so a 10-minute
trip replays in 30 s with unchanged 1 Hz/30 s/60 s semantics in payload time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch, and sleeping in that time."""

    def now(self) -> float:
        """Current time, seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock's time."""


class WallClock:
    """Real time."""

    def now(self) -> float:
        """``time.time()``."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Starts at ``start`` (epoch seconds) and runs ``speed`` times faster than real time."""

    def __init__(self, start: float, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.start = start
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> float:
        """The scaled time."""
        return self.start + (time.monotonic() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of scaled time."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)


def now_ms(clock: Clock) -> int:
    """The clock's time in integer milliseconds."""
    return int(clock.now() * 1000)


async def sleep_until(clock: Clock, ts_ms: int) -> None:
    """Sleep until the clock reaches ``ts_ms`` (returns at once if it has)."""
    delta = ts_ms / 1000 - clock.now()
    if delta > 0:
        await clock.sleep(delta)

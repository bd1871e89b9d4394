"""Door counters: people in and out per door, from a serial line, a log file or a simulation.

Why a line protocol of JSON objects (``{"ts": ms, "door": 1, "in": 2, "out": 0}``): the
counters on German buses (IRMA and similar) are read by the on-board computer, which can
forward counts on a serial line or write a log; one JSON object per line is trivial for
that side and self-describing here. ``ts`` is optional on a live line (arrival time counts).
The simulation boards and alights people whenever the bus stands at a stop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bus_gateway.clock import Clock, now_ms, sleep_until
from bus_gateway.errors import SourceError
from bus_gateway.serial_lines import SerialLines

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DoorEvent:
    """People counted at one door since the previous event of that door."""

    ts_ms: int
    door: int
    boarded: int
    alighted: int


def parse_door_line(line: str, default_ts_ms: int) -> DoorEvent | None:
    """One JSON line → event; ``None`` for blank lines; ``ValueError`` when malformed."""
    line = line.strip()
    if not line:
        return None
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("a door line must be a JSON object")
    boarded, alighted = data.get("in", 0), data.get("out", 0)
    door, ts = data.get("door", 1), data.get("ts", default_ts_ms)
    for name, value in (("in", boarded), ("out", alighted), ("door", door), ("ts", ts)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return DoorEvent(ts, door, boarded, alighted)


class DoorLogSource:
    """Replays a door log (``file:PATH``), each event when the clock reaches its ``ts``."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.rejected = 0

    def bus_stopped(self) -> None:
        """Nothing to do: the counters count by themselves."""

    async def events(self) -> AsyncIterator[DoorEvent]:
        """Events in file order."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        for line in lines:
            try:
                event = parse_door_line(line, now_ms(self.clock))
            except ValueError as exc:
                self.rejected += 1
                log.warning("%s: bad door line: %s", self.path, exc)
                continue
            if event is not None:
                await sleep_until(self.clock, event.ts_ms)
                yield event


class SerialDoorSource:
    """Reads door lines from a serial port (``serial:/dev/ttyS1[@baud]``) in a thread."""

    def __init__(self, port: str, clock: Clock, baud: int = 9600) -> None:
        self.port = port
        self.baud = baud
        self.clock = clock
        self.rejected = 0
        self._serial = SerialLines(port, baud, encoding="utf-8", what="door counter",
                                   thread_name="door-serial", log=log)

    def bus_stopped(self) -> None:
        """Nothing to do: the counters count by themselves."""

    async def events(self) -> AsyncIterator[DoorEvent]:
        """Events as they arrive."""
        lines = self._serial.lines()
        try:
            async for line in lines:
                try:
                    event = parse_door_line(line, now_ms(self.clock))
                except ValueError:
                    self.rejected += 1
                    continue
                if event is not None:
                    yield event
        finally:
            await lines.aclose()


class SimulatedDoors:
    """Boards and alights random people while the bus stands at a stop (demo, tests)."""

    def __init__(
        self, clock: Clock, rng: random.Random, *, capacity: int = 90, doors: int = 2
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.capacity = capacity
        self.doors = doors
        self.on_board = 0
        self._stops: asyncio.Queue[None] = asyncio.Queue()

    def bus_stopped(self) -> None:
        """The gateway tells us the bus now stands at a stop: a burst of events follows."""
        self._stops.put_nowait(None)

    async def events(self) -> AsyncIterator[DoorEvent]:
        """A burst of events per stop."""
        while True:
            await self._stops.get()
            for door in range(1, self.doors + 1):
                out = self.rng.randint(0, min(6, self.on_board))
                self.on_board -= out
                room = max(0, self.capacity - self.on_board)
                board = self.rng.randint(0, min(6, room))
                self.on_board += board
                await self.clock.sleep(2.0)
                yield DoorEvent(now_ms(self.clock), door, board, out)


class DoorSource(Protocol):
    """Anything that yields door events: the sources above, or a simulation's own (the demo
    counts the riders of its passenger model, ``simulations/demo``).

    Why :meth:`bus_stopped` is part of the port: a source that only simulates doors needs to
    know when the bus comes to a stand, and the gateway tells every source the same way rather
    than knowing which kind it holds; real counters ignore it.
    """

    def events(self) -> AsyncIterator[DoorEvent]:
        """The events, as they come."""
        ...

    def bus_stopped(self) -> None:
        """The bus now stands at a stop (told once per stop)."""


def make_doors(spec: str, clock: Clock, base: Path, rng: random.Random) -> DoorSource:
    """The source for ``occupancy.door_counters``: ``sim``, ``file:PATH``, ``serial:DEV``."""
    if spec == "sim" or spec.startswith("sim:"):
        return SimulatedDoors(clock, rng)
    kind, _, target = spec.partition(":")
    if kind == "file":
        path = Path(target)
        return DoorLogSource(path if path.is_absolute() else base / path, clock)
    if kind == "serial":
        port, _, baud = target.partition("@")
        return SerialDoorSource(port, clock, int(baud) if baud.isdigit() else 9600)
    raise SourceError(f"occupancy.door_counters {spec!r}: expected sim, file:PATH or serial:DEV")

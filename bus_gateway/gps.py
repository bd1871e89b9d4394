"""GPS sources: NMEA from a serial receiver, an NMEA file replayed, or a simulated drive.

Why three: the router reads its receiver over a serial line (pyserial, in the thread of
:mod:`bus_gateway.serial_lines`, because pyserial blocks); tests and demos replay recorded
trips in the recording's time (see :mod:`bus_gateway.clock`); the demo without a recording
drives the route's stops. Every source yields :class:`~bus_gateway.domain.nmea.GpsFix` and
counts rejected sentences in its decoder.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

from bus_gateway.clock import Clock, now_ms, sleep_until
from bus_gateway.domain.geo import bearing_deg, distance_m, offset
from bus_gateway.domain.nmea import GpsFix, NmeaDecoder
from bus_gateway.domain.stops import RouteStop
from bus_gateway.errors import SourceError
from bus_gateway.serial_lines import SerialLines

log = logging.getLogger(__name__)


def parse_gps_source(spec: str) -> tuple[str, str, int]:
    """``nmea:/dev/ttyUSB0[@baud]`` → ``("serial", path, baud)``; ``nmea:file`` → file; sim."""
    if spec == "sim":
        return "sim", "", 0
    if not spec.startswith("nmea:"):
        raise SourceError(f"gps.source {spec!r}: expected nmea:PATH or sim")
    target = spec[len("nmea:"):]
    baud = 9600
    if "@" in target:
        target, _, rate = target.rpartition("@")
        if not rate.isdigit():
            raise SourceError(f"gps.source {spec!r}: baud rate {rate!r} is not a number")
        baud = int(rate)
    kind = "serial" if target.startswith("/dev/") else "file"
    return kind, target, baud


def first_fix_time(path: Path) -> int | None:
    """Time (ms) of the first valid fix in an NMEA file (replays start their clock there)."""
    decoder = NmeaDecoder()
    try:
        with path.open(encoding="ascii", errors="replace") as fh:
            for line in fh:
                fix = decoder.feed(line)
                if fix is not None:
                    return fix.ts_ms
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return None


class NmeaFileSource:
    """Replays an NMEA file: each fix is delivered when the clock reaches its time."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.decoder = NmeaDecoder()

    async def fixes(self) -> AsyncIterator[GpsFix]:
        """The fixes of the file, paced by the clock."""
        try:
            lines = self.path.read_text(encoding="ascii", errors="replace").splitlines()
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        for line in lines:
            fix = self.decoder.feed(line)
            if fix is None:
                continue
            await sleep_until(self.clock, fix.ts_ms)
            yield fix


class SerialNmeaSource:
    """Reads a GPS receiver on a serial port in a thread; reconnects when it vanishes."""

    def __init__(self, port: str, baud: int = 9600) -> None:
        self.port = port
        self.baud = baud
        self.decoder = NmeaDecoder()
        self._serial = SerialLines(port, baud, encoding="ascii", what="GPS",
                                   thread_name="gps-serial", log=log)

    async def fixes(self) -> AsyncIterator[GpsFix]:
        """Fixes as the receiver sends them."""
        lines = self._serial.lines()
        try:
            async for line in lines:
                fix = self.decoder.feed(line)
                if fix is not None:
                    yield fix
        finally:
            await lines.aclose()


class SimulatedGps:
    """Drives the stops of the route in order at ``speed_mps``, dwelling ``dwell_s`` at each."""

    def __init__(
        self,
        stops: Sequence[RouteStop],
        clock: Clock,
        *,
        speed_mps: float = 8.0,
        dwell_s: float = 20.0,
        start: tuple[float, float] = (51.3127, 9.4797),
    ) -> None:
        self.stops = list(stops)
        self.clock = clock
        self.speed = speed_mps
        self.dwell_s = dwell_s
        self.start = start
        self.decoder = NmeaDecoder()

    async def fixes(self) -> AsyncIterator[GpsFix]:
        """One fix per second, forever."""
        lat, lon = self.start
        targets = self.stops or [RouteStop("-", "-", lat + 0.01, lon)]
        i = 0
        while True:
            stop = targets[i % len(targets)]
            course = bearing_deg(lat, lon, stop.lat, stop.lon)
            while (d := distance_m(lat, lon, stop.lat, stop.lon)) > 1.0:
                lat, lon = offset(lat, lon, course, min(d, self.speed))
                course = bearing_deg(lat, lon, stop.lat, stop.lon) if d > self.speed else course
                yield GpsFix(now_ms(self.clock), lat, lon, min(d, self.speed), course)
                await self.clock.sleep(1.0)
            for _ in range(int(self.dwell_s)):
                yield GpsFix(now_ms(self.clock), lat, lon, 0.0, course)
                await self.clock.sleep(1.0)
            i += 1


class GpsSource(Protocol):
    """Anything that yields fixes: the sources above, or a simulation's own (the demo drives
    its buses by the timetable, ``simulations/demo``)."""

    def fixes(self) -> AsyncIterator[GpsFix]:
        """The fixes, as they come."""
        ...


def make_gps(spec: str, clock: Clock, stops: Sequence[RouteStop], base: Path) -> GpsSource:
    """The source for ``gps.source``; relative file paths are relative to ``base``."""
    kind, target, baud = parse_gps_source(spec)
    if kind == "sim":
        return SimulatedGps(stops, clock)
    if kind == "serial":
        return SerialNmeaSource(target, baud)
    path = Path(target)
    if not path.is_absolute():
        path = base / path
    with contextlib.suppress(OSError):
        if path.is_char_device():
            return SerialNmeaSource(str(path), baud)
    return NmeaFileSource(path, clock)

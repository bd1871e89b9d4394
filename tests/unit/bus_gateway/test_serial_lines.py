"""The serial-line reader both serial sources share: lines in order, a vanished port is
reopened, and closing the sources' iterators stops the thread."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Iterator
from types import TracebackType
from typing import TypeVar

import pytest
import serial

from bus_gateway import doors, gps, serial_lines
from bus_gateway.clock import WallClock

T = TypeVar("T")

NMEA = b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"


class _FakePort:
    """Each open hands out the next script of lines; an empty script fails the open."""

    scripts: Iterator[list[bytes]]
    opened = 0

    def __init__(self, port: str, baud: int, timeout: float) -> None:
        type(self).opened += 1
        script = next(type(self).scripts, None)
        if not script:
            raise serial.SerialException(f"{port} vanished")
        self.lines = list(script)

    def __enter__(self) -> _FakePort:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None

    def readline(self) -> bytes:
        if self.lines:
            return self.lines.pop(0)
        raise OSError("unplugged")


@pytest.fixture
def fake_port(monkeypatch: pytest.MonkeyPatch) -> type[_FakePort]:
    monkeypatch.setattr(serial_lines.serial, "Serial", _FakePort)
    monkeypatch.setattr(serial_lines, "RETRY_S", 0.01)
    _FakePort.opened = 0
    return _FakePort


async def _take(it: AsyncGenerator[T, None], n: int) -> list[T]:
    out: list[T] = []
    async for item in it:
        out.append(item)
        if len(out) == n:
            break
    await it.aclose()
    return out


def test_lines_arrive_in_order_across_a_reopen(fake_port: type[_FakePort]) -> None:
    fake_port.scripts = iter([[b"a\n", b"", b"b\n"], [], [b"c\xff\n"]])
    reader = serial_lines.SerialLines("/dev/fake", 9600, encoding="utf-8", what="test",
                                      thread_name="test-serial",
                                      log=logging.getLogger("test"))
    got = asyncio.run(_take(reader.lines(), 3))
    assert got == ["a\n", "b\n", "c\ufffd\n"]
    assert fake_port.opened == 3  # the second open failed, the third read on
    threads = [t for t in threading.enumerate() if t.name == "test-serial"]
    for thread in threads:
        thread.join(timeout=2.0)
    assert not any(t.is_alive() for t in threads)  # closing the iterator stopped the reader


def test_gps_and_door_sources_parse_the_lines(fake_port: type[_FakePort]) -> None:
    fake_port.scripts = iter([[NMEA], [b'{"door": 1, "in": 2, "out": 0}\n', b"junk\n",
                                       b'{"door": 2, "in": 0, "out": 1}\n']])
    (fix,) = asyncio.run(_take(gps.SerialNmeaSource("/dev/gps").fixes(), 1))
    assert fix.lat == pytest.approx(48.1173)
    door_source = doors.SerialDoorSource("/dev/doors", WallClock())
    events = asyncio.run(_take(door_source.events(), 2))
    assert [(e.door, e.boarded, e.alighted) for e in events] == [(1, 2, 0), (2, 0, 1)]
    assert door_source.rejected == 1

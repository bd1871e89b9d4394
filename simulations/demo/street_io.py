"""The street's side of the real gateway's sensors, and a bus's mobile link that can drop.

Why these adapters: the gateway reads its GPS and door counters through the same small
interfaces a router's serial receivers implement (:class:`bus_gateway.gps.GpsSource`,
:class:`bus_gateway.doors.DoorSource`); the demo's street model (:mod:`.domain.street`)
feeds them, so the gateway's stop tracking, occupancy fusion and publishing run unchanged.
:class:`CuttableLink` sits between a bus and the broker like its LTE modem: cutting it ends
the TCP connection on both sides (the broker publishes the Last Will) and refuses new ones
until it is restored (the agent keeps queueing, then replays).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from bus_gateway.domain.nmea import GpsFix
from bus_gateway.doors import DoorEvent

log = logging.getLogger(__name__)


class StreetGps:
    """GPS fixes from the street model, one a second (the newest wins when the reader lags)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[GpsFix] = asyncio.Queue(maxsize=8)

    def put(self, fix: GpsFix) -> None:
        """A fix from the street (the oldest unread one is dropped when the reader lags)."""
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(fix)

    async def fixes(self) -> AsyncIterator[GpsFix]:
        """The fixes, as the street produces them."""
        while True:
            yield await self._queue.get()


class StreetDoors:
    """Door-counter events for the riders of the street model."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[DoorEvent] = asyncio.Queue()

    def put(self, event: DoorEvent) -> None:
        """People counted at a door."""
        self._queue.put_nowait(event)

    def bus_stopped(self) -> None:
        """Nothing to do: the street model counts its riders at each stop itself."""

    async def events(self) -> AsyncIterator[DoorEvent]:
        """The events, in the order counted."""
        while True:
            yield await self._queue.get()


class CuttableLink:
    """A TCP relay from one bus to the broker: the bus's mobile link."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.up = True
        self.listen_port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on a free loopback port; returns it (the bus's broker port)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self.listen_port

    def cut(self) -> None:
        """The link drops: every connection ends at once, new ones are refused."""
        self.up = False
        for w in list(self._open):
            w.transport.abort()
        self._open.clear()

    def restore(self) -> None:
        """The link is back: the next connection attempt goes through."""
        self.up = True

    async def close(self) -> None:
        """Stop relaying."""
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            log.warning("link relay: broker unreachable: %s", exc)
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        pipes = [asyncio.create_task(self._pipe(reader, up_writer)),
                 asyncio.create_task(self._pipe(up_reader, writer))]
        self._tasks.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in (writer, up_writer):
                self._open.discard(w)
                w.transport.abort()
            for p in pipes:
                p.cancel()
                self._tasks.discard(p)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()

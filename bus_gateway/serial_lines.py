"""Text lines from a serial port, read in a thread and handed to the event loop.

Why a module of its own: the GPS receiver (NMEA) and the door counters (JSON lines) both
talk over a serial line, and pyserial only blocks, so each needs the same reader: a daemon
thread that opens the port, reads line by line, reopens it 2 s after it vanished (a USB
receiver unplugged, a counter restarted) and passes each line to the event loop through a
bounded queue. Written once here, the two sources differ only in how they parse a line.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator

import serial

#: lines waiting for the event loop; the thread's ``put_nowait`` fails beyond that
QUEUE_LINES = 1000
#: how long a vanished port stays closed before the thread opens it again
RETRY_S = 2.0


class SerialLines:
    """The lines of one serial port (``port`` at ``baud``), decoded with ``encoding``.

    ``what`` names the device in the log line of a failed open or read (``GPS``, ``door
    counter``), written to ``log`` (the caller's logger). The thread stops once the
    iterator of :meth:`lines` is closed.
    """

    def __init__(self, port: str, baud: int, *, encoding: str, what: str, thread_name: str,
                 log: logging.Logger) -> None:
        self.port = port
        self.baud = baud
        self.encoding = encoding
        self.what = what
        self.thread_name = thread_name
        self.log = log
        self._stop = threading.Event()

    def _read(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str]) -> None:
        while not self._stop.is_set():
            try:
                with serial.Serial(self.port, self.baud, timeout=1.0) as ser:
                    while not self._stop.is_set():
                        raw = ser.readline()
                        if raw:
                            text = raw.decode(self.encoding, errors="replace")
                            loop.call_soon_threadsafe(queue.put_nowait, text)
            except (OSError, serial.SerialException) as exc:
                self.log.warning("%s %s: %s; retrying in 2 s", self.what, self.port, exc)
                self._stop.wait(RETRY_S)

    async def lines(self) -> AsyncGenerator[str, None]:
        """Lines as they arrive (with their line ending), until the iterator is closed."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE_LINES)
        threading.Thread(
            target=self._read, args=(loop, queue), name=self.thread_name, daemon=True
        ).start()
        try:
            while True:
                yield await queue.get()
        finally:
            self._stop.set()

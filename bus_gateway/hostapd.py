"""hostapd control-interface client: the associated stations of every passenger radio.

Why this shape: hostapd has one UNIX datagram control socket per radio in its
``ctrl_interface`` directory (``/var/run/hostapd/wlan0``, ``.../wlan1``). Like ``hostapd_cli``
this client keeps two sockets per radio, each bound to a path of its own (hostapd answers to
the sender's address): one for requests (``PING``, ``STA-FIRST``, ``STA-NEXT``) and one that
is ``ATTACH``-ed and only receives events. :meth:`HostapdStations.poll` — called by the
gateway's upkeep every few seconds, on the dataplane's worker thread — drains the queued
``AP-STA-CONNECTED``/``AP-STA-DISCONNECTED`` events, walks the full list again when a radio
appears, restarts or every ``resync_s`` (events can be lost when hostapd's socket buffer is
full), and forgets radios whose socket went away. The text format is parsed in
:mod:`bus_gateway.domain.hostapd`.

When the directory holds no socket, :meth:`HostapdStations.available` is false and the
gateway falls back to the neighbour table.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import stat
import tempfile
import time
from pathlib import Path

from bus_gateway.domain.hostapd import StationReply, StationSet, parse_event, parse_station
from bus_gateway.errors import SourceError

log = logging.getLogger(__name__)

_COUNTER = itertools.count()
#: hostapd's replies to a station query fit easily; the control interface uses 4096 too
_BUFSIZE = 4096
#: at most this many stations per walk (a loop guard; an AP has far fewer)
_MAX_STATIONS = 2048


class HostapdSocket:
    """One datagram socket to one hostapd control socket, bound to a private path."""

    def __init__(self, ctrl_path: Path, timeout_s: float = 1.0) -> None:
        self.ctrl_path = ctrl_path
        self._local = Path(tempfile.gettempdir()) / (
            f"kassel_hostapd_{os.getpid()}-{next(_COUNTER)}"
        )
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                self._local.unlink()
            self._sock.bind(str(self._local))
            self._sock.connect(str(ctrl_path))
        except OSError as exc:
            self.close()
            raise SourceError(f"cannot open hostapd control socket {ctrl_path}: {exc}") from exc
        self._sock.settimeout(timeout_s)

    def request(self, command: str) -> str:
        """Send ``command`` and return hostapd's reply (events on this socket are skipped)."""
        try:
            self._sock.send(command.encode())
            while True:
                data = self._sock.recv(_BUFSIZE).decode(errors="replace")
                if not data.startswith("<"):  # "<3>AP-..." are events, not our reply
                    return data
        except OSError as exc:  # timeout, hostapd gone (ECONNREFUSED), ...
            raise SourceError(f"hostapd {self.ctrl_path.name}: {command}: {exc}") from exc

    def pending(self) -> list[str]:
        """Every datagram queued now (events on an attached socket), without waiting."""
        out: list[str] = []
        timeout = self._sock.gettimeout()
        self._sock.setblocking(False)
        try:
            while True:
                out.append(self._sock.recv(_BUFSIZE).decode(errors="replace"))
        except BlockingIOError:
            return out
        except OSError as exc:
            raise SourceError(f"hostapd {self.ctrl_path.name}: events: {exc}") from exc
        finally:
            self._sock.settimeout(timeout)

    def close(self) -> None:
        """Close the socket and remove its path."""
        self._sock.close()
        with contextlib.suppress(OSError):
            self._local.unlink()


class _Radio:
    """The request and event sockets of one radio."""

    def __init__(self, ctrl_path: Path, timeout_s: float) -> None:
        self.name = ctrl_path.name
        self.requests = HostapdSocket(ctrl_path, timeout_s)
        try:
            self.events = HostapdSocket(ctrl_path, timeout_s)
            if self.events.request("ATTACH").strip() != "OK":
                raise SourceError(f"hostapd {self.name} refused ATTACH")
        except BaseException:
            self.requests.close()
            raise
        self.listed_at = 0.0

    def walk(self) -> list[StationReply]:
        """``STA-FIRST`` then ``STA-NEXT <mac>`` until the list ends."""
        stations: list[StationReply] = []
        reply = parse_station(self.requests.request("STA-FIRST"))
        while reply is not None and len(stations) < _MAX_STATIONS:
            stations.append(reply)
            reply = parse_station(self.requests.request(f"STA-NEXT {reply.mac}"))
        return stations

    def close(self) -> None:
        with contextlib.suppress(SourceError):
            self.events.request("DETACH")
        self.events.close()
        self.requests.close()


class HostapdStations:
    """Associated stations of every hostapd radio under ``ctrl_dir``."""

    def __init__(self, ctrl_dir: Path, *, resync_s: float = 60.0, timeout_s: float = 1.0
                 ) -> None:
        self.ctrl_dir = ctrl_dir
        self.resync_s = resync_s
        self.timeout_s = timeout_s
        self.table = StationSet()
        self._radios: dict[str, _Radio] = {}

    def sockets(self) -> list[Path]:
        """Control sockets in the directory now (one per radio)."""
        try:
            entries = list(self.ctrl_dir.iterdir())
        except OSError:
            return []
        out = []
        for p in entries:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(p.stat().st_mode):
                    out.append(p)
        return sorted(out)

    def available(self) -> bool:
        """Whether any hostapd control socket exists (else: use the neighbour table)."""
        return bool(self._radios) or bool(self.sockets())

    def poll(self) -> set[str]:
        """Bring the station set up to date; return the associated MACs of all radios."""
        present = {p.name: p for p in self.sockets()}
        for name in list(self._radios):
            if name not in present:
                self._drop(name, "control socket gone")
        now = time.monotonic()
        for name, path in present.items():
            radio = self._radios.get(name)
            try:
                if radio is None:
                    radio = self._radios[name] = _Radio(path, self.timeout_s)
                for message in radio.events.pending():
                    event = parse_event(message)
                    if event is not None:
                        self.table.apply(name, event)
                if radio.listed_at == 0.0 or now - radio.listed_at >= self.resync_s:
                    self.table.replace(name, radio.walk())
                    radio.listed_at = now
            except SourceError as exc:
                self._drop(name, str(exc))  # the next poll reconnects and walks again
        return self.table.macs()

    def _drop(self, name: str, why: str) -> None:
        radio = self._radios.pop(name, None)
        if radio is not None:
            radio.close()
        self.table.forget(name)
        log.warning("hostapd radio %s: %s", name, why)

    def close(self) -> None:
        """Detach from every radio."""
        for name in list(self._radios):
            self._radios.pop(name).close()

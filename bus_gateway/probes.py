"""Probe-request sniffing from a monitor-mode interface (live) or a pcap file (replays).

Why a kernel BPF filter: a busy street produces thousands of 802.11 frames per second; the
filter ``type mgt subtype probe-req`` (:data:`~bus_gateway.domain.dot11.PROBE_REQUEST_BPF`,
what libpcap compiles for it) lets the kernel drop everything else, so Python only sees the
few probe requests and a Pi keeps up. Why no scapy on the live path: dissecting each frame
with scapy cost ~3 ms of CPU (17 % of a core at 50 probe requests/s, measured by
``bench/bench_gateway.py``) and importing it ~20 MB; the live path is one ``AF_PACKET`` socket
with that filter attached and :func:`~bus_gateway.domain.dot11.parse_probe_request` on the
raw bytes. Pcap files (replays, tests) are still read with scapy (``sniff(offline=...)`` with
the same filter), then go through the same parser.

Each frame is reduced to a :class:`~bus_gateway.domain.occupancy.ProbeObservation` at once:
the source MAC becomes a salted pseudonym (:class:`~bus_gateway.domain.privacy.MacHasher`),
only the locally administered bit, the sequence number, an IE fingerprint and the RSSI are
kept. The raw frame is never stored.
"""

# ruff: noqa: PLC0415  (scapy costs ~20 MB and a second to import: only for pcap files)
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bus_gateway.clock import Clock, now_ms, sleep_until
from bus_gateway.domain.dot11 import (
    LINKTYPE_FOR_ARPHRD,
    PROBE_REQUEST_BPF,
    parse_probe_request,
)
from bus_gateway.domain.occupancy import ProbeObservation, ie_fingerprint
from bus_gateway.domain.privacy import MacHasher, is_locally_administered, is_multicast
from bus_gateway.errors import SourceError

log = logging.getLogger(__name__)

#: for pcap files; the live path attaches the same filter as BPF code
BPF_PROBE_REQUESTS = "type mgt subtype probe-req"
ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
PACKET_STATISTICS = 6
#: a frame is at most 7,991 bytes (A-MSDU) plus radiotap
SNAPLEN = 9000
#: seconds a blocked read waits before it looks at the stop flag
POLL_S = 1.0
#: frames waiting for the event loop at most (~1 MB of typical probe requests); more are
#: dropped (live) or wait (pcap)
BUFFER_FRAMES = 4096
#: after a wake-up the loop lets frames gather this long (wake-ups ≤ 1/BATCH_S per second)
BATCH_S = 0.01
#: the event loop works on probes for at most this long before it serves everything else ...
SLICE_S = 0.002
#: ... and then rests so that probes take at most this share of it (a flood beyond that is
#: dropped at the buffer, not queued)
CPU_SHARE = 0.25

Frame = tuple[float, bytes, int]  # (capture time in epoch seconds, frame, pcap link type)


def observation_from_frame(
    frame: bytes, linktype: int, hasher: MacHasher, ts_ms: int
) -> ProbeObservation | None:
    """Reduce a raw frame to an observation; ``None`` if it is not a usable probe request."""
    probe = parse_probe_request(frame, linktype)
    if probe is None or is_multicast(probe.source):
        return None
    return ProbeObservation(
        ts_ms=ts_ms,
        device=hasher.hash(probe.source, ts_ms),
        randomized=is_locally_administered(probe.source),
        seq=probe.seq,
        fingerprint=ie_fingerprint(probe.elements),
        rssi_dbm=probe.rssi_dbm,
    )


def open_monitor_socket(iface: str) -> tuple[socket.socket, int]:
    """An ``AF_PACKET`` socket on ``iface`` that only receives probe requests; its link type.

    The filter is attached before the socket is bound to a protocol, so not one unfiltered
    frame is queued.
    """
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.bind((iface, 0))  # protocol 0: nothing is received yet
        hatype = sock.getsockname()[3]
        linktype = LINKTYPE_FOR_ARPHRD.get(hatype)
        if linktype is None:
            raise SourceError(
                f"{iface} is not an 802.11 monitor interface (device type {hatype}); "
                "expected radiotap (803) or 802.11 (801)"
            )
        program = PROBE_REQUEST_BPF[linktype]
        code = b"".join(struct.pack("HBBI", *insn) for insn in program)
        buf = ctypes.create_string_buffer(code, len(code))
        fprog = struct.pack("HP", len(program), ctypes.addressof(buf))
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        ifindex = socket.if_nametoindex(iface)
        mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        sock.bind((iface, ETH_P_ALL))
        sock.settimeout(POLL_S)
    except OSError as exc:
        sock.close()
        raise SourceError(f"probe source iface:{iface}: {exc}") from exc
    except BaseException:
        sock.close()
        raise
    return sock, linktype


class ProbeSniffer:
    """Yields observations from ``iface:NAME`` (live, monitor mode) or ``pcap:FILE``."""

    def __init__(self, spec: str, hasher: MacHasher, clock: Clock, base: Path) -> None:
        kind, _, target = spec.partition(":")
        if kind not in ("iface", "pcap") or not target:
            raise SourceError(f"occupancy.probe_source {spec!r}: expected iface:NAME or pcap:FILE")
        self.kind = kind
        path = Path(target)
        self.target = str(path if path.is_absolute() or kind == "iface" else base / path)
        self.hasher = hasher
        self.clock = clock
        self.frames = 0
        #: live frames dropped because the buffer was full (the loop's share was used up)
        self.dropped = 0
        #: frames the kernel dropped before the sniffer thread read them (socket buffer full)
        self.kernel_dropped = 0
        #: seconds of event-loop time spent on probes in full slices
        self.busy_s = 0.0
        self._received = 0
        self._stop = threading.Event()

    def _sniff_iface(self, deliver: Callable[[Frame], None]) -> None:
        sock, linktype = open_monitor_socket(self.target)
        try:
            while not self._stop.is_set():
                try:
                    frame, addr = sock.recvfrom(SNAPLEN)
                except TimeoutError:
                    self._count_kernel_drops(sock)
                    continue
                if addr[2] != PACKET_OUTGOING:  # frames this router injects itself
                    deliver((time.time(), frame, linktype))
                self._received += 1
                if self._received % 1024 == 0:
                    self._count_kernel_drops(sock)
        except OSError as exc:  # the interface went away
            raise SourceError(f"probe source iface:{self.target}: {exc}") from exc
        finally:
            sock.close()

    def _count_kernel_drops(self, sock: socket.socket) -> None:
        """Add what the kernel dropped since the last call (its socket buffer was full)."""
        with contextlib.suppress(OSError):
            _, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            self.kernel_dropped += drops

    def _sniff_pcap(self, deliver: Callable[[Frame], None]) -> None:
        from scapy.config import conf
        from scapy.sendrecv import sniff

        def one(pkt: Any) -> None:
            linktype = conf.l2types.layer2num.get(type(pkt))
            frame = getattr(pkt, "original", None) or bytes(pkt)
            if linktype is not None:
                deliver((float(pkt.time), bytes(frame), linktype))

        def stop_filter(_pkt: Any) -> bool:
            return self._stop.is_set()

        try:
            sniff(offline=self.target, filter=BPF_PROBE_REQUESTS, prn=one, store=False,
                  stop_filter=stop_filter)
        except Exception as exc:  # OSError, ValueError, Scapy_Exception(Exception)
            raise SourceError(f"probe source pcap:{self.target}: {exc}") from exc

    async def observations(self) -> AsyncIterator[ProbeObservation]:
        """Observations; pcap frames are delivered when the clock reaches their time.

        The sniffer thread only copies frames into a bounded buffer (:data:`BUFFER_FRAMES`;
        a live frame that finds it full is dropped and counted in :attr:`dropped`, a pcap
        reader waits instead) and wakes the loop only when it sleeps, at most once per
        :data:`BATCH_S`. The event loop drains the buffer in slices: after :data:`SLICE_S` of
        parsing and fusing (the caller's work between two observations counts too) the
        generator sleeps long enough that probes take at most :data:`CPU_SHARE` of the
        loop, so MQTT, GPS, SREM and the portal wait at most one slice for a flood.
        """
        loop = asyncio.get_running_loop()
        buffer: deque[Frame] = deque()
        wake = asyncio.Event()
        room = threading.Condition()
        ended = threading.Event()
        waiting = [False]  # the loop sleeps on ``wake``: the next frame must set it

        def notify() -> None:
            waiting[0] = False
            wake.set()

        def deliver(item: Frame) -> None:
            if len(buffer) >= BUFFER_FRAMES:
                if self.kind != "pcap":
                    self.dropped += 1  # overload: drop rather than grow or fall behind
                    return
                with room:  # a file can wait for the loop
                    while len(buffer) >= BUFFER_FRAMES and not self._stop.is_set():
                        room.wait(POLL_S)
            buffer.append(item)
            if waiting[0]:
                waiting[0] = False
                with contextlib.suppress(RuntimeError):  # the loop closed: we are stopping
                    loop.call_soon_threadsafe(wake.set)

        def run() -> None:
            try:
                if self.kind == "pcap":
                    self._sniff_pcap(deliver)
                else:
                    self._sniff_iface(deliver)
            except SourceError as exc:
                log.error("%s", exc)
            finally:
                ended.set()
                with contextlib.suppress(RuntimeError):  # the loop is closed already
                    loop.call_soon_threadsafe(notify)

        thread = threading.Thread(target=run, name="probe-sniffer", daemon=True)
        thread.start()
        clock = time.perf_counter
        try:
            slice_start = clock()
            while True:
                if not buffer:
                    if ended.is_set():
                        return
                    wake.clear()
                    waiting[0] = True
                    if not buffer and not ended.is_set():
                        await wake.wait()
                    waiting[0] = False
                    if self.kind != "pcap":
                        await asyncio.sleep(BATCH_S)  # a burst gathers: one wake-up per batch
                    slice_start = clock()
                    continue
                ts, frame, linktype = buffer.popleft()
                if self.kind == "pcap":
                    with room:
                        room.notify()
                self.frames += 1
                ts_ms = int(ts * 1000)
                if self.kind == "pcap" and ts_ms > now_ms(self.clock):
                    await sleep_until(self.clock, ts_ms)
                    slice_start = clock()
                obs = observation_from_frame(frame, linktype, self.hasher, ts_ms)
                if obs is not None:
                    yield obs
                spent = clock() - slice_start
                if spent >= SLICE_S:  # the loop's other work first; probes get their share
                    self.busy_s += spent
                    await asyncio.sleep(spent * (1 - CPU_SHARE) / CPU_SHARE)
                    slice_start = clock()
        finally:
            self._stop.set()
            with room:
                room.notify_all()

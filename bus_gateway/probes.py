"""Probe-request sniffing with scapy, from a monitor-mode interface or a pcap file.

Why a kernel BPF filter: a busy street produces thousands of 802.11 frames per second; the
filter ``type mgt subtype probe-req`` lets the kernel (or libpcap for files) drop everything
else, so Python only sees the few probe requests and a Pi keeps up. Each frame is reduced to
a :class:`~bus_gateway.domain.occupancy.ProbeObservation` at once: the source MAC becomes a
salted pseudonym (:class:`~bus_gateway.domain.privacy.MacHasher`), only the locally
administered bit, the sequence number, an IE fingerprint and the RSSI are kept. The raw
frame is never stored.
"""

# ruff: noqa: PLC0415  (scapy costs ~40 MB and a second to import: only when sniffing)
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bus_gateway.clock import Clock, sleep_until
from bus_gateway.domain.occupancy import ProbeObservation, ie_fingerprint
from bus_gateway.domain.privacy import MacHasher, is_locally_administered, is_multicast
from bus_gateway.errors import SourceError

log = logging.getLogger(__name__)

BPF_PROBE_REQUESTS = "type mgt subtype probe-req"


def observation_from_packet(
    pkt: Any, hasher: MacHasher, ts_ms: int | None = None
) -> ProbeObservation | None:
    """Reduce a scapy packet to an observation; ``None`` if it is not a usable probe."""
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap

    if not pkt.haslayer(Dot11ProbeReq):
        return None
    dot11 = pkt[Dot11]
    mac = dot11.addr2
    if not mac:
        return None
    try:
        if is_multicast(mac):
            return None
        randomized = is_locally_administered(mac)
    except ValueError:
        return None
    when = ts_ms if ts_ms is not None else int(float(pkt.time) * 1000)
    seq = int(dot11.SC) >> 4 if dot11.SC is not None else None
    elements: list[tuple[int, bytes]] = []
    elt = pkt.getlayer(Dot11Elt)
    while elt is not None and isinstance(elt, Dot11Elt):
        elements.append((int(elt.ID), bytes(elt.info or b"")))
        elt = elt.payload.getlayer(Dot11Elt) if elt.payload else None
    rssi: int | None = None
    if pkt.haslayer(RadioTap):
        value = getattr(pkt[RadioTap], "dBm_AntSignal", None)
        rssi = int(value) if value is not None else None
    return ProbeObservation(
        ts_ms=when,
        device=hasher.hash(mac, when),
        randomized=randomized,
        seq=seq,
        fingerprint=ie_fingerprint(elements),
        rssi_dbm=rssi,
    )


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
        self._stop = threading.Event()

    def _sniff(self, deliver: Callable[[Any], None]) -> None:
        from scapy.sendrecv import sniff

        def stop_filter(_pkt: Any) -> bool:
            return self._stop.is_set()

        try:
            if self.kind == "pcap":
                sniff(offline=self.target, filter=BPF_PROBE_REQUESTS, prn=deliver,
                      store=False, stop_filter=stop_filter)
            else:
                while not self._stop.is_set():
                    sniff(iface=self.target, filter=BPF_PROBE_REQUESTS, prn=deliver,
                          store=False, timeout=1.0, stop_filter=stop_filter)
        except (OSError, ValueError) as exc:  # scapy raises Scapy_Exception(Exception) too
            raise SourceError(f"probe source {self.kind}:{self.target}: {exc}") from exc
        except Exception as exc:
            raise SourceError(f"probe source {self.kind}:{self.target}: {exc}") from exc

    async def observations(self) -> AsyncIterator[ProbeObservation]:
        """Observations; pcap frames are delivered when the clock reaches their time."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=10_000)
        done = object()

        def deliver(pkt: Any) -> None:
            loop.call_soon_threadsafe(_put, pkt)

        def _put(item: Any) -> None:
            if queue.full():
                return  # overload: drop rather than grow without bound
            queue.put_nowait(item)

        def run() -> None:
            try:
                self._sniff(deliver)
            except SourceError as exc:
                log.error("%s", exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        thread = threading.Thread(target=run, name="probe-sniffer", daemon=True)
        thread.start()
        try:
            while True:
                pkt = await queue.get()
                if pkt is done:
                    return
                self.frames += 1
                ts_ms = int(float(pkt.time) * 1000)
                if self.kind == "pcap":
                    await sleep_until(self.clock, ts_ms)
                obs = observation_from_packet(pkt, self.hasher, ts_ms)
                if obs is not None:
                    yield obs
        finally:
            self._stop.set()

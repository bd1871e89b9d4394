"""Uplink sampling for the measured capacity: byte counters, RTT probes, live re-rating.

Why this adapter: :class:`bus_gateway.domain.autorate.CapacityEstimator` decides, this module
only measures and applies. Every ``interval_s`` it reads the uplink interface's byte counters
from ``/sys/class/net/<if>/statistics`` (two small reads, in the gateway's own network
namespace) and times one TCP connect to the reflector — there is no ``ping`` on the router,
and a TCP handshake (or the reset of a closed port) takes exactly one round trip through the
same queues as the passengers' traffic. When the estimate moves by more than the hysteresis,
it calls the gateway's normal re-rating path (``WlanGateway.set_uplink_kbps``), which changes
every client's HTB class in place: nobody is disconnected.

The operator's ``set_uplink_kbps`` goes through :meth:`UplinkMonitor.set_cap` (the estimator's
ceiling from then on). The figure a sample applies is read from the estimator under the same
lock as the command, so a sample taken just before a command can never re-apply its older,
higher estimate after the command's figure.

Probe connections are closed with a reset (``SO_LINGER`` 0), so they leave no ``TIME_WAIT``
behind; a dedicated reflector keeps them out of the broker's log.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bus_gateway.domain.autorate import CapacityEstimator, LinkSample, RateDecision, should_apply
from bus_gateway.errors import SourceError

log = logging.getLogger(__name__)


def parse_endpoint(text: str, default_port: int | None = None) -> tuple[str, int]:
    """``host:port`` (or ``host`` with a default port) as a tuple."""
    host, sep, port = text.rpartition(":")
    if not sep:
        if default_port is None:
            raise ValueError(f"not host:port: {text!r}")
        return text, default_port
    return host, int(port)


class UplinkMonitor:
    """Samples the uplink, feeds the estimator and re-rates when the estimate moved."""

    def __init__(
        self,
        *,
        interface: str,
        reflector: tuple[str, int],
        estimator: CapacityEstimator,
        apply_kbps: Callable[[int], Awaitable[object]],
        applied_kbps: Callable[[], int],
        interval_s: float,
        hysteresis: float,
        probe_timeout_s: float = 2.0,
        sysfs: Path = Path("/sys/class/net"),
    ) -> None:
        self.interface = interface
        self.reflector = reflector
        self.estimator = estimator
        self._apply = apply_kbps
        self._applied = applied_kbps
        self.interval_s = interval_s
        self.hysteresis = hysteresis
        self.probe_timeout_s = probe_timeout_s
        self._stats = sysfs / interface / "statistics"
        self._address: tuple[str, int] | None = None
        self.last: RateDecision | None = None
        self.rerates = 0
        self._applying = asyncio.Lock()  # a sample's re-rating and the operator's command

    def counters(self) -> tuple[int, int]:
        """``(rx_bytes, tx_bytes)`` of the uplink interface."""
        try:
            rx = int((self._stats / "rx_bytes").read_text())
            tx = int((self._stats / "tx_bytes").read_text())
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read the counters of {self.interface}: {exc}") from exc
        return rx, tx

    async def _resolve(self) -> tuple[str, int]:
        if self._address is None:
            host, port = self.reflector
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, family=socket.AF_INET, type=socket.SOCK_STREAM
            )
            self._address = (str(infos[0][4][0]), port)
        return self._address

    async def probe_rtt_ms(self) -> float | None:
        """One TCP connect's round trip in ms (a refusal counts: it is one round trip too).

        A timeout reports the timeout (the delay is at least that); an unreachable reflector
        reports ``None``.
        """
        loop = asyncio.get_running_loop()
        try:
            address = await self._resolve()
        except OSError as exc:
            log.debug("reflector %s does not resolve: %s", self.reflector, exc)
            return None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                await loop.sock_connect(sock, address)
        except TimeoutError:
            return self.probe_timeout_s * 1000
        except ConnectionRefusedError:
            pass  # the reset came back after one round trip
        except OSError as exc:
            log.debug("RTT probe to %s failed: %s", address, exc)
            self._address = None  # resolve again next time
            return None
        finally:
            sock.close()
        return (time.perf_counter() - start) * 1000

    async def sample(self) -> RateDecision:
        """Take one sample, feed it to the estimator, re-rate when the estimate moved."""
        rtt = await self.probe_rtt_ms()
        rx, tx = self.counters()
        decision = self.estimator.observe(
            LinkSample(int(time.monotonic() * 1000), rx, tx, rtt)
        )
        self.last = decision
        async with self._applying:
            applied = self._applied()
            estimate = self.estimator.rate_kbps  # not the decision's: a command may be newer
            if should_apply(applied, estimate, self.hysteresis):
                log.info("uplink capacity %d → %d kbit/s (%s, achieved %d kbit/s, RTT +%s ms)",
                         applied, estimate, decision.state, decision.achieved_kbps,
                         "?" if decision.rtt_delta_ms is None
                         else f"{decision.rtt_delta_ms:.0f}")
                await self._apply(estimate)
                self.rerates += 1
        return decision

    async def set_cap(self, kbps: int) -> int:
        """The operator's figure: the estimator's ceiling and start, applied at once."""
        async with self._applying:
            rate = self.estimator.set_cap(kbps)
            await self._apply(rate)
            return rate

    async def run(self) -> None:
        """Sample every ``interval_s`` until cancelled."""
        while True:
            started = time.monotonic()
            try:
                await self.sample()
            except SourceError as exc:
                log.warning("uplink sampling: %s", exc)
            except Exception:  # a failed re-rating is retried with the next sample
                log.exception("uplink re-rating failed")
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.interval_s - elapsed))

"""Health telemetry from psutil: what an operator needs to tell a sick device from a dead link.

CPU, memory, the agent's RSS, disk of the state directory, temperature where a sensor exists,
system and agent uptime, and the uplink interface's state and rates (computed from counter
deltas between two samples). :class:`HealthReporter` adds the agent's own figures (queue,
rejections, store resets) and publishes the message every ``agent.health_interval_s``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import psutil

from edge_agent.contract.payloads import HealthFields, QueueStats, StoreResetInfo
from edge_agent.outbox import Outbox

#: a CPU figure needs at least this much CPU time (all cores) between two samples.
MIN_CPU_WINDOW_S = 1.0


def cpu_busy_pct(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    """Busy share (0-100) between two ``(busy, total)`` CPU-time readings; ``None`` when
    the window is too short to mean anything."""
    total = after[1] - before[1]
    if total < MIN_CPU_WINDOW_S:
        return None
    return min(100.0, max(0.0, 100.0 * (after[0] - before[0]) / total))


def _cpu_reading() -> tuple[float, float]:
    """``(busy, total)`` CPU seconds of the whole host since boot."""
    t = psutil.cpu_times()
    total = float(sum(t))
    idle = float(t.idle) + float(getattr(t, "iowait", 0.0))
    return total - idle, total


@dataclass
class HealthSampler:
    """Samples the host; rates and the CPU share are over the time since this sampler's own
    previous sample.

    Why its own CPU window: ``psutil.cpu_percent(None)`` measures since the previous call by
    anyone in the process. Where many agents share a process (the demo, a cabinet hosting
    several controllers) their calls come microseconds apart, and the share over such a window
    is 0 or 100 % at random: it raised false ``health_cpu`` alarms.
    """

    state_dir: str
    uplink_iface: str | None = None
    cpu_reading: Callable[[], tuple[float, float]] = _cpu_reading
    _process: psutil.Process = field(default_factory=psutil.Process)
    _started: float = field(default_factory=time.monotonic)
    _last_net: tuple[float, int, int] | None = None
    _last_cpu: tuple[float, float] | None = None
    _cpu_pct: float = 0.0

    def __post_init__(self) -> None:
        self._last_cpu = self.cpu_reading()

    def cpu_pct(self) -> float:
        """Host CPU busy share since this sampler's previous figure (kept when too recent)."""
        now = self.cpu_reading()
        if self._last_cpu is None:
            self._last_cpu = now
            return self._cpu_pct
        pct = cpu_busy_pct(self._last_cpu, now)
        if pct is not None:
            self._cpu_pct = round(pct, 1)
            self._last_cpu = now
        return self._cpu_pct

    def sample(self) -> dict[str, object]:
        """One health sample as contract fields (without ``v``, ``ts``, ``seq``, ``queue``)."""
        disk_path = self.state_dir if os.path.exists(self.state_dir) else "/"
        return {
            "cpu_pct": self.cpu_pct(),
            "mem_pct": float(psutil.virtual_memory().percent),
            "rss_mb": round(self._process.memory_info().rss / 1e6, 2),
            "disk_pct": float(psutil.disk_usage(disk_path).percent),
            "uptime_s": max(0.0, round(time.time() - psutil.boot_time(), 1)),
            "agent_uptime_s": round(time.monotonic() - self._started, 1),
            "temp_c": self._temperature(),
            "uplink": self._uplink(),
        }

    def _temperature(self) -> float | None:
        sensors = getattr(psutil, "sensors_temperatures", None)
        if sensors is None:
            return None
        try:
            readings = sensors()
        except OSError:
            return None
        for entries in readings.values():
            for entry in entries:
                if entry.current is not None:
                    return float(entry.current)
        return None

    def _uplink(self) -> dict[str, object]:
        iface = self.uplink_iface
        if iface is None:
            return {"iface": "", "up": False, "rx_bps": 0.0, "tx_bps": 0.0}
        stats = psutil.net_if_stats().get(iface)
        counters = psutil.net_io_counters(pernic=True).get(iface)
        now = time.monotonic()
        rx_bps = tx_bps = 0.0
        if counters is not None:
            if self._last_net is not None:
                t0, rx0, tx0 = self._last_net
                dt = max(now - t0, 1e-3)
                rx_bps = max(0.0, (counters.bytes_recv - rx0) * 8 / dt)
                tx_bps = max(0.0, (counters.bytes_sent - tx0) * 8 / dt)
            self._last_net = (now, counters.bytes_recv, counters.bytes_sent)
        return {
            "iface": iface,
            "up": bool(stats.isup) if stats is not None else False,
            "rx_bps": round(rx_bps, 1),
            "tx_bps": round(tx_bps, 1),
        }


class HealthReporter:
    """Publishes one device's ``health``: at every connect and every ``interval_s``.

    Why apart from the sampler: the sampler measures the host and is replaceable (a process
    hosting simulated devices measures itself, not the host); the reporter adds what only the
    agent knows and decides when to send.
    """

    def __init__(
        self,
        sampler: HealthSampler,
        *,
        interval_s: float,
        outbox: Outbox,
        rejected: Counter[tuple[str, str]],
        is_connected: Callable[[], bool],
        publish: Callable[[HealthFields], Awaitable[bytes]],
        now_ms: Callable[[], int],
    ) -> None:
        """``rejected``: the inbound rejections by (topic name, reason), reported as counted."""
        #: what samples the device (replaceable, see the class docstring).
        self.sampler = sampler
        #: more health fields from the service (a controller's detector faults).
        self.extra: Callable[[], dict[str, object]] | None = None
        self._interval_s = interval_s
        self._outbox = outbox
        self._rejected = rejected
        self._is_connected = is_connected
        self._publish = publish
        self._now_ms = now_ms

    async def loop(self) -> None:
        """Publish health every ``interval_s`` (skipped while offline), for ever."""
        while True:
            await asyncio.sleep(self._interval_s)
            await self.publish_now()

    async def publish_now(self) -> None:
        """Publish one health message now, if connected (QoS 0: offline it would be lost)."""
        if not self._is_connected():
            return
        box = self._outbox
        q = box.queue_state
        oldest = (
            0.0
            if q.oldest_created_ms is None
            else max(0.0, (self._now_ms() - q.oldest_created_ms) / 1000)
        )
        values = self.sampler.sample()
        values["queue"] = QueueStats(
            depth=q.depth, dropped=box.dropped, oldest_age_s=oldest,
            writable=not box.store_failing, refused=box.broker_rejected, unrouted=box.unrouted,
        )
        if box.store_reset is not None:
            r = box.store_reset
            values["store_reset"] = StoreResetInfo(at_ms=r.at_ms, moved_to=r.moved_to,
                                                   reason=r.reason)
        values["rejected"] = {f"{t}:{r}": n for (t, r), n in self._rejected.items()}
        if self.extra is not None:
            values.update(self.extra())
        # the sampler's and the service's parts are dicts (both are replaceable)
        await self._publish(HealthFields.model_validate(values))

"""Health telemetry from psutil: what an operator needs to tell a sick device from a dead link.

CPU, memory, the agent's RSS, disk of the state directory, temperature where a sensor exists,
system and agent uptime, and the uplink interface's state and rates (computed from counter
deltas between two samples). Queue figures are added by the agent.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import psutil


@dataclass
class HealthSampler:
    """Samples the host; rates are per second since the previous sample."""

    state_dir: str
    uplink_iface: str | None = None
    _process: psutil.Process = field(default_factory=psutil.Process)
    _started: float = field(default_factory=time.monotonic)
    _last_net: tuple[float, int, int] | None = None

    def __post_init__(self) -> None:
        self._process.cpu_percent(None)
        psutil.cpu_percent(None)

    def sample(self) -> dict[str, object]:
        """One health sample as contract fields (without ``v``, ``ts``, ``seq``, ``queue``)."""
        disk_path = self.state_dir if os.path.exists(self.state_dir) else "/"
        return {
            "cpu_pct": min(100.0, float(psutil.cpu_percent(None))),
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

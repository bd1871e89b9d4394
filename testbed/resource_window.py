"""CPU and memory of a process over one measuring window, sampled with psutil.

Why: the gateway benchmark states its goals (share of one core, RSS) for the gateway process
and the ``nft`` calls it reaps, and must show how busy the machine was meanwhile, against a
sleeping bare interpreter in the same window; a window written once keeps those figures
comparable between the idle, loaded and probe-flooded phases.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import psutil


@dataclass
class Window:
    """CPU and memory of the gateway over one measuring window."""

    name: str
    seconds: float = 0.0
    gateway_cpu_pct: float = 0.0  # the Python process itself
    nft_children_cpu_pct: float = 0.0  # reaped children: the ``nft`` calls
    dnsmasq_cpu_pct: float = 0.0
    max_2s_cpu_pct: float = 0.0  # gateway + children, busiest 2-s slice
    rss_mb_max: float = 0.0
    rss_mb_end: float = 0.0
    bare_python_cpu_pct: float = 0.0
    machine_busy_pct: float = 0.0  # all cores, everything (other work on the machine)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_cpu_pct(self) -> float:
        """The gateway process and its reaped children together."""
        return self.gateway_cpu_pct + self.nft_children_cpu_pct


def cpu_seconds(p: psutil.Process) -> tuple[float, float]:
    """``(own, reaped children)`` CPU seconds of ``p``."""
    t = p.cpu_times()
    return t.user + t.system, t.children_user + t.children_system


def measure(name: str, seconds: float, gw: psutil.Process, dnsmasq: psutil.Process | None,
            bare: psutil.Process, *, step: float = 0.25) -> Window:
    """Sample ``gw`` for ``seconds`` (CPU as % of one core)."""
    w = Window(name)
    psutil.cpu_percent(None)
    t0 = time.monotonic()
    own0, kids0 = cpu_seconds(gw)
    dns0 = sum(cpu_seconds(dnsmasq)) if dnsmasq else 0.0
    bare0 = sum(cpu_seconds(bare))
    slices: list[tuple[float, float]] = [(t0, own0 + kids0)]
    rss: list[float] = []
    while (now := time.monotonic()) - t0 < seconds:
        rss.append(gw.memory_info().rss / 2**20)
        own, kids = cpu_seconds(gw)
        if now - slices[-1][0] >= 2.0:
            slices.append((now, own + kids))
        time.sleep(step)
    elapsed = time.monotonic() - t0
    own1, kids1 = cpu_seconds(gw)
    slices.append((time.monotonic(), own1 + kids1))
    rss.append(gw.memory_info().rss / 2**20)
    w.seconds = elapsed
    w.gateway_cpu_pct = 100 * (own1 - own0) / elapsed
    w.nft_children_cpu_pct = 100 * (kids1 - kids0) / elapsed
    if dnsmasq:
        w.dnsmasq_cpu_pct = 100 * (sum(cpu_seconds(dnsmasq)) - dns0) / elapsed
    w.bare_python_cpu_pct = 100 * (sum(cpu_seconds(bare)) - bare0) / elapsed
    w.max_2s_cpu_pct = max(
        100 * (b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(slices)
        if b[0] - a[0] > 0.5
    )
    w.rss_mb_max, w.rss_mb_end = max(rss), rss[-1]
    w.machine_busy_pct = psutil.cpu_percent(None)
    return w

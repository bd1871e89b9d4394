"""Measured uplink capacity on a real kernel: a TBF bottleneck in the "internet" namespace
stands in for an LTE link of known capacity; ``kassel bus`` must find that capacity from byte
counters and RTT probes alone and re-rate the admitted client's class without dropping it.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

from testbed.netlab import INTERNET_WEB
from tests.integration.bus_gateway.gatewaylab import BULK, Gateway, Receiver, wait_for

CAPACITY_KBPS = 3000
_RATE = re.compile(r"class htb (1:\w+) .*? rate (\d+(?:\.\d+)?)([KMG]?)bit")
_UNIT = {"": 0.001, "K": 1.0, "M": 1000.0, "G": 1_000_000.0}


def class_rates(gw: Gateway) -> dict[str, float]:
    """kbit/s of every HTB class on the passenger device, by class id."""
    out = gw.lab.ns(gw.lab.gw, "tc", "class", "show", "dev", gw.lab.lan).stdout
    return {m[1]: float(m[2]) * _UNIT[m[3]] for m in _RATE.finditer(out)}


def settled_rates(gw: Gateway) -> dict[str, float]:
    """:func:`class_rates` once two readings 20 ms apart agree (no re-rating pass between).

    A pass changes 1:2 and the clients' classes in one netlink batch, but the kernel takes its
    lock per message: a reading may still fall between two messages of one batch (for
    microseconds); the next one, 20 ms later, would then differ.
    """
    last = class_rates(gw)
    for _ in range(20):
        time.sleep(0.02)
        now = class_rates(gw)
        if now == last:
            return now
        last = now
    return last


def test_estimate_converges_to_the_bottleneck_and_the_client_follows(tmp_path: Path):
    gw = Gateway(tmp_path, passengers=1, bridge=False, wlan_extra={
        "per_client_kbps": 8000, "uplink_kbps": 8000,
        "uplink_autorate": {"min_kbps": 500, "max_kbps": 12000, "interval_s": 0.25},
    })
    try:
        lab = gw.lab
        # the "LTE link": 3 Mbit/s towards the bus with a deep buffer (400 ms), as modems have
        lab.ns(lab.inet, "tc", "qdisc", "add", "dev", "up0", "root", "tbf", "rate",
               f"{CAPACITY_KBPS}kbit", "burst", "6kb", "latency", "400ms")
        ip = lab.dhcp(0)
        assert gw.accept(0)[0] == 200
        wait_for(lambda: "1:100" in class_rates(gw), "the client's class")
        assert class_rates(gw)["1:2"] == 8000  # the configured base before any load
        py = sys.executable
        server = lab.spawn_piped(lab.inet, py, str(BULK), "serve", INTERNET_WEB, "5001", "send")
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        rx = Receiver(lab.spawn_piped(lab.pax[0], py, str(BULK), "connect", INTERNET_WEB,
                                      "5001", "recv"))
        band = (0.6 * CAPACITY_KBPS, 1.25 * CAPACITY_KBPS)
        wait_for(lambda: band[0] <= class_rates(gw)["1:2"] <= band[1],
                 "the estimate to reach the bottleneck's capacity", timeout=60, interval=0.5)
        readings: list[dict[str, float]] = []
        for _ in range(24):  # watch it hold there under continuous load
            readings.append(settled_rates(gw))
            time.sleep(0.5)
        shared = [r["1:2"] for r in readings]
        assert band[0] <= statistics.median(shared) <= 1.15 * CAPACITY_KBPS, shared
        assert all(0.5 * CAPACITY_KBPS <= s <= 1.35 * CAPACITY_KBPS for s in shared), shared
        # one client: its own class follows min(per_client_kbps, uplink share) at every
        # settled reading (a re-rating pass writes the shared class and the clients' in one
        # batch: no state in between lasts long enough to be read twice)
        assert all(r["1:100"] == min(8000, r["1:2"]) for r in readings), readings
        # never disconnected: the same TCP connection kept receiving, the client stays admitted
        t_end = time.time()
        assert rx.proc.poll() is None and server.poll() is None
        assert rx.kbps(t_end - 5, t_end) >= 0.5 * CAPACITY_KBPS
        admitted = lab.ns(lab.gw, "nft", "list", "set", "inet", "kassel_bus", "admitted_ip")
        assert ip in admitted.stdout
        assert "uplink capacity 8000 →" in gw.log.read_text()
    finally:
        gw.close()

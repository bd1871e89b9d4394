"""``kassel bus`` running in a ``NetLab``, and throughput helpers, shared by the gateway's
namespace tests (portal, shaping, measured uplink, hostapd stations).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from testbed.netlab import INTERNET_BROKER, INTERNET_WEB, NetLab

BULK = Path(__file__).with_name("bulk.py")
PER_CLIENT_KBPS = 2000


def wait_for(check, what: str, timeout: float = 20.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class Gateway:
    """A lab with ``kassel bus`` running in the gateway namespace."""

    def __init__(self, tmp: Path, *, passengers: int, bridge: bool,
                 session_timeout_min: float = 240,
                 wlan_extra: dict[str, object] | None = None,
                 config_extra: dict[str, object] | None = None,
                 broker_url: str = f"mqtt://{INTERNET_BROKER}:1883",
                 before_start: Callable[[NetLab], None] | None = None,
                 log_level: str = "INFO") -> None:
        self.lab = NetLab(tmp, passengers=passengers, bridge=bridge)
        self.tmp = tmp
        self.device_id = f"bus-{self.lab.id}"
        self.wlan_extra = wlan_extra or {}
        self.config_extra = config_extra or {}  # top-level sections (gps, mqtt, agent, ...)
        self.broker_url = broker_url
        self.log_level = log_level
        try:
            if before_start is not None:
                before_start(self.lab)  # e.g. the gateway namespace's own resolv.conf
            self._start(session_timeout_min)
        except BaseException:
            self.close()
            raise

    def _start(self, session_timeout_min: float) -> None:
        lab, tmp = self.lab, self.tmp
        (tmp / "www").mkdir()
        (tmp / "www" / "index.html").write_text("hello-internet")
        lab.spawn(lab.inet, sys.executable, "-m", "http.server", "80", "--bind", INTERNET_WEB,
                  "--directory", str(tmp / "www"))
        lab.spawn(lab.inet, sys.executable, "-m", "http.server", "8081", "--bind", INTERNET_WEB,
                  "--directory", str(tmp / "www"))
        conf = tmp / "mosquitto.conf"
        conf.write_text(f"listener 1883 {INTERNET_BROKER}\nallow_anonymous true\n"
                        "persistence false\n")
        lab.spawn(lab.inet, "mosquitto", "-c", str(conf), log=tmp / "mosquitto.log")
        # a service on the gateway itself that passengers must not reach either
        lab.spawn(lab.gw, sys.executable, "-c",
                  "import socket,time\ns=socket.socket()\n"
                  "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                  "s.bind(('0.0.0.0', 1883)); s.listen(); time.sleep(3600)")
        (tmp / "empty.nmea").write_text("")
        config = {
            "device_id": self.device_id,
            "kind": "bus",
            "vehicle": {"id": f"t{self.lab.id}", "capacity_seated": 40, "capacity_total": 90},
            "agent": {"state_dir": str(tmp / "state")},
            "wlan": {
                "backend": "nftables", "interface": lab.lan, "uplink": "wwan0",
                "portal_port": 8080, "per_client_kbps": PER_CLIENT_KBPS,
                "uplink_kbps": 20000, "session_timeout_min": session_timeout_min,
                "idle_timeout_min": 30, **self.wlan_extra,
            },
            "gps": {"source": f"nmea:{tmp / 'empty.nmea'}"},
            "route": {"route_id": "T"},
            **self.config_extra,
        }
        # the lab's broker has no TLS: plain MQTT is asked for explicitly
        extra_mqtt = self.config_extra.get("mqtt")
        config["mqtt"] = {"insecure": True, **(extra_mqtt if isinstance(extra_mqtt, dict) else {})}
        cfg = tmp / "bus.yaml"
        cfg.write_text(json.dumps(config))  # JSON is YAML
        self.log = tmp / "gateway.log"
        self.proc = lab.spawn(
            lab.gw, sys.executable, "-m", "edge_agent.cli", "bus", "--config", str(cfg),
            "--broker", self.broker_url, "--log-level", self.log_level, log=self.log,
        )
        wait_for(self._portal_up, "the portal to answer", timeout=30)

    def _portal_up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited:\n{self.log.read_text()}")
        res = self.lab.ns(self.lab.gw, "curl", "-s", "-m", "1",
                          "http://10.77.0.1:8080/api/captive", check=False)
        return '"captive"' in res.stdout

    def accept(self, index: int) -> tuple[int, str, str]:
        return self.lab.http(index, "http://10.77.0.1:8080/accept", "-X", "POST",
                             "-H", "Accept: application/json")

    def command(self, name: str, args: dict[str, object]) -> None:
        msg = json.dumps({"v": 1, "id": f"c{time.time_ns()}", "name": name, "args": args})
        self.lab.ns(self.lab.inet, "mosquitto_pub", "-h", INTERNET_BROKER, "-q", "1",
                    "-t", f"kassel/v1/device/{self.device_id}/cmd", "-m", msg)

    def close(self) -> None:
        self.lab.close()


class Receiver:
    """Reads the ``time bytes`` lines of a bulk receiver: arrivals, and repeats while idle."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.samples: list[tuple[float, int]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 2:
                self.samples.append((float(parts[0]), int(parts[1])))

    def kbps(self, start: float, end: float) -> float:
        """kbit/s received in ``[start, end]``, counted from one arrival to another.

        The shaper lets a whole (GSO) packet go at once and then waits its length's worth of
        tokens, so the bytes that arrived from arrival ``a`` (included) to arrival ``b``
        (excluded) are exactly what it sent in ``b - a``, however large the packets: no lump is
        counted without its time or the other way round (see ``bulk.py``). A stall after the
        last arrival — nothing although the next was due — still counts: the rate is then the
        bytes up to the last line over the time up to it, if that is lower.
        """
        samples = list(self.samples)
        before = [0, *(n for _, n in samples[:-1])]
        arrivals = [i for i, (t, n) in enumerate(samples)
                    if start <= t <= end and n > before[i]]
        assert len(arrivals) >= 2, f"fewer than two arrivals between {start} and {end}"
        first, last = arrivals[0], arrivals[-1]
        t0, base = samples[first][0], before[first]
        between = (before[last] - base) / (samples[last][0] - t0)
        t_end, n_end = max((s for s in samples if s[0] <= end), key=lambda s: s[0])
        until_end = (n_end - base) / (t_end - t0)
        return min(between, until_end) * 8 / 1000


def class_rate(lab: NetLab, dev: str) -> str:
    out = lab.ns(lab.gw, "tc", "class", "show", "dev", dev).stdout
    return next((ln for ln in out.splitlines() if "1:100 " in ln), "")


def measure(rx: Receiver, settle: float = 1.5, window: float = 3.0) -> float:
    """kbit/s over ``window`` seconds, after ``settle`` (TCP slow start, the queues)."""
    time.sleep(settle)
    t0 = time.time()
    time.sleep(window + 0.2)  # the receiver reports every 0.1 s
    return rx.kbps(t0, t0 + window)

"""Network namespaces for the gateway's integration tests: passengers ↔ gateway ↔ internet.

Every name carries a per-lab suffix so parallel runs do not collide, and :meth:`NetLab.close`
kills what runs in the lab's namespaces (processes the test started there) and deletes them.
Addresses are documentation/shared ranges that exist only inside these namespaces:

* internet namespace: ``100.64.0.1/24`` to the gateway, the web server ``198.51.100.10``
  and the broker host ``198.51.100.20`` on its loopback;
* gateway namespace: uplink ``wwan0`` ``100.64.0.2/24``; the passenger side is a bridge
  ``br-pax`` over one veth port per passenger, or a plain veth ``pax0`` for one passenger.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

INTERNET_WEB = "198.51.100.10"
INTERNET_BROKER = "198.51.100.20"
_COUNTER = itertools.count()
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    ip route replace default via "$router" dev "$interface"
    echo "$ip" > "$LEASE_OUT"
    ;;
esac
"""


def sh(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


class NetLab:
    """One gateway namespace, one internet namespace and N passenger namespaces."""

    def __init__(self, tmp: Path, passengers: int = 2, bridge: bool = True) -> None:
        self.id = f"{os.getpid() % 100000}x{next(_COUNTER)}"
        self.tmp = tmp
        self.gw = f"kbgw-{self.id}"
        self.inet = f"kbin-{self.id}"
        self.pax = [f"kbp{i}-{self.id}" for i in range(passengers)]
        self.bridge = bridge
        self.lan = "br-pax" if bridge else "pax0"
        self.procs: list[subprocess.Popen[str]] = []
        self.namespaces: list[str] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def ns(self, name: str, *cmd: str, check: bool = True, timeout: float = 30
           ) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", name, *cmd, check=check, timeout=timeout)

    def _add_ns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.ns(name, "ip", "link", "set", "lo", "up")

    def _build(self) -> None:
        for name in (self.gw, self.inet, *self.pax):
            self._add_ns(name)
        # uplink
        sh("ip", "link", "add", "kbu" + self.id[-8:], "netns", self.gw, "type", "veth",
           "peer", "name", "kbi" + self.id[-8:], "netns", self.inet)
        self.ns(self.gw, "ip", "link", "set", "kbu" + self.id[-8:], "name", "wwan0")
        self.ns(self.inet, "ip", "link", "set", "kbi" + self.id[-8:], "name", "up0")
        self.ns(self.gw, "ip", "addr", "add", "100.64.0.2/24", "dev", "wwan0")
        self.ns(self.gw, "ip", "link", "set", "wwan0", "up")
        self.ns(self.gw, "ip", "route", "add", "default", "via", "100.64.0.1")
        self.ns(self.inet, "ip", "addr", "add", "100.64.0.1/24", "dev", "up0")
        self.ns(self.inet, "ip", "link", "set", "up0", "up")
        for addr in (INTERNET_WEB, INTERNET_BROKER):
            self.ns(self.inet, "ip", "addr", "add", f"{addr}/32", "dev", "lo")
        # passenger side
        if self.bridge:
            self.ns(self.gw, "ip", "link", "add", "br-pax", "type", "bridge")
            self.ns(self.gw, "ip", "link", "set", "br-pax", "up")
        for i, pns in enumerate(self.pax):
            gw_end = f"ap{i}" if self.bridge else "pax0"
            tmp_a, tmp_b = f"kba{i}{self.id[-8:]}"[:15], f"kbb{i}{self.id[-8:]}"[:15]
            sh("ip", "link", "add", tmp_a, "netns", self.gw, "type", "veth",
               "peer", "name", tmp_b, "netns", pns)
            self.ns(self.gw, "ip", "link", "set", tmp_a, "name", gw_end)
            self.ns(pns, "ip", "link", "set", tmp_b, "name", "eth0")
            self.ns(pns, "ip", "link", "set", "eth0", "address", f"02:00:00:00:0{i}:01")
            self.ns(pns, "ip", "link", "set", "eth0", "up")
            if self.bridge:
                self.ns(self.gw, "ip", "link", "set", gw_end, "master", "br-pax")
            self.ns(self.gw, "ip", "link", "set", gw_end, "up")

    # --- processes -------------------------------------------------------------------------

    def spawn(self, name: str, *cmd: str, log: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        out = log.open("w") if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            ["ip", "netns", "exec", name, *cmd], stdout=out, stderr=subprocess.STDOUT,
            text=True, env=env, start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def spawn_piped(self, name: str, *cmd: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", name, *cmd], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def python(self, name: str, code: str, timeout: float = 20
               ) -> subprocess.CompletedProcess[str]:
        return self.ns(name, sys.executable, "-c", code, check=False, timeout=timeout)

    def dhcp(self, index: int) -> str:
        """Run a DHCP client in passenger ``index``; return the leased address."""
        script = self.tmp / "udhcpc.sh"
        script.write_text(UDHCPC_SCRIPT)
        script.chmod(0o755)
        lease = self.tmp / f"lease{index}"
        env = dict(os.environ, LEASE_OUT=str(lease))
        subprocess.run(
            ["ip", "netns", "exec", self.pax[index], "busybox", "udhcpc", "-i", "eth0",
             "-n", "-q", "-f", "-t", "10", "-T", "1", "-s", str(script)],
            env=env, capture_output=True, text=True, timeout=30, check=True,
        )
        return lease.read_text().strip()

    def http(self, index: int, url: str, *extra: str) -> tuple[int, str, str]:
        """curl from passenger ``index``: (status, Location header, body); 0 when no answer."""
        res = self.ns(self.pax[index], "curl", "-s", "-m", "3", "-o", "-", "-w",
                      "\n%{http_code} %{redirect_url}", *extra, url, check=False, timeout=15)
        body, _, tail = res.stdout.rpartition("\n")
        code, _, location = tail.partition(" ")
        return (int(code) if code.isdigit() else 0), location, body

    def tcp_connects(self, ns_name: str, host: str, port: int, timeout: float = 2.0) -> bool:
        code = (
            "import socket,sys\n"
            f"s=socket.socket(); s.settimeout({timeout})\n"
            f"sys.exit(0 if s.connect_ex(('{host}', {port}))==0 else 1)\n"
        )
        return self.python(ns_name, code).returncode == 0

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for name in reversed(self.namespaces):
            # anything still running in our own namespace was started by this lab
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            sh("ip", "netns", "del", name, check=False)
        self.namespaces.clear()

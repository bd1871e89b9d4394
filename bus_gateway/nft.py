"""nftables adapter: applies :mod:`bus_gateway.domain.firewall` rulesets with ``nft -f``.

Why the ``nft`` binary and not a library: the Debian ``nftables`` package is on every router,
``nft -f -`` applies a whole file as one kernel transaction (all or nothing), and its error
messages point at the offending line. Each call takes a few milliseconds, well inside the
50 ms budget from ``POST /accept`` to traffic passing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address

from bus_gateway.domain.firewall import (
    FAMILY,
    TABLE,
    FirewallSpec,
    mac_text,
    render_admit,
    render_remove,
    render_ruleset,
)
from bus_gateway.errors import FirewallError


@dataclass(frozen=True, slots=True)
class FirewallCounters:
    """Bytes per admitted IP (both directions) and the LAN totals."""

    per_ip: dict[str, int]
    up_bytes: int
    down_bytes: int


class NftFirewall:
    """Owns the ``inet kassel_bus`` table; keeps track of what is admitted in it."""

    def __init__(self, spec: FirewallSpec, nft: str | None = None) -> None:
        self.spec = spec
        self._nft = nft or shutil.which("nft") or "/usr/sbin/nft"
        self._admitted: set[tuple[str, IPv4Address]] = {
            (mac_text(m), ip) for m, ip in spec.admitted
        }

    def _run(self, script: str, *args: str) -> str:
        try:
            proc = subprocess.run(
                [self._nft, *args, "-f", "-"],
                input=script,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FirewallError(f"cannot run {self._nft}: {exc}") from exc
        if proc.returncode != 0:
            raise FirewallError(proc.stderr.strip() or f"nft exited {proc.returncode}")
        return proc.stdout

    def install(self) -> None:
        """Install (or atomically replace) the whole table with the admitted clients."""
        spec = FirewallSpec(
            self.spec.lan,
            self.spec.uplink,
            self.spec.gateway,
            self.spec.portal_port,
            self.spec.walled_garden,
            self.spec.protected,
            tuple(sorted(self._admitted)),
        )
        self._run(render_ruleset(spec))

    def admit(self, mac: str, ip: IPv4Address) -> None:
        """Add one client (MAC + IP) to the admitted sets."""
        key = (mac_text(mac), ip)
        if key in self._admitted:
            return
        self._run(render_admit(*key))
        self._admitted.add(key)

    def remove(self, mac: str, ip: IPv4Address) -> None:
        """Remove one client from the admitted sets; its open connections stop at once."""
        key = (mac_text(mac), ip)
        if key not in self._admitted:
            return
        self._run(render_remove(*key))
        self._admitted.discard(key)

    def admitted(self) -> set[tuple[str, IPv4Address]]:
        """What the table holds (as this adapter put it there)."""
        return set(self._admitted)

    def counters(self) -> FirewallCounters:
        """Per-client byte counters of both sets and the LAN totals (one ``nft -j`` call)."""
        try:
            proc = subprocess.run(
                [self._nft, "-j", "list", "table", FAMILY, TABLE],
                capture_output=True, text=True, timeout=10, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FirewallError(f"cannot run {self._nft}: {exc}") from exc
        if proc.returncode != 0:
            raise FirewallError(proc.stderr.strip() or f"nft exited {proc.returncode}")
        per_ip: dict[str, int] = {}
        totals = {"lan_up": 0, "lan_down": 0}
        for item in json.loads(proc.stdout).get("nftables", []):
            if "set" in item and item["set"]["name"] in ("admitted", "admitted_ip"):
                for elem in item["set"].get("elem", []):
                    e = elem.get("elem", {}) if isinstance(elem, dict) else {}
                    val = e.get("val")
                    if isinstance(val, dict):  # the MAC . IP concatenation
                        val = val.get("concat", [None, None])[1]
                    nbytes = int(e.get("counter", {}).get("bytes", 0))
                    per_ip[str(val)] = per_ip.get(str(val), 0) + nbytes
            elif "counter" in item and item["counter"]["name"] in totals:
                totals[item["counter"]["name"]] = int(item["counter"].get("bytes", 0))
        return FirewallCounters(per_ip, totals["lan_up"], totals["lan_down"])

    def close(self) -> None:
        """Admit nobody: on shutdown the passenger side stays closed rather than open."""
        self._admitted.clear()
        self.install()

    def uninstall(self) -> None:
        """Remove the table altogether (tests, decommissioning)."""
        self._run(f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n")
        self._admitted.clear()

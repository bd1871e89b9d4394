"""DHCP and DNS for passengers through dnsmasq, configured and supervised by the gateway.

Why dnsmasq: one small Debian package does both, binds to one interface only, and carries the
RFC 8910 captive-portal option (DHCP option 114) that lets a phone find the portal's RFC 8908
API without guessing. The gateway writes the config from :class:`~edge_agent.contract.configs.
WlanConfig`, checks it with ``dnsmasq --test``, runs dnsmasq in the foreground as a child and
restarts it with backoff when it dies; the lease file tells which MAC holds which IP.

Hostile passengers (docs/bus_gateway.md, "DHCP lease policy"):

* **Bounded logging.** Routine DHCP is not logged (``quiet-dhcp``); what dnsmasq still writes
  to stderr (start-up, errors) is read as it comes: at most :data:`LOG_LINES_PER_MIN` lines a
  minute reach the gateway's log, the last :data:`LOG_TAIL` lines are kept for the message when
  dnsmasq exits, and nothing else is held. (It used to be collected by ``communicate()`` until
  dnsmasq exited: every DHCP packet grew the gateway's memory.)
* **Short leases until the terms are accepted.** The pool hands out ``pre_accept_lease_s``
  (5 min); a client the portal admits gets a ``dhcp-host`` line with the normal lease in
  ``dhcp-hostsdir``, which dnsmasq reads by itself (inotify) and applies at the client's next
  renewal. An address taken by someone who never accepts is free again within minutes.
* **No ping check** (``no-ping``): dnsmasq otherwise stops answering DHCP for up to 3 s while it
  pings each new address (six times per 30 s before it gives up checking), so a stream of
  DISCOVERs from new addresses stalls every passenger's DHCP. Nobody on a passenger LAN has a
  static address inside the pool.
* The per-station packet rate is limited in the kernel (``domain/firewall.py``).

**No passenger's MAC or address in the gateway's log** (issue 15): every line of dnsmasq's is
passed through :func:`scrub_passengers` before it is logged or kept — dnsmasq names the
``dhcp-hostsdir`` file of an admitted client, which is named by its MAC, and would name MACs
and addresses in any DHCP message it logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from bus_gateway.errors import DhcpError

log = logging.getLogger(__name__)

#: dnsmasq's stderr lines passed on to the gateway's log per minute (the rest are counted)
LOG_LINES_PER_MIN = 20
#: the last lines of dnsmasq's stderr kept for the message when it exits
LOG_TAIL = 20
#: longest line kept (a line without an end is cut here as well)
LOG_LINE_MAX = 300


@dataclass(frozen=True, slots=True)
class DnsmasqSettings:
    """What the generated dnsmasq.conf depends on."""

    interface: str
    gateway: IPv4Interface
    portal_port: int
    state_dir: Path
    #: lease of a client the portal admitted (applied from its next renewal)
    lease_s: int = 3600
    #: lease of everybody else: the pool recovers within minutes from who never accepts
    pre_accept_lease_s: int = 300
    upstream_dns: tuple[str, ...] = ()
    dns_port: int = 53

    @property
    def api_url(self) -> str:
        """The RFC 8908 API URL announced in option 114."""
        return f"http://{self.gateway.ip}:{self.portal_port}/api/captive"

    @property
    def lease_file(self) -> Path:
        """Where dnsmasq keeps its leases."""
        return self.state_dir / "dnsmasq.leases"

    @property
    def hosts_dir(self) -> Path:
        """``dhcp-hostsdir``: one file per admitted client with its normal lease."""
        return self.state_dir / "dhcp-hosts"

    @property
    def conf_file(self) -> Path:
        """The generated configuration."""
        return self.state_dir / "dnsmasq.conf"


#: a MAC address with ``:``, ``-`` or no separators (dnsmasq's host files are named so).
_MAC = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"
                  r"(?![0-9A-Fa-f])")
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")


def scrub_passengers(text: str, gateway: IPv4Interface) -> str:
    """``text`` with every MAC and every passenger address (the gateway's subnet, except the
    gateway itself) replaced by ``-``; other addresses (upstream DNS servers) stay."""

    def address(match: re.Match[str]) -> str:
        try:
            ip = IPv4Address(match.group(0))
        except ValueError:
            return match.group(0)
        inside = ip in gateway.network and ip != gateway.ip
        return "-" if inside else match.group(0)

    return _IPV4.sub(address, _MAC.sub("-", text))


def dhcp_range(gateway: IPv4Interface) -> tuple[str, str]:
    """First and last address handed out: the subnet minus the gateway and 9 reserved."""
    hosts = [h for h in gateway.network.hosts() if h != gateway.ip]
    if len(hosts) < 12:
        raise DhcpError(f"{gateway.network} is too small for a passenger network")
    return str(hosts[9]), str(hosts[-1])


def render_conf(s: DnsmasqSettings) -> str:
    """The dnsmasq configuration for the passenger side."""
    first, last = dhcp_range(s.gateway)
    lines = [
        "# generated by bus_gateway: do not edit",
        f"interface={s.interface}",
        "bind-interfaces",
        "except-interface=lo",
        f"listen-address={s.gateway.ip}",
        f"port={s.dns_port}",
        f"dhcp-range={first},{last},{s.gateway.netmask},{s.pre_accept_lease_s}s",
        f"dhcp-hostsdir={s.hosts_dir}",
        "quiet-dhcp",
        "no-ping",
        f"dhcp-option=option:router,{s.gateway.ip}",
        f"dhcp-option=option:dns-server,{s.gateway.ip}",
        # RFC 8910: the captive-portal API URI (RFC 8908)
        f'dhcp-option=114,"{s.api_url}"',
        "dhcp-authoritative",
        "dhcp-rapid-commit",
        f"dhcp-leasefile={s.lease_file}",
        "domain-needed",
        "bogus-priv",
        "no-hosts",
        "cache-size=1000",
        "log-facility=-",
    ]
    if s.upstream_dns:
        lines.append("no-resolv")
        lines.extend(f"server={server}" for server in s.upstream_dns)
    return "\n".join(lines) + "\n"


def read_leases(path: Path) -> dict[str, str]:
    """IP → MAC from a dnsmasq lease file (``expiry mac ip hostname client-id`` lines)."""
    out: dict[str, str] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 3:
                out[parts[2]] = parts[1].lower()
    return out


class DnsmasqSupervisor:
    """Runs dnsmasq as a child and restarts it when it exits."""

    def __init__(self, settings: DnsmasqSettings, binary: str | None = None) -> None:
        self.settings = settings
        self._binary = binary or shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self.restarts = 0
        #: lines and bytes dnsmasq wrote to stderr, and lines not passed on to the log
        self.log_lines = 0
        self.log_bytes = 0
        self.log_suppressed = 0
        self._tail: deque[str] = deque(maxlen=LOG_TAIL)
        self._shown = 0
        self._window_start = time.monotonic()
        self._hosts: set[str] = set()

    def write_config(self) -> None:
        """Write and check the configuration (``dnsmasq --test``)."""
        s = self.settings
        s.state_dir.mkdir(parents=True, exist_ok=True)
        s.hosts_dir.mkdir(exist_ok=True)
        for stale in s.hosts_dir.iterdir():  # nobody is admitted at start
            stale.unlink()
        self._hosts.clear()
        s.conf_file.write_text(render_conf(s), encoding="utf-8")
        s.lease_file.touch()
        try:
            proc = subprocess.run(
                [self._binary, "--test", f"--conf-file={s.conf_file}"],
                capture_output=True, text=True, timeout=10, check=False,
            )
        except OSError as exc:
            raise DhcpError(f"cannot run {self._binary}: {exc}") from exc
        if proc.returncode != 0:
            raise DhcpError(f"dnsmasq refused {s.conf_file}: {proc.stderr.strip()}")

    async def start(self) -> None:
        """Write the config, start dnsmasq and keep it running."""
        self.write_config()
        await self._spawn()
        self._task = asyncio.create_task(self._supervise_loop(), name="dnsmasq-supervisor")

    async def _spawn(self) -> None:
        s = self.settings
        self._proc = await asyncio.create_subprocess_exec(
            self._binary, "--keep-in-foreground", f"--conf-file={s.conf_file}",
            "--user=root", f"--pid-file={s.state_dir / 'dnsmasq.pid'}",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stderr is not None
        self._reader = asyncio.create_task(self._read_log(self._proc.stderr),
                                           name="dnsmasq-log")

    async def _read_log(self, stream: asyncio.StreamReader) -> None:
        """Pass dnsmasq's stderr on, rate-limited; keep only its last lines."""
        pending = b""
        while chunk := await stream.read(4096):
            self.log_bytes += len(chunk)
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()[-LOG_LINE_MAX:]
            for raw in lines:
                self._log_line(raw)
        if pending:
            self._log_line(pending)

    def _log_line(self, raw: bytes) -> None:
        text = scrub_passengers(raw[:LOG_LINE_MAX].decode(errors="replace").strip(),
                                self.settings.gateway)
        if not text:
            return
        self.log_lines += 1
        self._tail.append(text)
        now = time.monotonic()
        if now - self._window_start >= 60.0:
            if self._shown > LOG_LINES_PER_MIN:
                log.info("dnsmasq: %d more lines in the last minute not logged",
                         self._shown - LOG_LINES_PER_MIN)
            self._shown, self._window_start = 0, now
        self._shown += 1
        if self._shown <= LOG_LINES_PER_MIN:
            log.info("dnsmasq: %s", text)
        else:
            self.log_suppressed += 1

    async def _supervise_loop(self) -> None:
        delay = 0.5
        while True:
            proc = self._proc
            assert proc is not None
            await proc.wait()
            if self._reader is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._reader, 2.0)
            log.warning(
                "dnsmasq exited with %s: %s; restarting in %.1f s",
                proc.returncode, " | ".join(self._tail)[-400:], delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            self.restarts += 1
            await self._spawn()

    @property
    def running(self) -> bool:
        """Whether dnsmasq is up right now."""
        return self._proc is not None and self._proc.returncode is None

    def leases(self) -> dict[str, str]:
        """IP → MAC of current leases."""
        return read_leases(self.settings.lease_file)

    def set_admitted(self, macs: Iterable[str]) -> None:
        """Give exactly ``macs`` the normal lease (from their next renewal).

        A new client is a new file in ``dhcp-hostsdir``, which dnsmasq picks up by itself;
        dnsmasq forgets removed entries only on ``SIGHUP`` (which also empties its DNS cache),
        so one is sent when a batch removed any. Called from the dataplane's worker thread.
        """
        want = {m.lower() for m in macs}
        d = self.settings.hosts_dir
        for mac in sorted(want - self._hosts):
            name = mac.replace(":", "")
            tmp = d / f".{name}.tmp"  # dnsmasq skips dot files; the rename is atomic
            tmp.write_text(f"{mac},{self.settings.lease_s}s\n", encoding="ascii")
            tmp.rename(d / name)
        removed = self._hosts - want
        for mac in removed:
            with contextlib.suppress(FileNotFoundError):
                (d / mac.replace(":", "")).unlink()
        self._hosts = want
        proc = self._proc
        if removed and proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGHUP)

    async def stop(self) -> None:
        """Stop supervising and terminate dnsmasq."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        self._proc = None

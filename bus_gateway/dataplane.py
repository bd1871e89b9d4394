"""The kernel side of the passenger WLAN: addresses, isolation, nftables, HTB, dnsmasq.

Why one class behind a small interface (:class:`bus_gateway.wlan.Dataplane`): the session
rules in :mod:`bus_gateway.wlan` are the same for the real router and the demo; only this
adapter touches the kernel. Netlink and nftables calls run on two dedicated worker threads,
each with its own pyroute2 socket (a socket is never shared between threads, and the event loop
must keep serving the portal while nftables runs): one for links, neighbours and the firewall,
one for shaping. Shaping requests (:meth:`KernelDataplane.shape`) are handed to the shaping
thread the moment they are made and applied in that order, so the caller's plan and the
kernel never disagree about which request came first. Firewall changes go through a
:class:`GroupCommit`: those that arrive while a transaction runs are merged into the next one
(ten passengers accepting at one stop cost two transactions, not ten in a row). A change that
admits a client names the shaping request that puts the client's class (``after``); the
transaction waits for it, and a change whose class could not be put is refused on its own.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from bus_gateway.dhcp import DnsmasqSettings, DnsmasqSupervisor
from bus_gateway.domain.firewall import AdmissionChange, FirewallSpec
from bus_gateway.domain.shaping import ShapingDiff
from bus_gateway.errors import FirewallError, GatewayError, ShaperError
from bus_gateway.groupcommit import GroupCommit
from bus_gateway.hostapd import HostapdStations
from bus_gateway.nft import FirewallCounters, NftFirewall
from bus_gateway.shaper import HtbShaper

log = logging.getLogger(__name__)
T = TypeVar("T")

#: neighbour states that mean "the device is on the LAN now" (REACHABLE, STALE, DELAY, PROBE).
_PRESENT_STATES = 0x02 | 0x04 | 0x08 | 0x10


class KernelDataplane:
    """nftables + HTB/IFB + dnsmasq on a real (or namespaced) Linux network stack."""

    def __init__(
        self,
        *,
        lan: str,
        uplink: str,
        gateway: IPv4Interface,
        portal_port: int,
        walled_garden: tuple[IPv4Address, ...],
        state_dir: Path,
        uplink_kbps: int,
        upstream_dns: tuple[str, ...] = (),
        hostapd_ctrl_dir: Path = Path("/var/run/hostapd"),
    ) -> None:
        self.lan = lan
        self.gateway = gateway
        self.uplink_kbps = uplink_kbps
        self.firewall = NftFirewall(
            # the broker's addresses are not known yet: nothing is forwarded until they are
            FirewallSpec(lan, uplink, gateway, portal_port, walled_garden, protected=None)
        )
        self.dnsmasq = DnsmasqSupervisor(
            DnsmasqSettings(lan, gateway, portal_port, state_dir, upstream_dns=upstream_dns)
        )
        self.hostapd = HostapdStations(hostapd_ctrl_dir)
        self._commits: GroupCommit[tuple[AdmissionChange, asyncio.Future[None] | None]] = (
            GroupCommit(self._apply_changes, name="firewall-commit")
        )
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dataplane")
        self._shape_pool = ThreadPoolExecutor(1, thread_name_prefix="shaper")
        self._ipr: IPRoute | None = None
        self._lan_index: int | None = None  # resolved by _prepare_links
        self._shaper: HtbShaper | None = None

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def _shape_call(self, fn: Callable[[HtbShaper], T]) -> T:
        return await self._shape_queue(fn)

    def _shape_queue(self, fn: Callable[[HtbShaper], T]) -> asyncio.Future[T]:
        """Hand ``fn`` to the shaping thread now (in call order); its future."""

        def run() -> T:
            if self._shaper is None:
                # its own netlink socket, made and used on the shaping thread only
                self._shaper = HtbShaper(self.lan)
            return fn(self._shaper)

        return asyncio.get_running_loop().run_in_executor(self._shape_pool, run)

    def _ip(self) -> IPRoute:
        if self._ipr is None:
            self._ipr = IPRoute()
        return self._ipr

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Bring the LAN up, close it with the firewall, then shaping and DHCP."""
        await self._call(self._prepare_links)
        await self._call(self.firewall.install)
        await self._shape_call(lambda shaper: shaper.setup(self.uplink_kbps))
        await self.dnsmasq.start()

    def _prepare_links(self) -> None:
        ipr = self._ip()
        found = ipr.link_lookup(ifname=self.lan)
        if not found:
            raise GatewayError(f"passenger interface {self.lan} does not exist")
        idx = int(found[0])
        have = {
            (a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=idx)
        }
        if (str(self.gateway.ip), self.gateway.network.prefixlen) not in have:
            ipr.addr("add", index=idx, address=str(self.gateway.ip),
                     prefixlen=self.gateway.network.prefixlen)
        ipr.link("set", index=idx, state="up")
        self._lan_index = idx
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n", encoding="ascii")
        self._isolate_ports()

    def _isolate_ports(self) -> list[int]:
        """Bridge-port isolation: ports of the passenger bridge may not talk to each other."""
        ipr = self._ip()
        lan = int(ipr.link_lookup(ifname=self.lan)[0])
        changed = []
        for link in ipr.get_links():
            if link.get_attr("IFLA_MASTER") != lan:
                continue
            info = link.get_attr("IFLA_LINKINFO")
            slave = info.get_attr("IFLA_INFO_SLAVE_DATA") if info is not None else None
            if slave is not None and slave.get_attr("IFLA_BRPORT_ISOLATED") == 1:
                continue
            ipr.brport("set", index=link["index"], isolated=1)
            changed.append(int(link["index"]))
        return changed

    async def stop(self) -> None:
        """Close the passenger side (nobody admitted), stop dnsmasq, remove shaping."""
        await self.dnsmasq.stop()
        try:
            await self._commits.drain()
            await self._call(self.firewall.close)
        finally:
            try:
                if self._shaper is not None:
                    await self._shape_call(HtbShaper.teardown)
                    await self._shape_call(HtbShaper.close)
            finally:
                await self._call(self.hostapd.close)
                if self._ipr is not None:
                    await self._call(self._ipr.close)
                await self._call(self.firewall.release)
                self._shape_pool.shutdown(wait=True)
                self._pool.shutdown(wait=True)

    async def maintain(self) -> None:
        """Isolate and redirect bridge ports that appeared (an access point plugged in)."""
        new = await self._call(self._isolate_ports)
        if new:
            log.info("isolated new bridge ports %s", new)
        await self._shape_call(HtbShaper.sync_ports)

    # --- clients -------------------------------------------------------------------------

    def submit(
        self, change: AdmissionChange, after: asyncio.Future[None] | None = None
    ) -> asyncio.Future[None]:
        """Queue a change of the admitted sets (group commit, in call order).

        ``after`` is the shaping request that puts the admitted client's class; the change
        is applied once it is done. The future is done when the change is in the kernel
        (traffic passes), or carries the :class:`ShaperError` of ``after`` (not applied) or
        the :class:`FirewallError` that refused it.
        """
        return self._commits.submit((change, after))

    async def _apply_changes(
        self, items: list[tuple[AdmissionChange, asyncio.Future[None] | None]]
    ) -> list[BaseException | None]:
        results: list[BaseException | None] = [None] * len(items)
        ready: list[int] = []
        for i, (_, after) in enumerate(items):
            if after is not None:
                # in order on one thread: by the time the first is done, most of the others are
                await asyncio.wait([after])
                if after.cancelled():
                    results[i] = ShaperError("the client's class was not put (cancelled)")
                    continue
                error = after.exception()
                if error is not None:
                    results[i] = error
                    continue
            ready.append(i)
        if ready:
            applied = await self._call(self._apply_and_lease, [items[i][0] for i in ready])
            for i, result in zip(ready, applied, strict=True):
                results[i] = result
        return results

    def _apply_and_lease(self, changes: list[AdmissionChange]) -> list[FirewallError | None]:
        """The firewall transaction, then the admitted clients' normal DHCP lease."""
        results = self.firewall.apply(changes)
        try:
            self.dnsmasq.set_admitted(mac for mac, _ in self.firewall.admitted())
        except OSError as exc:  # the short lease stays: the client renews more often
            log.warning("cannot update the admitted clients' DHCP leases: %s", exc)
        return results

    async def set_protected(self, addresses: tuple[IPv4Address, ...]) -> None:
        """The broker's addresses, on every port; the first call opens forwarding."""
        await self._call(self.firewall.set_protected, addresses)

    def shape(self, diff: ShapingDiff, uplink_kbps: int) -> asyncio.Future[None]:
        """Queue shaping differences (handed to the shaping thread now, applied in order)."""
        return self._shape_queue(lambda shaper: shaper.apply(diff, uplink_kbps))

    async def counters(self) -> FirewallCounters:
        """Per-client and total byte counters."""
        return await self._call(self.firewall.counters)

    async def stations(self) -> dict[str, str | None]:
        """MAC → IP (``None`` while unknown) of the associated devices.

        From hostapd's control interface when the access point is hostapd (its station list
        is authoritative: associated now, whether or not the phone sent traffic lately), with
        addresses from the neighbour table and the leases; else the neighbour table alone.
        """
        return await self._call(self._stations)

    def _stations(self) -> dict[str, str | None]:
        neighbours = self._neighbour_stations()
        if not self.hostapd.available():
            return neighbours
        associated = self.hostapd.poll()
        by_lease = {mac.lower(): ip for ip, mac in self.dnsmasq.leases().items()}
        return {mac: neighbours.get(mac) or by_lease.get(mac) for mac in associated}

    def _neighbour_stations(self) -> dict[str, str | None]:
        ipr = self._ip()
        found = ipr.link_lookup(ifname=self.lan)
        out: dict[str, str | None] = {}
        if not found:
            return out
        for n in ipr.get_neighbours(ifindex=int(found[0]), family=socket.AF_INET):
            mac, ip = n.get_attr("NDA_LLADDR"), n.get_attr("NDA_DST")
            if mac and ip and n["state"] & _PRESENT_STATES:
                out[str(mac).lower()] = str(ip)
        return out

    async def lookup_mac(self, ip: IPv4Address) -> str | None:
        """The MAC of ``ip`` on the passenger LAN: the neighbour table first, then leases."""
        mac = await self._call(self._neighbour_mac, ip)
        if mac is None:
            mac = self.dnsmasq.leases().get(str(ip))
        return mac

    def _neighbour_mac(self, ip: IPv4Address) -> str | None:
        ipr = self._ip()
        if self._lan_index is None:
            found = ipr.link_lookup(ifname=self.lan)
            if not found:
                return None
            self._lan_index = int(found[0])
        try:
            # one entry asked for by address (a dump of the whole table costs ~9 ms of Python
            # with 100 passengers) on the LAN's index resolved at start (a name lookup is one
            # more round trip): this sits between ``POST /accept`` and traffic passing
            for n in ipr.neigh("get", dst=str(ip), ifindex=self._lan_index):
                mac = n.get_attr("NDA_LLADDR")
                if mac and n["state"] & (_PRESENT_STATES | 0x80):  # or PERMANENT
                    return str(mac).lower()
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:  # the LAN device was recreated: look it up again
                self._lan_index = None
            return None
        return None

"""The passenger WLAN service: sessions, admission, fair shares, statistics.

Why split from the kernel: :class:`WlanGateway` holds the portal's rules (who is admitted,
until when, at what rate) on top of a :class:`Dataplane` that does the work —
:class:`bus_gateway.dataplane.KernelDataplane` on a router (``wlan.backend: nftables``) and
:class:`SimulatedDataplane` in the demo (``simulated``: same behaviour, no root, no kernel).
The portal and the MQTT app only talk to :class:`WlanGateway`.

Admission is deterministic about shaping and still fast: an admitted passenger's traffic is
never forwarded outside a class capped at a fair share. The new client's class is queued on
the dataplane's shaping queue first (:meth:`ShapingPlan.place`: its own slot, at the fair share
that counts it) and its firewall element is submitted *after* it — the firewall change waits
for the class, so by the time traffic passes the class and its filter exist on both devices.
Putting one class is a single bulk netlink round trip (``bus_gateway/shaper.py``), about what
the old background add cost, so the portal's "online" answer is a fraction of a millisecond
later than before. The re-rating of everybody else follows in the background.

Shaping requests are applied in the order they are made (one queue, one worker), and a plan
change and its request are made together, with no ``await`` between them: a placement and a
pass can never overtake each other in the kernel. Session changes and the order of firewall
changes are guarded by one lock, but the lock is not held while the kernel works: a change is
submitted to the dataplane's group commit under the lock and awaited outside it, so passengers
accepting at the same moment share one nftables transaction. Re-rating has its own lock and
background task: neither the firewall element nor the HTTP answer of a passenger posting
``/accept`` waits for it. Concurrent session changes share shaping passes, and a pass waits (at
most :data:`ADMISSIONS_FIRST_S`) while admissions are in flight: on two cores its Python would
compete with theirs for the GIL, and ten passengers boarding at once then cost one pass after
the last of them instead of two passes in their way. A shaping request that fails puts the
plan in doubt (:meth:`ShapingPlan.resync`): the next pass, at the latest at the next upkeep
tick, puts every class again.

Fair shares count the *admitted* clients (see :mod:`bus_gateway.domain.shaping`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Protocol

from bus_gateway.dataplane import KernelDataplane
from bus_gateway.domain.firewall import AdmissionChange, pair
from bus_gateway.domain.sessions import ClientSession, SessionTable
from bus_gateway.domain.shaping import ShapingDiff, ShapingPlan
from bus_gateway.errors import FirewallError, PortalError, ShaperError
from bus_gateway.nft import FirewallCounters
from edge_agent.contract.configs import WlanConfig
from edge_agent.contract.payloads import WlanFields

log = logging.getLogger(__name__)

#: longest a shaping pass waits for admissions in flight (a steady stream must not starve it)
ADMISSIONS_FIRST_S = 0.25


class Dataplane(Protocol):
    """What the session logic needs from the network (kernel or simulation)."""

    async def start(self) -> None:
        """Set up; the passenger side is closed when this returns."""

    async def stop(self) -> None:
        """Tear down, leaving the passenger side closed."""

    async def maintain(self) -> None:
        """Periodic upkeep (new bridge ports, ...)."""

    def submit(
        self, change: AdmissionChange, after: asyncio.Future[None] | None = None
    ) -> asyncio.Future[None]:
        """Queue a firewall change (applied in call order, and not before ``after`` is done).

        The future is done when the change is in the kernel; it carries ``after``'s error (the
        change is then not applied) or the firewall's.
        """

    def shape(self, diff: ShapingDiff, uplink_kbps: int) -> asyncio.Future[None]:
        """Queue per-client class changes, applied in call order; done when they are."""

    async def counters(self) -> FirewallCounters:
        """Byte counters per admitted IP and in total."""

    async def set_protected(self, addresses: tuple[IPv4Address, ...]) -> None:
        """Passengers may never reach ``addresses`` (the broker's, every port).

        Until the first call nothing from the passengers is forwarded (fail closed).
        """

    async def stations(self) -> dict[str, str | None]:
        """MAC → IP (``None`` while unknown) of the devices associated to the WLAN now."""

    async def lookup_mac(self, ip: IPv4Address) -> str | None:
        """The MAC address behind ``ip`` on the passenger LAN."""


class SimulatedDataplane:
    """An in-memory dataplane for the demo: stations are added by the simulation."""

    def __init__(self) -> None:
        self.admitted: dict[str, str] = {}
        self.rates: dict[str, int] = {}
        self.present: dict[str, str] = {}
        self.bytes: dict[str, int] = {}
        self.protected: tuple[IPv4Address, ...] | None = None

    async def start(self) -> None:
        """Nothing to set up."""

    async def stop(self) -> None:
        """Forget every admission."""
        self.admitted.clear()

    async def maintain(self) -> None:
        """Nothing to maintain."""

    def submit(
        self, change: AdmissionChange, after: asyncio.Future[None] | None = None
    ) -> asyncio.Future[None]:
        """Record the change once ``after`` is done (at once when it is)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def apply(_: object = None) -> None:
            error = _failure(after)
            if error is not None:
                done.set_exception(error)
                return
            for mac, ip in change.remove:
                if self.admitted.get(mac) == str(ip):
                    del self.admitted[mac]
            for mac, ip in change.admit:
                self.admitted[mac] = str(ip)
            done.set_result(None)

        if after is None or after.done():
            apply()
        else:
            after.add_done_callback(apply)
        return done

    def shape(self, diff: ShapingDiff, uplink_kbps: int) -> asyncio.Future[None]:
        """Record the rates at once."""
        for c in diff.remove:
            self.rates.pop(c.ip, None)
        for c in (*diff.add, *diff.change):
            self.rates[c.ip] = c.rate_kbps
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def set_protected(self, addresses: tuple[IPv4Address, ...]) -> None:
        """Record the broker's addresses."""
        self.protected = addresses

    async def counters(self) -> FirewallCounters:
        """The simulated byte counts."""
        per_ip = {ip: self.bytes.get(ip, 0) for ip in self.admitted.values()}
        total = sum(per_ip.values())
        return FirewallCounters(per_ip, total // 4, total - total // 4)

    async def stations(self) -> dict[str, str | None]:
        """The simulated stations."""
        return dict(self.present)

    async def lookup_mac(self, ip: IPv4Address) -> str | None:
        """MAC of a simulated station, or a stable made-up one (the demo's browser)."""
        for mac, sip in self.present.items():
            if sip == str(ip):
                return mac
        digest = hashlib.blake2b(str(ip).encode(), digest_size=5).digest()
        return ":".join(f"{b:02x}" for b in b"\x02" + digest)

    def station_joined(self, mac: str, ip: str) -> None:
        """A simulated phone associated and got ``ip``."""
        self.present[mac.lower()] = ip

    def station_left(self, mac: str) -> None:
        """A simulated phone left."""
        self.present.pop(mac.lower(), None)


def _failure(future: asyncio.Future[None] | None) -> BaseException | None:
    """The error of a finished ``future`` (``None``: none, or no future)."""
    if future is None:
        return None
    if future.cancelled():
        return ShaperError("the client's class was not put in place (cancelled)")
    return future.exception()


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """What the portal tells one client about itself."""

    admitted: bool
    seconds_remaining: int | None


@dataclass(frozen=True, slots=True)
class WlanStats:
    """The ``wlan`` payload's fields besides ``v``, ``ts``, ``seq`` and ``vehicle_id``."""

    clients_associated: int
    clients_authenticated: int
    rx_bytes: int
    tx_bytes: int
    uplink_kbps: int
    per_client_kbps: int

    def payload_fields(self, vehicle_id: str) -> WlanFields:
        """The ``wlan`` message of vehicle ``vehicle_id``, for ``agent.publish``."""
        return WlanFields(
            vehicle_id=vehicle_id,
            clients_associated=self.clients_associated,
            clients_authenticated=self.clients_authenticated,
            rx_bytes=self.rx_bytes,
            tx_bytes=self.tx_bytes,
            uplink_kbps=self.uplink_kbps,
            per_client_kbps=self.per_client_kbps,
        )


class WlanGateway:
    """Sessions and fair shares over a :class:`Dataplane`."""

    def __init__(
        self,
        config: WlanConfig,
        dataplane: Dataplane,
        clock_ms: Callable[[], int],
    ) -> None:
        self.config = config
        self.dataplane = dataplane
        self._now = clock_ms
        self.sessions = SessionTable(
            config.session_timeout_min * 60, config.idle_timeout_min * 60
        )
        self.plan = ShapingPlan(config.per_client_kbps, config.uplink_kbps)
        self._lock = asyncio.Lock()  # sessions and the firewall
        self._shape_lock = asyncio.Lock()  # the shaping plan and its classes
        self._shape_wanted = 0  # session changes that need a shaping pass …
        self._shape_done = 0  # … and how many of them the passes so far covered
        self._shape_task: asyncio.Task[None] | None = None
        self.shaping_failures = 0
        self._admitting = 0  # ``accept`` calls between the MAC lookup and the firewall
        self._no_admissions = asyncio.Event()
        self._no_admissions.set()
        self._stations: dict[str, str | None] = {}
        self._totals = (0, 0)
        self.admissions = 0

    @property
    def gateway(self) -> IPv4Interface:
        """The gateway's address on the passenger side."""
        return self.config.gateway

    @property
    def portal_url(self) -> str:
        """Where the terms page is."""
        return f"http://{self.gateway.ip}:{self.config.portal_port}/"

    async def start(self) -> None:
        """Start the dataplane (closed: nobody admitted)."""
        await self.dataplane.start()

    async def stop(self) -> None:
        """Stop the dataplane (closed again)."""
        try:
            await self.shaped()
        finally:
            await self.dataplane.stop()

    def _on_lan(self, ip: IPv4Address) -> bool:
        return ip in self.gateway.network and ip != self.gateway.ip

    async def accept(self, ip_text: str) -> ClientSession:
        """``POST /accept`` from ``ip_text``: admit that client by MAC and IP."""
        try:
            ip = IPv4Address(ip_text)
        except ValueError as exc:
            raise PortalError(f"not an IPv4 client: {ip_text}", 400) from exc
        if not self._on_lan(ip):
            raise PortalError(f"{ip} is not on the passenger network", 403)
        self._admitting += 1
        self._no_admissions.clear()
        try:
            return await self._admit(ip)
        finally:
            self._admitting -= 1
            if self._admitting == 0:
                self._no_admissions.set()

    async def _admit(self, ip: IPv4Address) -> ClientSession:
        mac = await self.dataplane.lookup_mac(ip)
        if mac is None:
            raise PortalError(f"no MAC address known for {ip}", 409)
        async with self._lock:
            session, old_ip = self.sessions.admit(mac, str(ip), self._now())
            classed = self._place(str(ip))  # the class first: the firewall change waits for it
            old = (pair(mac, old_ip),) if old_ip is not None else ()
            change = AdmissionChange(admit=(pair(mac, ip),), remove=old)
            done = self.dataplane.submit(change, after=classed)
            self.admissions += 1
        try:
            await done  # merged with whoever else is being admitted right now
        except (FirewallError, ShaperError) as exc:
            log.error("admission refused: %s", exc)
            async with self._lock:
                current = self.sessions.get(mac)
                if current is not None and current.ip == str(ip):
                    self.sessions.revoke(mac)  # the passenger may simply try again
            raise PortalError("the network cannot admit you right now; please retry",
                              503) from exc
        finally:
            self._request_shaping()  # the others' re-rating, or the refused client's class
        return session

    def _place(self, ip: str) -> asyncio.Future[None]:
        """Queue the class of a client about to enter the firewall set (no ``await`` here)."""
        return self._shape(self.plan.place(ip))

    def _shape(self, diff: ShapingDiff) -> asyncio.Future[None]:
        """Hand ``diff`` to the dataplane's shaping queue right after the plan changed."""
        done = self.dataplane.shape(diff, self.plan.uplink_kbps)
        done.add_done_callback(self._shaping_finished)
        return done

    def _shaping_finished(self, done: asyncio.Future[None]) -> None:
        error = _failure(done)
        if error is not None:  # what the kernel holds is in doubt: put everything next pass
            self.shaping_failures += 1
            self.plan.resync()
            log.error("shaping request failed (all classes are put again): %s", error)

    def status(self, ip_text: str) -> ClientStatus:
        """Whether ``ip_text`` is admitted and for how long still."""
        now = self._now()
        for s in self.sessions.active():
            if s.ip == ip_text:
                left = (s.accepted_ms + self.sessions.session_ms - now) // 1000
                return ClientStatus(True, max(0, int(left)))
        return ClientStatus(False, None)

    async def set_uplink_kbps(self, kbps: int) -> int:
        """Live re-rating: every admitted client gets its new fair share in place."""
        if kbps < 8:
            raise ValueError(f"uplink_kbps must be at least 8, got {kbps}")
        async with self._shape_lock:
            await self._reshape(uplink_kbps=kbps)
        return self.plan.rate_kbps

    def _request_shaping(self) -> None:
        """Bring the classes in line with the sessions soon, in the background.

        Session changes that arrive while a pass runs share the next pass.
        """
        self._shape_wanted += 1
        if self._shape_task is None or self._shape_task.done():
            self._shape_task = asyncio.create_task(self._shaping_loop(), name="wlan-shaping")

    async def _shaping_loop(self) -> None:
        while self._shape_done < self._shape_wanted:
            if not self._no_admissions.is_set():  # admissions first, but not forever
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(ADMISSIONS_FIRST_S):
                        await self._no_admissions.wait()
            async with self._shape_lock:
                if self._shape_done >= self._shape_wanted:
                    return
                try:
                    await self._reshape()
                except Exception:  # the next session change or tick tries again
                    log.exception("shaping pass failed")

    async def shaped(self) -> None:
        """Wait until the classes reflect every session change made so far."""
        while self._shape_task is not None and not self._shape_task.done():
            await asyncio.shield(self._shape_task)

    async def _reshape(self, uplink_kbps: int | None = None) -> None:
        """One shaping pass over the admitted sessions (hold ``_shape_lock``)."""
        covers = self._shape_wanted  # every session change counted so far is in the sessions
        try:
            diff = self.plan.reconcile(
                [s.ip for s in self.sessions.active()], uplink_kbps=uplink_kbps
            )
            if not diff.empty or uplink_kbps is not None:
                await self._shape(diff)  # queued before anything else can change the plan
        finally:
            self._shape_done = max(self._shape_done, covers)

    async def tick(self) -> None:
        """Upkeep: activity, timeouts, returning clients, new ports (every few seconds)."""
        await self.dataplane.maintain()
        counters = await self.dataplane.counters()
        stations = await self.dataplane.stations()
        now = self._now()
        submitted: list[asyncio.Future[None]] = []
        returning: list[tuple[str, str, asyncio.Future[None]]] = []
        async with self._lock:
            self._stations = stations
            self._totals = (counters.up_bytes, counters.down_bytes)
            for s in self.sessions.active():
                self.sessions.activity(s.mac, counters.per_ip.get(s.ip, 0), now)
            for removal in self.sessions.expire(now):
                log.info("client removed (%s timeout)", removal.reason)
                gone = (pair(removal.mac, removal.ip),)
                submitted.append(self.dataplane.submit(AdmissionChange(remove=gone)))
            for mac, ip in stations.items():
                if ip is None:
                    continue  # associated, but no address yet: the next tick sees it
                ip_addr = IPv4Address(ip)
                if not self._on_lan(ip_addr):
                    continue
                previous = self.sessions.get(mac)
                old_ip = previous.ip if previous is not None and previous.active else None
                back = self.sessions.seen(mac, ip, now)
                if back is not None:
                    log.info("returning client re-admitted within its session")
                    old = (pair(mac, old_ip),) if old_ip is not None and old_ip != ip else ()
                    change = AdmissionChange(admit=(pair(mac, ip_addr),), remove=old)
                    back_in = self.dataplane.submit(change, after=self._place(ip))
                    returning.append((mac, ip, back_in))
                    submitted.append(back_in)
        if submitted:
            results = await asyncio.gather(*submitted, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    log.error("firewall change of the upkeep failed: %s", result)
            async with self._lock:  # not back in after all: the next sighting tries again
                for mac, ip, back_in in returning:
                    if _failure(back_in) is not None:
                        self.sessions.suspend(mac, ip)
        if submitted or self.plan.in_doubt:
            self._request_shaping()

    def stats(self) -> WlanStats:
        """Counts and rates for the ``wlan`` payload."""
        rx, tx = self._totals  # rx: from passengers (upload), tx: to passengers
        return WlanStats(
            clients_associated=len(self._stations),
            clients_authenticated=len(self.sessions.active()),
            rx_bytes=rx,
            tx_bytes=tx,
            uplink_kbps=self.plan.uplink_kbps,
            per_client_kbps=self.plan.rate_kbps,
        )

    async def set_protected(self, addresses: tuple[IPv4Address, ...]) -> None:
        """Passengers may never reach the broker at ``addresses``, on any port."""
        await self.dataplane.set_protected(addresses)

    def station_macs(self) -> list[str]:
        """MACs on the LAN now (stay in RAM: only their salted hashes reach occupancy)."""
        return list(self._stations)


def make_wlan(
    config: WlanConfig,
    clock_ms: Callable[[], int],
    state_dir: Path,
) -> WlanGateway:
    """The gateway for ``config.backend`` (``nftables`` or ``simulated``).

    The passenger side starts closed to the internet: :meth:`WlanGateway.set_protected`
    (the broker's addresses, from :class:`bus_gateway.brokerguard.BrokerGuard`) opens it.
    """
    dataplane: Dataplane
    if config.backend == "nftables":
        dataplane = KernelDataplane(
            lan=config.interface,
            uplink=config.uplink,
            gateway=config.gateway,
            portal_port=config.portal_port,
            walled_garden=tuple(config.walled_garden),
            state_dir=state_dir,
            uplink_kbps=config.uplink_kbps,
            hostapd_ctrl_dir=Path(config.hostapd_ctrl_dir),
        )
    else:
        dataplane = SimulatedDataplane()
    return WlanGateway(config, dataplane, clock_ms)

"""The running bus gateway: sources → domain → EdgeAgent, WLAN + portal, commands.

Why one place: every loop of the router is started, named and stopped here, and nothing else
starts a task or opens the portal's socket. The adapters the loops drive (edge agent, WLAN,
broker guard, GPS, door counters, probe sniffer, uplink monitor, clock) are built by
:func:`bus_gateway.wiring.build_gateway` and passed in, so this module knows no backend and no
simulation. Published (docs/interfaces.md: Topics, Payloads):

* ``position`` with every GPS fix, at most 1 Hz, with the stop state;
* ``occupancy`` when passengers, status, quality or a source count change, else every 30 s;
* ``wlan`` every 60 s;
* ``srem`` request/update/cancel for the route's priority points, on
  ``signal/{intersection}/srem/{vehicle id}`` (the agent sends as its own vehicle: the broker
  lets this login write no other vehicle's id there); with ``route.etsi_srem`` each also as
  a UPER SREM on ``signal/{intersection}/etsi/srem/{vehicle id}`` (docs/c-its.md).

Subscribed: ``ssem`` and ``spat`` of the priority points' intersections. Commands:
``set_uplink_kbps {"kbps": int}`` (live re-rating: the operator's figure is the uplink's
capacity from now on, a cap that a later command replaces), ``set_trip {"trip_id": str|null,
"delay_s": int|null}`` and ``set_delay {"delay_s": int|null}``: the schedule deviation the
operator's dispatch system (ITCS) or the hub reports, sent with every ``srem`` as
``delay_s`` (see docs/signal_controller.md) so that a late bus wins an ETA
tie; a figure older than :data:`DELAY_MAX_AGE_MS` is not sent.
With ``wlan.uplink_autorate`` the uplink's capacity is measured (:mod:`bus_gateway.uplink`):
the command's figure is the estimate's ceiling and start — the measurement may lower the rate
when the link is congested, never raise it above the figure.
The MAC addresses the WLAN sees are hashed before occupancy sees them and never leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import uvicorn

from bus_gateway.brokerguard import BrokerGuard
from bus_gateway.clock import Clock, now_ms
from bus_gateway.domain.geo import distance_m
from bus_gateway.domain.nmea import GpsFix
from bus_gateway.domain.occupancy import OccupancyEstimate, OccupancyFusion
from bus_gateway.domain.priority import PriorityRequester, PriorityRules, SremAction
from bus_gateway.domain.privacy import MacHasher
from bus_gateway.domain.stops import RouteStop, StopState, StopTracker
from bus_gateway.doors import DoorSource
from bus_gateway.gps import GpsSource
from bus_gateway.portal import create_portal_app
from bus_gateway.probes import ProbeSniffer
from bus_gateway.uplink import UplinkMonitor
from bus_gateway.wlan import WlanGateway
from edge_agent.agent import EdgeAgent
from edge_agent.contract.commands import SetDelayArgs, SetTripArgs, SetUplinkArgs
from edge_agent.contract.configs import BusConfig
from edge_agent.contract.etsi.errors import ItsEncodeError
from edge_agent.contract.etsi.srem import AccessPoint, SremTarget, encode_srem
from edge_agent.contract.glosa import GlosaAdvice, advise
from edge_agent.contract.payloads import PositionFields, Spat, SpatGroup, SremFields, Ssem
from edge_agent.contract.topics import TopicRef

log = logging.getLogger(__name__)

POSITION_INTERVAL_MS = 1000
OCCUPANCY_MAX_INTERVAL_S = 30.0
WLAN_INTERVAL_S = 60.0
WLAN_TICK_S = 2.0


class Display(Protocol):
    """The driver's on-board display (GLOSA advice and priority status)."""

    def show(self, advice: GlosaAdvice, priority: dict[str, str | None]) -> None:
        """Show the latest advice and the controller's answers to our requests."""


class LogDisplay:
    """A display that logs changes (a router without a screen; the demo)."""

    def __init__(self) -> None:
        self._last: tuple[GlosaAdvice, tuple[tuple[str, str | None], ...]] | None = None

    def show(self, advice: GlosaAdvice, priority: dict[str, str | None]) -> None:
        """Log when something changed."""
        state = (advice, tuple(sorted(priority.items())))
        if state != self._last:
            self._last = state
            log.info("driver advice: %s %s (%s); priority %s", advice.kind,
                     advice.speed_mps, advice.reason, priority)


#: a schedule deviation older than this is stale and not sent with ``srem`` (ms)
DELAY_MAX_AGE_MS = 10 * 60_000


@dataclass
class GatewayState:
    """What the loops share (read by tests and the display)."""

    fix: GpsFix | None = None
    stop: StopState | None = None
    trip_id: str | None = None
    #: schedule deviation (s, negative = early) and when it was reported (ms)
    delay_s: int | None = None
    delay_at_ms: int = 0
    advice: GlosaAdvice | None = None
    last_occupancy: OccupancyEstimate | None = None
    spat: dict[str, Spat] = field(default_factory=dict)
    srem_sent: list[SremAction] = field(default_factory=list)


class BusGateway:
    """The running router: build with a config, ``await run()``, ``stop()``."""

    def __init__(
        self,
        config: BusConfig,
        *,
        agent: EdgeAgent,
        clock: Clock,
        wlan: WlanGateway,
        broker_guard: BrokerGuard,
        uplink: UplinkMonitor | None,
        gps: GpsSource,
        doors: DoorSource | None,
        probes: ProbeSniffer | None,
        hasher: MacHasher,
        display: Display,
        portal_host: str,
        stops: Sequence[RouteStop] = (),
    ) -> None:
        """Collaborators come built (:func:`bus_gateway.wiring.build_gateway`); ``uplink``,
        ``doors`` and ``probes`` are ``None`` when not fitted."""
        self.config = config
        self.clock = clock
        self.agent = agent
        self.wlan = wlan
        self.broker_guard = broker_guard
        self.uplink = uplink
        self._gps = gps
        self._doors = doors
        self._probes = probes
        self.hasher = hasher
        self.display = display
        self.portal_host = portal_host
        self.portal_port: int | None = None
        self.stops = list(stops)
        self.state = GatewayState(trip_id=config.route.trip_id)
        self.fusion = OccupancyFusion(capacity_total=config.vehicle.capacity_total)
        self.fusion.doors_fitted = doors is not None
        self.fusion.probes_fitted = probes is not None
        self.tracker = StopTracker(self.stops)
        self.priority = PriorityRequester(
            config.vehicle.id, config.route.priority_points,
            PriorityRules(request_eta_s=config.route.request_eta_s),
            numeric_ids=config.route.etsi_srem,
        )
        #: UPER SREMs sent (their sequenceNumber) and not sent (encoding failed)
        self.etsi_srem_sent = 0
        self.etsi_srem_failed = 0
        self._last_position_ms = 0
        self._stopped = asyncio.Event()
        self._register_handlers()

    # --- MQTT in -------------------------------------------------------------------------

    def _register_handlers(self) -> None:
        for iid in sorted({p.intersection_id for p in self.config.route.priority_points}):
            self.agent.subscribe("ssem", iid, self._on_ssem)
            self.agent.subscribe("spat", iid, self._on_spat)
        self.agent.command("set_uplink_kbps")(self._cmd_set_uplink)
        self.agent.command("set_trip")(self._cmd_set_trip)
        self.agent.command("set_delay")(self._cmd_set_delay)

    def _on_ssem(self, ref: TopicRef, payload: Ssem) -> None:
        self.priority.on_ssem(ref.entity_id, payload.requests)

    def _on_spat(self, ref: TopicRef, payload: Spat) -> None:
        self.state.spat[ref.entity_id] = payload

    async def _cmd_set_uplink(self, args: SetUplinkArgs) -> dict[str, object]:
        kbps = args.kbps
        if self.uplink is not None:  # measured: the figure caps the estimate, which starts there
            kbps = await self.uplink.set_cap(kbps)
        else:
            await self.wlan.set_uplink_kbps(kbps)
        return {"uplink_kbps": kbps, "per_client_kbps": self.wlan.plan.rate_kbps}

    async def _cmd_set_trip(self, args: SetTripArgs) -> dict[str, object]:
        await self.start_trip(args.trip_id, delay_s=args.delay_s)
        return {"trip_id": args.trip_id, "delay_s": args.delay_s}

    async def start_trip(self, trip_id: str | None, stops: Sequence[RouteStop] | None = None,
                         *, delay_s: int | None = None) -> None:
        """A new trip (``set_trip``, or the on-board computer): open priority requests are
        cancelled, the deviation is unknown unless given, stop tracking starts afresh — along
        ``stops`` in the trip's order when given (a trip of the other direction), else along
        the route's stops."""
        await self._send_srem(self.priority.cancel_all(now_ms(self.clock)))
        self.state.trip_id = trip_id
        self._set_delay(delay_s)
        if stops is not None:
            self.stops = list(stops)
            self.tracker = StopTracker(self.stops)
        else:
            self.tracker.reset()

    async def _cmd_set_delay(self, args: SetDelayArgs) -> dict[str, object]:
        self._set_delay(args.delay_s)
        return {"delay_s": args.delay_s}

    def _set_delay(self, delay: int | None) -> None:
        self.state.delay_s = delay
        self.state.delay_at_ms = now_ms(self.clock)

    def _current_delay(self) -> int | None:
        st = self.state
        if st.delay_s is None or now_ms(self.clock) - st.delay_at_ms > DELAY_MAX_AGE_MS:
            return None
        return st.delay_s

    # --- loops ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until :meth:`stop`; the WLAN is closed again afterwards."""
        await self.wlan.start()
        tasks: list[asyncio.Task[Any]] = []
        server = None
        try:
            server, serve = await self._start_portal()
            tasks = [
                asyncio.create_task(self.broker_guard.run(), name="broker-guard"),
                asyncio.create_task(self.agent.run(), name="agent"),
                asyncio.create_task(self._gps_loop(), name="gps"),
                asyncio.create_task(self._occupancy_loop(), name="occupancy"),
                asyncio.create_task(self._wlan_loop(), name="wlan-publish"),
                asyncio.create_task(self._wlan_tick_loop(), name="wlan-tick"),
            ]
            if serve is not None:
                tasks.append(asyncio.create_task(serve, name="portal"))
            if self._probes is not None:
                tasks.append(asyncio.create_task(self._probe_loop(), name="probes"))
            if self._doors is not None:
                tasks.append(asyncio.create_task(self._door_loop(), name="doors"))
            if self.uplink is not None:
                tasks.append(asyncio.create_task(self.uplink.run(), name="uplink-autorate"))
            await self._stopped.wait()
            await self._send_srem(self.priority.cancel_all(now_ms(self.clock)))
        finally:
            if server is not None:
                server.should_exit = True
            self.agent.stop()
            agent_task = next((t for t in tasks if t.get_name() == "agent"), None)
            for t in tasks:
                if t is not agent_task and t.get_name() != "portal":
                    t.cancel()
            for t in tasks:
                if t is agent_task or t.get_name() == "portal":
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(t, 10)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
            await self.wlan.stop()

    def stop(self) -> None:
        """Ask :meth:`run` to finish."""
        self._stopped.set()

    async def _start_portal(
        self,
    ) -> tuple[uvicorn.Server | None, Coroutine[Any, Any, None] | None]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.portal_host, self.config.wlan.portal_port))
        except OSError as exc:
            sock.close()
            if self.config.wlan.backend == "simulated":
                log.warning("portal not started: %s:%s: %s", self.portal_host,
                            self.config.wlan.portal_port, exc)
                return None, None
            raise
        sock.listen(128)
        self.portal_port = sock.getsockname()[1]
        # no access log (it would print passengers' addresses); no proxy headers: a passenger
        # is the address it connects from (admission and rate limits go by it), and no proxy
        # stands between the WLAN and the portal
        config = uvicorn.Config(
            create_portal_app(self.wlan), log_level="warning", access_log=False,
            lifespan="off", proxy_headers=False,
        )
        server = uvicorn.Server(config)
        return server, server.serve(sockets=[sock])

    async def _gps_loop(self) -> None:
        async for fix in self._gps.fixes():
            await self.on_fix(fix)
        log.info("GPS source ended (%s)", self.config.gps.source)

    async def on_fix(self, fix: GpsFix) -> None:
        """One GPS fix: stop state, priority requests, GLOSA, position (≤ 1 Hz)."""
        st = self.tracker.update(fix.lat, fix.lon, fix.speed_mps)
        previous = self.state.stop
        self.state.fix, self.state.stop = fix, st
        if st.departed:
            self.fusion.on_departure(st.departures, fix.ts_ms, len(self.wlan.station_macs()))
        if (
            st.status == "STOPPED_AT"
            and (previous is None or previous.status != "STOPPED_AT")
            and self._doors is not None
        ):
            self._doors.bus_stopped()
        actions = self.priority.update(
            fix.ts_ms, fix.lat, fix.lon, fix.speed_mps,
            course_deg=fix.course_deg, dwelling=st.dwelling,
        )
        await self._send_srem(actions)
        self._update_advice(fix)
        if fix.ts_ms - self._last_position_ms >= POSITION_INTERVAL_MS - 50:
            self._last_position_ms = fix.ts_ms
            # dated with the fix's GPS time, not the moment it is published
            await self.agent.publish(PositionFields(
                vehicle_id=self.config.vehicle.id,
                lat=fix.lat,
                lon=fix.lon,
                bearing=fix.course_deg or 0.0,
                speed_mps=fix.speed_mps,
                route_id=self.config.route.route_id,
                trip_id=self.state.trip_id,
                stop_id=st.stop_id,
                stop_status=st.status,
            ), ts=fix.ts_ms)

    def _update_advice(self, fix: GpsFix) -> None:
        points = self.config.route.priority_points
        if not points:
            return
        point = min(points, key=lambda p: distance_m(fix.lat, fix.lon, p.lat, p.lon))
        spat = self.state.spat.get(point.intersection_id)
        group: SpatGroup | None = None
        if spat is not None:
            group = next((g for g in spat.groups if g.sg == point.sg), None)
        d = distance_m(fix.lat, fix.lon, point.lat, point.lon)
        self.state.advice = advise(d, fix.speed_mps, group, fix.ts_ms,
                                   prediction=spat.prediction if spat is not None else None)
        self.display.show(self.state.advice, self.priority.statuses())

    async def _send_srem(self, actions: Sequence[SremAction]) -> None:
        delay = self._current_delay()
        for a in actions:
            self.state.srem_sent.append(a)
            fields = SremFields(
                request_id=a.request_id,
                vehicle_id=self.config.vehicle.id,
                intersection_id=a.intersection_id,
                type=a.type,
                sg=a.sg,
                eta=a.eta_ms,
                role="transit",
                route_id=self.config.route.route_id,
                delay_s=delay,
            )
            await self.agent.publish(fields, entity_id=a.intersection_id)
            if self.config.route.etsi_srem:
                await self._send_etsi_srem(fields)

    async def _send_etsi_srem(self, fields: SremFields) -> None:
        """The same request as a UPER SREM on ``signal/{intersection}/etsi/srem/{our id}``,
        in addition to the JSON (a controller reads either; both name the same request id, so
        one that reads both counts one request). A request that cannot be said in SREM is
        logged once and counted; the JSON has gone out anyway."""
        point = next((p.etsi for p in self.config.route.priority_points
                      if p.intersection_id == fields.intersection_id and p.sg == fields.sg),
                     None)
        try:
            if point is None:  # the config requires etsi on every point with etsi_srem
                raise ItsEncodeError(f"no etsi for {fields.intersection_id} {fields.sg}")
            target = SremTarget(point.region, point.intersection,
                                AccessPoint("lane", point.lane),
                                None if point.out_lane is None
                                else AccessPoint("lane", point.out_lane))
            data = encode_srem(fields, target, now_ms=now_ms(self.clock),
                               sequence=self.etsi_srem_sent)
        except ItsEncodeError:
            self.etsi_srem_failed += 1
            if self.etsi_srem_failed == 1:
                log.exception("SREM not sent")
            return
        self.etsi_srem_sent += 1
        await self.agent.publish_etsi("etsi_srem", data, entity_id=fields.intersection_id)

    async def _probe_loop(self) -> None:
        assert self._probes is not None
        async for obs in self._probes.observations():
            self.fusion.on_probe(obs)
        log.info("probe source ended after %d frames", self._probes.frames)

    async def _door_loop(self) -> None:
        assert self._doors is not None
        async for event in self._doors.events():
            self.fusion.on_doors(event.boarded, event.alighted)

    def occupancy(self) -> OccupancyEstimate:
        """The current estimate (WLAN stations pseudonymised on the way in)."""
        now = now_ms(self.clock)
        macs = self.wlan.station_macs()
        hashed = [self.hasher.hash(m, now) for m in macs]
        return self.fusion.estimate(now, hashed, len(macs))

    async def _occupancy_loop(self) -> None:
        last_sent_ms = 0
        while True:
            est = self.occupancy()
            now = now_ms(self.clock)
            if est != self.state.last_occupancy or (
                now - last_sent_ms >= OCCUPANCY_MAX_INTERVAL_S * 1000
            ):
                v = self.config.vehicle
                await self.agent.publish(
                    est.payload_fields(v.id, v.capacity_seated, v.capacity_total)
                )
                self.state.last_occupancy, last_sent_ms = est, now
            await self.clock.sleep(1.0)

    async def _wlan_loop(self) -> None:
        while True:
            await self.clock.sleep(WLAN_INTERVAL_S)
            await self.agent.publish(self.wlan.stats().payload_fields(self.config.vehicle.id))

    async def _wlan_tick_loop(self) -> None:
        while True:
            try:
                await self.wlan.tick()
            except Exception:  # upkeep must go on; the next tick retries
                log.exception("WLAN upkeep failed")
            await self.clock.sleep(WLAN_TICK_S)


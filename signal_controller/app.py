"""The controller service: the pure domain wired to the edge agent (MQTT) and the lamp port.

Why this shape: all decisions are in :mod:`signal_controller.domain`; this adapter only
(1) keeps logical time — ticks on the 100 ms grid of the wall clock, each missed tick run in
order, its lateness and any wall-clock jump (against the monotonic clock) handed to the
domain's watchdog; (2) moves inputs in — SREM and detector payloads (already validated by the
agent) into bounded queues that the next tick drains, so a flood cannot grow memory or stall
the tick (SREMs also per sender, the vehicle id of their topic, so one bus cannot crowd out the
others); commands run between ticks; and (3) moves outputs out — lamp aspects to
:class:`~signal_controller.heads.SignalHeads`, SPaT every tick (QoS 0), MAP retained at start
and on a plan change, SSEM on every status change (QoS 1, from its own task so a slow disk
commit never delays a tick), and with every SPaT the SPATEM of the same tick when the config
has ``its`` (raw UPER bytes on ``signal/{id}/etsi/spatem``, QoS 0, and to the roadside
unit over UDP when ``its.rsu`` names one; docs/c-its.md). Fail-safe
raises the alarm through SPaT ``status: flashing`` (the hub's alarm engine treats it as
critical) and a log line naming the rule.

The controller builds none of its collaborators: :func:`signal_controller.wiring.build_controller`
hands it its edge agent, lamp port and :class:`~signal_controller.scheduler.TickScheduler`,
which ticks it through the public :class:`~signal_controller.scheduler.Tickable` protocol.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from edge_agent.agent import EdgeAgent
from edge_agent.contract.commands import AGENT_COMMANDS, CommandArgs
from edge_agent.contract.commands import COMMANDS as CONTRACT_COMMANDS
from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.etsi.mapem import encode_mapem
from edge_agent.contract.etsi.spatem import ItsIntersection
from edge_agent.contract.etsi.spatem_writer import SpatemWriter
from edge_agent.contract.etsi.srem import AccessPoint, decode_srem, srem_payloads
from edge_agent.contract.etsi.ssem import encode_ssem
from edge_agent.contract.payloads import (
    Detector,
    MapFields,
    MapGroup,
    Srem,
    SsemFields,
    SsemRequest,
)
from edge_agent.contract.spat_wire import SpatEncoder
from edge_agent.contract.topics import TopicRef
from signal_controller.domain.commands import apply_command
from signal_controller.domain.controller import fail_safe, initial_state, step
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.intersection import TICK_MS, ceil_tick
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.priority import PriorityMessage
from signal_controller.domain.state import ControllerState, Inputs, Outputs, SsemRows
from signal_controller.heads import SignalHeads
from signal_controller.rsu import RsuOutput
from signal_controller.scheduler import TickScheduler

log = logging.getLogger(__name__)

#: inputs buffered between two ticks; more are dropped and counted.
MAX_DETECTOR_EVENTS = 1024
MAX_REQUESTS = 256
#: SREMs of one sender buffered between two ticks: a flooding bus cannot crowd out others.
MAX_REQUESTS_PER_SENDER = 8
#: requests that came as SREM whose sequence number and lanes the SSEM echoes (oldest dropped)
MAX_ETSI_SEEN = 1024
#: beyond this lateness the loop re-anchors instead of replaying every missed tick.
MAX_CATCH_UP_MS = 5_000
#: how often the MAPEM goes to the roadside unit again (ms)
MAPEM_REPEAT_MS = 1_000
#: the contract commands a controller takes (edge_agent.contract.commands)
COMMANDS = tuple(c.name for c in CONTRACT_COMMANDS
                 if "intersection" in c.kinds and c.name not in AGENT_COMMANDS)


class LoggingSignalHeads:
    """Default lamp port without hardware: keeps the current aspects, logs changes (DEBUG)."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.lamps: dict[str, Lamp] = {}

    def show(self, lamps: Mapping[str, Lamp], now_ms: int) -> None:
        """Remember ``lamps`` and log the groups that changed."""
        for sg, lamp in lamps.items():
            if self.lamps.get(sg) is not lamp:
                log.debug("%s %s -> %s at %d", self.device_id, sg, lamp.value, now_ms)
        self.lamps = dict(lamps)


def priority_message(msg: Srem, sender_id: str) -> PriorityMessage:
    """The domain form of a SREM received from vehicle ``sender_id`` (its topic's, which the
    broker's ACL enforces); ``delay_s``, the contract addition, may be absent: ``None``,
    ranked like a bus on time."""
    return PriorityMessage(
        request_id=msg.request_id, vehicle_id=msg.vehicle_id,
        intersection_id=msg.intersection_id, type=msg.type, sg=msg.sg, eta=msg.eta,
        role=msg.role, ts=msg.ts, sender_id=sender_id, route_id=msg.route_id,
        delay_s=msg.delay_s,
    )


def map_fields(config: IntersectionConfig, revision: int) -> MapFields:
    """The MAP message: topology and the intergreen matrix."""
    return MapFields(
        intersection_id=config.device_id,
        revision=revision,
        name=config.name,
        lat=config.location.lat,
        lon=config.location.lon,
        groups=[
            MapGroup(sg=g.sg, kind=g.kind, approach=g.approach, lanes=g.lanes)
            for g in config.signal_groups
        ],
        conflicts={a: dict(row) for a, row in config.intergreen_s.items()},
    )


def ssem_fields(intersection_id: str, rows: SsemRows) -> SsemFields:
    """The SSEM message: every listed request's status (the domain's rows)."""
    return SsemFields(
        intersection_id=intersection_id,
        requests=[
            SsemRequest(request_id=r, vehicle_id=v, sg=sg, status=s) for r, v, sg, s in rows
        ],
    )


class SignalController:
    """One intersection's controller process: see the module docstring."""

    def __init__(
        self,
        config: IntersectionConfig,
        *,
        agent: EdgeAgent,
        heads: SignalHeads,
        scheduler: TickScheduler,
        owns_agent: bool,
        clock: Callable[[], float] = time.time,
        rsu: RsuOutput | None = None,
    ) -> None:
        """Collaborators come built (:func:`signal_controller.wiring.build_controller`);
        ``owns_agent``: this controller runs and stops ``agent`` (else its host does);
        ``rsu``: the roadside unit output (``its.rsu``), opened by :meth:`run`."""
        self.config = config
        self._clock = clock
        self.agent = agent
        self.heads = heads
        self.state: ControllerState = initial_state(config, ceil_tick(self._wall_ms()))
        self.map_revision = 1
        self.dropped: Counter[str] = Counter()
        self.late_ticks = 0
        self.max_lag_ms = 0
        self.ticks = 0
        self.last_outputs: Outputs | None = None
        self._detector_q: deque[DetectorEvent] = deque()
        #: detectors whose card reports a fault (counted as occupied, reported in health).
        self.detector_faults: set[str] = set()
        self._request_q: deque[PriorityMessage] = deque()
        self._queued_by: Counter[str] = Counter()
        #: ``(tick time, rows)`` of every SSEM change; the model is built off the tick.
        self._ssem_q: asyncio.Queue[tuple[int, SsemRows]] | None = None
        self._stopped = False
        self._stop_event = asyncio.Event()
        self._next_tick = 0
        #: outputs of the ticks the scheduler ran and not yet published (publish_due)
        self._unpublished: deque[Outputs] = deque()
        self._spat = SpatEncoder(config.device_id)
        #: the C-ITS identity when the config sends C-ITS messages (``its.publish``), else None
        self._its = _its_output(config)
        #: SPATEM bytes of the ticks (the fast writer, byte-identical to the toolkit's)
        self._spatem: SpatemWriter | None = None
        #: the roadside unit the C-ITS messages also go to over UDP (docs/c-its.md), or None
        self.rsu = rsu
        #: the latest MAPEM and when it last went to the roadside unit
        self._mapem: bytes | None = None
        self._mapem_sent_ms: int | None = None
        #: ticks this controller; shared by many controllers of one process (same clock).
        self.scheduler = scheduler
        #: the id in signal/{id}/... topics; an agent may host several intersections (the demo,
        #: the benchmark), then only the one named like the agent's device takes commands.
        self.entity_id = config.device_id
        self.agent.subscribe("srem", self.entity_id, self._on_srem)
        self.agent.subscribe("detector", self.entity_id, self._on_detector)
        #: per (vehicle, request id) of a request that came as SREM: its sequence number and
        #: lanes, which the SSEM answers with (docs/c-its.md, "SSEM")
        self._etsi_seen: dict[tuple[str, str], tuple[int, AccessPoint, AccessPoint | None]] = {}
        self._ssem_sequence = 0
        if config.its is not None:
            self.agent.subscribe("etsi_srem", self.entity_id, self._on_etsi_srem)
        self.owns_agent = owns_agent
        if self.agent.device_id == config.device_id:
            for name in COMMANDS:
                self.agent.command(name)(self._command_handler(name))
            self.agent.health_extra = self._health_fields

    # --- inbound ---------------------------------------------------------------------------

    def _on_srem(self, ref: TopicRef, msg: Srem) -> None:
        sender = ref.sender_id
        assert sender is not None  # the srem row always names its sender (Topics.parse)
        if len(self._request_q) >= MAX_REQUESTS:
            self.dropped["srem_queue_full"] += 1
            return
        if self._queued_by[sender] >= MAX_REQUESTS_PER_SENDER:
            self.dropped["srem_sender_flood"] += 1
            return
        self._queued_by[sender] += 1
        self._request_q.append(priority_message(msg, sender))

    def _on_etsi_srem(self, ref: TopicRef, data: bytes) -> None:
        """A SREM in UPER: read against this intersection's config into the JSON ``srem`` it
        means, then queued like one (same bounds, same validation in the domain, same
        safety kernel). The vehicle is the topic's, never the message's station id. An
        ``ItsMessageError`` (malformed, another intersection, an unknown lane...) goes back to
        the agent, which counts it as a rejected ``etsi_srem`` payload."""
        sender = ref.sender_id
        assert sender is not None  # the etsi_srem row always names its sender
        msg = decode_srem(data)
        for srem, package in zip(srem_payloads(msg, self.config, sender, self._wall_ms()),
                                 msg.requests, strict=True):
            key = (sender, srem.request_id)
            self._etsi_seen.pop(key, None)
            if len(self._etsi_seen) >= MAX_ETSI_SEEN:
                del self._etsi_seen[next(iter(self._etsi_seen))]
            self._etsi_seen[key] = (msg.sequence or 0, package.inbound, package.outbound)
            self._on_srem(ref, srem)

    def _on_detector(self, _ref: TopicRef, msg: Detector) -> None:
        if len(self._detector_q) >= MAX_DETECTOR_EVENTS:
            self.dropped["detector_queue_full"] += 1
            return
        if msg.fault:
            # a faulty loop is a permanent call: its approach is served every cycle rather
            # than starved (it maxes out instead); the hub alarms it from our health
            if msg.detector not in self.detector_faults:
                log.warning("%s: detector %s reports a fault", self.entity_id, msg.detector)
            self.detector_faults.add(msg.detector)
            self._detector_q.append(DetectorEvent(msg.detector, True, fault=True))
            return
        if msg.detector in self.detector_faults:
            self.detector_faults.discard(msg.detector)
            log.warning("%s: detector %s works again", self.entity_id, msg.detector)
        self._detector_q.append(DetectorEvent(msg.detector, msg.occupied))

    def _health_fields(self) -> dict[str, object]:
        return {"detector_faults": sorted(self.detector_faults)}

    def _command_handler(self, name: str) -> Callable[[CommandArgs], dict[str, object]]:
        def handle(args: CommandArgs) -> dict[str, object]:
            if name == "status":
                return self.status()
            now = self.state.kernel.last_tick + TICK_MS  # takes effect at the next tick
            before = self.state.config
            # the domain checks the arguments again (it is also driven without MQTT)
            self.state, result = apply_command(
                self.state, name, args.model_dump(mode="json", exclude_none=True), now)
            if self.state.config is not before:
                self.config = self.state.config
                self._its = _its_output(self.config)
                self.map_revision += 1
                self._spawn_map()
            log.info("%s: command %s %s -> %s", self.config.device_id, name, args, result)
            return result

        return handle

    def status(self) -> dict[str, object]:
        """What the ``status`` command answers: program, fault, counters."""
        st = self.state
        fault = st.kernel.fault
        return {
            "program": type(st.program).__name__,
            "mode": st.mode,
            "revision": st.revision,
            "fault": None if fault is None else {"rule": fault.rule, "message": fault.message},
            "detector_faults": sorted(self.detector_faults),
            "priority_counts": dict(st.priority.counts),
            "counts": dict(st.counts),
            "dropped": dict(self.dropped),
            "late_ticks": self.late_ticks,
            "max_lag_ms": self.max_lag_ms,
            "ticks": self.ticks,
            **({} if self.rsu is None else {"rsu": self.rsu.counters()}),
        }

    # --- the tick --------------------------------------------------------------------------

    def _wall_ms(self) -> int:
        return int(self._clock() * 1000)

    def tick(self, now: int, lag_ms: int = 0, clock_jump: bool = False) -> Outputs:
        """Run one logical tick at ``now`` and publish its outputs (SPaT without awaiting)."""
        out = self._step(now, lag_ms, clock_jump)
        self._publish(out)
        return out

    def _step(self, now: int, lag_ms: int, clock_jump: bool) -> Outputs:
        """The tick's real-time half: the domain step and the lamps."""
        detectors = tuple(self._detector_q)
        self._detector_q.clear()
        requests = tuple(self._request_q)
        self._request_q.clear()
        self._queued_by.clear()
        inputs = Inputs(detectors, requests, lag_ms, clock_jump)
        self.state, out = step(self.state, inputs, now)
        self.ticks += 1
        if out.changed or self.last_outputs is None:
            try:
                self.heads.show(out.lamps, now)
            except Exception as exc:  # a lamp driver failure is a safety fault
                log.exception("%s: lamp output failed", self.config.device_id)
                self.state, out = fail_safe(self.state, f"lamp output failed: {exc}", now)
                self.heads.show(out.lamps, now)
        if out.fault is not None:
            log.error(
                "%s: ALARM fail-safe (%s): %s",
                self.config.device_id, out.fault.rule, out.fault.message,
            )
        self.last_outputs = out
        return out

    def _publish(self, out: Outputs) -> None:
        """The tick's messages: SPaT, SPATEM, the MAPEM repeat and SSEM (none awaits)."""
        now = out.now
        self.agent.publish_encoded(
            "spat", functools.partial(self._spat.encode, out), entity_id=self.entity_id,
            dated_ms=out.now,
        )
        if self._its is not None:
            self._publish_spatem(out, self._its)
            self._repeat_mapem(now)
        if out.ssem is not None and self._ssem_q is not None:
            self._ssem_q.put_nowait((now, out.ssem))

    def _repeat_mapem(self, now: int) -> None:
        """Send the MAPEM to the roadside unit again once a second: a broadcast reaches only
        the vehicles in range at that moment, unlike the retained MQTT message, so a vehicle
        arriving later must hear it repeated (once a second, as C-ITS profiles ask)."""
        sent = self._mapem_sent_ms
        if self.rsu is None or self._mapem is None or (
                sent is not None and now - sent < MAPEM_REPEAT_MS):
            return
        self._mapem_sent_ms = now
        self.rsu.send("mapem", self._mapem)

    def _publish_spatem(self, out: Outputs, its: ItsIntersection) -> None:
        """The SPATEM of the tick whose SPaT just went out: the same rows, the MAP revision
        (docs/c-its.md), by the fast writer (spatem_writer.py), encoded only when the agent
        or the roadside unit sends it. A failure costs this message only, never the tick."""
        revision = self.map_revision
        try:
            writer = self._spatem
            if writer is None or writer.its is not its:  # a new config: its own writer
                writer = self._spatem = SpatemWriter(its)
            if self.rsu is not None and self.rsu.wants("spatem"):  # needed either way
                data = writer.encode(out, self.entity_id, revision)
                self.rsu.send("spatem", data)
                self.agent.publish_encoded("etsi_spatem", lambda _seq: data,
                                           entity_id=self.entity_id, dated_ms=out.now)
                return
            self.agent.publish_encoded(
                "etsi_spatem", lambda _seq: writer.encode(out, self.entity_id, revision),
                entity_id=self.entity_id, dated_ms=out.now)
        except Exception:
            self.dropped["spatem_failed"] += 1  # the status command reports it
            if self.dropped["spatem_failed"] == 1:
                log.exception("%s: SPATEM not sent", self.config.device_id)

    # --- the scheduler's side (signal_controller.scheduler.Tickable) -----------------------

    @property
    def device_id(self) -> str:
        """The intersection's id."""
        return self.config.device_id

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called or :meth:`run` ended."""
        return self._stopped

    @property
    def next_tick(self) -> int:
        """The wall time (ms) of the next logical tick."""
        return self._next_tick

    def power_up(self, wall_ms: int) -> None:
        """Called by the scheduler when it takes this controller on."""
        self._next_tick = ceil_tick(wall_ms) + TICK_MS
        if self.ticks == 0:
            # Power up now, not when the object was built (start-up may have taken seconds).
            self.state = initial_state(self.config, self._next_tick - TICK_MS)

    def run_due(self, wall_ms: int, jump: bool) -> None:
        """Run every logical tick that is due at wall time ``wall_ms`` (in order: catch-up)."""
        wall = wall_ms
        next_tick = self._next_tick
        if jump or abs(wall - next_tick) > MAX_CATCH_UP_MS:
            next_tick = ceil_tick(wall)  # re-anchor, and run one tick now
        elif next_tick > wall:
            return
        while True:
            lag = max(0, wall - next_tick)
            self.max_lag_ms = max(self.max_lag_ms, lag)
            if lag > TICK_MS:
                self.late_ticks += 1
            self._unpublished.append(self._step(next_tick, lag, jump))
            jump = False
            next_tick += TICK_MS
            if next_tick > wall:
                break
            wall = self._wall_ms()
        self._next_tick = next_tick

    def publish_due(self) -> None:
        """Publish, in order, the outputs of the ticks :meth:`run_due` ran."""
        pending = self._unpublished
        while pending:
            self._publish(pending.popleft())

    def skip_to(self, wall_ms: int) -> None:
        """After a failed tick at ``wall_ms``: the next tick is the grid instant after it."""
        self._next_tick = ceil_tick(wall_ms) + TICK_MS

    async def _ssem_loop(self) -> None:
        assert self._ssem_q is not None
        while True:
            ts, rows = await self._ssem_q.get()
            fields = ssem_fields(self.config.device_id, rows)
            await self.agent.publish(fields, entity_id=self.entity_id, ts=ts)
            if self._its is not None and rows:  # an empty list has no SSEM (docs/c-its.md)
                await self._publish_etsi_ssem(fields, ts)

    async def _publish_etsi_ssem(self, fields: SsemFields, ts: int) -> None:
        """The UPER SSEM of the JSON ``ssem`` just sent (same tick, same statuses), QoS 1. A
        failure costs this SSEM only (``dropped.ssem_etsi_failed``, logged once)."""
        self._ssem_sequence += 1
        try:
            data = encode_ssem(fields, self.config, now_ms=ts, sequence=self._ssem_sequence,
                               seen=self._etsi_seen)
        except Exception:
            self.dropped["ssem_etsi_failed"] += 1
            if self.dropped["ssem_etsi_failed"] == 1:
                log.exception("%s: SSEM not sent", self.config.device_id)
            return
        if self.rsu is not None:
            self.rsu.send("ssem", data)
        await self.agent.publish_etsi("etsi_ssem", data, entity_id=self.entity_id, dated_ms=ts)

    def _spawn_map(self) -> None:
        task = asyncio.ensure_future(self._publish_map())
        task.add_done_callback(_log_failure)

    async def _publish_map(self) -> None:
        """The JSON ``map`` and, when the config sends C-ITS messages and has a geometry, the
        MAPEM of the same revision (retained, QoS 1; docs/c-its.md). A MAPEM that cannot be
        built is counted (``dropped.mapem_failed``) and logged once; the map goes out anyway."""
        config, revision = self.config, self.map_revision
        await self.agent.publish(map_fields(config, revision), entity_id=self.entity_id)
        if self._its is None or config.geometry is None:
            return
        try:
            data = encode_mapem(config, revision)
        except Exception:
            self.dropped["mapem_failed"] += 1
            if self.dropped["mapem_failed"] == 1:
                log.exception("%s: MAPEM not sent", config.device_id)
            return
        self._mapem, self._mapem_sent_ms = data, None  # to the roadside unit on the next tick
        await self.agent.publish_etsi("etsi_mapem", data, entity_id=self.entity_id)

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish MAP, then tick and serve MQTT until :meth:`stop`.

        With a shared agent (passed in), the caller runs the agent; this only ticks.
        """
        self._ssem_q = asyncio.Queue()
        if self.rsu is not None:
            self.rsu.open()  # resolves its host once, before the first tick
        await self._publish_map()
        name = self.config.device_id
        ssem = asyncio.create_task(self._ssem_loop(), name=f"{name}-ssem")
        if not self._stopped:
            self.scheduler.add(self)
        try:
            if self.owns_agent:
                await self.agent.run()
            else:
                await self._stop_event.wait()
        finally:
            self._stopped = True
            self.scheduler.discard(self)
            ssem.cancel()
            await asyncio.gather(ssem, return_exceptions=True)
            if self.rsu is not None:
                self.rsu.close()

    def stop(self) -> None:
        """Stop ticking and shut its own agent down cleanly (``offline`` status)."""
        self._stopped = True
        self._stop_event.set()
        self.scheduler.discard(self)
        if self.owns_agent:
            self.agent.stop()


def _its_output(config: IntersectionConfig) -> ItsIntersection | None:
    """The C-ITS identity a controller sends SPATEM as, or ``None`` (no ``its``, or
    ``its.publish: false``)."""
    if config.its is None or not config.its.publish:
        return None
    return ItsIntersection.from_config(config)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("MAP publish failed: %s", task.exception())

"""One SUMO run of the evaluation: the TraCI/libsumo adapter around the real controller code.

Why this shape (docs/design.md, "not sumo-rl's TrafficSignal"): SUMO is only a *lamp driver and a
sensor* here. Per 0.5 s SUMO step the adapter (1) reads SUMO's induction loops into
:class:`~signal_controller.domain.detectors.DetectorEvent`, (2) turns the simulated buses'
positions into GPS-like fixes for :class:`bus_gateway.domain.priority.PriorityRequester` (runs
with transit priority) and feeds its ``srem`` actions to the controller as
:class:`~signal_controller.domain.priority.PriorityMessage`, (3) runs the unchanged pure
transducer :func:`signal_controller.domain.controller.step` on its 100 ms tick grid, (4) shows
the resulting lamps through :class:`TraciSignalHeads` (``setRedYellowGreenState``), (5) applies
:func:`edge_agent.contract.glosa.advise` to buses and, where the variant says so, to cyclists
(with their own speed range) through ``setSpeed``, and (6) records every lamp state for the
safety audit, the SPaT predictions for their error, and each bus's and cyclist's delay and
stops in signal zones. The baseline run (a) loads SUMO's own actuated programs and only
observes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bus_gateway.domain.priority import PriorityRequester, PriorityRules
from edge_agent.contract.configs import PriorityPoint
from edge_agent.contract.glosa import BICYCLE_LIMITS, BUS_LIMITS, GlosaLimits, advise
from edge_agent.contract.payloads import SsemRequest
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.intersection import TICK_MS, Intersection
from signal_controller.domain.priority import PriorityMessage
from signal_controller.domain.state import SsemRows
from simulations.evaluation.domain.audit import LampAudit
from simulations.evaluation.domain.metrics import (
    BIKE_TYPE,
    BUS_TYPE,
    SignalZoneTracker,
    SpatErrorTracker,
    in_signal_zone,
    run_summary,
)
from simulations.evaluation.sumo_parts import (
    SimController,
    TraciSignalHeads,
    load_traci,
    read_tripinfo,
    sumo_command,
)
from simulations.scenario.build import BuiltScenario, SimulationError
from simulations.scenario.domain.arterial import xy_to_latlon
from simulations.scenario.domain.signals import lamps_of_state

Variant = Literal["baseline", "controller", "priority", "priority_no_cyclist_glosa"]


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """What a run changes: who drives the lamps, and who gets priority and speed advice."""

    #: the project's controller (else SUMO's own actuated programs).
    controlled: bool
    #: transit priority requested by the buses, and the buses' GLOSA.
    transit: bool
    #: the cyclists' GLOSA.
    cyclist_glosa: bool


#: the runs in their order. (c) and (c0) differ only in the cyclists' advice, so comparing them
#: isolates the advice's effect on cyclists on the same signal control.
SPECS: dict[Variant, VariantSpec] = {
    "baseline": VariantSpec(controlled=False, transit=False, cyclist_glosa=False),
    "controller": VariantSpec(controlled=True, transit=False, cyclist_glosa=False),
    "priority": VariantSpec(controlled=True, transit=True, cyclist_glosa=True),
    "priority_no_cyclist_glosa": VariantSpec(controlled=True, transit=True, cyclist_glosa=False),
}
VARIANTS: tuple[Variant, ...] = tuple(SPECS)

#: 2025-06-02 05:00 UTC (07:00 in Kassel): the controllers' clock at simulation time 0, so
#: their hour-of-day statistics see the morning peak.
T0_MS = 1_748_840_400_000
STEP_S = 0.5
TICKS_PER_STEP = round(STEP_S * 1000) // TICK_MS
#: how often a bus's GPS fix reaches its gateway, and a cyclist's phone its advice (priority
#: requests, GLOSA): every second.
FIX_EVERY_STEPS = 2
#: GLOSA speed advice is applied within this distance of the stop line (buses and cyclists).
GLOSA_RANGE_M = 250.0
#: after the demand window the run continues until the network is empty, at most this long.
DRAIN_LIMIT_S = 1200.0
#: the buses' requester tuning. A bus passing a junction is 270-330 m before the next stop
#: line and serves its far-side stop first: asking only within 20 s of the stop line keeps the
#: request after the stop (a request cancelled for the stop would mark the approach as served
#: and the next one would be ``reserviceLocked``), and a bus waiting in a queue keeps its
#: request instead of cancelling it at twice the request horizon.
REQUESTER_RULES = PriorityRules(request_eta_s=20.0, cancel_eta_factor=6.0)

Progress = Callable[[float, float], None]


@dataclass
class RunResult:
    """Everything one run produced: its ``summary.json`` row and the report's details."""

    variant: Variant
    summary: dict[str, float | int | None]
    simulated_s: float
    bus_trips: int
    car_trips: int
    unfinished: int
    teleports: int
    cyclist_trips: int = 0
    bus_delays_s: list[float] = field(default_factory=list)
    bus_stops: list[int] = field(default_factory=list)
    safety_messages: list[str] = field(default_factory=list)
    lamp_changes: int = 0
    ped_time_loss_s: float | None = None
    #: mean car delay of trips that entered from a side street (priority favours the arterial).
    side_car_delay_s: float | None = None
    srem_sent: dict[str, int] = field(default_factory=dict)
    ssem_statuses: dict[str, int] = field(default_factory=dict)
    glosa_advice: dict[str, int] = field(default_factory=dict)
    cyclist_advice: dict[str, int] = field(default_factory=dict)
    fail_safe: list[str] = field(default_factory=list)


@dataclass
class _Tracked:
    """A bus or cyclist under way: its GLOSA profile (``None``: not advised in this run), its
    bus's priority requester, and where it passed the last signal."""

    bus: bool
    limits: GlosaLimits | None
    requester: PriorityRequester | None = None
    last_tls: str | None = None
    pass_odometer: float | None = None
    advised: bool = False


def _priority_points(built: BuiltScenario, direction: str) -> list[PriorityPoint]:
    """The stop lines where a bus of ``direction`` asks for priority, in travel order."""
    sg = "K1" if direction == "E" else "K2"
    junctions = list(built.network.junctions)
    if direction == "W":
        junctions.reverse()
    points = []
    for j in junctions:
        x, y = built.tls[j.id].stop_lines[sg]
        lat, lon = xy_to_latlon(x, y)
        points.append(PriorityPoint(
            intersection_id=built.configs[j.id].device_id, sg=sg, lat=lat, lon=lon,
        ))
    return points


class SumoRun:
    """Runs one variant; see the module docstring."""

    def __init__(self, built: BuiltScenario, variant: Variant, *, minutes: float, seed: int,
                 out_dir: Path, progress: Progress | None = None) -> None:
        self.built = built
        self.variant = variant
        self.spec = SPECS[variant]
        self.horizon_s = minutes * 60.0
        self.end_s = self.horizon_s + DRAIN_LIMIT_S
        self.seed = seed
        self.tripinfo = out_dir / f"{variant}.tripinfo.xml"
        self.progress = progress
        self.sumo: Any = None
        self.controllers: dict[str, SimController] = {}
        self.by_device: dict[str, SimController] = {}
        self.loops: dict[str, tuple[SimController, str]] = {}
        self.audits: dict[str, LampAudit] = {}
        self.shown: dict[str, str] = {}
        self.tracked: dict[str, _Tracked] = {}
        self.tracker = SignalZoneTracker()
        self.spat_errors = SpatErrorTracker()
        self.result = RunResult(variant, {}, 0.0, 0, 0, 0, 0)

    # --- setup -----------------------------------------------------------------------------

    def _setup(self) -> None:
        sumo = self.sumo
        controlled = self.spec.controlled
        for tls_id, built_cfg in self.built.configs.items():
            info = self.built.tls[tls_id]
            model = Intersection.from_config(built_cfg)
            self.audits[tls_id] = LampAudit(model)
            if not controlled:
                sumo.trafficlight.setProgram(tls_id, "baseline")
                continue
            cfg = built_cfg
            if not self.spec.transit:
                cfg = cfg.model_copy(update={"priority": cfg.priority.model_copy(
                    update={"enabled": False})})
            ctl = SimController(cfg, TraciSignalHeads(sumo, info), T0_MS)
            self.controllers[tls_id] = ctl
            self.by_device[cfg.device_id] = ctl
            ctl.heads.show(ctl.lamps, T0_MS)
            self.audits[tls_id].record(T0_MS, ctl.lamps)
            for det in cfg.detectors:
                self.loops[det.id] = (ctl, det.id)

    # --- per step --------------------------------------------------------------------------

    def _read_loops(self) -> None:
        il = self.sumo.inductionloop
        for det, (ctl, _) in self.loops.items():
            occ = il.getLastStepOccupancy(det) > 0.0
            if occ != ctl.occupied.get(det, False):
                ctl.occupied[det] = occ
                ctl.detectors.append(DetectorEvent(det, occ))

    def _tick_controllers(self, sim_ms: int, sample: bool) -> None:
        for tls_id, ctl in self.controllers.items():
            last = ctl.state.kernel.last_tick
            now = last + TICK_MS
            target = T0_MS + sim_ms
            while now <= target:
                out = ctl.tick(now)
                if out.changed:
                    self.audits[tls_id].record(now, out.lamps)
                    for sg in out.changed:
                        self.spat_errors.observe((tls_id, sg), now, out.lamps[sg].value, None,
                                                 sample=False)
                if out.fault is not None:
                    self.result.fail_safe.append(
                        f"{ctl.config.device_id} @ {now}: {out.fault.rule}: {out.fault.message}"
                    )
                if out.ssem is not None:
                    self._deliver_ssem(ctl.config.device_id, out.ssem)
                now += TICK_MS
            if sample and ctl.out is not None:
                for g in ctl.out.groups:
                    self.spat_errors.observe((tls_id, g.sg), ctl.out.now, g.lamp.value,
                                             g.likely_end, sample=True)
            ctl.heads.show(ctl.lamps, target)

    def _deliver_ssem(self, device: str, rows: SsemRows) -> None:
        by_vehicle: dict[str, list[SsemRequest]] = {}
        for rid, vid, sg, status in rows:
            by_vehicle.setdefault(vid, []).append(
                SsemRequest(request_id=rid, vehicle_id=vid, sg=sg, status=status)
            )
            counts = self.result.ssem_statuses
            counts[status] = counts.get(status, 0) + 1
        for vid, reqs in by_vehicle.items():
            bus = self.tracked.get(vid)
            if bus is not None and bus.requester is not None:
                bus.requester.on_ssem(device, reqs)

    def _observe_baseline(self, sim_ms: int) -> None:
        tl = self.sumo.trafficlight
        for tls_id, audit in self.audits.items():
            state = tl.getRedYellowGreenState(tls_id)
            if state != self.shown.get(tls_id):
                self.shown[tls_id] = state
                audit.record(T0_MS + sim_ms, lamps_of_state(self.built.tls[tls_id].links, state))

    def _new_vehicle(self, vid: str) -> None:
        """Track a departed bus or cyclist (cars and pedestrians are only counted by SUMO)."""
        vtype = self.sumo.vehicle.getTypeID(vid)
        if vtype == BUS_TYPE:
            requester = None
            if self.spec.transit:
                direction = "E" if vid.startswith("bus52E") else "W"
                requester = PriorityRequester(vid, _priority_points(self.built, direction),
                                              REQUESTER_RULES)
            limits = BUS_LIMITS if self.spec.transit else None
            self.tracked[vid] = _Tracked(True, limits, requester)
        elif vtype == BIKE_TYPE:
            self.tracked[vid] = _Tracked(False,
                                         BICYCLE_LIMITS if self.spec.cyclist_glosa else None)

    def _vehicles_step(self, sim_ms: int, fix: bool) -> None:
        v = self.sumo.vehicle
        now = T0_MS + sim_ms
        for vid, veh in self.tracked.items():
            speed = v.getSpeed(vid)
            odometer = v.getDistance(vid)
            nxt = v.getNextTLS(vid)
            tls, link, dist = (nxt[0][0], nxt[0][1], nxt[0][2]) if nxt else (None, -1, None)
            if tls != veh.last_tls:
                if veh.last_tls is not None:
                    veh.pass_odometer = odometer
                    if veh.advised:
                        v.setSpeed(vid, -1)
                        veh.advised = False
                veh.last_tls = tls
            since = odometer - veh.pass_odometer if veh.pass_odometer is not None else None
            at_stop = veh.bus and bool(v.isAtBusStop(vid))
            self.tracker.observe(
                vid, STEP_S, speed, v.getAllowedSpeed(vid),
                in_zone=in_signal_zone(dist, since), at_bus_stop=at_stop,
            )
            if not fix:
                continue
            if veh.requester is not None:
                self._priority_fix(vid, veh.requester, now, speed, at_stop)
            if veh.limits is not None and tls is not None and dist is not None:
                self._glosa(vid, veh, now, (tls, link, dist), speed=speed, at_stop=at_stop)

    def _priority_fix(self, vid: str, requester: PriorityRequester, now: int, speed: float,
                      at_stop: bool) -> None:
        x, y = self.sumo.vehicle.getPosition(vid)
        lat, lon = xy_to_latlon(x, y)
        course = self.sumo.vehicle.getAngle(vid)
        actions = requester.update(now, lat, lon, speed, course_deg=course, dwelling=at_stop)
        for a in actions:
            ctl = self.by_device.get(a.intersection_id)
            if ctl is None:
                continue
            ctl.requests.append(PriorityMessage(
                request_id=a.request_id, vehicle_id=vid, intersection_id=a.intersection_id,
                type=a.type, sg=a.sg, eta=a.eta_ms, role="transit", ts=now, sender_id=vid,
                route_id="52",
            ))
            sent = self.result.srem_sent
            sent[a.type] = sent.get(a.type, 0) + 1

    def _stop_ahead_on_edge(self, vid: str) -> bool:
        v = self.sumo.vehicle
        stops = v.getStops(vid, 1)
        if not stops:
            return False
        lane = stops[0].lane
        edge = lane.rsplit("_", 1)[0]
        return bool(edge == v.getRoadID(vid) and stops[0].endPos >= v.getLanePosition(vid))

    def _glosa(self, vid: str, veh: _Tracked, now: int, signal: tuple[str, int, float], *,
               speed: float, at_stop: bool) -> None:
        """Apply the advice for the next signal; an advised speed is capped at the vehicle's
        own allowed speed (the limit for a bus, the cruising speed for a cyclist): the advice
        never makes anyone faster than they would ride anyway."""
        v = self.sumo.vehicle
        tls, link, dist = signal
        ctl = self.controllers.get(tls)
        usable = ctl is not None and dist <= GLOSA_RANGE_M and not at_stop
        if usable and veh.bus and self._stop_ahead_on_edge(vid):
            usable = False
        if usable and ctl is not None and veh.limits is not None:
            group = ctl.spat_group(self.built.tls[tls].links[link].sg)
            advice = advise(dist, speed, group, now, veh.limits,
                            prediction=ctl.spat_prediction())
            counts = self.result.glosa_advice if veh.bus else self.result.cyclist_advice
            counts[advice.kind] = counts.get(advice.kind, 0) + 1
            if advice.kind == "adjust" and advice.speed_mps is not None:
                v.setSpeed(vid, min(advice.speed_mps, v.getAllowedSpeed(vid)))
                veh.advised = True
                return
        if veh.advised:
            v.setSpeed(vid, -1)
            veh.advised = False

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Start SUMO, run until the demand is served (or the drain limit), then summarise."""
        sumo = load_traci()
        self.sumo = sumo
        sumo.start(sumo_command(self.built, baseline=not self.spec.controlled,
                                tripinfo=self.tripinfo, end_s=self.end_s, seed=self.seed,
                                step_s=STEP_S))
        try:
            self._setup()
            self._loop()
        finally:
            sumo.close()
        return self._finish()

    def _loop(self) -> None:
        sumo = self.sumo
        steps = 0
        sim_s = 0.0
        while sim_s < self.end_s:
            sim_ms = round(sim_s * 1000)
            if not self.spec.controlled:
                self._observe_baseline(sim_ms)
            else:
                self._read_loops()
                self._tick_controllers(sim_ms, sample=steps % FIX_EVERY_STEPS == 0)
            sumo.simulationStep()
            steps += 1
            sim_s = sumo.simulation.getTime()
            for vid in sumo.simulation.getDepartedIDList():
                self._new_vehicle(vid)
            for vid in sumo.simulation.getArrivedIDList():
                veh = self.tracked.pop(vid, None)
                if veh is not None and veh.requester is not None:
                    veh.requester.cancel_all(T0_MS + round(sim_s * 1000))
            self.result.teleports += sumo.simulation.getStartingTeleportNumber()
            self._vehicles_step(round(sim_s * 1000), fix=steps % FIX_EVERY_STEPS == 0)
            if self.progress is not None and steps % 20 == 0:
                self.progress(min(sim_s, self.horizon_s), self.horizon_s)
            if sim_s >= self.horizon_s and sumo.simulation.getMinExpectedNumber() == 0:
                break
        self.result.simulated_s = sim_s

    def _finish(self) -> RunResult:
        if not self.tripinfo.exists():
            raise SimulationError(f"SUMO wrote no tripinfo ({self.tripinfo})")
        info = read_tripinfo(self.tripinfo)
        trips, walks, side = info.trips, info.walks, info.side_cars
        violations = sum(a.violations for a in self.audits.values()) + len(self.result.fail_safe)
        mae = self.spat_errors.mae_s() if self.spec.controlled else None
        res = self.result
        res.summary = run_summary(trips, self.tracker.accounts, safety_violations=violations,
                                  spat_mae_s=mae)
        bus_ids = [t.id for t in trips if t.vtype == BUS_TYPE]
        res.bus_trips = len(bus_ids)
        res.cyclist_trips = sum(1 for t in trips if t.vtype == BIKE_TYPE)
        res.car_trips = len(trips) - len(bus_ids) - res.cyclist_trips
        res.unfinished = info.unfinished
        acc = self.tracker.accounts
        res.bus_delays_s = [round(acc[b].delay_s, 2) for b in bus_ids if b in acc]
        res.bus_stops = [acc[b].stops for b in bus_ids if b in acc]
        res.safety_messages = [m for a in self.audits.values() for m in a.messages]
        res.lamp_changes = sum(a.changes for a in self.audits.values())
        res.ped_time_loss_s = round(sum(walks) / len(walks), 2) if walks else None
        res.side_car_delay_s = round(sum(side) / len(side), 2) if side else None
        if not math.isfinite(res.simulated_s):
            raise SimulationError("SUMO reported a non-finite simulation time")
        return res

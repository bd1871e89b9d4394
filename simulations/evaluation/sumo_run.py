"""One SUMO run of the evaluation: the TraCI/libsumo adapter around the real controller code.

Why this shape (docs/design.md, "not sumo-rl's TrafficSignal"): SUMO is only a *lamp driver and a
sensor* here. Per 0.5 s SUMO step the adapter (1) reads SUMO's induction loops into
:class:`~signal_controller.domain.detectors.DetectorEvent`, (2) turns the simulated buses'
positions into GPS-like fixes for :class:`bus_gateway.domain.priority.PriorityRequester` (run c)
and feeds its ``srem`` actions to the controller as
:class:`~signal_controller.domain.priority.PriorityMessage`, (3) runs the unchanged pure
transducer :func:`signal_controller.domain.controller.step` on its 100 ms tick grid, (4) shows
the resulting lamps through :class:`TraciSignalHeads` (``setRedYellowGreenState``), (5) applies
:func:`bus_gateway.domain.glosa.advise` to buses through ``setSpeed`` (run c), and (6) records
every lamp state for the safety audit, the SPaT predictions for their error, and each bus's
delay and stops in signal zones. The baseline run (a) loads SUMO's own actuated programs and
only observes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bus_gateway.domain.glosa import GlosaLimits, advise
from bus_gateway.domain.priority import PriorityRequester, PriorityRules
from edge_agent.contract.configs import IntersectionConfig, PriorityPoint
from edge_agent.contract.payloads import SpatGroup, SsemRequest
from signal_controller.domain.controller import initial_state, step
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.intersection import TICK_MS, Intersection
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.priority import PriorityMessage
from signal_controller.domain.state import ControllerState, Inputs, Outputs, SsemRows
from simulations.evaluation.domain.audit import LampAudit
from simulations.evaluation.domain.metrics import (
    BusSignalTracker,
    SpatErrorTracker,
    TripRecord,
    in_signal_zone,
    run_summary,
)
from simulations.scenario.build import (
    SUMO_INSTALL_HINT,
    BuiltScenario,
    SimulationError,
    SumoMissingError,
    TlsInfo,
    binary,
)
from simulations.scenario.domain.arterial import xy_to_latlon
from simulations.scenario.domain.signals import Link, lamps_of_state, state_string

Variant = Literal["baseline", "controller", "priority"]
VARIANTS: tuple[Variant, ...] = ("baseline", "controller", "priority")

#: 2025-06-02 05:00 UTC (07:00 in Kassel): the controllers' clock at simulation time 0, so
#: their hour-of-day statistics see the morning peak.
T0_MS = 1_748_840_400_000
STEP_S = 0.5
TICKS_PER_STEP = round(STEP_S * 1000) // TICK_MS
#: how often a bus's GPS fix reaches its gateway (priority requests, GLOSA).
FIX_EVERY_STEPS = 2
#: GLOSA speed advice is applied within this distance of the stop line.
GLOSA_RANGE_M = 250.0
#: after the demand window the run continues until the network is empty, at most this long.
DRAIN_LIMIT_S = 1200.0
BUS_TYPE = "bus"
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
    fail_safe: list[str] = field(default_factory=list)


def load_traci() -> Any:
    """libsumo (in-process, fast) or, failing that, the TraCI client."""
    try:
        import libsumo  # noqa: PLC0415 - optional extra, imported on use
    except ImportError:
        try:
            import traci  # noqa: PLC0415
        except ImportError as exc:
            raise SumoMissingError(SUMO_INSTALL_HINT) from exc
        return traci
    return libsumo


class TraciSignalHeads:
    """The lamp port (:class:`signal_controller.heads.SignalHeads`) of one SUMO traffic light."""

    def __init__(self, sumo: Any, tls: TlsInfo) -> None:
        self._sumo = sumo
        self.tls = tls
        self._links: tuple[Link, ...] = tls.links
        self._shown = ""

    def show(self, lamps: Mapping[str, Lamp], now_ms: int) -> None:
        """Set the state string of ``lamps`` when it differs from what SUMO shows."""
        state = state_string(self._links, lamps)
        if state != self._shown:
            self._sumo.trafficlight.setRedYellowGreenState(self.tls.id, state)
            self._shown = state


class SimController:
    """One junction's controller: pure state plus the inputs gathered since the last tick."""

    def __init__(self, config: IntersectionConfig, heads: TraciSignalHeads, now: int) -> None:
        self.config = config
        self.heads = heads
        self.state: ControllerState = initial_state(config, now)
        self.model: Intersection = self.state.model
        self.lamps: Mapping[str, Lamp] = {sg: h.lamp for sg, h in self.state.kernel.heads.items()}
        self.out: Outputs | None = None
        self.detectors: list[DetectorEvent] = []
        self.requests: list[PriorityMessage] = []
        self.occupied: dict[str, bool] = {}
        self.spat: dict[str, SpatGroup] = {}
        self.spat_at = -1

    def tick(self, now: int) -> Outputs:
        """Run the transducer for the tick at ``now`` with everything gathered so far."""
        inputs = Inputs(tuple(self.detectors), tuple(self.requests))
        self.detectors.clear()
        self.requests.clear()
        self.state, out = step(self.state, inputs, now)
        self.out = out
        self.lamps = out.lamps
        return out

    def spat_group(self, sg: str) -> SpatGroup | None:
        """The SPaT row of ``sg`` as a bus receives it (contract model)."""
        out = self.out
        if out is None:
            return None
        if self.spat_at != out.now:
            self.spat = {
                g.sg: SpatGroup(sg=g.sg, state=g.state, min_end=g.min_end, max_end=g.max_end,
                                likely_end=g.likely_end, confidence=g.confidence)
                for g in out.groups
            }
            self.spat_at = out.now
        return self.spat.get(sg)


@dataclass
class _Bus:
    requester: PriorityRequester | None
    last_tls: str | None = None
    pass_odometer: float | None = None
    glosa: bool = False


def _sumo_command(built: BuiltScenario, variant: Variant, tripinfo: Path, end_s: float,
                  seed: int) -> list[str]:
    additionals = [str(built.additional_file)]
    if variant == "baseline":
        additionals.append(str(built.baseline_file))
    return [
        str(binary("sumo")),
        "--net-file", str(built.net_file),
        "--route-files", str(built.route_file),
        "--additional-files", ",".join(additionals),
        "--step-length", str(STEP_S),
        "--end", str(end_s),
        "--seed", str(seed),
        "--tripinfo-output", str(tripinfo),
        "--tripinfo-output.write-unfinished", "true",
        "--pedestrian.model", "striping",
        "--time-to-teleport", "300",
        "--no-step-log", "true",
        "--no-warnings", "true",
        "--duration-log.disable", "true",
    ]


def read_tripinfo(path: Path) -> tuple[list[TripRecord], int, list[float], list[float]]:
    """Finished vehicle trips, the number of unfinished ones, pedestrians' time losses and
    the time losses of cars that entered from a side street."""
    import xml.etree.ElementTree as ET  # noqa: PLC0415 - only needed after a run

    trips: list[TripRecord] = []
    unfinished = 0
    walks: list[float] = []
    side: list[float] = []
    for el in ET.parse(path).getroot():
        if el.tag == "tripinfo":
            if float(el.get("arrival", "-1")) < 0:
                unfinished += 1
                continue
            entry = el.get("departLane", "").split("_")[0]
            if el.get("vType") != BUS_TYPE and entry[-1:] in ("n", "s"):
                side.append(float(el.get("timeLoss", "0")))
            em = el.find("emissions")
            co2 = float(em.get("CO2_abs", "0")) / 1000.0 if em is not None else None
            trips.append(TripRecord(
                el.get("id", ""), el.get("vType", ""), float(el.get("duration", "0")),
                float(el.get("timeLoss", "0")), co2,
            ))
        elif el.tag == "personinfo":
            for walk in el.iter("walk"):
                walks.append(float(walk.get("timeLoss", "0")))
    return trips, unfinished, walks, side


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
        self.buses: dict[str, _Bus] = {}
        self.tracker = BusSignalTracker()
        self.spat_errors = SpatErrorTracker()
        self.result = RunResult(variant, {}, 0.0, 0, 0, 0, 0)
        self.limits = GlosaLimits()

    # --- setup -----------------------------------------------------------------------------

    def _setup(self) -> None:
        sumo = self.sumo
        controlled = self.variant != "baseline"
        for tls_id, built_cfg in self.built.configs.items():
            info = self.built.tls[tls_id]
            model = Intersection.from_config(built_cfg)
            self.audits[tls_id] = LampAudit(model)
            if not controlled:
                sumo.trafficlight.setProgram(tls_id, "baseline")
                continue
            cfg = built_cfg
            if self.variant == "controller":
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
            bus = self.buses.get(vid)
            if bus is not None and bus.requester is not None:
                bus.requester.on_ssem(device, reqs)

    def _observe_baseline(self, sim_ms: int) -> None:
        tl = self.sumo.trafficlight
        for tls_id, audit in self.audits.items():
            state = tl.getRedYellowGreenState(tls_id)
            if state != self.shown.get(tls_id):
                self.shown[tls_id] = state
                audit.record(T0_MS + sim_ms, lamps_of_state(self.built.tls[tls_id].links, state))

    def _new_bus(self, vid: str) -> None:
        requester = None
        if self.variant == "priority":
            direction = "E" if vid.startswith("bus52E") else "W"
            requester = PriorityRequester(vid, _priority_points(self.built, direction),
                                          REQUESTER_RULES)
        self.buses[vid] = _Bus(requester)

    def _buses_step(self, sim_ms: int, fix: bool) -> None:
        v = self.sumo.vehicle
        now = T0_MS + sim_ms
        for vid, bus in self.buses.items():
            speed = v.getSpeed(vid)
            odometer = v.getDistance(vid)
            nxt = v.getNextTLS(vid)
            tls, link, dist = (nxt[0][0], nxt[0][1], nxt[0][2]) if nxt else (None, -1, None)
            if tls != bus.last_tls:
                if bus.last_tls is not None:
                    bus.pass_odometer = odometer
                    if bus.glosa:
                        v.setSpeed(vid, -1)
                        bus.glosa = False
                bus.last_tls = tls
            since = odometer - bus.pass_odometer if bus.pass_odometer is not None else None
            at_stop = bool(v.isAtBusStop(vid))
            self.tracker.observe(
                vid, STEP_S, speed, v.getAllowedSpeed(vid),
                in_zone=in_signal_zone(dist, since), at_bus_stop=at_stop,
            )
            if not fix or self.variant != "priority":
                continue
            self._priority_fix(vid, bus, now, speed, at_stop)
            if tls is not None and dist is not None:
                self._glosa(vid, bus, now, (tls, link, dist), speed=speed, at_stop=at_stop)

    def _priority_fix(self, vid: str, bus: _Bus, now: int, speed: float, at_stop: bool) -> None:
        assert bus.requester is not None
        x, y = self.sumo.vehicle.getPosition(vid)
        lat, lon = xy_to_latlon(x, y)
        course = self.sumo.vehicle.getAngle(vid)
        actions = bus.requester.update(now, lat, lon, speed, course_deg=course, dwelling=at_stop)
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

    def _glosa(self, vid: str, bus: _Bus, now: int, signal: tuple[str, int, float], *,
               speed: float, at_stop: bool) -> None:
        v = self.sumo.vehicle
        tls, link, dist = signal
        ctl = self.controllers.get(tls)
        usable = ctl is not None and dist <= GLOSA_RANGE_M and not at_stop
        if usable and self._stop_ahead_on_edge(vid):
            usable = False
        kind = "none"
        if usable and ctl is not None:
            group = ctl.spat_group(self.built.tls[tls].links[link].sg)
            advice = advise(dist, speed, group, now, self.limits)
            kind = advice.kind
            counts = self.result.glosa_advice
            counts[kind] = counts.get(kind, 0) + 1
            if advice.kind == "adjust" and advice.speed_mps is not None:
                target = min(advice.speed_mps, v.getAllowedSpeed(vid))
                v.setSpeed(vid, target)
                bus.glosa = True
                return
        if bus.glosa:
            v.setSpeed(vid, -1)
            bus.glosa = False

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Start SUMO, run until the demand is served (or the drain limit), then summarise."""
        sumo = load_traci()
        self.sumo = sumo
        sumo.start(_sumo_command(self.built, self.variant, self.tripinfo, self.end_s,
                                 self.seed))
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
            if self.variant == "baseline":
                self._observe_baseline(sim_ms)
            else:
                self._read_loops()
                self._tick_controllers(sim_ms, sample=steps % FIX_EVERY_STEPS == 0)
            sumo.simulationStep()
            steps += 1
            sim_s = sumo.simulation.getTime()
            for vid in sumo.simulation.getDepartedIDList():
                if sumo.vehicle.getTypeID(vid) == BUS_TYPE:
                    self._new_bus(vid)
            for vid in sumo.simulation.getArrivedIDList():
                bus = self.buses.pop(vid, None)
                if bus is not None and bus.requester is not None:
                    bus.requester.cancel_all(T0_MS + round(sim_s * 1000))
            self.result.teleports += sumo.simulation.getStartingTeleportNumber()
            self._buses_step(round(sim_s * 1000), fix=steps % FIX_EVERY_STEPS == 0)
            if self.progress is not None and steps % 20 == 0:
                self.progress(min(sim_s, self.horizon_s), self.horizon_s)
            if sim_s >= self.horizon_s and sumo.simulation.getMinExpectedNumber() == 0:
                break
        self.result.simulated_s = sim_s

    def _finish(self) -> RunResult:
        if not self.tripinfo.exists():
            raise SimulationError(f"SUMO wrote no tripinfo ({self.tripinfo})")
        trips, unfinished, walks, side = read_tripinfo(self.tripinfo)
        violations = sum(a.violations for a in self.audits.values()) + len(self.result.fail_safe)
        mae = None if self.variant == "baseline" else self.spat_errors.mae_s()
        res = self.result
        res.summary = run_summary(trips, self.tracker.accounts, safety_violations=violations,
                                  spat_mae_s=mae)
        bus_ids = [t.id for t in trips if t.vtype == BUS_TYPE]
        res.bus_trips = len(bus_ids)
        res.car_trips = len(trips) - len(bus_ids)
        res.unfinished = unfinished
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

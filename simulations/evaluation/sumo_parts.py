"""The pieces of a SUMO run that touch SUMO itself: loading TraCI, the lamp port, one junction's
controller, SUMO's command line and its tripinfo output.

Why apart from :mod:`simulations.evaluation.sumo_run`: that module is the per-step loop (who
is advised, who asks for priority, what is recorded); these are the fixed plumbing around it,
each small and independent of the variant being run.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.payloads import SpatGroup, SpatPrediction
from signal_controller.domain.controller import initial_state, step
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.intersection import Intersection
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.priority import PriorityMessage
from signal_controller.domain.state import ControllerState, Inputs, Outputs
from simulations.evaluation.domain.metrics import CAR_TYPE, TripRecord
from simulations.scenario.build import (
    SUMO_INSTALL_HINT,
    BuiltScenario,
    SumoMissingError,
    TlsInfo,
    binary,
)
from simulations.scenario.domain.signals import Link, state_string


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
        self._prediction: tuple[object, SpatPrediction] | None = None

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
        """The SPaT row of ``sg`` as a bus or a cyclist's phone receives it (contract model)."""
        out = self.out
        if out is None:
            return None
        if self.spat_at != out.now:
            self.spat = {
                g.sg: SpatGroup(sg=g.sg, state=g.state, min_end=g.min_end, max_end=g.max_end,
                                likely_end=g.likely_end, confidence=g.confidence,
                                next_green=g.next_green, green_end=g.green_end)
                for g in out.groups
            }
            self.spat_at = out.now
        return self.spat.get(sg)

    def spat_prediction(self) -> SpatPrediction | None:
        """The SPaT's ``prediction`` (ok, degraded or stale, and why) as a receiver reads it."""
        status = self.out.prediction if self.out is not None else None
        if status is None:
            return None
        if self._prediction is None or self._prediction[0] is not status:
            self._prediction = (status, SpatPrediction.model_validate(
                {"state": status.state, "reasons": list(status.reasons)}))
        return self._prediction[1]


def sumo_command(built: BuiltScenario, *, baseline: bool, tripinfo: Path, end_s: float,
                 seed: int, step_s: float) -> list[str]:
    """SUMO's command line for one run (the baseline also loads SUMO's actuated programs)."""
    additionals = [str(built.additional_file)]
    if baseline:
        additionals.append(str(built.baseline_file))
    return [
        str(binary("sumo")),
        "--net-file", str(built.net_file),
        "--route-files", str(built.route_file),
        "--additional-files", ",".join(additionals),
        "--step-length", str(step_s),
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


@dataclass(slots=True)
class Tripinfo:
    """What a run's tripinfo file says: finished trips, unfinished ones, pedestrians' time
    losses and the time losses of cars that entered from a side street."""

    trips: list[TripRecord] = field(default_factory=list)
    unfinished: int = 0
    walks: list[float] = field(default_factory=list)
    side_cars: list[float] = field(default_factory=list)


def read_tripinfo(path: Path) -> Tripinfo:
    """Parse SUMO's tripinfo output (see :class:`Tripinfo`)."""
    info = Tripinfo()
    for el in ET.parse(path).getroot():
        if el.tag == "tripinfo":
            if float(el.get("arrival", "-1")) < 0:
                info.unfinished += 1
                continue
            entry = el.get("departLane", "").split("_")[0]
            if el.get("vType") == CAR_TYPE and entry[-1:] in ("n", "s"):
                info.side_cars.append(float(el.get("timeLoss", "0")))
            em = el.find("emissions")
            co2 = float(em.get("CO2_abs", "0")) / 1000.0 if em is not None else None
            info.trips.append(TripRecord(
                el.get("id", ""), el.get("vType", ""), float(el.get("duration", "0")),
                float(el.get("timeLoss", "0")), co2,
            ))
        elif el.tag == "personinfo":
            for walk in el.iter("walk"):
                info.walks.append(float(walk.get("timeLoss", "0")))
    return info

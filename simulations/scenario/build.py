"""Builds a scenario directory: plain XML -> ``netconvert`` -> net, routes, additionals, configs.

Why a runner separate from the writer: it is the only module that starts SUMO's binaries and
reads netconvert's output back (link indices, stop-line positions, netconvert's own program to
learn which links are permissive). Everything it derives from the net file goes through the
pure functions of :mod:`simulations.scenario.domain.signals`.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.errors import KasselError
from signal_controller.domain.plan_check import check_intersection
from simulations.scenario.domain.arterial import (
    APPROACH_GROUP,
    CROSSING_ARM,
    Network,
    SignalTiming,
    approach_edge,
    build_network,
    cycle_lanes_into,
    intersection_config_data,
)
from simulations.scenario.domain.demand import Demand, build_demand
from simulations.scenario.domain.signals import Link, Phase, baseline_phases, minor_links
from simulations.scenario.writer import (
    write_additionals,
    write_baseline_programs,
    write_plain_network,
    write_routes,
)

SCENARIOS = ("arterial",)
SUMO_INSTALL_HINT = (
    "Eclipse SUMO is not installed: install the simulation extra with "
    "`pip install -e '.[sim]'` (eclipse-sumo, libsumo, matplotlib)"
)


class SimulationError(KasselError):
    """A simulation could not be built or run."""


class SumoMissingError(SimulationError):
    """SUMO's Python packages or binaries are not installed."""


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """One SUMO traffic light: its links (index order) and the bus groups' stop lines."""

    id: str
    links: tuple[Link, ...]
    #: sg -> (x, y) of the stop line of its right-most driving lane (net coordinates; not the
    #: cycle lane's).
    stop_lines: dict[str, tuple[float, float]]


@dataclass(frozen=True, slots=True)
class BuiltScenario:
    """Files and data of a built scenario."""

    name: str
    directory: Path
    net_file: Path
    route_file: Path
    additional_file: Path
    baseline_file: Path
    network: Network
    demand: Demand
    timing: SignalTiming
    #: SUMO tls id -> controller config with priority enabled (disabled copies for run b).
    configs: dict[str, IntersectionConfig]
    tls: dict[str, TlsInfo]


def sumo_home() -> Path:
    """SUMO's installation directory from the ``eclipse-sumo`` package."""
    try:
        import sumo  # type: ignore[import-untyped]  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise SumoMissingError(SUMO_INSTALL_HINT) from exc
    home = Path(sumo.SUMO_HOME)
    if not (home / "bin").is_dir():
        raise SumoMissingError(f"{SUMO_INSTALL_HINT} (no binaries under {home})")
    return home


def binary(name: str) -> Path:
    """Path of a SUMO binary (``netconvert``, ``sumo``)."""
    path = sumo_home() / "bin" / name
    if not path.exists():
        raise SumoMissingError(f"{SUMO_INSTALL_HINT} ({path} is missing)")
    return path


def run_netconvert(nodes: Path, edges: Path, net: Path) -> None:
    """Build the SUMO net with sidewalks, crossings and actuated traffic lights."""
    cmd = [
        str(binary("netconvert")), "--node-files", str(nodes), "--edge-files", str(edges),
        "--output-file", str(net), "--crossings.guess", "--no-turnarounds", "true",
        "--tls.default-type", "actuated", "--no-warnings", "true",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SimulationError(f"netconvert failed ({proc.returncode}): {proc.stderr.strip()}")


def _parse_float_pair(text: str) -> tuple[float, float]:
    x, y = text.split(",")[:2]
    return float(x), float(y)


def read_tls(net_file: Path, network: Network) -> dict[str, TlsInfo]:
    """Links, permissive flags and stop lines of every traffic light in ``net_file``."""
    root = ET.parse(net_file).getroot()
    crossings: dict[str, set[str]] = {}
    lane_end: dict[str, tuple[float, float]] = {}
    for edge in root.iter("edge"):
        if edge.get("function") == "crossing":
            crossings[edge.get("id", "")] = set(edge.get("crossingEdges", "").split())
        for lane in edge.iter("lane"):
            shape = lane.get("shape", "").split()
            if shape:
                lane_end[lane.get("id", "")] = _parse_float_pair(shape[-1])
    programs: dict[str, list[str]] = {}
    for logic in root.iter("tlLogic"):
        programs[logic.get("id", "")] = [p.get("state", "") for p in logic.iter("phase")]
    by_junction = {j.id: j for j in network.junctions}
    edge_group: dict[str, tuple[str, str]] = {}
    arm_edges: dict[tuple[str, str], str] = {}
    for j in network.junctions:
        for arm, sg in APPROACH_GROUP.items():
            approach = approach_edge(network, j, arm)
            edge_group[approach] = (j.id, sg)
            arm_edges[(j.id, arm)] = approach
    links: dict[str, dict[int, str]] = {tls: {} for tls in programs}
    for conn in root.iter("connection"):
        tls = conn.get("tl")
        if tls is None:
            continue
        idx = int(conn.get("linkIndex", "-1"))
        src, dst = conn.get("from", ""), conn.get("to", "")
        if src in edge_group:
            links[tls][idx] = edge_group[src][1]
        elif dst in crossings:
            j = by_junction[tls]
            for sg, arm in CROSSING_ARM.items():
                if arm_edges[(j.id, arm)] in crossings[dst]:
                    links[tls][idx] = sg
    out: dict[str, TlsInfo] = {}
    for tls, states in programs.items():
        size = len(states[0])
        missing = [i for i in range(size) if i not in links[tls]]
        if missing:
            raise SimulationError(f"{net_file}: links {missing} of {tls} map to no group")
        minor = minor_links(states, size)
        stops = {}
        j = by_junction[tls]
        for arm, sg in APPROACH_GROUP.items():
            approach = arm_edges[(j.id, arm)]
            first = network.edge(approach).first_vehicle_lane
            stops[sg] = lane_end[f"{approach}_{first}"]
        out[tls] = TlsInfo(
            tls,
            tuple(Link(i, links[tls][i], i in minor) for i in range(size)),
            stops,
        )
    return out


def build_scenario(
    name: str,
    out: Path,
    *,
    minutes: float,
    seed: int,
    timing: SignalTiming | None = None,
) -> BuiltScenario:
    """Write every input file of scenario ``name`` into ``out`` and run netconvert."""
    if name not in SCENARIOS:
        raise SimulationError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    timing = timing or SignalTiming()
    out.mkdir(parents=True, exist_ok=True)
    network = build_network()
    demand = build_demand(network, minutes=minutes, seed=seed)
    nodes, edges = write_plain_network(network, out)
    net_file = out / "arterial.net.xml"
    run_netconvert(nodes, edges, net_file)
    tls = read_tls(net_file, network)
    configs: dict[str, IntersectionConfig] = {}
    programs: dict[str, list[Phase]] = {}
    for j in network.junctions:
        cfg = IntersectionConfig.model_validate(
            intersection_config_data(network, j, timing, priority=True)
        )
        problems = check_intersection(cfg)
        if problems:
            raise SimulationError(
                f"scenario config {j.device_id} breaks the plan check: "
                + "; ".join(f"{f}: {m}" for f, m in problems)
            )
        configs[j.id] = cfg
        programs[j.id] = baseline_phases(cfg, tls[j.id].links)
    return BuiltScenario(
        name=name,
        directory=out,
        net_file=net_file,
        route_file=write_routes(network, demand, out),
        additional_file=write_additionals(network, timing, out),
        baseline_file=write_baseline_programs(
            programs, timing.arterial.gap_s, out,
            undetected={j.id: cycle_lanes_into(network, j) for j in network.junctions}),
        network=network,
        demand=demand,
        timing=timing,
        configs=configs,
        tls=tls,
    )

"""Generate the intersection configs in ``firmware_configs/intersections/`` from geometry.

Why a generator: intergreens must follow from measured clearing and entering distances by the
documented RiLSA-style formula (:mod:`signal_controller.domain.rilsa`), and fixed-time windows
from the stage sequence by the same shortest-legal-transition rule the controller uses. The
geometry below is the single source; ``python -m signal_controller.configgen --write`` rewrites
the YAML files and ``--check`` (run by the tests) fails when a file disagrees. The lanes of
each config's ``geometry`` section (what its MAPEM describes) follow from the junction's
``arms`` and ``crosswalks`` by the rules of :mod:`signal_controller.lanegen`.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from signal_controller.domain.rilsa import Intergreen, Movement, intergreen
from signal_controller.lanegen import ArmSpec, CrosswalkSpec, LaneSpec, geometry

OUT_DIR = Path(__file__).resolve().parent.parent / "firmware_configs" / "intersections"


@dataclass(frozen=True)
class GroupSpec:
    """A signal group and how its vehicles move (for the clearing speed)."""

    sg: str
    kind: str
    approach: str
    min_green_s: float
    amber_s: float
    red_amber_s: float
    lanes: int = 1
    protected: bool = True
    turning: bool = False
    note: str = ""


@dataclass(frozen=True)
class ConflictSpec:
    """Two groups whose paths cross at a conflict point, with each stop line's distance."""

    a: str
    b: str
    a_m: float
    b_m: float


@dataclass(frozen=True)
class StageSpec:
    """An actuated stage and its fixed-time green in the fixed-time program."""

    id: str
    groups: tuple[str, ...]
    min_green_s: float
    max_green_s: float
    fixed_green_s: float
    gap_s: float = 3.0


@dataclass(frozen=True)
class JunctionSpec:
    """Everything one config file is generated from."""

    device_id: str
    name: str
    lat: float
    lon: float
    description: str
    groups: tuple[GroupSpec, ...]
    conflicts: tuple[ConflictSpec, ...]
    stages: tuple[StageSpec, ...]
    detectors: tuple[tuple[str, str, str], ...]
    priority_groups: tuple[str, ...]
    #: upstream loops ``(id, sg, metres before the stop line)``: 35 m on the through lanes,
    #: at the end of a left-turn bay (German practice), for the prediction only.
    upstream: tuple[tuple[str, str, float], ...] = ()
    arms: tuple[ArmSpec, ...] = ()
    crosswalks: tuple[CrosswalkSpec, ...] = ()
    elevation_m: float = 0.0
    mode: str = "actuated"
    max_extension_s: float = 15.0
    max_early_s: float = 10.0
    extra: dict[str, object] = field(default_factory=dict)


def _v(sg: str, approach: str, **kw: object) -> GroupSpec:
    """A motor-vehicle group with the urban 50 km/h timings (amber 3 s, red-amber 1 s)."""
    kind = str(kw.pop("kind", "vehicle"))
    return GroupSpec(sg, kind, approach, 5.0, 3.0, 1.0, **kw)  # type: ignore[arg-type]


def _f(sg: str, approach: str, min_green_s: float, note: str) -> GroupSpec:
    """A pedestrian group (no amber, no red-amber)."""
    return GroupSpec(sg, "pedestrian", approach, float(min_green_s), 0.0, 0.0, lanes=0, note=note)


def _l(sg: str, *maneuvers: str, length_m: float = 50.0) -> LaneSpec:
    """An ingress lane controlled by ``sg`` allowing ``maneuvers``."""
    return LaneSpec(sg, maneuvers, length_m=length_m)


SPECS: tuple[JunctionSpec, ...] = (
    JunctionSpec(
        device_id="ks-0042",
        name="Holländischer Platz",
        lat=51.3227,
        lon=9.5067,
        description=(
            "4-arm junction: main road N-S (2 lanes + left-turn lane each way, 17 m), side "
            "road E-W (11 m); protected left turns from N and S; right turns yield to parallel "
            "pedestrians (permissive); E/W lefts permissive; four pedestrian crossings."
        ),
        groups=(
            _v("K1", "N", lanes=2, protected=False, note="N through+right (bus route 4)"),
            _v("K2", "E", protected=False, note="E all movements, left permissive"),
            _v("K3", "S", lanes=2, protected=False, note="S through+right"),
            _v("K4", "W", protected=False, note="W all movements, left permissive"),
            _v("K5", "N", turning=True, note="N protected left turn"),
            _v("K6", "S", turning=True, note="S protected left turn"),
            _f("F1", "N", 6, "crossing the N arm, 17 m"),
            _f("F2", "E", 5, "crossing the E arm, 11 m"),
            _f("F3", "S", 6, "crossing the S arm, 17 m"),
            _f("F4", "W", 5, "crossing the W arm, 11 m"),
        ),
        conflicts=(
            ConflictSpec("K1", "K2", 14, 12), ConflictSpec("K1", "K4", 24, 6),
            ConflictSpec("K1", "K6", 17, 10), ConflictSpec("K1", "F1", 2, 10),
            ConflictSpec("K1", "F3", 28, 8),
            ConflictSpec("K3", "K2", 24, 6), ConflictSpec("K3", "K4", 14, 12),
            ConflictSpec("K3", "K5", 17, 10), ConflictSpec("K3", "F3", 2, 10),
            ConflictSpec("K3", "F1", 28, 8),
            ConflictSpec("K2", "K5", 9, 20), ConflictSpec("K2", "K6", 20, 9),
            ConflictSpec("K2", "F2", 2, 6), ConflictSpec("K2", "F4", 20, 5),
            ConflictSpec("K4", "K5", 20, 9), ConflictSpec("K4", "K6", 9, 20),
            ConflictSpec("K4", "F4", 2, 6), ConflictSpec("K4", "F2", 20, 5),
            ConflictSpec("K5", "F2", 22, 6), ConflictSpec("K5", "F1", 2, 4),
            ConflictSpec("K6", "F4", 22, 6), ConflictSpec("K6", "F3", 2, 4),
        ),
        stages=(
            StageSpec("S1", ("K1", "K3", "F2", "F4"), 8, 45, 36),
            StageSpec("S2", ("K5", "K6"), 5, 15, 8),
            StageSpec("S3", ("K2", "K4", "F1", "F3"), 8, 30, 18),
        ),
        detectors=(
            ("D1", "K1", "loop"), ("D3", "K3", "loop"),
            ("D5", "K5", "loop"), ("D6", "K6", "loop"), ("D2", "K2", "loop"),
            ("D4", "K4", "loop"), ("P1", "F1", "button"), ("P3", "F3", "button"),
        ),
        upstream=(("U1", "K1", 35.0), ("U3", "K3", 35.0), ("U5", "K5", 30.0),
                  ("U6", "K6", 30.0), ("U2", "K2", 35.0), ("U4", "K4", 35.0)),
        priority_groups=("K1", "K3"),
        # main road N-S: left pocket, through, through+right in; 2 lanes out. Side road
        # E-W (11 m): one lane each way. Stop lines behind the crosswalks.
        arms=(
            ArmSpec("N", 0, 11.5, (_l("K5", "left", length_m=30), _l("K1", "straight"),
                                   _l("K1", "straight", "right")), egress=2),
            ArmSpec("E", 90, 14.5, (_l("K2", "straight", "left", "right"),), egress=1),
            ArmSpec("S", 180, 11.5, (_l("K6", "left", length_m=30), _l("K3", "straight"),
                                     _l("K3", "straight", "right")), egress=2),
            ArmSpec("W", 270, 14.5, (_l("K4", "straight", "left", "right"),), egress=1),
        ),
        crosswalks=(CrosswalkSpec("F1", "N", 17), CrosswalkSpec("F2", "E", 11),
                    CrosswalkSpec("F3", "S", 17), CrosswalkSpec("F4", "W", 11)),
        elevation_m=163.0,
    ),
    JunctionSpec(
        device_id="ks-0107",
        name="Wilhelmshöher Allee / Kunoldstraße",
        lat=51.3147,
        lon=9.4621,
        description=(
            "T-junction: main road W-E (2 lanes each way) with tram tracks in the median, side "
            "road Kunoldstraße from the south; protected left turn from the east across the "
            "tracks; tram signals per direction; crossings over the side road and the east arm."
        ),
        groups=(
            _v("K1", "W", lanes=2, protected=False, note="W through+right (right yields to F1)"),
            _v("K2", "E", lanes=2, note="E through"),
            _v("K3", "E", turning=True, note="E left turn into Kunoldstraße, over the tracks"),
            _v("K4", "S", turning=True, note="Kunoldstraße left+right"),
            GroupSpec("T1", "tram", "W", 5, 3.0, 1.0, note="tram eastbound (lines 1, 3)"),
            GroupSpec("T2", "tram", "E", 5, 3.0, 1.0, note="tram westbound (lines 1, 3)"),
            _f("F1", "S", 5, "crossing Kunoldstraße, 9 m"),
            _f("F2", "E", 8, "crossing the east arm and the tracks, 24 m"),
        ),
        conflicts=(
            ConflictSpec("K1", "K3", 16, 8), ConflictSpec("K1", "K4", 12, 10),
            ConflictSpec("K1", "F2", 26, 6),
            ConflictSpec("K2", "K4", 10, 18), ConflictSpec("K2", "F2", 2, 20),
            ConflictSpec("K3", "T1", 9, 14), ConflictSpec("K3", "T2", 7, 12),
            ConflictSpec("K3", "K4", 12, 9), ConflictSpec("K3", "F2", 2, 16),
            ConflictSpec("K3", "F1", 20, 5),
            ConflictSpec("K4", "T1", 10, 12), ConflictSpec("K4", "T2", 14, 10),
            ConflictSpec("K4", "F1", 2, 5),
            ConflictSpec("T1", "F2", 24, 12), ConflictSpec("T2", "F2", 2, 12),
        ),
        stages=(
            StageSpec("S1", ("K1", "K2", "T1", "T2", "F1"), 10, 50, 40),
            StageSpec("S2", ("K2", "K3"), 5, 15, 8),
            StageSpec("S3", ("K4", "F2"), 8, 25, 15),
        ),
        detectors=(("D3", "K3", "loop"), ("D4", "K4", "loop"), ("P2", "F2", "button")),
        upstream=(("U3", "K3", 30.0), ("U4", "K4", 35.0)),
        priority_groups=("T1", "T2", "K1"),
        # Wilhelmshöher Allee W-E: 2 lanes each way, tracks in a 6.4 m median; from the
        # east a left pocket over the tracks; Kunoldstraße one lane each way.
        arms=(
            ArmSpec("W", 270, 7.5, (_l("K1", "straight"), _l("K1", "straight", "right")),
                    egress=2, median_m=6.4, tram_in="T1", tram_out=True),
            ArmSpec("E", 90, 10.5, (_l("K3", "left", length_m=30), _l("K2", "straight"),
                                    _l("K2", "straight")),
                    egress=2, median_m=6.4, tram_in="T2", tram_out=True),
            ArmSpec("S", 180, 19.0, (_l("K4", "left", "right"),), egress=1),
        ),
        crosswalks=(CrosswalkSpec("F1", "S", 9), CrosswalkSpec("F2", "E", 24)),
        elevation_m=196.0,
    ),
    JunctionSpec(
        device_id="ks-0210",
        name="Friedrich-Ebert-Straße / Fußgängerfurt Annastraße",
        lat=51.3170,
        lon=9.4802,
        description=(
            "Mid-block pedestrian crossing over a 2-lane street (12 m) with push buttons; the "
            "street rests in green, pedestrians get green on demand."
        ),
        groups=(
            _v("K1", "W", note="eastbound"),
            _v("K2", "E", note="westbound"),
            _f("F1", "N", 6, "crossing, 12 m"),
        ),
        conflicts=(
            ConflictSpec("K1", "F1", 8, 9), ConflictSpec("K2", "F1", 8, 3),
        ),
        stages=(
            StageSpec("S1", ("K1", "K2"), 12, 60, 40),
            StageSpec("S2", ("F1",), 6, 10, 8),
        ),
        detectors=(("P1", "F1", "button"), ("P2", "F1", "button")),
        priority_groups=("K1", "K2"),
        max_extension_s=10.0,
        max_early_s=5.0,
        # the reference point is the middle of the crossing; stop lines 5 m either side
        arms=(
            ArmSpec("W", 270, 5.0, (_l("K1", "straight"),), egress=1),
            ArmSpec("E", 90, 5.0, (_l("K2", "straight"),), egress=1),
        ),
        crosswalks=(CrosswalkSpec("F1", "W", 12, distance_m=0.0),),
        elevation_m=171.0,
    ),
)


def intergreens(spec: JunctionSpec) -> dict[str, dict[str, Intergreen]]:
    """Every intergreen of ``spec`` (both directions of each conflict)."""
    by = {g.sg: g for g in spec.groups}
    out: dict[str, dict[str, Intergreen]] = {}
    for c in spec.conflicts:
        for clear, enter, s_clear, s_enter in ((c.a, c.b, c.a_m, c.b_m), (c.b, c.a, c.b_m, c.a_m)):
            gc, ge = by[clear], by[enter]
            out.setdefault(clear, {})[enter] = intergreen(
                Movement(gc.kind, s_clear, gc.turning, gc.amber_s),
                Movement(ge.kind, s_enter, ge.turning, ge.amber_s),
            )
    return out


def fixed_windows(
    spec: JunctionSpec, ig: dict[str, dict[str, int]]
) -> tuple[int, dict[str, list[list[int]]]]:
    """Cycle and green windows of the fixed-time program: stages in order, each at its fixed
    green, joined by the shortest legal transition (see ``docs/signal_controller.md``)."""
    by = {g.sg: g for g in spec.groups}
    ig_in: dict[str, dict[str, int]] = {}
    for a, row in ig.items():
        for b, s in row.items():
            ig_in.setdefault(b, {})[a] = s
    last_green: dict[str, float] = {}
    green_since: dict[str, int] = {}
    windows: dict[str, list[list[int]]] = {}
    green: set[str] = set()
    t_end = 0
    decisions: list[int] = []
    for _round in range(3):
        for stage in spec.stages:
            decisions.append(t_end)
            target = set(stage.groups)
            for sg in green - target:
                last_green[sg] = t_end
                windows.setdefault(sg, []).append([green_since[sg], t_end])
            starts = {}
            for sg in target - green:
                gs = t_end + int(by[sg].red_amber_s)
                for other, s in ig_in.get(sg, {}).items():
                    if other in last_green:
                        gs = max(gs, int(last_green[other]) + s)
                starts[sg] = gs
                green_since[sg] = gs
            start = max(starts.values(), default=t_end)
            green = target
            t_end = start + int(stage.fixed_green_s)
    n = len(spec.stages)
    origin, nxt = decisions[n], decisions[2 * n]
    cycle = nxt - origin
    return cycle, {
        sg: [[s - origin, e - origin] for s, e in wins if origin <= s < nxt]
        for sg, wins in sorted(windows.items())
    }


def build(spec: JunctionSpec) -> dict[str, object]:
    """The config of ``spec`` as plain data (the YAML file's content)."""
    igs = intergreens(spec)
    ig = {a: {b: v.seconds for b, v in sorted(row.items())} for a, row in sorted(igs.items())}
    cycle, greens = fixed_windows(spec, ig)
    return {
        "device_id": spec.device_id,
        "kind": "intersection",
        "name": spec.name,
        "location": {"lat": spec.lat, "lon": spec.lon},
        "signal_groups": [
            {"sg": g.sg, "kind": g.kind, "approach": g.approach, "min_green_s": g.min_green_s,
             "amber_s": g.amber_s, "red_amber_s": g.red_amber_s, "lanes": g.lanes,
             "protected": g.protected, "its_sg": its_sg}
            for its_sg, g in enumerate(spec.groups, start=1)
        ],
        "intergreen_s": ig,
        "control": {
            "mode": spec.mode,
            "cycle_s": cycle,
            "greens": greens,
            "stages": [
                {"id": s.id, "groups": list(s.groups), "min_green_s": s.min_green_s,
                 "max_green_s": s.max_green_s, "gap_s": s.gap_s}
                for s in spec.stages
            ],
        },
        "detectors": [{"id": d, "sg": sg, "kind": k} for d, sg, k in spec.detectors] + [
            {"id": d, "sg": sg, "kind": "loop", "placement": "upstream", "distance_m": m}
            for d, sg, m in spec.upstream
        ],
        "priority": {"enabled": True, "max_extension_s": spec.max_extension_s,
                     "max_early_s": spec.max_early_s, "groups": list(spec.priority_groups)},
        "its": its_identity(spec.device_id),
        "geometry": geometry(spec.arms, spec.crosswalks,
                             {g.sg: g.approach for g in spec.groups}, spec.elevation_m),
    }


#: ITS station ids of the shipped controllers: this prefix (Kassel's dialling code, 0561)
#: times 10^6 plus the intersection's number, so a captured message names its controller.
ITS_STATION_PREFIX = 561_000_000


def its_identity(device_id: str) -> dict[str, int]:
    """The C-ITS identity of ``ks-NNNN``: intersection id NNNN, station id 561 00N NNN;
    signal groups get ``its_sg`` 1, 2, ... in the order of the config."""
    number = int(device_id.rsplit("-", 1)[1])
    return {"station_id": ITS_STATION_PREFIX + number, "intersection_id": number}


class _FlowDumper(yaml.SafeDumper):
    """Block style at the top, flow style for the small inner mappings and lists: a mapping
    or list is written on one line unless it holds a mapping, or a list of mappings."""


def _nested(value: object) -> bool:
    if isinstance(value, dict):
        return bool(value)
    return isinstance(value, list) and any(isinstance(v, dict) for v in value)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, object]) -> yaml.Node:
    flow = not any(_nested(v) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[object]) -> yaml.Node:
    flow = not any(isinstance(v, dict) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FlowDumper.add_representer(dict, _represent_dict)
_FlowDumper.add_representer(list, _represent_list)


def render(spec: JunctionSpec) -> str:
    """The YAML text of ``spec`` with a header naming the generator and the geometry."""
    lines = [
        f"# {spec.name} ({spec.device_id})",
        *(f"# {line}" for line in textwrap.wrap(spec.description, 96)),
        "# Generated by `python -m signal_controller.configgen --write` from the geometry in",
        "# signal_controller/configgen.py (intergreens: RiLSA-style formula, see README.md).",
        "# Do not edit by hand; change the geometry and regenerate.",
    ]
    body = yaml.dump(build(spec), Dumper=_FlowDumper, sort_keys=False, allow_unicode=True,
                     width=100)
    return "\n".join(lines) + "\n" + body


def main(argv: list[str] | None = None) -> int:
    """``--write`` regenerates the files, ``--check`` reports files that differ (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m signal_controller.configgen")
    parser.add_argument("--write", action="store_true", help="rewrite the YAML files")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    stale = []
    for spec in SPECS:
        path = args.out / f"{spec.device_id}.yaml"
        text = render(spec)
        if args.write:
            path.write_text(text, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path))
    for path in stale:
        print(f"{path}: differs from the generator (run with --write)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

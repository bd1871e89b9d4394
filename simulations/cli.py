"""``kassel sim evaluate``: the SUMO evaluation of the talking traffic lights.

Why a thin module: argument checking and exit codes only; the work is in
:mod:`simulations.evaluation`. SUMO is imported lazily so that ``kassel --help`` works on a
device without the ``sim`` extra.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
MAX_MINUTES = 24 * 60


def register(sub: Any) -> None:
    """Add ``sim evaluate`` to the ``kassel`` parser."""
    sim = sub.add_parser("sim", help="traffic simulations (Eclipse SUMO)")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True, metavar="SIM_COMMAND")
    ev = sim_sub.add_parser(
        "evaluate",
        help="SUMO runs (a) actuated baseline, (b) controller, (c) + priority and GLOSA",
    )
    ev.add_argument("--scenario", default="arterial", help="scenario name")
    ev.add_argument("--minutes", default="60", help="simulated minutes of demand")
    ev.add_argument("--seed", nargs="+", default=["1"], metavar="SEED",
                    help="demand seed; several (e.g. 1 2 3 or 1-8) run one after the other "
                    "into DIR/seed-N/ with an overview in DIR/seeds.md and DIR/seeds.json")
    ev.add_argument("--out", required=True, help="output directory (created)")
    ev.set_defaults(handler=run_evaluate)


def _usage(message: str) -> int:
    print(f"kassel sim evaluate: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_evaluate(args: argparse.Namespace) -> int:
    """Check the arguments, run the evaluation, print where the report is."""
    from simulations.scenario.build import SCENARIOS  # noqa: PLC0415

    if args.scenario not in SCENARIOS:
        return _usage(f"--scenario: unknown scenario {args.scenario!r} "
                      f"(known: {', '.join(SCENARIOS)})")
    try:
        minutes = float(args.minutes)
    except ValueError:
        return _usage(f"--minutes: not a number: {args.minutes!r}")
    if not math.isfinite(minutes) or not 1 <= minutes <= MAX_MINUTES:
        return _usage(f"--minutes: must be between 1 and {MAX_MINUTES}, got {args.minutes}")
    from simulations.evaluation.domain.seeds import parse_seeds  # noqa: PLC0415

    try:
        seeds = parse_seeds(args.seed)
    except ValueError as exc:
        return _usage(f"--seed: {exc}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _usage(f"--out: {out} exists and is not a directory")

    from simulations.evaluation.evaluate import ProgressBar, evaluate  # noqa: PLC0415
    from simulations.evaluation.seeds import evaluate_seeds  # noqa: PLC0415
    from simulations.scenario.build import SimulationError, SumoMissingError  # noqa: PLC0415

    try:
        if len(seeds) > 1:
            several = evaluate_seeds(args.scenario, minutes, seeds, out, progress=ProgressBar())
            print(f"seeds:   {several.json_path}")
            print(f"report:  {several.report_path}")
            if several.worst is not None:
                print(f"worst seed: {several.worst.seed} ({several.worst.goal.label} "
                      f"{several.worst.change_pct:+.1f} %)")
            return EXIT_OK
        result = evaluate(args.scenario, minutes, seeds[0], out, progress=ProgressBar())
    except SumoMissingError as exc:
        print(f"kassel sim evaluate: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except SimulationError as exc:
        print(f"kassel sim evaluate: simulation failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"kassel sim evaluate: {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"summary: {result.summary_path}")
    print(f"report:  {result.report_path}")
    return EXIT_OK

"""``kassel opendata datasets``: what the city publishes, column by column, with where each
column comes from and how the privacy gate treats it.

WHY a command: the people who answer for a publication (the data-protection officer, the
statistics office) review what will leave the city before the first run; this prints the
datasets' definitions exactly as the producers and the gate read them (``--json`` for tools).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from central_hub.opendata.domain.datasets import DATASETS
from edge_agent.cli import EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``opendata`` command group."""
    parser = sub.add_parser("opendata", help="the open-data datasets and their privacy rules")
    cmds = parser.add_subparsers(dest="opendata_command", required=True, metavar="ACTION")
    show = cmds.add_parser(
        "datasets", help="print every dataset's columns, their sources and privacy rules",
        description="Print each dataset the hub publishes: its columns (type, unit, source), "
        "which count people (suppressed below the threshold, noised where ε is set) and which "
        "are quasi-identifiers (k-anonymity). Format: docs/opendata.md.")
    show.add_argument("--json", action="store_true", help="as JSON")
    show.set_defaults(handler=_datasets)


def _datasets(args: argparse.Namespace) -> int:
    if args.json:
        json.dump([asdict(d) for d in DATASETS], sys.stdout, ensure_ascii=False, indent=2,
                  default=lambda v: getattr(v, "value", str(v)))
        sys.stdout.write("\n")
        return EXIT_OK
    for d in DATASETS:
        p = d.privacy
        noise = f"ε = {p.epsilon} per release" if p.epsilon else "no noise"
        print(f"{d.id}: {d.title}")
        print(f"  themes {', '.join(d.themes)} · {d.periodicity.lower()} · licence {d.licence}")
        if d.api_only:
            print("  files as published by the source (no table, no people)")
        else:
            print(f"  privacy: counts of people below {p.threshold} suppressed, {noise}, "
                  f"k ≥ {p.k}")
        for c in d.columns:
            marks = ("people" if c.people else "") + (" quasi-identifier" if
                                                      c.quasi_identifier else "")
            unit = f" [{c.unit}]" if c.unit else ""
            print(f"  - {c.name} ({c.type.value}{unit}){' ' + marks.strip() if marks else ''}:"
                  f" {c.description}; from {c.source}")
        print()
    return EXIT_OK

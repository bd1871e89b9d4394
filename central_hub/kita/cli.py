"""``kassel kita allocate``: the central Kita allocation from CSV files.

A thin adapter: it reads and validates the files (:mod:`central_hub.kita.csv_io`), runs the
first round (:func:`~central_hub.kita.domain.first_round`), and writes the results and, on
request, the explanations. Only verified priority claims count: a file with the optional
``*_verified`` columns is allocated like the hub allocates; without them the file's claims
are the city's verified record, and a note on stderr says so. Exit codes follow the
``kassel`` convention: 0 done, 2 bad input (stderr names file, line and field; nothing is
written), 1 a runtime failure.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections import Counter
from pathlib import Path

from central_hub.kita.csv_io import read_input, write_explanations, write_results
from central_hub.kita.domain import explain, first_round
from central_hub.kita.errors import KitaInputError, UnstableAllocationError
from edge_agent.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``kita`` command group."""
    parser = sub.add_parser("kita", help="central allocation of Kita places")
    cmds = parser.add_subparsers(dest="kita_command", required=True, metavar="ACTION")
    allocate = cmds.add_parser(
        "allocate",
        help="allocate places by deferred acceptance (exit 2 on bad input)",
        description="Allocate Kita places per age group by child-proposing deferred "
        "acceptance. Formats and policy: docs/kita.md.",
    )
    allocate.add_argument(
        "--kitas", required=True, type=Path, metavar="K.csv", help="one row per Kita and age group"
    )
    allocate.add_argument(
        "--applications", required=True, type=Path, metavar="A.csv", help="one row per child"
    )
    allocate.add_argument(
        "--out", required=True, type=Path, metavar="R.csv", help="result, one row per child"
    )
    allocate.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="draw the lottery from this seed when A.csv has no lottery column",
    )
    allocate.add_argument(
        "--explain",
        type=Path,
        metavar="E.csv",
        help="also write one row per choice not obtained, with the Kita's cutoff",
    )
    allocate.set_defaults(handler=_allocate)


def _allocate(args: argparse.Namespace) -> int:
    # A run builds millions of small, long-lived tuples and no reference cycles; the cyclic
    # garbage collector would rescan them again and again (a third of the run time at
    # 100,000 children), so it pauses for the duration of the command.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_allocation(args)
    finally:
        if collecting:
            gc.enable()


def _run_allocation(args: argparse.Namespace) -> int:
    try:
        loaded = read_input(args.kitas, args.applications, args.seed)
    except KitaInputError as exc:
        print(exc, file=sys.stderr)
        print("kassel kita allocate: nothing allocated", file=sys.stderr)
        return EXIT_USAGE
    for note in loaded.notes:
        print(f"kassel kita allocate: note: {note}", file=sys.stderr)
    if loaded.trusted:
        print(
            f"kassel kita allocate: note: {args.applications} has no {', '.join(loaded.trusted)}"
            " column: those claims count as verified by the city (docs/kita.md)",
            file=sys.stderr,
        )
    if args.seed is not None and not loaded.lottery_drawn:
        print(
            f"kassel kita allocate: --seed ignored, {args.applications} has a lottery column",
            file=sys.stderr,
        )
    try:
        result = first_round(loaded.kitas, loaded.applications)
    except UnstableAllocationError as exc:
        print(f"kassel kita allocate: allocation withheld: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        write_results(args.out, result.placements)
        if args.explain is not None:
            write_explanations(args.explain, explain(result))
    except OSError as exc:
        print(f"kassel kita allocate: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    ranks = Counter(p.choice_rank for p in result.placements)
    unplaced = ranks.pop(None, 0)
    by_rank = ", ".join(f"choice {rank}: {ranks[rank]}" for rank in sorted(r for r in ranks if r))
    placed = len(result.placements) - unplaced
    print(
        f"{args.out}: {len(result.placements)} children, {placed} placed "
        f"({by_rank or 'none'}), {unplaced} without a place"
    )
    if loaded.lottery_drawn:
        print(f"lottery drawn with seed {args.seed}; the numbers are in {args.out}")
    return EXIT_OK

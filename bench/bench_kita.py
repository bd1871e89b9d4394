"""Benchmark of the Kita allocation (issue 7) against the ``matching`` library.

Why: the allocation must run at Kassel scale (10,000 children, 200 Kitas, two age groups,
five choices) at least 50x faster than ``matching``'s ``HospitalResident`` solver with an
identical result, and 100,000 children in under 10 s. Both solvers get the same seeded
instance in the same run; ``matching`` is fed our priorities as its preference lists.

Run: ``.venv/bin/python bench/bench_kita.py`` (about a minute; ``--help`` for sizes).
Timings are the best of ``--repeats`` runs, so background load inflates them less.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matching.games import HospitalResident

from central_hub.kita.csv_io import write_applications, write_kitas
from central_hub.kita.domain import explain, find_problems, first_round
from central_hub.kita.domain.deferred_acceptance import propose
from central_hub.kita.domain.instance import build_instances
from central_hub.kita.domain.preference_lists import PreferenceLists, preference_lists
from central_hub.kita.synthetic import kassel_instance

ROOT = Path(__file__).resolve().parent.parent
KASSEL = ROOT / ".venv" / "bin" / "kassel"


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of ``repeats`` runs (after a full garbage collection) and a result."""
    best = float("inf")
    result = None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def matching_game(lists: PreferenceLists) -> Any:
    """``matching``'s HospitalResident game for one age group (Kitas without places dropped)."""
    open_kitas = {kita for kita, places in lists.capacities.items() if places > 0}
    residents = {
        child: [kita for kita in kitas if kita in open_kitas]
        for child, kitas in lists.children.items()
    }
    residents = {child: kitas for child, kitas in residents.items() if kitas}
    hospitals = {kita: lists.kitas[kita] for kita in open_kitas}
    capacities = {kita: lists.capacities[kita] for kita in open_kitas}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns about Kitas nobody ranked
        return HospitalResident.create_from_dictionaries(residents, hospitals, capacities)


def solve_with_matching(all_lists: list[PreferenceLists]) -> dict[str, str]:
    """child_id -> kita_id from ``matching`` (construction and resident-optimal solve)."""
    assignment: dict[str, str] = {}
    for lists in all_lists:
        game = matching_game(lists)
        for kita, children in game.solve(optimal="resident").items():
            for child in children:
                assignment[child.name] = kita.name
    return assignment


def best_solve_with_matching(all_lists: list[PreferenceLists], repeats: int) -> float:
    """Best time of ``matching``'s solve alone; each repeat gets fresh games (solve mutates)."""
    best = float("inf")
    for _ in range(repeats):
        games = [matching_game(lists) for lists in all_lists]
        gc.collect()
        start = time.perf_counter()
        for game in games:
            game.solve(optimal="resident")
        best = min(best, time.perf_counter() - start)
    return best


def kassel_scale(args: argparse.Namespace) -> None:
    kitas, applications = kassel_instance(args.children, args.kitas, seed=args.seed)
    n_groups = len({k.age_group for k in kitas})
    print(
        f"## Kassel scale: {len(applications)} children, {args.kitas} Kitas, "
        f"{n_groups} age groups, 5 choices (seed {args.seed})"
    )
    ours_time, result = best_of(args.repeats, lambda: first_round(kitas, applications))
    ours = {p.child_id: p.kita_id for p in result.placements if p.kita_id is not None}

    instances = build_instances(kitas, applications)
    keys = [inst.keys(False) for inst in instances]

    def core() -> None:
        for inst, inst_keys in zip(instances, keys, strict=True):
            propose(
                inst.start,
                inst.kita_at,
                inst_keys,
                [k.capacity for k in inst.kitas],
                range(inst.size),
                modulus=inst.size,
                child_of_tie_break=inst.children_by_tie_break(False),
            )

    core_time, _ = best_of(args.repeats, core)
    all_lists = [preference_lists(inst) for inst in instances]
    theirs_time, theirs = best_of(args.matching_repeats, lambda: solve_with_matching(all_lists))

    def matching_pipeline() -> dict[str, str]:
        # the same work as first_round: validate, compute priorities, rank every Kita's
        # applicants (matching needs the lists), solve (no stability check, no placements)
        if find_problems(kitas, applications):
            raise SystemExit("the generated instance is invalid")
        lists = [preference_lists(inst) for inst in build_instances(kitas, applications)]
        return solve_with_matching(lists)

    pipeline_time, _ = best_of(args.matching_repeats, matching_pipeline)
    solve_time = best_solve_with_matching(all_lists, args.matching_repeats)
    identical = ours == theirs
    placed = len(ours)
    print(f"placed {placed} of {len(applications)}; identical to matching: {identical}")
    print("ours: first_round from the records (validate, priorities, DA, stability check,")
    print(f"      placements)                                     {ours_time * 1000:8.1f} ms")
    print("matching: same records -> validate, priorities, lists, build, solve")
    print(f"                                                      {pipeline_time * 1000:8.1f} ms")
    print(f"  ratio, same work:                 {pipeline_time / ours_time:5.0f}x (goal >= 50x)")
    print("matching: build + solve only, given ready preference lists")
    print(f"                                                      {theirs_time * 1000:8.1f} ms")
    print(f"  ratio, matching's part only:      {theirs_time / ours_time:5.0f}x")
    print(f"ours: deferred acceptance alone (integer core)       {core_time * 1000:8.1f} ms")
    print(f"matching: solve() alone on built games               {solve_time * 1000:8.1f} ms")
    print(f"  ratio, algorithm alone:           {solve_time / core_time:5.0f}x")
    if not identical:
        differ = sum(1 for c in set(ours) | set(theirs) if ours.get(c) != theirs.get(c))
        print(f"MISMATCH: {differ} children differ")
        sys.exit(1)


def large_scale(args: argparse.Namespace) -> None:
    kitas, applications = kassel_instance(args.large, args.kitas, seed=args.seed)
    print(f"\n## {len(applications)} children, {args.kitas} Kitas")
    alloc_time, result = best_of(args.large_repeats, lambda: first_round(kitas, applications))
    explain_time, rows = best_of(args.large_repeats, lambda: explain(result))
    print(f"first_round (domain, in process): {alloc_time:.2f} s")
    print(f"explain ({len(rows)} rows):        {explain_time:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_kitas(folder / "K.csv", kitas)
        write_applications(folder / "A.csv", applications, with_lottery=False)
        base = [
            str(KASSEL),
            "kita",
            "allocate",
            "--kitas",
            str(folder / "K.csv"),
            "--applications",
            str(folder / "A.csv"),
            "--out",
            str(folder / "R.csv"),
            "--seed",
            str(args.seed),
        ]
        for label, extra in (
            ("CLI end to end", []),
            ("CLI end to end with --explain", ["--explain", str(folder / "E.csv")]),
        ):
            cli_time, _ = best_of(
                args.large_repeats,
                lambda extra=extra: subprocess.run(
                    [*base, *extra], check=True, capture_output=True
                ),
            )
            print(f"{label} (start-up, read, validate, allocate, write): {cli_time:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--kitas", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--matching-repeats", type=int, default=2)
    parser.add_argument("--large", type=int, default=100_000, help="0 to skip")
    parser.add_argument("--large-repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {sys.platform}")
    kassel_scale(args)
    if args.large:
        large_scale(args)


if __name__ == "__main__":
    # matching deep-copies its linked player objects recursively: at 10,000 children that
    # needs a deeper recursion limit and a larger thread stack than the defaults.
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(512 * 1024 * 1024)
    worker = threading.Thread(target=main, name="bench_kita")
    worker.start()
    worker.join()

"""``kassel sim evaluate --seed 1-8``: one evaluation per seed, then ``seeds.json`` and
``seeds.md`` with every seed's changes, the means of the tuning and the unseen seeds and the
worst seed.

Why one command: the figures must be re-measured whenever the controller, the prediction or the
advice changes (another change may be merged any time), and repeated exactly; a loop a person
types is not. Each seed goes into ``DIR/seed-N/`` as a single-seed evaluation would, and the
overview is rewritten after every seed, so a stopped run keeps what it finished. Seeds run one
after the other: a SUMO run takes a whole core.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulations.evaluation.domain.goals import CYCLIST_GOAL, GOALS
from simulations.evaluation.domain.seeds import (
    CYCLIST_TIME_LOSS,
    SEED_GOALS,
    SEED_METRICS,
    TUNING_SEEDS,
    UNSEEN_SEEDS,
    GroupMean,
    SeedFigures,
    WorstSeed,
    group_means,
    seed_figures,
    worst_seed,
)
from simulations.evaluation.evaluate import ProgressBar, evaluate
from simulations.evaluation.report import summary_data

LABELS = {
    **{g.metric: g.label for g in SEED_GOALS},
    CYCLIST_TIME_LOSS: "time lost per cyclist trip",
}


@dataclass(frozen=True, slots=True)
class SeedsEvaluation:
    """Where the overview went and what it says."""

    json_path: Path
    report_path: Path
    figures: list[SeedFigures]
    means: list[GroupMean]
    worst: WorstSeed | None


def evaluate_seeds(scenario: str, minutes: float, seeds: Sequence[int], out: Path, *,
                   progress: ProgressBar | None = None) -> SeedsEvaluation:
    """Evaluate every seed into ``out/seed-N`` and write the overview into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    figures: list[SeedFigures] = []
    result: SeedsEvaluation | None = None
    for seed in seeds:
        if progress is not None:
            progress.stream.write(f"seed {seed} ({len(figures) + 1}/{len(seeds)})\n")
        ev = evaluate(scenario, minutes, seed, out / f"seed-{seed}", progress=progress)
        figures.append(seed_figures(seed, summary_data(scenario, minutes, seed, ev.results)))
        result = write_overview(scenario, minutes, figures, out)
    assert result is not None  # seeds is never empty (parse_seeds)
    return result


def write_overview(scenario: str, minutes: float, figures: list[SeedFigures],
                   out: Path) -> SeedsEvaluation:
    """Write ``seeds.json`` and ``seeds.md`` for the seeds evaluated so far."""
    means = group_means(figures)
    worst = worst_seed(figures)
    data = {
        "scenario": scenario,
        "minutes": int(minutes) if float(minutes).is_integer() else minutes,
        "tuning_seeds": list(TUNING_SEEDS),
        "unseen_seeds": list(UNSEEN_SEEDS),
        "goals": {g.metric: {"limit_pct": g.limit_pct, "after": g.after, "before": g.before}
                  for g in SEED_GOALS},
        "seeds": [{
            "seed": f.seed, "role": f.role, "summary": f"seed-{f.seed}/summary.json",
            "changes_pct": f.changes,
            "values": {k: list(v) for k, v in f.values.items()},
            "reached": {g.metric: f.reached(g) for g in SEED_GOALS},
        } for f in figures],
        "means": {m.name: {
            "seeds": list(m.seeds), "changes_pct": m.changes,
            "reached": {g.metric: m.reached(g) for g in SEED_GOALS},
        } for m in means},
        "worst_seed": None if worst is None else {
            "seed": worst.seed, "metric": worst.goal.metric, "change_pct": worst.change_pct,
            "limit_pct": worst.goal.limit_pct, "margin_pct": worst.margin_pct,
        },
    }
    json_path = out / "seeds.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    report_path = out / "seeds.md"
    report_path.write_text(render_overview(scenario, minutes, figures, means, worst),
                           encoding="utf-8")
    return SeedsEvaluation(json_path, report_path, figures, means, worst)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def _mark(value: float | None, reached: bool | None) -> str:
    if reached is None:
        return _pct(value)
    return f"{_pct(value)} {'✔' if reached else '✘'}"


def render_overview(scenario: str, minutes: float, figures: Sequence[SeedFigures],
                    means: Sequence[GroupMean], worst: WorstSeed | None) -> str:
    """The Markdown overview of several seeds."""
    goal_of = {g.metric: g for g in SEED_GOALS}
    head = "| seed | role | " + " | ".join(LABELS[m] for m in SEED_METRICS) + " |"
    limits = "| goal | | " + " | ".join(
        (f"{goal_of[m].limit_pct:+.0f} %" if goal_of[m].limit_pct < 0
         else f"≤ {goal_of[m].limit_pct:+.0f} %") if m in goal_of else "—"
        for m in SEED_METRICS) + " |"
    lines = [
        f"# SUMO evaluation over {len(figures)} seeds — scenario `{scenario}`",
        "",
        f"{minutes:g} simulated minutes per seed; every seed's own report is in `seed-N/`. "
        f"Changes of (c) against (a) for the bus and car goals, of (c) against (c0) (the same "
        f"run without cyclist advice) for the cyclists. Seeds {_list(TUNING_SEEDS)} are "
        f"*tuning* seeds, {_list(UNSEEN_SEEDS)} *unseen*: they are for reporting, "
        "not for tuning. A group's mean is the mean of its seeds' changes.",
        "",
        head,
        "|---|---|" + "---|" * len(SEED_METRICS),
        limits,
    ]
    for f in figures:
        lines.append(f"| {f.seed} | {f.role} | " + " | ".join(
            _mark(f.changes.get(m), f.reached(goal_of[m]) if m in goal_of else None)
            for m in SEED_METRICS) + " |")
    for m in means:
        lines.append(f"| **mean {m.name}** ({_list(m.seeds)}) | | " + " | ".join(
            _mark(m.changes.get(k), m.reached(goal_of[k]) if k in goal_of else None)
            for k in SEED_METRICS) + " |")
    lines.append("")
    if worst is not None:
        verdict = "misses it by" if worst.margin_pct > 0 else "within"
        lines.append(
            f"Worst seed for the goals of (c) against (a): **seed {worst.seed}** "
            f"({_role(figures, worst.seed)}), {worst.goal.label} {_pct(worst.change_pct)} "
            f"against the goal {worst.goal.limit_pct:+.0f} % ({verdict} "
            f"{abs(worst.margin_pct):.1f} points).")
    cyclist = worst_seed(figures, (CYCLIST_GOAL,))
    if cyclist is not None:
        lines.append(
            f"Worst seed for the cyclists' advice: seed {cyclist.seed}, cyclist stops "
            f"{_pct(cyclist.change_pct)} against the goal {CYCLIST_GOAL.limit_pct:+.0f} %.")
    for m in means:
        met = sum(m.reached(g) for g in GOALS)
        group = "all seeds" if m.name == "all" else f"the {m.name} seeds"
        bikes = "reached" if m.reached(CYCLIST_GOAL) else "not reached"
        lines.append(f"Mean of {group}: {met} of {len(GOALS)} goals of (c) against "
                     f"(a) reached; cyclist goal {bikes}.")
    lines += ["", "## Values per seed", "",
              "Per trip; (a) → (c) for the bus and car figures, (c0) → (c) for the cyclists.",
              "", "| seed | " + " | ".join(LABELS[m] for m in SEED_METRICS) + " |",
              "|---|" + "---|" * len(SEED_METRICS)]
    for f in figures:
        lines.append(f"| {f.seed} | " + " | ".join(
            _pair(f.values.get(m)) for m in SEED_METRICS) + " |")
    lines.append("")
    return "\n".join(lines)


def _pair(values: tuple[float | None, float | None] | None) -> str:
    if values is None:
        return "n/a"
    return " → ".join(_value(v) for v in values)


def _value(v: float | None) -> str:
    if v is None:
        return "n/a"
    digits = 2 if abs(v) < 10 else 1 if abs(v) < 1000 else 0
    return f"{v:.{digits}f}"


def _list(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def _role(figures: Sequence[SeedFigures], seed: int) -> str:
    return next((f.role for f in figures if f.seed == seed), "other")

"""Several seeds of one evaluation: which seeds tune and which prove, per-seed and mean changes,
the worst seed.

Why: one seed's figures are one draw of the demand. Issue 18 asks for savings shown on seeds
nobody looked at while tuning: seeds 1-4 are the *tuning* seeds (anything may be changed while
looking at them), seeds 5-8 the *unseen* ones (run once, to report). The mean of a group is the
mean of its seeds' percentage changes (each seed has the same demand size, so no seed weighs
more), judged against the same limits as one seed. The worst seed is the one that misses a goal
of (c) against (a) by most, or comes closest to missing one: it names where the savings are
thinnest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from simulations.evaluation.domain.goals import CYCLIST_GOAL, GOALS, Goal, evaluate_goal

SeedRole = Literal["tuning", "unseen", "other"]
TUNING_SEEDS = (1, 2, 3, 4)
UNSEEN_SEEDS = (5, 6, 7, 8)
#: the goals judged per seed and on the means: the issue's four, then the cyclists' advice.
SEED_GOALS: tuple[Goal, ...] = (*GOALS, CYCLIST_GOAL)
#: reported beside the goals, without a limit: the advice's effect on the cyclists' time.
CYCLIST_TIME_LOSS = "cyclist_time_loss_s"
#: every change a seed reports, in table order.
SEED_METRICS: tuple[str, ...] = (*(g.metric for g in SEED_GOALS), CYCLIST_TIME_LOSS)
#: no more seeds than this in one command (8 tuning + unseen seeds, with room to spare).
MAX_SEEDS = 32


def seed_role(seed: int) -> SeedRole:
    """Whether ``seed`` may be looked at while tuning (see the module docstring)."""
    if seed in TUNING_SEEDS:
        return "tuning"
    if seed in UNSEEN_SEEDS:
        return "unseen"
    return "other"


def parse_seeds(items: Sequence[str]) -> tuple[int, ...]:
    """Seeds from ``--seed`` arguments: integers or ranges ``a-b``, in the given order, each
    once. Raises ``ValueError`` with the message for the user."""
    out: list[int] = []
    for item in items:
        first, sep, last = item.partition("-")
        try:
            lo = int(first)
            hi = int(last) if sep else lo
        except ValueError:
            raise ValueError(f"not an integer or a range a-b: {item!r}") from None
        if lo < 0 or hi < 0:
            raise ValueError(f"must not be negative, got {item}")
        if hi < lo:
            raise ValueError(f"empty range {item}")
        if hi - lo >= MAX_SEEDS:
            raise ValueError(f"at most {MAX_SEEDS} seeds, got {item}")
        out += [s for s in range(lo, hi + 1) if s not in out]
    if not out:
        raise ValueError("no seed given")
    if len(out) > MAX_SEEDS:
        raise ValueError(f"at most {MAX_SEEDS} seeds, got {len(out)}")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SeedFigures:
    """One seed's changes (percent) per goal metric, from its ``summary.json``, and the two
    values each change compares (before, after)."""

    seed: int
    role: SeedRole
    changes: dict[str, float | None]
    values: dict[str, tuple[float | None, float | None]]

    def reached(self, goal: Goal) -> bool:
        """Whether this seed reached ``goal``."""
        return _reached(self.changes.get(goal.metric), goal)


def _reached(change: float | None, goal: Goal) -> bool:
    return change is not None and change <= goal.limit_pct


def seed_figures(seed: int, summary: Mapping[str, object]) -> SeedFigures:
    """The changes of every goal of :data:`SEED_GOALS` in one seed's summary document."""
    runs = summary.get("runs")
    if not isinstance(runs, Mapping):
        raise ValueError(f"seed {seed}: summary without runs")
    changes: dict[str, float | None] = {}
    values: dict[str, tuple[float | None, float | None]] = {}
    loss = Goal(CYCLIST_TIME_LOSS, "", 0.0, before=CYCLIST_GOAL.before, after=CYCLIST_GOAL.after)
    for goal in (*SEED_GOALS, loss):
        before, after = runs.get(goal.before), runs.get(goal.after)
        if not isinstance(before, Mapping) or not isinstance(after, Mapping):
            changes[goal.metric] = None
            continue
        result = evaluate_goal(goal, before, after)
        changes[goal.metric] = None if result.change_pct is None else round(result.change_pct, 2)
        values[goal.metric] = (result.before, result.after)
    return SeedFigures(seed, seed_role(seed), changes, values)


@dataclass(frozen=True, slots=True)
class GroupMean:
    """The mean change per goal metric over a group of seeds."""

    name: str
    seeds: tuple[int, ...]
    changes: dict[str, float | None]

    def reached(self, goal: Goal) -> bool:
        """Whether the group's mean reached ``goal``."""
        return _reached(self.changes.get(goal.metric), goal)


def group_mean(name: str, figures: Iterable[SeedFigures]) -> GroupMean:
    """Mean of the per-seed changes (a metric missing in a seed leaves that seed out)."""
    figs = list(figures)
    changes: dict[str, float | None] = {}
    for metric in SEED_METRICS:
        vals = [c for f in figs if (c := f.changes.get(metric)) is not None]
        changes[metric] = round(sum(vals) / len(vals), 2) if vals else None
    return GroupMean(name, tuple(f.seed for f in figs), changes)


def group_means(figures: Sequence[SeedFigures]) -> list[GroupMean]:
    """The means of the tuning seeds, the unseen seeds and all seeds (the groups present; all
    seeds only when they are not one group already)."""
    out = []
    for name in ("tuning", "unseen"):
        members = [f for f in figures if f.role == name]
        if members:
            out.append(group_mean(name, members))
    every = tuple(f.seed for f in figures)
    if len(figures) > 1 and all(m.seeds != every for m in out):
        out.append(group_mean("all", figures))
    return out


@dataclass(frozen=True, slots=True)
class WorstSeed:
    """The seed whose (c)-vs-(a) goal has the smallest margin (``margin_pct`` > 0: missed)."""

    seed: int
    goal: Goal
    change_pct: float
    margin_pct: float


def worst_seed(figures: Sequence[SeedFigures], goals: Sequence[Goal] = GOALS
               ) -> WorstSeed | None:
    """The worst seed over ``goals`` (the issue's four by default); ``None`` without data."""
    worst: WorstSeed | None = None
    for f in figures:
        for goal in goals:
            change = f.changes.get(goal.metric)
            if change is None:
                continue
            margin = round(change - goal.limit_pct, 2)
            if worst is None or margin > worst.margin_pct:
                worst = WorstSeed(f.seed, goal, change, margin)
    return worst

"""The issue's goals for run (c) against the baseline (a), the cyclists' goal for the advice
((c) against (c0), the same run without cyclist advice), and whether a run reached them.

Why data: the report must state the goals next to what was reached, honestly, and the same
table is checked by tests; so the goals are a list here, not prose in a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simulations.evaluation.domain.metrics import change_pct


@dataclass(frozen=True, slots=True)
class Goal:
    """``metric`` of the run ``after`` must change by at most ``limit_pct`` percent against the
    run ``before`` (by default (c) against (a))."""

    metric: str
    label: str
    limit_pct: float
    #: published reference figures for context.
    reference: str = ""
    before: str = "baseline"
    after: str = "priority"


GOALS: tuple[Goal, ...] = (
    Goal("bus_signal_delay_s", "bus delay at signals", -30.0,
         "published transit-priority deployments: -33 to -39 %"),
    Goal("bus_signal_stops", "bus stops at signals", -30.0),
    Goal("bus_co2_g", "bus CO2", -10.0),
    Goal("car_delay_s", "car delay", 5.0, "no worse than +5 %"),
)
#: the cyclists' speed advice: stops at signals with advice against without (same signals).
CYCLIST_GOAL = Goal("cyclist_signal_stops", "cyclist stops at signals", -30.0,
                    before="priority_no_cyclist_glosa")


@dataclass(frozen=True, slots=True)
class GoalResult:
    """One goal with the change reached (``None`` when a value is missing)."""

    goal: Goal
    before: float | None
    after: float | None
    change_pct: float | None

    @property
    def reached(self) -> bool:
        """Whether the change is at or below the goal's limit."""
        return self.change_pct is not None and self.change_pct <= self.goal.limit_pct


#: fewer finished bus trips per run than this, and the means are too noisy to judge a goal by:
#: at 24 trips (60 simulated minutes) the four-seed spread of bus CO2 was about 4 points, the
#: size of the margin to the goal; with one trip a single red light decides everything.
MIN_BUS_TRIPS = 20
#: the same for cyclists (60 simulated minutes give about 160 trips).
MIN_CYCLIST_TRIPS = 50


def sample_verdict(bus_trips: int, *, what: str = "bus", needed: int = MIN_BUS_TRIPS
                   ) -> str | None:
    """``None`` when ``bus_trips`` (the fewest of the compared runs; of ``what``) is enough to
    judge the goals; otherwise the sentence the report shows instead of a goal count."""
    if bus_trips >= needed:
        return None
    return (f"Too few {what} trips to judge the goals ({bus_trips} finished in the smallest "
            f"run; at least {needed} are needed): run longer, e.g. --minutes 60, or "
            "several seeds. The changes above are shown, not judged.")


def _num(run: Mapping[str, object], key: str) -> float | None:
    value = run.get(key)
    return float(value) if isinstance(value, int | float) else None


def evaluate_goal(goal: Goal, before: Mapping[str, object], after: Mapping[str, object]
                  ) -> GoalResult:
    """``goal`` for the run ``after`` against the run ``before``."""
    b, a = _num(before, goal.metric), _num(after, goal.metric)
    return GoalResult(goal, b, a, change_pct(b, a))


def evaluate_goals(
    baseline: Mapping[str, object], candidate: Mapping[str, object]
) -> list[GoalResult]:
    """Every goal of :data:`GOALS` for ``candidate`` (run c) against ``baseline`` (run a)."""
    return [evaluate_goal(g, baseline, candidate) for g in GOALS]

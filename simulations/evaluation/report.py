"""``summary.json`` (docs/interfaces.md: Command line), ``report.md`` and its PNG plots.

Why one module: the machine-readable summary and the human report must show the same numbers;
both are written from the same :class:`~simulations.evaluation.sumo_run.RunResult` objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from simulations.evaluation.domain.goals import (
    CYCLIST_GOAL,
    MIN_CYCLIST_TRIPS,
    GoalResult,
    evaluate_goal,
    evaluate_goals,
    sample_verdict,
)
from simulations.evaluation.domain.metrics import RUN_KEYS, change_pct
from simulations.evaluation.sumo_run import VARIANTS, RunResult

LABELS = {
    "bus_signal_delay_s": "bus delay at signals (s/trip)",
    "bus_signal_stops": "bus stops at signals (/trip)",
    "bus_travel_time_s": "bus travel time (s/trip)",
    "car_delay_s": "car delay (s/trip)",
    "bus_co2_g": "bus CO2 (g/trip)",
    "safety_violations": "safety violations",
    "spat_mae_s": "SPaT likely_end MAE (s)",
    "cyclist_signal_stops": "cyclist stops at signals (/trip)",
    "cyclist_time_loss_s": "cyclist time loss (s/trip)",
}
RUN_TITLES = {
    "baseline": "(a) SUMO actuated",
    "controller": "(b) project controller",
    "priority": "(c) controller + TSP + GLOSA",
    "priority_no_cyclist_glosa": "(c0) as (c), no cyclist advice",
}
#: the runs compared for the cyclists' advice: with it, without it (same signal control).
ADVISED, UNADVISED = CYCLIST_GOAL.after, CYCLIST_GOAL.before


def cyclist_advice(results: Mapping[str, RunResult]) -> dict[str, object]:
    """The advice's effect on cyclists for ``summary.json``: (c) against (c0)."""
    without, with_ = results[UNADVISED].summary, results[ADVISED].summary
    stops = evaluate_goal(CYCLIST_GOAL, without, with_)
    loss = change_pct(_num(without.get("cyclist_time_loss_s")),
                      _num(with_.get("cyclist_time_loss_s")))
    return {
        "with": ADVISED,
        "without": UNADVISED,
        "stops_change_pct": _round1(stops.change_pct),
        "time_loss_change_pct": _round1(loss),
        "stops_goal_pct": CYCLIST_GOAL.limit_pct,
        "stops_goal_reached": stops.reached,
    }


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _round1(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def summary_data(scenario: str, minutes: float, seed: int,
                 results: Mapping[str, RunResult]) -> dict[str, object]:
    """The ``summary.json`` document: exactly these keys, each run with exactly ``RUN_KEYS``."""
    return {
        "scenario": scenario,
        "minutes": int(minutes) if float(minutes).is_integer() else minutes,
        "seed": seed,
        "runs": {v: {k: results[v].summary[k] for k in RUN_KEYS} for v in VARIANTS},
        "cyclist_advice": cyclist_advice(results),
    }


def write_summary(path: Path, data: Mapping[str, object]) -> Path:
    """Write ``summary.json`` (pretty, UTF-8)."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def plot(results: Mapping[str, RunResult], out: Path) -> list[Path]:
    """Bar charts of the main metrics and the distribution of bus signal delay per trip."""
    import matplotlib  # noqa: PLC0415 - optional extra, imported on use

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    paths = []
    metrics = ["bus_signal_delay_s", "bus_signal_stops", "bus_travel_time_s", "car_delay_s",
               "bus_co2_g", "spat_mae_s", "cyclist_signal_stops", "cyclist_time_loss_s"]
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
    colours = ["#888888", "#3a7dc9", "#2a9d4b", "#9ccf9f"]
    for ax, key in zip(axes.flat, metrics, strict=True):
        vals = [results[v].summary.get(key) for v in VARIANTS]
        heights = [float(x) if isinstance(x, int | float) else 0.0 for x in vals]
        ax.bar([RUN_TITLES[v].split(" ")[0] for v in VARIANTS], heights, color=colours)
        for i, x in enumerate(vals):
            ax.text(i, heights[i], _fmt(x), ha="center", va="bottom", fontsize=8)
        ax.set_title(LABELS[key], fontsize=9)
    fig.suptitle("SUMO evaluation: (a) SUMO actuated, (b) controller, (c) + TSP + GLOSA, "
                 "(c0) (c) without cyclist advice")
    fig.tight_layout()
    path = out / "metrics.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(8, 4))
    data = [results[v].bus_delays_s or [0.0] for v in VARIANTS]
    ax.boxplot(data)
    ax.set_xticks(range(1, len(VARIANTS) + 1), [RUN_TITLES[v] for v in VARIANTS], fontsize=8)
    ax.set_ylabel("bus delay at signals per trip (s)")
    ax.set_title("Bus signal delay per trip")
    fig.tight_layout()
    path = out / "bus_signal_delay.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths


def _goal_lines(goals: Sequence[GoalResult]) -> list[str]:
    lines = [
        "| goal (c) vs (a) | target | (a) | (c) | change | reached |",
        "|---|---|---|---|---|---|",
    ]
    for g in goals:
        target = f"{g.goal.limit_pct:+.0f} %" if g.goal.limit_pct < 0 else (
            f"≤ {g.goal.limit_pct:+.0f} %")
        lines.append(
            f"| {g.goal.label} | {target} | {_fmt(g.before)} | {_fmt(g.after)} | "
            f"{_pct(g.change_pct)} | {'yes' if g.reached else 'no'} |"
        )
    return lines


def _row(label: str, results: Mapping[str, RunResult], value: Callable[[RunResult], object],
         digits: int = 1) -> str:
    return f"| {label} | " + " | ".join(_fmt(value(results[v]), digits) for v in VARIANTS) + " |"


def _cyclist_lines(results: Mapping[str, RunResult]) -> list[str]:
    """The cyclists' section: the advice's effect, (c) against (c0), and its goal."""
    with_, without, base = results[ADVISED], results[UNADVISED], results["baseline"]
    stops = evaluate_goal(CYCLIST_GOAL, without.summary, with_.summary)
    verdict = sample_verdict(min(with_.cyclist_trips, without.cyclist_trips), what="cyclist",
                             needed=MIN_CYCLIST_TRIPS)
    loss = ("cyclist_time_loss_s", "time lost per cyclist trip (s, SUMO timeLoss)")
    return [
        "## Cyclists: speed advice, (c) against (c0)",
        "",
        "Cyclists ride the corridor on its cycle lanes with the arterial's signals. (c) and (c0) "
        "run the same signal control (controller, transit priority, bus GLOSA); only (c) "
        "gives cyclists GLOSA advice (12-25 km/h, never above a rider's own cruising speed), so "
        "the difference is the advice's effect.",
        "",
        "| cyclists | (c0) without advice | (c) with advice | change | goal | reached |",
        "|---|---|---|---|---|---|",
        f"| {CYCLIST_GOAL.label} (/trip) | {_fmt(stops.before, 2)} | {_fmt(stops.after, 2)} | "
        f"{_pct(stops.change_pct)} | {CYCLIST_GOAL.limit_pct:+.0f} % | "
        f"{'yes' if stops.reached else 'no'} |",
        f"| {loss[1]} | {_fmt(_f(without, loss[0]))} | {_fmt(_f(with_, loss[0]))} | "
        f"{_pct(change_pct(_f(without, loss[0]), _f(with_, loss[0])))} | — | |",
        "",
        verdict or f"Finished cyclist trips: {with_.cyclist_trips} with advice, "
        f"{without.cyclist_trips} without.",
        "",
        "Everything together, (c) against (a): cyclist stops "
        f"{_pct(change_pct(_f(base, CYCLIST_GOAL.metric), _f(with_, CYCLIST_GOAL.metric)))}, "
        f"time lost {_pct(change_pct(_f(base, loss[0]), _f(with_, loss[0])))}.",
        f"Cyclist advice given in (c) (1 Hz per cyclist within 250 m of a stop line): "
        f"{_counts(with_.cyclist_advice)}.",
        "",
    ]


def render_report(scenario: str, minutes: float, seed: int, *,
                  results: Mapping[str, RunResult], plots: Sequence[Path],
                  notes: Sequence[str] = ()) -> str:
    """The Markdown report."""
    base, ctl, prio = (results[v] for v in ("baseline", "controller", "priority"))
    goals = evaluate_goals(base.summary, prio.summary)
    lines = [
        f"# SUMO evaluation — scenario `{scenario}`",
        "",
        f"Demand: {minutes:g} simulated minutes (seed {seed}); each run continues until every "
        f"vehicle has arrived. Identical demand in all {len(VARIANTS)} runs.",
        "",
        "## Results",
        "",
        "| metric | " + " | ".join(RUN_TITLES[v] for v in VARIANTS) + " |",
        "|---|" + "---|" * len(VARIANTS),
    ]
    for key in RUN_KEYS:
        lines.append(f"| {LABELS[key]} | " + " | ".join(
            _fmt(results[v].summary.get(key), 2) for v in VARIANTS) + " |")
    lines += [
        _row("finished bus trips", results, lambda r: r.bus_trips),
        _row("finished car trips", results, lambda r: r.car_trips),
        _row("finished cyclist trips", results, lambda r: r.cyclist_trips),
        _row("unfinished trips", results, lambda r: r.unfinished),
        _row("teleports", results, lambda r: r.teleports),
        _row("car delay, side-street entries only (s/trip)", results,
             lambda r: r.side_car_delay_s),
        _row("pedestrian time loss (s/walk)", results, lambda r: r.ped_time_loss_s),
        _row("simulated time (s)", results, lambda r: r.simulated_s, 0),
        "",
        "## Goals of issue 6: (c) against (a)",
        "",
        *_goal_lines(goals),
        "",
        sample_verdict(min(base.bus_trips, prio.bus_trips))
        or f"Reached {sum(g.reached for g in goals)} of {len(goals)} goals.",
        "",
        "Other comparisons: (b) against (a) — bus signal delay "
        f"{_pct(change_pct(_f(base, 'bus_signal_delay_s'), _f(ctl, 'bus_signal_delay_s')))}, "
        f"car delay {_pct(change_pct(_f(base, 'car_delay_s'), _f(ctl, 'car_delay_s')))}; "
        "(c) against (b) — bus signal delay "
        f"{_pct(change_pct(_f(ctl, 'bus_signal_delay_s'), _f(prio, 'bus_signal_delay_s')))}, "
        f"car delay {_pct(change_pct(_f(ctl, 'car_delay_s'), _f(prio, 'car_delay_s')))}.",
        "",
        *_cyclist_lines(results),
        "## Safety check",
        "",
        "Every lamp state of every run was replayed against the intersections' rules "
        "(conflicting greens, intergreens, minimum green, amber and red-amber times, lamp "
        "sequence, fail-safe):",
        "",
    ]
    for v in VARIANTS:
        r = results[v]
        lines.append(
            f"- {RUN_TITLES[v]}: {r.lamp_changes} aspect changes audited, "
            f"{r.summary['safety_violations']} violations"
            + (f"; first: {r.safety_messages[0]}" if r.safety_messages else "")
            + (f"; fail-safe: {r.fail_safe[0]}" if r.fail_safe else "")
        )
    lines += [
        "",
        "## Priority and GLOSA in run (c)",
        "",
        f"- srem sent by the buses: {_counts(prio.srem_sent)}",
        f"- ssem statuses answered by the controllers: {_counts(prio.ssem_statuses)}",
        f"- GLOSA advice (1 Hz per bus within 250 m of a stop line): {_counts(prio.glosa_advice)}",
        "",
        "## Plots",
        "",
        *(f"![{p.stem}]({p.name})" for p in plots),
        "",
    ]
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    lines += [
        "## Method",
        "",
        "- (a) SUMO's own actuated traffic lights (`type=\"actuated\"`, gap-out on SUMO's "
        "detectors, which count cars and buses as the controller's loops do) with the same "
        "stages, minimum/maximum greens and intergreens as the project's configs; (b) the "
        "project's `signal_controller` domain code, actuated, fed by SUMO induction loops, "
        "lamps set with `setRedYellowGreenState` every step; (c) as (b) plus transit signal "
        "priority requested by `bus_gateway`'s `PriorityRequester` from the buses' positions, "
        "and `bus_gateway`'s GLOSA advice applied with `setSpeed` to buses and cyclists (each "
        "with its own speed range); (c0) as (c) without the cyclists' advice.",
        "- Bus and cyclist stops and bus delay at signals: time lost against the free speed "
        "within 100 m before and 20 m after a stop line, not counting time at bus stops; a "
        "stop at a signal: speed below 0.1 m/s there (counted again after exceeding 1 m/s).",
        "- Car delay and cyclist time loss: SUMO tripinfo `timeLoss`; bus CO2: SUMO's HBEFA3 "
        "model (tripinfo emissions, `CO2_abs`); SPaT MAE: |published likely_end − actual "
        "switch|, sampled every second for every group.",
        "",
    ]
    return "\n".join(lines)


def _f(r: RunResult, key: str) -> float | None:
    v = r.summary.get(key)
    return float(v) if isinstance(v, int | float) else None


def _counts(counts: Mapping[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))

"""``kassel sim evaluate``: build the scenario once, run (a), (b), (c), (c0), write summary and
report.

Why one orchestrator: the three runs must share one built scenario (identical net, demand and
configs) and one seed, and the user must see progress on a long run; this module owns both.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from simulations.evaluation.report import plot, render_report, summary_data, write_summary
from simulations.evaluation.sumo_run import VARIANTS, RunResult, SumoRun
from simulations.scenario.build import build_scenario
from simulations.scenario.domain.arterial import SignalTiming


class ProgressBar:
    """A one-line progress bar on stderr: run name, bar, percent, simulated seconds."""

    WIDTH = 30

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.label = ""
        self._last = -1

    def start(self, label: str) -> None:
        """Begin a new run's bar."""
        self.label = label
        self._last = -1
        self.update(0.0, 1.0)

    def update(self, done: float, total: float) -> None:
        """Redraw when the percentage changed."""
        pct = int(100 * done / total) if total > 0 else 100
        if pct == self._last:
            return
        self._last = pct
        filled = self.WIDTH * pct // 100
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label:<34} [{bar}] {pct:3d}% t={done:6.0f}/{total:.0f} s")
        self.stream.flush()

    def finish(self, note: str) -> None:
        """End the line with ``note``."""
        self.stream.write(f"  {note}\n")
        self.stream.flush()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Where the outputs went and the per-run results."""

    summary_path: Path
    report_path: Path
    results: dict[str, RunResult]


def evaluate(scenario: str, minutes: float, seed: int, out: Path, *,
             timing: SignalTiming | None = None,
             progress: ProgressBar | None = None) -> Evaluation:
    """Run the evaluation into ``out`` and return what was written."""
    out.mkdir(parents=True, exist_ok=True)
    built = build_scenario(scenario, out / "scenario", minutes=minutes, seed=seed,
                           timing=timing)
    results: dict[str, RunResult] = {}
    for i, variant in enumerate(VARIANTS, start=1):
        label = f"run {i}/{len(VARIANTS)} {variant}"
        if progress is not None:
            progress.start(label)
        started = time.monotonic()
        run = SumoRun(built, variant, minutes=minutes, seed=seed, out_dir=out,
                      progress=progress.update if progress is not None else None)
        results[variant] = run.run()
        if progress is not None:
            progress.update(1.0, 1.0)
            progress.finish(f"{time.monotonic() - started:.0f} s wall")
    data = summary_data(scenario, minutes, seed, results)
    summary_path = write_summary(out / "summary.json", data)
    plots = plot(results, out)
    notes = [
        f"{len(built.demand.cars)} cars, {len(built.demand.buses)} bus trips (line 52, both "
        f"directions, every 5 min), {len(built.demand.cyclists)} cyclists (the whole corridor "
        f"on its cycle lanes, both directions) and {len(built.demand.walks)} pedestrians over "
        f"{len(built.network.junctions)} signalised junctions; files in `scenario/`.",
    ]
    report_path = out / "report.md"
    report_path.write_text(render_report(
        scenario, minutes, seed, results=results, plots=plots, notes=notes),
                           encoding="utf-8")
    return Evaluation(summary_path, report_path, results)

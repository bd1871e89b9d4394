"""Health sampling: the CPU share is over each sampler's own window (no false 100 %)."""

from __future__ import annotations

from pathlib import Path

from edge_agent.health import HealthSampler, cpu_busy_pct


class FakeCpu:
    """Host CPU seconds that advance as the test says: ``busy`` of every ``total``."""

    def __init__(self) -> None:
        self.busy, self.total = 0.0, 0.0

    def run(self, seconds: float, share: float) -> None:
        self.total += seconds
        self.busy += seconds * share

    def __call__(self) -> tuple[float, float]:
        return self.busy, self.total


def test_busy_share_needs_a_meaningful_window() -> None:
    assert cpu_busy_pct((0.0, 0.0), (1.3, 10.0)) == 13.0
    assert cpu_busy_pct((0.0, 0.0), (0.001, 0.001)) is None  # microseconds: no figure


def test_many_samplers_in_one_process_each_see_the_real_load(tmp_path: Path) -> None:
    cpu = FakeCpu()
    samplers = [HealthSampler(str(tmp_path), cpu_reading=cpu) for _ in range(30)]
    for _ in range(3):
        cpu.run(60.0, 0.13)  # 30 s on two cores at 13 %
        # a burst of work between two samplers' calls must not make one of them see 100 %
        figures = []
        for s in samplers:
            figures.append(s.cpu_pct())
            cpu.run(0.0001, 1.0)
        assert all(12.9 <= f <= 13.1 for f in figures), figures


def test_a_sample_right_after_another_repeats_the_last_figure(tmp_path: Path) -> None:
    cpu = FakeCpu()
    s = HealthSampler(str(tmp_path), cpu_reading=cpu)
    cpu.run(60.0, 0.5)
    assert s.cpu_pct() == 50.0
    cpu.run(0.01, 1.0)  # the agent publishes health again at once (on reconnect)
    assert s.cpu_pct() == 50.0
    assert s.sample()["cpu_pct"] == 50.0

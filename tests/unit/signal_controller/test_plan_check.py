"""Unsafe plans are refused with the groups and the seconds named; safe ones pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.cli import main as kassel
from edge_agent.contract.configs import load_config
from signal_controller.domain.commands import CommandError
from signal_controller.domain.controller import initial_state
from signal_controller.domain.plan_check import check_intersection
from tests.unit.signal_controller.conftest import two_phase_data
from tests.unit.signal_controller.scenarios import config_of

CONFIGS = Path(__file__).resolve().parents[3] / "firmware_configs" / "intersections"


def problems(**control: Any) -> list[tuple[str, str]]:
    return check_intersection(config_of(two_phase_data(**control)))


def test_the_fixture_plan_is_safe() -> None:
    assert problems() == []


@pytest.mark.parametrize(
    ("control", "field", "words"),
    [
        ({"stages": [{"id": "S1", "groups": ["K1", "K2"], "min_green_s": 8, "max_green_s": 9}]},
         "control.stages.S1.groups", "K1 and K2 conflict (intergreen K1->K2 5 s, K2->K1 4 s)"),
        ({"stages": [{"id": "S1", "groups": ["K1"], "min_green_s": 8, "max_green_s": 9},
                     {"id": "S2", "groups": ["K2", "F2"], "min_green_s": 5, "max_green_s": 9}]},
         "control.stages.S2.min_green_s", "minimum green 5 s is below the minimum green 6 s of F2"),
        ({"greens": {"K1": [[0, 30]], "K2": [[33, 50]]}},
         "control.greens.K2", "K1 -> K2: green of K1 ends at 30 s and K2 starts at 33 s: "
         "intergreen 3 s is below the required 5 s"),
        ({"greens": {"K1": [[0, 30]], "K2": [[20, 50]]}},
         "control.greens.K2", "K1 and K2 conflict and are both green at 20 s"),
        ({"greens": {"K1": [[0, 30]], "K2": [[39, 58]]}},  # cyclic: K2 ends 58, K1 starts 0(60)
         "control.greens.K1", "K2 -> K1: green of K2 ends at 58 s and K1 starts at 0 s: "
         "intergreen 2 s is below the required 4 s"),
        ({"greens": {"K1": [[0, 3]], "K2": [[39, 50]]}},
         "control.greens.K1", "gives K1 3 s of green, below its minimum green 5 s"),
        ({"greens": {"K1": [[0, 20], [22, 30]], "K2": [[39, 50]]}},
         "control.greens.K1", "K1 is red for only 2 s between greens"),
    ],
)
def test_unsafe_plans_name_groups_and_seconds(
    control: dict[str, Any], field: str, words: str
) -> None:
    found = problems(**control)
    assert any(f == field and words in m for f, m in found), found


def test_unserved_detectors_and_priority_groups_are_reported() -> None:
    found = problems(stages=[{"id": "S1", "groups": ["K1"], "min_green_s": 8,
                              "max_green_s": 9}])
    fields = {f for f, _ in found}
    assert {"detectors.D2.sg", "detectors.P2.sg", "priority.groups"} <= fields


def test_the_controller_refuses_an_unsafe_config_at_load() -> None:
    cfg = config_of(two_phase_data(greens={"K1": [[0, 30]], "K2": [[33, 50]]}))
    with pytest.raises(CommandError, match="K1 -> K2"):
        initial_state(cfg, 1_000_000)


def test_shipped_configs_pass_the_same_check_as_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(CONFIGS.glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        cfg = load_config(path)
        assert check_intersection(cfg) == []  # type: ignore[arg-type]
    assert kassel(["config", "validate", str(CONFIGS)]) == 0
    assert capsys.readouterr().out.count(": ok") == len(files)


def test_cli_refuses_an_unsafe_file_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(two_phase_data(greens={"K1": [[0, 30]], "K2": [[33, 50]]})))
    assert kassel(["config", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: control.greens.K2: K1 -> K2" in err and "required 5 s" in err

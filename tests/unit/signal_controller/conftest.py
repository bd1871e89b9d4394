"""Small configs shared by the controller's unit tests."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.contract.configs import IntersectionConfig
from tests.unit.signal_controller.scenarios import config_of


def two_phase_data(**control: Any) -> dict[str, Any]:
    """Main road K1 (loop D1, bus priority), side road K2 (loop D2), pedestrians F2 (button)."""
    data: dict[str, Any] = {
        "device_id": "ks-1", "kind": "intersection", "name": "Unit",
        "location": {"lat": 51.3, "lon": 9.5},
        "signal_groups": [
            {"sg": "K1", "kind": "vehicle", "approach": "N", "min_green_s": 5, "amber_s": 3,
             "red_amber_s": 1},
            {"sg": "K2", "kind": "vehicle", "approach": "E", "min_green_s": 5, "amber_s": 3,
             "red_amber_s": 1},
            {"sg": "F2", "kind": "pedestrian", "approach": "E", "min_green_s": 6,
             "amber_s": 0, "red_amber_s": 0},
        ],
        "intergreen_s": {"K1": {"K2": 5, "F2": 3}, "K2": {"K1": 4}, "F2": {"K1": 9}},
        "control": {
            "mode": "actuated", "cycle_s": 60,
            "greens": {"K1": [[0, 30]], "K2": [[39, 50]], "F2": [[41, 50]]},
            "stages": [
                {"id": "S1", "groups": ["K1"], "min_green_s": 8, "max_green_s": 30, "gap_s": 3},
                {"id": "S2", "groups": ["K2", "F2"], "min_green_s": 8, "max_green_s": 20,
                 "gap_s": 3},
            ],
        },
        "detectors": [{"id": "D1", "sg": "K1", "kind": "loop"},
                      {"id": "D2", "sg": "K2", "kind": "loop"},
                      {"id": "P2", "sg": "F2", "kind": "button"}],
        "priority": {"enabled": True, "max_extension_s": 10, "max_early_s": 10,
                     "groups": ["K1", "K2"], "emergency_vehicles": ["ambulance"]},
    }
    data["control"].update(control)
    return data


@pytest.fixture
def two_phase() -> IntersectionConfig:
    return config_of(two_phase_data())

"""``kassel mobility plan`` and ``departures`` on the shipped demo feed, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.cli import main

GTFS = str(Path(__file__).resolve().parents[3] / "firmware_configs/gtfs/kassel-demo.zip")


def test_plan_prints_the_options_as_the_api_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mobility", "plan", GTFS, "--from", "stop:S1-01", "--to", "stop:S1-08",
                 "--at", "2026-12-07T08:00", "--json"]) == 0
    options = json.loads(capsys.readouterr().out)["itineraries"]
    assert options, "line 1 runs from its first stop to its last"
    (ride,) = [leg for leg in options[0]["legs"] if leg["mode"] != "WALK"]
    assert ride["route_id"] == "1" and ride["from"]["stop_id"] == "S1-01"
    assert ride["to"]["stop_id"] == "S1-08"


def test_departures_and_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mobility", "departures", GTFS, "S1-01", "--at", "2026-12-07T08:00",
                 "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("08:") for line in lines)
    assert main(["mobility", "plan", GTFS, "--from", "stop:NOPE", "--to", "stop:S1-08"]) == 2
    assert "unknown stop 'NOPE'" in capsys.readouterr().err


def test_plan_with_a_window_lists_the_later_rides_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mobility", "plan", GTFS, "--from", "stop:S1-01", "--to", "stop:S1-08",
                 "--at", "2026-12-07T08:00", "--window", "60"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("option")]
    leaving = [line.split(": ")[1][:8] for line in lines]
    assert len(leaving) >= 3 and leaving == sorted(set(leaving))
    assert all("08:00:00" <= t <= "09:00:00" for t in leaving)

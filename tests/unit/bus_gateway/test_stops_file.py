"""The route's stops file: the shipped ones load, a wrong line is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus_gateway.errors import SourceError
from bus_gateway.stops_file import default_stops_file, load_stops

CONFIGS = Path(__file__).resolve().parents[3] / "firmware_configs" / "buses"


def test_the_default_file_sits_in_routes_next_to_the_config() -> None:
    assert default_stops_file(CONFIGS / "bus.yaml", "4") == CONFIGS / "routes" / "4.csv"


def test_the_shipped_route_files_load_in_travel_order() -> None:
    for path in sorted((CONFIGS / "routes").glob("*.csv")):
        stops = load_stops(path)
        assert stops and all(s.stop_id for s in stops), path


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("stop_id,name,lat,lon\nA,Alpha,51.3,9.5\nB,Beta,north,9.5\n")
    with pytest.raises(SourceError, match=r"r\.csv:3:"):
        load_stops(path)

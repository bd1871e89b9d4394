"""The demo city planner: named Kassel junctions on the lines, buses with their line's points."""

from __future__ import annotations

import pytest

from simulations.demo.domain.city import (
    KASSEL_JUNCTIONS,
    LineStop,
    plan_buses,
    plan_intersections,
)
from simulations.gtfs_synth import DEFAULT_ROUTES

LINES = {
    spec.route_id: [LineStop(f"S{spec.route_id}-{i}", name, lat, lon)
                    for i, (name, lat, lon) in enumerate(spec.named)]
    for spec in DEFAULT_ROUTES
}
TEMPLATES = ["ks-0042", "ks-0107", "ks-0210"]


def test_the_default_ten_are_distinct_real_junctions_on_their_lines() -> None:
    plan = plan_intersections(LINES, 10, TEMPLATES)
    names = [p.name for p in plan]
    assert len(set(names)) == 10
    assert {"Königsplatz", "Holländischer Platz", "Scheidemannplatz", "Friedrichsplatz",
            "Am Stern", "Bebelplatz", "Wilhelmshöher Allee / Kunoldstraße"} <= set(names)
    assert not any("Demo" in n for n in names)
    assert {p.route_id for p in plan} == {"1", "4", "7"}
    for p in plan:
        a, b = LINES[p.route_id][p.after_stop], LINES[p.route_id][p.after_stop + 1]
        assert min(a.lat, b.lat) <= p.lat <= max(a.lat, b.lat)
        assert min(a.lon, b.lon) <= p.lon <= max(a.lon, b.lon)
    kunold = next(p for p in plan if p.name == "Wilhelmshöher Allee / Kunoldstraße")
    assert TEMPLATES[kunold.template] == "ks-0107"  # the T-junction with tram tracks


def test_beyond_the_named_junctions_names_stay_distinct() -> None:
    plan = plan_intersections(LINES, 60, TEMPLATES)
    assert len({p.name for p in plan}) == 60
    assert len({p.device_id for p in plan}) == 60
    assert plan[len(KASSEL_JUNCTIONS)].name.startswith(f"Signal {len(KASSEL_JUNCTIONS) + 1} (")


def test_buses_get_the_priority_points_of_their_line() -> None:
    plan = plan_intersections(LINES, 10, TEMPLATES)
    buses = plan_buses(["1", "4", "7", "1"], plan)
    assert [b.vehicle_id for b in buses] == ["demo01", "demo02", "demo03", "demo04"]
    for b in buses:
        assert b.intersections
        assert all(p.route_id == b.route_id for p in b.intersections)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        plan_intersections(LINES, -1, TEMPLATES)
    with pytest.raises(ValueError, match="no lines"):
        plan_intersections({}, 1, TEMPLATES)
    with pytest.raises(ValueError, match="template"):
        plan_intersections(LINES, 1, [])

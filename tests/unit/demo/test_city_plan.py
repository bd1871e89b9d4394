"""The demo city planner: intersections on the lines, buses on current trips."""

from __future__ import annotations

import pytest

from simulations.demo.domain.city import LineStop, LineTrip, current_trip, plan_city

LINES = {
    r: [LineStop(f"S{r}-{i}", f"Stop {i}", 51.30 + i * 0.002, 9.47 + int(r) * 0.01)
        for i in range(8)]
    for r in ("1", "4", "7")
}
TRIPS = [
    LineTrip(f"{r}-{d}-{h:02d}", r, d, tuple(h * 3600 + 110 * i for i in range(8)))
    for r in ("1", "4", "7") for d in (0, 1) for h in range(5, 24)
]


def test_intersections_spread_over_every_line_between_stops() -> None:
    plan = plan_city(LINES, TRIPS, n_intersections=10, n_buses=20, templates=3,
                     now_local_s=12 * 3600)
    assert len(plan.intersections) == 10
    assert len({p.device_id for p in plan.intersections}) == 10
    assert {p.route_id for p in plan.intersections} == {"1", "4", "7"}
    assert {p.template for p in plan.intersections} == {0, 1, 2}
    for p in plan.intersections:
        a, b = LINES[p.route_id][p.after_stop], LINES[p.route_id][p.after_stop + 1]
        assert min(a.lat, b.lat) <= p.lat <= max(a.lat, b.lat)


def test_buses_serve_both_directions_with_their_lines_priority_points() -> None:
    plan = plan_city(LINES, TRIPS, n_intersections=6, n_buses=20, templates=3,
                     now_local_s=12 * 3600 + 600)
    assert len({b.vehicle_id for b in plan.buses}) == 20
    assert {(b.route_id, b.direction) for b in plan.buses} == {
        (r, d) for r in ("1", "4", "7") for d in (0, 1)}
    for b in plan.buses:
        assert all(p.route_id == b.route_id for p in b.intersections)
        assert b.intersections
        assert b.trip_id.startswith(f"{b.route_id}-{b.direction}-")
        if b.direction == 1:
            assert b.stops[0] == LINES[b.route_id][-1]


def test_current_trip_is_the_last_to_leave_the_stop_before_now() -> None:
    assert current_trip(TRIPS, "4", 0, 3, 12 * 3600 + 400) == "4-0-12"
    assert current_trip(TRIPS, "4", 0, 3, 12 * 3600 + 100) == "4-0-11"
    assert current_trip(TRIPS, "4", 1, 0, 3600) == "4-1-05"  # before the first trip


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        plan_city(LINES, TRIPS, n_intersections=-1, n_buses=1, templates=1, now_local_s=0)
    with pytest.raises(ValueError, match="no lines"):
        plan_city({}, TRIPS, n_intersections=1, n_buses=1, templates=1, now_local_s=0)
    with pytest.raises(ValueError, match="no trips"):
        current_trip([], "1", 0, 0, 0)

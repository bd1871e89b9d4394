"""Stop detection along a route: passing, dwelling, resynchronising."""

from __future__ import annotations

from bus_gateway.domain.geo import distance_m, offset
from bus_gateway.domain.stops import RouteStop, StopTracker

A = RouteStop("A", "Alpha", 51.3000, 9.4800)
B_POS = offset(A.lat, A.lon, 0.0, 400.0)
B = RouteStop("B", "Beta", *B_POS)
C_POS = offset(A.lat, A.lon, 0.0, 800.0)
C = RouteStop("C", "Gamma", *C_POS)


def drive(tracker, start_m, end_m, speed, step=8.0):
    states = []
    m = start_m
    while m <= end_m:
        lat, lon = offset(A.lat, A.lon, 0.0, m)
        states.append(tracker.update(lat, lon, speed))
        m += step
    return states


def test_stopped_incoming_in_transit_sequence():
    t = StopTracker([A, B, C])
    st = t.update(A.lat, A.lon, 0.0)
    assert (st.status, st.stop_id, st.next_stop_id) == ("STOPPED_AT", "A", "B")
    st = t.update(*offset(A.lat, A.lon, 0.0, 5), 3.0)
    assert st.departed and st.departures == 1
    states = drive(t, 50, 390, 8.0)
    assert states[0].status == "IN_TRANSIT_TO" and states[0].stop_id is None
    assert states[0].next_stop_id == "B"
    assert any(s.status == "INCOMING_AT" and s.stop_id == "B" for s in states)
    lat, lon = B_POS
    st = t.update(lat, lon, 0.2)
    assert (st.status, st.stop_id) == ("STOPPED_AT", "B")
    assert st.dwelling


def test_passing_a_stop_without_halting_moves_on():
    t = StopTracker([A, B, C])
    t.update(A.lat, A.lon, 0.0)
    states = drive(t, 10, 700, 10.0)
    assert not any(s.status == "STOPPED_AT" for s in states)
    assert states[-1].next_stop_id == "C"
    assert t.departures == 1


def test_gps_jitter_while_standing_does_not_flap():
    t = StopTracker([A, B, C])
    seen = set()
    for i in range(20):
        lat, lon = offset(B.lat, B.lon, (i * 97) % 360, 6.0)
        seen.add(t.update(lat, lon, 0.3).status)
    assert seen == {"STOPPED_AT"}
    assert t.departures == 0


def test_slowing_again_inside_the_radius_after_departure_is_not_a_new_stop():
    t = StopTracker([A, B, C])
    t.update(A.lat, A.lon, 0.0)
    t.update(*offset(A.lat, A.lon, 0.0, 4), 3.0)
    st = t.update(*offset(A.lat, A.lon, 0.0, 8), 0.0)
    assert st.status != "STOPPED_AT"
    assert t.departures == 1


def test_lost_track_resynchronises_at_another_stop():
    t = StopTracker([A, B, C])
    t.update(A.lat, A.lon, 0.0)
    st = t.update(C.lat, C.lon, 0.0)
    assert st.departed and (st.status, st.stop_id) == ("INCOMING_AT", "C")
    st = t.update(C.lat, C.lon, 0.0)
    assert (st.status, st.stop_id) == ("STOPPED_AT", "C")


def test_no_stops_means_in_transit_without_ids():
    st = StopTracker([]).update(51.0, 9.0, 5.0)
    assert (st.status, st.stop_id, st.next_stop_id) == ("IN_TRANSIT_TO", None, None)


def test_geometry_helpers_agree():
    lat, lon = offset(51.0, 9.0, 90.0, 1000.0)
    assert abs(distance_m(51.0, 9.0, lat, lon) - 1000.0) < 0.5

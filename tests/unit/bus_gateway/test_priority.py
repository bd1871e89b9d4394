"""Transit signal priority: request under the ETA threshold, updates, cancel, ssem."""

from __future__ import annotations

from bus_gateway.domain.geo import offset
from bus_gateway.domain.priority import PriorityRequester, PriorityRules
from edge_agent.contract.configs import PriorityPoint
from edge_agent.contract.payloads import SsemRequest

POINT = PriorityPoint(intersection_id="ks-0042", sg="K1", lat=51.3227, lon=9.5067)
T0 = 1_767_225_600_000


def approach(req, metres_before, speed, now_ms, dwelling=False, course=0.0):
    lat, lon = offset(POINT.lat, POINT.lon, 180.0, metres_before)
    return req.update(now_ms, lat, lon, speed, course_deg=course, dwelling=dwelling)


def test_request_only_when_eta_below_threshold():
    req = PriorityRequester("1234", [POINT], PriorityRules(request_eta_s=30))
    assert approach(req, 400, 10.0, T0) == []  # ETA 40 s
    out = approach(req, 290, 10.0, T0 + 11_000)  # ETA 29 s
    assert [a.type for a in out] == ["request"]
    assert out[0].intersection_id == "ks-0042" and out[0].sg == "K1"
    assert out[0].eta_ms == T0 + 11_000 + 29_000


def test_updates_only_when_eta_moves_enough_then_cancel_after_passing():
    req = PriorityRequester("1234", [POINT])
    first = approach(req, 250, 10.0, T0)[0]
    assert approach(req, 240, 10.0, T0 + 1000) == []  # same ETA
    out = approach(req, 230, 5.0, T0 + 2000)  # slowed down: ETA +24 s
    assert [a.type for a in out] == ["update"]
    assert out[0].request_id == first.request_id
    assert out[0].eta_ms == T0 + 2000 + 46_000
    out = approach(req, -30, 8.0, T0 + 60_000)  # beyond the stop line
    assert [a.type for a in out] == ["cancel"]
    assert out[0].request_id == first.request_id
    assert approach(req, -60, 8.0, T0 + 64_000) == []  # no new request behind the point


def test_dwelling_cancels_and_requests_again_after_departure():
    req = PriorityRequester("1234", [POINT])
    first = approach(req, 150, 8.0, T0)
    assert [a.type for a in first] == ["request"]
    out = approach(req, 140, 0.0, T0 + 2000, dwelling=True)
    assert [a.type for a in out] == ["cancel"]
    assert approach(req, 140, 0.0, T0 + 20_000, dwelling=True) == []
    again = approach(req, 130, 6.0, T0 + 40_000)
    assert [a.type for a in again] == ["request"]
    assert again[0].request_id != first[0].request_id


def test_rejected_request_gets_no_updates_and_statuses_follow_ssem():
    req = PriorityRequester("1234", [POINT])
    rid = approach(req, 250, 10.0, T0)[0].request_id
    req.on_ssem("ks-0042", [SsemRequest(request_id=rid, vehicle_id="1234", sg="K1",
                                        status="granted")])
    assert req.statuses() == {rid: "granted"}
    req.on_ssem("ks-0042", [SsemRequest(request_id=rid, vehicle_id="1234", sg="K1",
                                        status="rejected")])
    assert approach(req, 200, 6.0, T0 + 5000) == []  # ETA moved 8 s: no update
    assert [a.type for a in approach(req, -20, 8.0, T0 + 50_000)] == ["cancel"]


def test_another_vehicles_row_with_our_request_id_is_not_ours():
    """Request ids are unique per vehicle only: a bus that copies ours from an SSEM gets its
    own request, whose status must not stop our updates."""
    req = PriorityRequester("1234", [POINT])
    rid = approach(req, 250, 10.0, T0)[0].request_id
    req.on_ssem("ks-0042", [
        SsemRequest(request_id=rid, vehicle_id="1234", sg="K1", status="granted"),
        SsemRequest(request_id=rid, vehicle_id="666", sg="K1", status="rejected"),
    ])
    assert req.statuses() == {rid: "granted"}
    req.on_ssem("ks-0042", [SsemRequest(request_id=rid, vehicle_id="666", sg="K1",
                                        status="rejected")])
    assert req.statuses() == {rid: "granted"}
    assert [a.type for a in approach(req, 200, 6.0, T0 + 5000)] == ["update"]


def test_stuck_far_away_cancels():
    req = PriorityRequester("1234", [POINT])
    approach(req, 200, 10.0, T0)
    out = approach(req, 190, 0.5, T0 + 1000)  # ETA at crawl speed 95 s > 2 × 30 s
    assert [a.type for a in out] == ["cancel"]


def test_cancel_all_withdraws_open_requests():
    req = PriorityRequester("1234", [POINT])
    approach(req, 100, 10.0, T0)
    out = req.cancel_all(T0 + 1)
    assert [a.type for a in out] == ["cancel"]
    assert req.cancel_all(T0 + 2) == []

"""Session bookkeeping and fair-share shaping plans."""

from __future__ import annotations

import pytest

from bus_gateway.domain.sessions import SessionTable
from bus_gateway.domain.shaping import FIRST_CLIENT_MINOR, ShapingPlan, fair_share_kbps

T0 = 1_767_225_600_000


def test_idle_client_becomes_dormant_and_returns_without_portal():
    t = SessionTable(session_timeout_s=3600, idle_timeout_s=60)
    t.admit("AA:00:00:00:00:01", "10.77.0.10", T0)
    t.activity("aa:00:00:00:00:01", 500, T0 + 30_000)
    assert t.expire(T0 + 89_000) == []
    removed = t.expire(T0 + 90_000)
    assert [(r.ip, r.reason) for r in removed] == [("10.77.0.10", "idle")]
    assert t.active() == []
    back = t.seen("aa:00:00:00:00:01", "10.77.0.23", T0 + 600_000)
    assert back is not None and back.ip == "10.77.0.23" and back.active
    assert t.seen("aa:00:00:00:00:01", "10.77.0.23", T0 + 600_001) is None


def test_session_end_removes_and_forgets():
    t = SessionTable(session_timeout_s=600, idle_timeout_s=600)
    t.admit("aa:00:00:00:00:01", "10.77.0.10", T0)
    assert [r.reason for r in t.expire(T0 + 600_000)] == ["session"]
    assert len(t) == 0
    assert t.seen("aa:00:00:00:00:01", "10.77.0.10", T0 + 600_001) is None


def test_accepting_again_does_not_extend_but_reports_ip_change():
    t = SessionTable(session_timeout_s=600, idle_timeout_s=600)
    t.admit("aa:00:00:00:00:01", "10.77.0.10", T0)
    s, old = t.admit("aa:00:00:00:00:01", "10.77.0.11", T0 + 100_000)
    assert old == "10.77.0.10" and s.accepted_ms == T0
    assert t.revoke("AA:00:00:00:00:01") is s


def test_fair_share():
    assert fair_share_kbps(2000, 20000, 5) == 2000
    assert fair_share_kbps(2000, 20000, 20) == 1000
    assert fair_share_kbps(2000, 20, 100) == 8
    assert fair_share_kbps(2000, 20000, 0) == 2000


def test_plan_keeps_slots_and_rerates_in_place():
    p = ShapingPlan(per_client_kbps=2000, uplink_kbps=4000)
    d = p.reconcile(["10.77.0.10"])
    assert [(c.ip, c.minor, c.rate_kbps) for c in d.add] == [
        ("10.77.0.10", FIRST_CLIENT_MINOR, 2000)
    ]
    d = p.reconcile(["10.77.0.10", "10.77.0.11", "10.77.0.12"])
    assert [c.ip for c in d.add] == ["10.77.0.11", "10.77.0.12"]
    assert [(c.ip, c.rate_kbps) for c in d.change] == [("10.77.0.10", 1333)]
    d = p.reconcile(["10.77.0.12"], uplink_kbps=1000)
    assert [c.ip for c in d.remove] == ["10.77.0.10", "10.77.0.11"]
    assert [(c.ip, c.slot, c.rate_kbps) for c in d.change] == [("10.77.0.12", 2, 1000)]
    d = p.reconcile(["10.77.0.13"])
    assert d.add[0].slot == 0  # freed slots are reused
    assert p.reconcile(["10.77.0.13"]).empty


def test_plan_refuses_more_clients_than_classes():
    with pytest.raises(ValueError, match="HTB classes"):
        ShapingPlan(100, 100).reconcile(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
                                        for i in range(70_000))

"""The live picture: signal changes, stale status, online state, dashboard frames."""

from __future__ import annotations

import json

from central_hub.domain.live_state import LiveState
from central_hub.live.dashboard_feed import DashboardFeed
from edge_agent.contract.payloads import Spat, SpatGroup, Status, encode


def _spat(ts: int, k1: str, seq: int = 1) -> Spat:
    return Spat(ts=ts, seq=seq, intersection_id="ks-1", revision=1, status="operational",
                groups=[SpatGroup(sg="K1", state=k1, min_end=None, max_end=None,  # type: ignore[arg-type]
                                  likely_end=None, confidence=0)])


def test_only_state_changes_enter_the_history() -> None:
    st = LiveState(history_ms=10_000)
    changes = [len(st.apply_spat(m, encode(m), 0)) for m in (
        _spat(0, "stop-And-Remain"), _spat(100, "stop-And-Remain"), _spat(200, "pre-Movement"),
        _spat(150, "protected-Movement-Allowed"))]  # the last one is older: ignored
    assert changes == [1, 0, 1, 0]
    assert st.history("ks-1", 0) == [("K1", "stop-And-Remain", 0), ("K1", "pre-Movement", 200)]
    assert st.intersections["ks-1"].status == "operational"


def test_an_older_birth_does_not_override_a_newer_death() -> None:
    st = LiveState()
    dead = Status(ts=2, device_id="b", kind="bus", state="offline", bdseq=5, sw="1")
    old = Status(ts=1, device_id="b", kind="bus", state="online", bdseq=4, sw="1")
    assert st.apply_status(dead, 0)
    assert not st.apply_status(old, 0)
    assert st.online("b", 0) is False


def test_dashboard_frame_splices_payloads_as_received() -> None:
    st = LiveState()
    feed = DashboardFeed(st)
    msg = _spat(1, "stop-And-Remain")
    st.apply_spat(msg, encode(msg), 0)
    feed.spat("ks-1")
    frame = feed.render(5)
    assert frame is not None
    assert json.loads(frame)["spat"]["ks-1"] == json.loads(encode(msg))
    assert feed.render(6) is None  # nothing changed since

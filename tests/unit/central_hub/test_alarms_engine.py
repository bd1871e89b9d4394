"""Alarm rules: transitions only, with a fake clock."""

from __future__ import annotations

from central_hub.domain.alarms import AlarmEngine, Thresholds
from edge_agent.contract.payloads import Health, QueueStats, StoreResetInfo, UplinkStats


def _health(cpu: float = 5.0, depth: int = 0, dropped: int = 0) -> Health:
    return Health(ts=1, seq=1, cpu_pct=cpu, mem_pct=5.0, rss_mb=1.0, disk_pct=5.0, uptime_s=1.0,
                  queue=QueueStats(depth=depth, dropped=dropped, oldest_age_s=0.0),
                  uplink=UplinkStats(iface="e", up=True, rx_bps=0.0, tx_bps=0.0))


def test_offline_raises_once_and_online_clears() -> None:
    e = AlarmEngine()
    (raised,) = e.on_status("bus-1", "offline", 10)
    assert (raised.kind, raised.active, raised.severity) == ("device_offline", True, "critical")
    assert e.on_status("bus-1", "offline", 11) == []
    (cleared,) = e.on_status("bus-1", "online", 12)
    assert not cleared.active
    assert e.on_status("bus-2", "online", 13) == []


def test_spat_stale_after_the_limit_and_cleared_by_the_next_spat() -> None:
    e = AlarmEngine(Thresholds(spat_stale_ms=1000))
    e.on_spat("ks-1", "operational", 0)
    assert e.tick(1000) == []
    (stale,) = e.tick(1001)
    assert stale.kind == "spat_stale" and stale.active
    assert e.tick(5000) == []
    changes = e.on_spat("ks-1", "operational", 5001)
    assert [(c.kind, c.active) for c in changes] == [("spat_stale", False)]


def test_flashing_and_fault_are_alarms() -> None:
    e = AlarmEngine()
    assert [(c.kind, c.active) for c in e.on_spat("ks-1", "flashing", 0)] == [
        ("signal_degraded", True)]
    assert e.on_spat("ks-1", "fault", 1) == []
    assert [(c.kind, c.active) for c in e.on_spat("ks-1", "operational", 2)] == [
        ("signal_degraded", False)]


def test_health_thresholds_backlog_and_drops() -> None:
    e = AlarmEngine(Thresholds(cpu_pct=90, queue_depth=100))
    assert e.on_health("b", _health(), 0) == []
    kinds = {c.kind for c in e.on_health("b", _health(cpu=95, depth=500, dropped=3), 1)}
    assert kinds == {"health_cpu", "device_queue_backlog", "device_queue_dropped"}
    cleared = e.on_health("b", _health(dropped=3), 2)
    assert {c.kind for c in cleared if not c.active} == kinds


def test_hub_queue_backlog_and_drops_clear_after_a_quiet_minute() -> None:
    e = AlarmEngine(Thresholds(hub_queue_fill=0.8, dropped_clear_ms=60_000))
    assert e.on_hub_queue("ingest", 10, 100, 0, now=0) == []
    kinds = {(c.kind, c.active) for c in e.on_hub_queue("ingest", 90, 100, 5, now=1)}
    assert kinds == {("hub_queue_backlog", True), ("hub_queue_dropped", True)}
    assert {(c.kind, c.active) for c in e.on_hub_queue("ingest", 0, 100, 5, now=30_000)} == {
        ("hub_queue_backlog", False)}
    assert {(c.kind, c.active) for c in e.on_hub_queue("ingest", 0, 100, 5, now=60_002)} == {
        ("hub_queue_dropped", False)}


def test_hub_broker_down_after_the_grace_and_cleared_on_reconnect() -> None:
    e = AlarmEngine(Thresholds(broker_down_ms=1000))
    assert e.on_hub_session("live", False, now=0) == []  # a start or a reconnect: not yet
    assert e.on_hub_session("live", False, now=999) == []
    (down,) = e.on_hub_session("live", False, reason="ConnectionRefusedError", now=1000)
    assert (down.kind, down.device_id, down.active, down.severity) == (
        "hub_broker_down", "live", True, "critical")
    assert "ConnectionRefusedError" in down.message
    assert e.on_hub_session("live", False, now=5000) == []
    (up,) = e.on_hub_session("live", True, now=5001)
    assert (up.kind, up.active) == ("hub_broker_down", False)
    assert e.on_hub_session("live", True, now=5002) == []
    # a short blip (reconnected within the grace) raises nothing, and the timer starts afresh
    assert e.on_hub_session("ingest", False, now=6000) == []
    assert e.on_hub_session("ingest", True, now=6500) == []
    assert e.on_hub_session("ingest", False, now=7000) == []
    assert e.on_hub_session("ingest", False, now=7999) == []


def test_hub_storage_down_at_the_first_failed_write_cleared_by_the_first_success() -> None:
    e = AlarmEngine()
    assert e.on_hub_storage(None, now=0) == []
    (down,) = e.on_hub_storage("ingest: OperationalError: connection refused", now=1)
    assert (down.kind, down.device_id, down.active, down.severity) == (
        "hub_storage_down", "database", True, "critical")
    assert "connection refused" in down.message
    assert e.on_hub_storage("alarms: OperationalError: connection refused", now=2) == []
    (up,) = e.on_hub_storage(None, now=3)
    assert (up.kind, up.active) == ("hub_storage_down", False)


def test_full_state_disk_and_a_store_reset_are_alarms() -> None:
    e = AlarmEngine(Thresholds(store_reset_ms=1000))
    base = _health()
    full = base.model_copy(update={"queue": QueueStats(depth=0, dropped=3, oldest_age_s=0.0,
                                                        writable=False)})
    assert ("device_store_unwritable", True) in {(c.kind, c.active)
                                                  for c in e.on_health("b", full, 1)}
    assert [(c.kind, c.active) for c in e.on_health("b", base, 2)
            if c.kind == "device_store_unwritable"] == [("device_store_unwritable", False)]
    reset = StoreResetInfo(at_ms=1, moved_to="/s/agent.db.unusable-1", reason="not a database")
    (raised,) = [c for c in e.on_health("b", base.model_copy(update={"store_reset": reset,
                                                                      "ts": 500}), 3)
                 if c.kind == "device_store_reset"]
    assert raised.active and raised.severity == "warning" and "unusable-1" in raised.message
    later = base.model_copy(update={"store_reset": reset, "ts": 1001})
    assert [(c.kind, c.active) for c in e.on_health("b", later, 4)
            if c.kind == "device_store_reset"] == [("device_store_reset", False)]


def test_a_controller_reporting_a_faulty_detector_raises_detector_fault() -> None:
    eng = AlarmEngine()
    faulty = _health().model_copy(update={"detector_faults": ["D3"]})
    (change,) = [c for c in eng.on_health("ks-1", faulty, 1) if c.kind == "detector_fault"]
    assert change.active and "D3" in change.message and change.severity == "warning"
    assert not [c for c in eng.on_health("ks-1", faulty, 2) if c.kind == "detector_fault"]
    fine = _health().model_copy(update={"detector_faults": []})
    (cleared,) = [c for c in eng.on_health("ks-1", fine, 3) if c.kind == "detector_fault"]
    assert not cleared.active
    assert not [c for c in eng.on_health("bus-1", _health(), 4) if c.kind == "detector_fault"]


def test_poison_messages_raise_a_warning_that_clears_after_a_quiet_minute() -> None:
    e = AlarmEngine()
    assert e.on_hub_poison("ingest", 0, None, now=0) == []
    (raised,) = e.on_hub_poison("ingest", 2, "too_large: 2097160 bytes on t", now=1_000)
    assert raised.active and raised.kind == "hub_poison_message" and "too_large" in raised.message
    assert e.on_hub_poison("ingest", 2, None, now=30_000) == []
    (cleared,) = e.on_hub_poison("ingest", 2, None, now=61_001)
    assert not cleared.active


def test_a_removed_intersection_keeps_no_stale_spat_alarm() -> None:
    e = AlarmEngine(Thresholds(spat_stale_ms=1000))
    e.on_spat("ks-1", "flashing", 0)
    e.on_spat("ks-2", "operational", 0)
    e.tick(1001)
    assert ("spat_stale", "ks-1") in e.active and ("signal_degraded", "ks-1") in e.active
    cleared = e.forget_intersection("ks-1", 1002)
    assert sorted((c.kind, c.active) for c in cleared) == [
        ("signal_degraded", False), ("spat_stale", False)]
    assert e.tick(10_000) == []  # never raised again: ks-1 is no longer watched
    assert set(e.active) == {("spat_stale", "ks-2")}
    assert e.forget_intersection("ks-9", 10_001) == []  # an unknown one: nothing to clear

"""Alarm transitions that could not be written are kept (bounded, in order) for later."""

from __future__ import annotations

from typing import cast

from central_hub.alarms import AlarmService, AlarmStore
from central_hub.domain.alarms import AlarmChange, AlarmEngine


def _change(i: int) -> AlarmChange:
    return AlarmChange("device_offline", f"bus-{i}", True, "critical", "offline", i)


def test_a_failed_batch_goes_back_ahead_of_newer_changes() -> None:
    svc = AlarmService(AlarmEngine(), cast(AlarmStore, None))
    svc.hold([_change(1), _change(2)])
    batch = svc.take_unwritten()
    svc.hold([_change(3)])  # raised while the write of 1 and 2 was failing
    svc.hold(batch, first=True)
    assert [c.at_ms for c in svc.take_unwritten()] == [1, 2, 3]
    assert svc.unwritten == []


def test_the_backlog_keeps_the_newest_and_counts_the_dropped() -> None:
    svc = AlarmService(AlarmEngine(), cast(AlarmStore, None), max_unwritten=3)
    svc.hold([_change(i) for i in range(5)])
    assert [c.at_ms for c in svc.unwritten] == [2, 3, 4]
    assert svc.dropped == 2

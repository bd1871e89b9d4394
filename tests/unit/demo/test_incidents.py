"""The incident schedule: fixed by the seed, all three kinds within three minutes."""

from __future__ import annotations

from simulations.demo.domain.incidents import (
    ALARM_OF,
    FIRST_AT_S,
    REPEAT_S,
    Controller,
    incident_round,
    lte_buses,
)

CONTROLLERS = [Controller(f"ks-demo-{i:02d}", ("D1", "D2") if i % 3 else ())
               for i in range(1, 11)]
BUSES = [f"bus-demo-{i:02d}" for i in range(1, 21)]


def test_the_first_round_is_over_within_three_minutes() -> None:
    rnd = incident_round(1, 0, CONTROLLERS, lte_buses(1, BUSES))
    assert [i.kind for i in rnd] == ["detector_fault", "lte_loss", "flash"]
    assert [i.at_s for i in rnd] == [FIRST_AT_S, FIRST_AT_S + 30, FIRST_AT_S + 60]
    assert all(i.ends_s <= 160 for i in rnd)
    fault, lost, flash = rnd
    assert fault.detector in ("D1", "D2")
    assert next(c for c in CONTROLLERS if c.device_id == fault.device_id).loops
    assert lost.device_id in lte_buses(1, BUSES)
    assert flash.device_id != fault.device_id
    assert [i.alarm for i in rnd] == ["detector_fault", "device_offline", "signal_degraded"]
    assert set(ALARM_OF) == {"detector_fault", "lte_loss", "flash"}


def test_same_seed_same_incidents_other_seed_other_devices() -> None:
    a = incident_round(1, 0, CONTROLLERS, BUSES)
    assert a == incident_round(1, 0, CONTROLLERS, BUSES)
    others = {tuple(i.device_id for i in incident_round(s, 0, CONTROLLERS, BUSES))
              for s in range(2, 12)}
    assert len(others) > 1
    later = incident_round(1, 2, CONTROLLERS, BUSES)
    assert later[0].at_s == FIRST_AT_S + 2 * REPEAT_S


def test_kinds_without_devices_are_left_out() -> None:
    assert [i.kind for i in incident_round(1, 0, [], BUSES)] == ["lte_loss"]
    only_flash = incident_round(1, 0, [Controller("ks-1", ())], [])
    assert [i.kind for i in only_flash] == ["flash"]
    assert lte_buses(1, []) == ()
    assert len(lte_buses(1, BUSES)) == 2

"""The statistics roll-up: a bus's messages of an hour folded into stop calls, boardings,
loads, delays and WLAN use; an intersection's signal history into green time and cycles."""

from __future__ import annotations

from datetime import datetime

from central_hub.opendata.domain.rollup import (
    DELAY_BIN_S,
    BusRollup,
    OccupancyRow,
    PositionRow,
    SignalChange,
    SignalDay,
    WlanRow,
    delay_bin,
    local,
    percentile,
    roll_bus,
    roll_signals,
)

BERLIN_NOON = int(datetime.fromisoformat("2026-06-10T12:00:00+02:00").timestamp() * 1000)
H = 3_600_000


def _at(stop: str | None, ts: int, status: str = "STOPPED_AT") -> PositionRow:
    return PositionRow(ts, "4", "t1", stop, status)


def test_a_call_counts_its_boardings_alightings_load_and_delay_in_its_hour() -> None:
    t = BERLIN_NOON
    positions = [_at(None, t - 60_000, "IN_TRANSIT_TO"), _at("A", t + 1_000),
                 _at("A", t + 20_000), _at(None, t + 40_000, "IN_TRANSIT_TO"),
                 _at("B", t + 100_000), _at(None, t + 130_000, "IN_TRANSIT_TO")]
    occupancy = [OccupancyRow(t - 120_000, 10, "MANY_SEATS_AVAILABLE"),
                 OccupancyRow(t + 5_000, 14, "MANY_SEATS_AVAILABLE"),
                 OccupancyRow(t + 15_000, 12, "FEW_SEATS_AVAILABLE"),
                 OccupancyRow(t + 110_000, 5, "MANY_SEATS_AVAILABLE")]
    out = roll_bus(positions, occupancy, [], start_ms=t, end_ms=t + H,
                   delay_of=lambda p: 75.0 if p.stop_id == "A" else -20.0)
    day = local(t).date()
    a = out.stops[(day, "4", "A", 12)]
    assert (a.calls, a.boardings, a.alightings, a.load_sum, a.load_n) == (1, 4, 2, 12, 1)
    assert a.statuses == [0, 1, 0, 0, 0]
    b = out.stops[(day, "4", "B", 12)]
    assert (b.calls, b.boardings, b.alightings, b.load_sum) == (1, 0, 7, 5)
    assert out.delays == {(day, "4", "A", 60): 1, (day, "4", "B", -30): 1}


def test_messages_before_the_hour_set_its_state_but_do_not_count() -> None:
    t = BERLIN_NOON
    positions = [_at("A", t - 30_000), _at(None, t - 10_000, "IN_TRANSIT_TO"),
                 _at("B", t + 5_000), _at(None, t + 9_000, "IN_TRANSIT_TO")]
    occupancy = [OccupancyRow(t - 25_000, 20, "FULL"), OccupancyRow(t + 6_000, 22, "FULL")]
    out = roll_bus(positions, occupancy, [], start_ms=t, end_ms=t + H, delay_of=lambda p: None)
    assert [k[2] for k in out.stops] == ["B"]
    assert out.stops[(local(t).date(), "4", "B", 12)].boardings == 2
    assert dict(out.delays) == {}


def test_wlan_counts_new_sessions_and_bytes_across_a_counter_reset() -> None:
    t = BERLIN_NOON
    wl = [WlanRow(t - 60_000, 3, 1_000), WlanRow(t + 60_000, 5, 3_000),
          WlanRow(t + 120_000, 4, 4_000), WlanRow(t + 180_000, 6, 500)]
    out = roll_bus([_at(None, t - 90_000, "IN_TRANSIT_TO")], [], wl, start_ms=t,
                   end_ms=t + H, delay_of=lambda p: None)
    assert out.wlan == {(local(t).date(), "4"): [4, 2_000 + 1_000 + 500]}


def test_roll_ups_merge_into_one() -> None:
    t = BERLIN_NOON
    into = BusRollup()
    for _ in range(2):
        roll_bus([_at("A", t + 1), _at(None, t + 2, "IN_TRANSIT_TO")], [], [], start_ms=t,
                 end_ms=t + H, delay_of=lambda p: 0.0, into=into)
    assert into.stops[(local(t).date(), "4", "A", 12)].calls == 2


def test_green_time_and_cycles_of_an_hour() -> None:
    t = BERLIN_NOON
    g, r = "protected-Movement-Allowed", "stop-And-Remain"
    changes = [SignalChange("K1", r, t - 30_000)]
    for c in range(60):  # a 60-s cycle: 20 s green, 40 s red
        changes += [SignalChange("K1", g, t + c * 60_000), SignalChange("K1", r, t + c * 60_000
                                                                        + 20_000)]
    changes.append(SignalChange("K2", r, t - 5_000))
    day = roll_signals(changes, start_ms=t, end_ms=t + H, day=SignalDay())
    assert day.observed_ms == {"K1": H, "K2": H}
    assert day.green_ms == {"K1": 60 * 20_000}
    assert (day.cycles, day.cycle_ms) == (59, 59 * 60_000)


def test_percentiles_and_bins() -> None:
    assert delay_bin(75) == 60 and delay_bin(-1) == -DELAY_BIN_S and delay_bin(99_999) == 3600
    h = {0: 50, 30: 40, 300: 10}
    assert percentile(h, 0.5) == 15 and percentile(h, 0.9) == 45 and percentile(h, 0.95) == 315
    assert percentile({}, 0.5) is None

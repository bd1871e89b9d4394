"""The producers: each dataset's table from roll-up sums (before the gate), and the districts
the Kita rows are counted in."""

from __future__ import annotations

from datetime import date

from central_hub.opendata.domain.datasets import KITA, OCCUPANCY, PUNCTUALITY, SIGNALS, WLAN
from central_hub.opendata.domain.districts import CENTRES, district_of
from central_hub.opendata.domain.producers import (
    KitaOutcome,
    KitaPlaces,
    kita,
    occupancy,
    punctuality,
    signals,
    wlan,
)
from central_hub.opendata.domain.rollup import SignalDay, StopHour


def _row(table: object, i: int = 0) -> dict[str, object]:
    return dict(zip([c.name for c in table.columns], table.rows[i], strict=True))  # type: ignore[attr-defined]


def test_occupancy_means_and_shares() -> None:
    sums = StopHour(calls=4, boardings=30, alightings=10, load_sum=100, load_n=4,
                    statuses=[2, 1, 1, 0, 0])
    table = occupancy([("4", "S2", 8, sums), ("4", "S1", 8, StopHour())])
    assert table.columns == OCCUPANCY.columns
    assert [r[1] for r in table.rows] == ["S1", "S2"]
    row = _row(table, 1)
    assert row["mean_load"] == 25.0 and row["boardings"] == 30
    assert row["share_many_seats_available"] == 0.5 and row["share_full"] == 0.0
    assert _row(table, 0)["mean_load"] is None


def test_punctuality_percentiles_and_on_time_share() -> None:
    # 6 calls on time (0..30 s), 3 at 150-180 s (on time: up to 3 min), 1 at 300-330 s (late)
    table = punctuality([("4", "S1", {0: 6, 150: 3, 300: 1}), ("4", "S2", {})])
    assert table.columns == PUNCTUALITY.columns
    assert len(table.rows) == 1
    row = _row(table)
    assert row["calls"] == 10 and row["delay_p50_s"] == 15.0 and row["delay_p95_s"] == 315.0
    assert row["on_time_share"] == 0.9


def test_wlan_in_megabytes_by_day_and_line() -> None:
    day = date(2026, 12, 1)
    table = wlan([(day, "7", 12, 3_456_789), (day, "4", 5, 0)])
    assert table.columns == WLAN.columns
    assert table.rows == ((day, "4", 5, 0.0), (day, "7", 12, 3.5))


def test_signals_a_row_per_group_with_the_intersections_figures() -> None:
    d = SignalDay(green_ms={"K1": 30_000}, observed_ms={"K1": 120_000, "K2": 120_000},
                  cycles=2, cycle_ms=180_000, granted=3, rejected=1, failsafe_min=2.0,
                  band_rows=[10, 0, 4], band_err_ms=[5_000.0, 0.0, 12_000.0], bounded=8,
                  inside=6)
    table = signals([(date(2026, 12, 1), "ks-1", d)])
    assert table.columns == SIGNALS.columns
    k1, k2 = _row(table, 0), _row(table, 1)
    assert (k1["sg"], k1["green_share"], k2["green_share"]) == ("K1", 0.25, 0.0)
    assert k1["mean_cycle_s"] == 90.0 and k1["priority_granted"] == 3
    assert (k1["prediction_mae_0_10_s"], k1["prediction_mae_10_30_s"],
            k1["prediction_mae_30_plus_s"]) == (0.5, None, 3.0)
    assert k1["prediction_inside_share"] == 0.75


def test_kita_counts_first_choices_offers_by_rank_and_waiting_lists() -> None:
    mitte, sued = CENTRES["Mitte"], CENTRES["Südstadt"]
    places = [KitaPlaces("A", "U3", 2, *mitte), KitaPlaces("B", "U3", 10, *mitte),
              KitaPlaces("C", "Ü3", 5, *sued)]
    outcomes = [KitaOutcome("A", "U3", 1), KitaOutcome("A", "U3", 2), KitaOutcome("A", "U3", None),
                KitaOutcome("B", "U3", 1), KitaOutcome("C", "Ü3", 5),
                KitaOutcome("nowhere", "U3", 1)]
    table = kita(places, outcomes)
    assert table.columns == KITA.columns
    rows = {(r[0], r[1]): dict(zip([c.name for c in table.columns], r, strict=True))
            for r in table.rows}
    m = rows[("Mitte", "U3")]
    assert (m["places"], m["applications"], m["offers_rank_1"], m["offers_rank_2"],
            m["no_offer"], m["kitas_waiting_list"]) == (12, 4, 2, 1, 1, 1)
    s = rows[("Südstadt", "Ü3")]
    assert (s["applications"], s["offers_rank_5"], s["kitas_waiting_list"]) == (1, 1, 0)
    # applications are the sum of the outcomes, row by row (the gate's row sum relies on it)
    for r in rows.values():
        parts = [r[f"offers_rank_{k}"] for k in range(1, 6)] + [r["no_offer"]]
        assert r["applications"] == sum(parts)  # type: ignore[arg-type]


def test_every_district_centre_is_its_own_district() -> None:
    assert len(CENTRES) == 23
    for name, (lat, lon) in CENTRES.items():
        assert district_of(lat, lon) == name

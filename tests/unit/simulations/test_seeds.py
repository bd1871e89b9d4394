"""Several seeds: tuning and unseen seeds, per-seed changes, means and the worst seed (pure)."""

from __future__ import annotations

import json

import pytest

from simulations.evaluation.domain.seeds import (
    group_means,
    parse_seeds,
    seed_figures,
    seed_role,
    worst_seed,
)


def _run(delay, stops, co2, car, bike_stops=2.0, bike_loss=60.0):
    return {"bus_signal_delay_s": delay, "bus_signal_stops": stops, "bus_co2_g": co2,
            "car_delay_s": car, "cyclist_signal_stops": bike_stops,
            "cyclist_time_loss_s": bike_loss}


def _summary(co2_after, bike_after=1.0):
    return {"runs": {
        "baseline": _run(100.0, 4.0, 1000.0, 50.0),
        "controller": _run(90.0, 4.0, 990.0, 50.0),
        "priority": _run(40.0, 1.0, co2_after, 48.0, bike_after, 57.0),
        "priority_no_cyclist_glosa": _run(41.0, 1.0, co2_after, 48.0, 2.0, 60.0),
    }}


def test_seeds_one_to_four_tune_five_to_eight_prove():
    assert [seed_role(s) for s in (1, 4, 5, 8, 9, 0)] == [
        "tuning", "tuning", "unseen", "unseen", "other", "other"]


@pytest.mark.parametrize(("items", "seeds"), [
    (["1"], (1,)),
    (["1", "2", "3"], (1, 2, 3)),
    (["1-4"], (1, 2, 3, 4)),
    (["5-8", "1", "6"], (5, 6, 7, 8, 1)),
])
def test_seed_arguments(items, seeds):
    assert parse_seeds(items) == seeds


@pytest.mark.parametrize(("items", "needle"), [
    (["x"], "not an integer"),
    (["-1"], "not an integer"),
    (["4-1"], "empty range"),
    (["1-100"], "at most"),
])
def test_bad_seed_arguments_say_why(items, needle):
    with pytest.raises(ValueError, match=needle):
        parse_seeds(items)


def test_a_seed_compares_c_with_a_and_the_cyclists_c_with_c0():
    f = seed_figures(5, _summary(900.0))
    assert f.role == "unseen"
    assert f.changes["bus_signal_delay_s"] == pytest.approx(-60.0)
    assert f.changes["bus_co2_g"] == pytest.approx(-10.0)
    assert f.changes["car_delay_s"] == pytest.approx(-4.0)
    # cyclists: (c) 1.0 stops against (c0) 2.0, not against (a)
    assert f.changes["cyclist_signal_stops"] == pytest.approx(-50.0)
    assert f.changes["cyclist_time_loss_s"] == pytest.approx(-5.0)


def test_means_per_group_and_the_worst_seed():
    figs = [seed_figures(1, _summary(880.0)), seed_figures(2, _summary(920.0)),
            seed_figures(5, _summary(930.0, bike_after=1.6)), seed_figures(6, _summary(870.0))]
    means = {m.name: m for m in group_means(figs)}
    assert set(means) == {"tuning", "unseen", "all"}
    assert [m.name for m in group_means(figs[:2])] == ["tuning"]  # "all" would repeat it
    assert means["tuning"].seeds == (1, 2)
    assert means["tuning"].changes["bus_co2_g"] == pytest.approx(-10.0)
    assert means["unseen"].changes["bus_co2_g"] == pytest.approx(-10.0)
    assert means["unseen"].changes["cyclist_signal_stops"] == pytest.approx(-35.0)
    worst = worst_seed(figs)
    assert worst is not None
    # seed 5 saves only 7 % CO2: 3 points short of the -10 % goal
    assert (worst.seed, worst.goal.metric) == (5, "bus_co2_g")
    assert worst.margin_pct == pytest.approx(3.0)
    assert worst_seed([]) is None


def test_the_overview_marks_tuning_and_unseen_seeds_and_names_the_worst(tmp_path):
    from simulations.evaluation.seeds import write_overview  # noqa: PLC0415 - adapter

    figs = [seed_figures(s, _summary(co2)) for s, co2 in ((1, 880.0), (5, 930.0), (6, 870.0))]
    result = write_overview("arterial", 60, figs, tmp_path)
    data = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert [(s["seed"], s["role"]) for s in data["seeds"]] == [
        (1, "tuning"), (5, "unseen"), (6, "unseen")]
    assert data["seeds"][1]["values"]["bus_co2_g"] == [1000.0, 930.0]
    assert data["seeds"][1]["reached"]["bus_co2_g"] is False
    assert set(data["means"]) == {"tuning", "unseen", "all"}
    assert data["means"]["unseen"]["changes_pct"]["bus_co2_g"] == pytest.approx(-10.0)
    assert data["worst_seed"]["seed"] == 5 and data["worst_seed"]["metric"] == "bus_co2_g"
    report = result.report_path.read_text(encoding="utf-8")
    assert "**seed 5** (unseen), bus CO2 -7.0 %" in report
    assert "| 5 | unseen |" in report

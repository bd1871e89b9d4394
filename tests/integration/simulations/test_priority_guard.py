"""Regression guard: transit priority with GLOSA, run (c), must keep its advantage over SUMO's
own actuated signals, run (a), on bus delay at signals and on bus CO2.

Both runs are made here, on the same built scenario, and compared with each other: no stored
figure, no wall-clock time. 20 simulated minutes of demand, seed 3 (8 bus trips each run,
about 10 s of wall time for both runs on 2 cores).

Why these numbers: one SUMO trajectory is chaotic, so any change to the controller, the
prediction or the advice re-draws it much as another seed would. Over eight seeds (1-4, 9-12;
never the unseen seeds 5-8) 20 simulated minutes gave (c) against (a) a bus delay of -52 to
-72 % and bus CO2 of -9 to -15 %; seed 3 lies inside both ranges (-59 %, -12 %). The guard
fails below a 30 % delay saving (the issue's goal) or a 5 % CO2 saving (half the goal): the
worst of those seeds clears both by more than 20 and 4 points, while losing priority and GLOSA
altogether — run (b), the controller alone, on the same eight seeds — changed the delay by -17
to +25 % and the CO2 by -3 to +4 %. It catches a lost advantage, not every lost point: the
goals are judged on 60 simulated minutes and eight seeds
(``kassel sim evaluate --minutes 60 --seed 1-8``).
"""

from __future__ import annotations

import pytest

from simulations.evaluation.domain.metrics import change_pct
from simulations.evaluation.sumo_run import SumoRun
from simulations.scenario.build import build_scenario

MINUTES = 20
SEED = 3
#: (c) against (a) must change at least this much (percent).
MAX_DELAY_CHANGE_PCT = -30.0
MAX_CO2_CHANGE_PCT = -5.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("guard")
    built = build_scenario("arterial", out / "scenario", minutes=MINUTES, seed=SEED)
    return {v: SumoRun(built, v, minutes=MINUTES, seed=SEED, out_dir=out).run()
            for v in ("baseline", "priority")}


@pytest.mark.slow
def test_priority_keeps_its_advantage_on_bus_delay_and_co2(runs):
    a, c = runs["baseline"].summary, runs["priority"].summary
    assert runs["baseline"].bus_trips == runs["priority"].bus_trips == 8
    delay = change_pct(a["bus_signal_delay_s"], c["bus_signal_delay_s"])
    co2 = change_pct(a["bus_co2_g"], c["bus_co2_g"])
    assert delay is not None and co2 is not None
    assert delay <= MAX_DELAY_CHANGE_PCT, (
        f"bus delay at signals {a['bus_signal_delay_s']} s -> {c['bus_signal_delay_s']} s "
        f"({delay:+.1f} %): run (c) lost its advantage over (a)")
    assert co2 <= MAX_CO2_CHANGE_PCT, (
        f"bus CO2 {a['bus_co2_g']} g -> {c['bus_co2_g']} g ({co2:+.1f} %): "
        "run (c) lost its advantage over (a)")
    assert c["safety_violations"] == 0

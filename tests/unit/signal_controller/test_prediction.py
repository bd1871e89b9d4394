"""Upstream loops, the sampled walk and the calibrated confidence (issue 18)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
import yaml

from edge_agent.contract.configs import IntersectionConfig, parse_config
from edge_agent.errors import ConfigError
from signal_controller.domain.calibration import MAX_PENDING, Calibration
from signal_controller.domain.controller import (
    LIKELY_REFRESH_MS,
    SAMPLED_LAG_LIMIT_MS,
    fail_safe,
    initial_state,
    step,
)
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.learners import Flow
from signal_controller.domain.sampled_walk import sampled_likely
from signal_controller.domain.spat_timing import stage_min_end
from signal_controller.domain.state import ActRun, ControllerState, Inputs, Outputs
from tests.unit.signal_controller.conftest import two_phase_data
from tests.unit.signal_controller.scenarios import EPOCH, config_of
from tests.unit.signal_controller.test_spat_encoding import KS_0042


def with_upstream(**extra: Any) -> dict[str, Any]:
    data = two_phase_data()
    data["detectors"] = [*data["detectors"],
                         {"id": "U1", "sg": "K1", "kind": "loop", "placement": "upstream",
                          "distance_m": 35.0, **extra}]
    return data


# --- the config ---------------------------------------------------------------------------------


def test_an_upstream_loop_is_configured_with_its_distance() -> None:
    cfg = config_of(with_upstream())
    up = [d for d in cfg.detectors if d.upstream]
    assert [(d.id, d.distance_m) for d in up] == [("U1", 35.0)]


@pytest.mark.parametrize(("change", "message"), [
    ({"distance_m": None}, "needs distance_m"),
    ({"distance_m": 200.0}, "less than or equal to 80"),
    ({"kind": "button"}, "only a loop"),
    ({"sg": "F2"}, "needs a stop-line loop of F2"),
])
def test_bad_upstream_loops_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_of(with_upstream(**change))


def test_distance_belongs_to_upstream_loops_only() -> None:
    data = two_phase_data()
    data["detectors"][0]["distance_m"] = 30.0
    with pytest.raises(ConfigError, match="only for upstream loops"):
        config_of(data)


# --- upstream loops count, they never control ------------------------------------------------


def drive(cfg: IntersectionConfig, events: dict[int, list[DetectorEvent]], seconds: int
          ) -> tuple[ControllerState, list[Outputs]]:
    state = initial_state(cfg, EPOCH)
    outs = []
    now = EPOCH
    for tick in range(seconds * 10):
        now += 100
        state, out = step(state, Inputs(detectors=tuple(events.get(tick, ()))), now)
        outs.append(out)
    return state, outs


def test_upstream_events_never_change_what_the_lamps_do() -> None:
    """The same stop-line traffic with and without a busy upstream loop runs the junction
    identically: upstream loops neither call nor extend a green."""
    rnd = random.Random(4)
    stop_line: dict[int, list[DetectorEvent]] = {}
    both: dict[int, list[DetectorEvent]] = {}
    occupied: set[str] = set()
    for tick in range(3_000):
        for det, rate in (("D1", 0.02), ("D2", 0.01), ("U1", 0.08)):
            if rnd.random() < rate:
                on = det not in occupied
                (occupied.add if on else occupied.discard)(det)
                both.setdefault(tick, []).append(DetectorEvent(det, on))
                if det != "U1":
                    stop_line.setdefault(tick, []).append(DetectorEvent(det, on))
    cfg = config_of(with_upstream())
    _, plain = drive(cfg, stop_line, 300)
    _, counted = drive(cfg, both, 300)
    assert [o.lamps for o in plain] == [o.lamps for o in counted]
    assert any(o.changed for o in plain)


def test_only_upstream_traffic_calls_nothing() -> None:
    cfg = config_of(with_upstream())
    events = {t: [DetectorEvent("U1", t % 20 < 10)] for t in range(0, 600, 10)}
    state, outs = drive(cfg, events, 60)
    assert not state.detectors.calls
    assert all(o.lamps["K2"] is not Lamp.GREEN for o in outs)  # start-up amber, then red


def test_the_zone_counts_vehicles_between_the_loops() -> None:
    flow = Flow()
    assert flow.zone("D1") is None  # no upstream loop heard yet
    for t in (1_000, 3_000, 5_000):  # three vehicles pass the upstream loop
        flow = flow.upstream("D1", True, t).upstream("D1", False, t + 300)
    assert flow.zone("D1") == (3, None)
    flow = flow.on("D1", 6_000, None, None).off(6_000, 6_500, "D1")  # one leaves the stop line
    assert flow.zone("D1") == (2, None)
    flow = flow.upstream("D1", True, 7_000)  # a queue stands over the upstream loop
    assert flow.zone("D1") == (3, 7_000)
    for t in range(10):  # more departures than counted never make it negative
        flow = flow.off(None, 8_000 + t, "D1")
    assert flow.zone("D1") == (0, 7_000)


# --- the sampled walk ------------------------------------------------------------------------


def green_main_road(queue: int) -> tuple[ControllerState, int]:
    """ks-1 serving the main road K1 with ``queue`` vehicles counted between its loops, the
    side road called, after 10 minutes of learned traffic."""
    cfg = config_of(with_upstream())
    state = initial_state(cfg, EPOCH)
    now = EPOCH
    rnd = random.Random(1)
    occupied: set[str] = set()
    for _ in range(6_000):
        now += 100
        evs = []
        for det, rate in (("D1", 0.03), ("D2", 0.01)):
            if rnd.random() < rate:
                on = det not in occupied
                (occupied.add if on else occupied.discard)(det)
                evs.append(DetectorEvent(det, on))
        state, _ = step(state, Inputs(detectors=tuple(evs)), now)
    while not (isinstance(state.program, ActRun) and state.program.stage == 0
               and state.kernel.heads["K1"].lamp is Lamp.GREEN):
        now += 100
        state, _ = step(state, Inputs(), now)
    flow = state.detectors.flow
    for k in range(queue):
        flow = flow.upstream("D1", True, now - 50 + k).upstream("D1", False, now - 40 + k)
    dets = state.detectors
    state = replace(state, detectors=replace(dets, flow=flow, calls=dets.calls | {1}))
    return state, now


def main_road_walk(queue: int) -> tuple[ControllerState, ActRun, int, int]:
    """:func:`green_main_road`'s state with what the sampled walk takes besides: the running
    stage, the instant and its earliest end."""
    state, now = green_main_road(queue)
    run = state.program
    assert isinstance(run, ActRun)
    return state, run, now, max(stage_min_end(state.model, run, state.kernel), now + 100)


def test_the_sampled_walk_is_deterministic_and_grows_with_the_counted_queue() -> None:
    ends = []
    for queue in (0, 4, 8):
        state, run, now, x_min = main_road_walk(queue)
        first, next_green, green_end = sampled_likely(state, run, now, x_min)
        assert (first, next_green, green_end) == sampled_likely(state, run, now, x_min)
        likely, conf = first["K1"]
        assert likely is not None and 0 <= conf <= 100
        assert likely >= x_min
        red_likely = first["K2"][0]
        assert red_likely is not None and red_likely > likely  # the side road comes after
        # the main road is green again after the side road's minimum green and intergreens
        assert next_green["K1"] > red_likely + 8_000
        assert "K1" not in green_end  # only for groups red now
        # the side road's coming green: its red-amber and at least its minimum green, then
        # the main road's green and the intergreens before the side road is green again
        k2 = state.model.by_sg["K2"]
        assert green_end["K2"] >= red_likely + k2.red_amber + k2.min_green
        assert next_green["K2"] > green_end["K2"] + 8_000
        ends.append(likely)
    # 4 more vehicles at a 2 s saturation headway: the green lasts about 8 s longer
    assert ends[0] < ends[1] < ends[2]
    assert 6_000 <= ends[2] - ends[1] <= 12_000


def test_walking_on_for_the_red_groups_later_greens_changes_no_other_figure() -> None:
    """The futures walk on past the last switch for a red group's green after its coming
    one, from draws of their own: every switch, confidence and next green of a group green
    now is what the walk without them gives."""
    for queue in (0, 4, 8):
        state, run, now, x_min = main_road_walk(queue)
        first, next_green, green_end = sampled_likely(state, run, now, x_min)
        alone, next_alone, no_end = sampled_likely(state, run, now, x_min, beyond=False)
        assert first == alone
        assert next_alone == {sg: t for sg, t in next_green.items() if sg not in green_end}
        assert no_end == {} and set(green_end) == {"K2"}


# --- the calibration -------------------------------------------------------------------------


def test_confidence_becomes_the_observed_share() -> None:
    cal = Calibration()
    now = 0
    for k in range(400):  # a raw 90 % that is right one time in four
        cal = cal.observe([("K1", now + 5_000, 90, 0)], now)
        switch = now + 5_000 if k % 4 == 0 else now + 8_000
        cal = cal.switched(["K1"], switch)
        now = switch + 1_000
    assert cal.confidence(90, 5_000) == pytest.approx(25, abs=4)
    assert cal.confidence(90, 50_000) == 90  # another band knows nothing yet: the raw value
    assert not cal.pending


def test_far_predictions_learn_the_walks_lean_and_near_ones_are_not_shifted() -> None:
    """The walk's switches 40 s ahead come 2 s late, half of them 1 s and half 3 s: the shift
    for that horizon becomes the median lean, learned from what the walk said (the published
    end minus the shift added), so it settles instead of chasing its own correction. Near
    predictions are not shifted, however late they come."""
    cal = Calibration()
    now = 0
    for k in range(1_000):
        walked = now + 40_000
        shift = cal.shift(40_000)
        cal = cal.observe([("K1", walked + shift, 40, shift), ("K2", now + 8_000, 40, 0)], now)
        switch = walked + (1_000 if k % 2 else 3_000)
        cal = cal.switched(["K1"], switch)
        cal = cal.switched(["K2"], now + 12_000)
        now = switch + 1_000
    assert 1_000 <= cal.shift(40_000) <= 3_000
    assert cal.shift(50_000) == cal.shift(70_000) == 0  # other horizons: nothing learned yet
    assert cal.shift(8_000) == cal.shift(30_000) == 0


def test_the_published_far_likely_ends_carry_the_learned_lean() -> None:
    """The same tick with a lean of 2 s learned for every far horizon: each red or green row
    predicted more than 30 s ahead is published 2 s later (within its bounds), every nearer one
    exactly as before."""
    start, now = green_main_road(20)
    plain, out = step(replace(start, cache=None), Inputs(), now + 100)
    leaning = replace(start, cache=None, calibration=Calibration(bias=(2_000, 2_000, 2_000)))
    leant, out_leant = step(leaning, Inputs(), now + 100)
    far = near = 0
    for row, row_leant in zip(out.groups, out_leant.groups, strict=True):
        if row.likely_end is None or row.lamp not in (Lamp.GREEN, Lamp.RED):
            assert row_leant.likely_end == row.likely_end
            continue
        assert row_leant.likely_end is not None
        if row.likely_end - (now + 100) > 30_000:
            want = row.likely_end + 2_000
            assert row_leant.likely_end == (want if row.max_end is None
                                            else min(want, row.max_end)), row.sg
            assert leant.cache is not None and leant.cache.shifts[row.sg] == 2_000
            far += 1
        else:
            assert row_leant.likely_end == row.likely_end, row.sg
            near += 1
    assert far and near
    assert plain.cache is not None and not plain.cache.shifts


def test_predictions_are_remembered_once_a_second_and_bounded() -> None:
    cal = Calibration()
    for t in range(0, 400_000, 100):
        cal = cal.observe([("K1", 500_000, 50, 0), ("K2", None, 0, 0)], t)
    assert len(cal.pending["K1"]) == MAX_PENDING
    assert "K2" not in cal.pending
    assert cal.drop(["K1"]).pending == {}



# --- refreshing under load -------------------------------------------------------------------


def test_a_late_tick_leaves_the_refresh_to_the_next_tick_on_time() -> None:
    """Hundreds of controllers share a pass: a tick run late (SAMPLED_LAG_LIMIT_MS into it)
    keeps the once-a-second refresh for the next tick on time, and what it must compute now
    (an aspect changed) it computes without a walk: bounds, exact aspects, and the last walk's
    likely ends for the groups whose aspect did not change, replaced at the next tick on time
    by the sampled walk."""
    start, t0 = green_main_road(4)
    late = Inputs(lag_ms=SAMPLED_LAG_LIMIT_MS + 1)
    # on time: the ticks at which the cache is refreshed by time alone, and the first
    # green that starts, each tick exactly as it will run below
    state, now, timed, change = start, t0, None, None
    while change is None:
        now += 100
        before = state.cache
        state, out = step(state, Inputs(), now)
        assert state.cache is not None and before is not None
        if any(out.lamps[sg] is Lamp.GREEN for sg in out.changed):
            change = now
        elif timed is None and state.cache.computed == now and (
                (now + state.phase) // LIKELY_REFRESH_MS
                != (before.computed + state.phase) // LIKELY_REFRESH_MS):
            timed = now
    assert timed is not None and timed < change
    state, now = start, t0
    while now < change - 100:
        now += 100
        before = state.cache
        state, _ = step(state, late if now == timed else Inputs(), now)
        if now == timed:
            assert state.cache is before  # deferred: the same rows, nothing computed
        if now == timed + 100:
            assert state.cache is not None and state.cache.computed == now  # caught up
            assert state.cache.on_time
    state, out = step(state, late, change)
    assert out.changed and state.cache is not None
    assert state.cache.computed == change and not state.cache.on_time  # at once
    for sg in out.changed:  # amber and red-amber are exact; a new green or red waits
        lo, hi, likely, _ = state.cache.timings.get(sg, (None, None, None, 0))
        assert likely is None or lo == hi == likely
    walk_rows = out.groups
    state, out = step(state, Inputs(), change + 100)
    assert state.cache.computed == change + 100 and state.cache.on_time
    assert [r.sg for r in out.groups] == [r.sg for r in walk_rows]


def test_a_late_switch_publishes_bounds_that_contain_those_of_one_on_time() -> None:
    """ks-0042 (three stages) under random traffic: every switch run late shows the same
    lamps as on time, and bounds that contain the on-time ones (so they hold wherever
    those do: ``late_bounds``, no walk unless the calls changed); a group whose aspect did
    not change keeps the last walk's likely end (and raw confidence; the lean far ahead is
    added afresh) when it lies within them, every other likely end is exact or unknown until
    the next tick on time."""
    config = parse_config(yaml.safe_load(KS_0042.read_text(encoding="utf-8")), str(KS_0042))
    assert isinstance(config, IntersectionConfig)
    loops = [d.id for d in config.detectors if d.kind == "loop"]
    state, now = initial_state(config, EPOCH), EPOCH
    rnd = random.Random(3)
    late = Inputs(lag_ms=SAMPLED_LAG_LIMIT_MS + 1)
    carried_any = walked_bounds = looser = 0
    for _ in range(12_000):
        now += 100
        inputs = Inputs(detectors=tuple(
            DetectorEvent(d, rnd.random() < 0.5) for d in loops if rnd.random() < 0.04))
        before = state
        state, out = step(state, inputs, now)
        walked = before.cache
        if not out.changed or walked is None or not walked.on_time:
            continue
        late_state, late_out = step(before, replace(inputs, lag_ms=late.lag_ms), now)
        assert late_out.lamps == out.lamps
        assert late_state.cache is not None and not late_state.cache.on_time
        for on_time, was_late in zip(out.groups, late_out.groups, strict=True):
            lo, hi = was_late.min_end, was_late.max_end
            assert lo is None or (on_time.min_end is not None and lo <= on_time.min_end)
            assert hi is None or (on_time.max_end is not None and hi >= on_time.max_end)
            walked_bounds += (lo, hi) == (on_time.min_end, on_time.max_end)
            looser += (lo, hi) != (on_time.min_end, on_time.max_end)
        carried = late_state.cache
        for sg, (lo, hi, likely, _) in carried.timings.items():
            if likely is None or lo == hi == likely:
                continue
            assert sg not in out.changed and walked.lamps[sg] is out.lamps[sg]
            own = walked.timings[sg][2]  # the walk's own end, before the lean far ahead
            assert own is not None
            assert (likely - carried.shifts.get(sg, 0), carried.raw_conf[sg]) == (
                own - walked.shifts.get(sg, 0), walked.raw_conf[sg])
            carried_any += 1
    assert carried_any > 0 and walked_bounds > 0 and looser > 0


@pytest.mark.parametrize("late_share", [0.0, 0.5, 0.95])
def test_every_switch_lies_within_every_bound_announced_for_it_however_late(
        late_share: float) -> None:
    """ks-0042 under random traffic with a share of the ticks run late (carried bounds and
    likely ends, chains of them): every switch lies within the ``[min_end, max_end]`` of
    every row published for that aspect."""
    config = parse_config(yaml.safe_load(KS_0042.read_text(encoding="utf-8")), str(KS_0042))
    assert isinstance(config, IntersectionConfig)
    loops = [d.id for d in config.detectors if d.kind == "loop"]
    state, now = initial_state(config, EPOCH), EPOCH
    rnd, lateness = random.Random(5), random.Random(9)
    announced: dict[str, list[tuple[int | None, int | None]]] = {}
    checked = 0
    for _ in range(12_000):
        now += 100
        late = lateness.random() < late_share
        state, out = step(state, Inputs(
            detectors=tuple(DetectorEvent(d, rnd.random() < 0.5)
                            for d in loops if rnd.random() < 0.04),
            lag_ms=SAMPLED_LAG_LIMIT_MS + 1 if late else 0), now)
        for g in out.groups:
            if g.sg in out.changed:
                for lo, hi in announced.pop(g.sg, []):
                    assert (lo is None or lo <= now) and (hi is None or now <= hi)
                    checked += 1
            announced.setdefault(g.sg, []).append((g.min_end, g.max_end))
    assert checked > 50_000


def test_a_fail_safe_is_not_scored_as_a_switch_anyone_predicted() -> None:
    state, now = green_main_road(4)
    for _ in range(30):  # three seconds: predictions remembered for the red and green groups
        now += 100
        state, _ = step(state, Inputs(), now)
    assert state.calibration.pending
    cells = state.calibration.cells
    state, out = fail_safe(state, "lamp driver fault", now + 100)
    assert out.changed
    assert not any(sg in state.calibration.pending for sg in out.changed)
    assert state.calibration.cells == cells  # forgotten, not counted as misses


def test_vehicles_behind_a_full_zone_come_from_the_stop_line_evidence() -> None:
    """In green a long queue crosses the upstream loop vehicle by vehicle, so it never stands
    occupied: while the zone between the loops is full (35 m: 5 cars), the vehicles behind
    it are the stop-line evidence's (arrivals since the queue began, less departures)."""

    def likely_k1(counted: int, queue_began_s_before_green: int) -> int:
        state, now = green_main_road(counted)
        run = state.program
        assert isinstance(run, ActRun)
        assert state.model.zone_size["D1"] == 5
        seen = state.detectors.flow.count("D1")
        since = run.start - queue_began_s_before_green * 1000
        run = replace(run, queues=tuple((d, since if d == "D1" else s, seen if d == "D1" else n)
                                        for d, s, n in run.queues))
        dets = state.detectors  # the first car of the queue stands on the stop-line loop
        state = replace(state, program=run, detectors=replace(
            dets, occupied=dets.occupied | {"D1"}, last_on={**dets.last_on, "D1": since}))
        x_min = max(stage_min_end(state.model, run, state.kernel), now + 100)
        likely, _ = sampled_likely(state, run, now, x_min)[0]["K1"]
        assert likely is not None
        return likely

    # a full zone: a queue that began 90 s before the green reaches far past the loop
    assert likely_k1(5, 90) > likely_k1(5, 0) + 10_000
    # a zone not full: the count is exact, the stop-line guess is not used
    assert likely_k1(2, 90) == likely_k1(2, 0)


def test_vehicles_arriving_before_the_green_join_the_counted_queue() -> None:
    """In the intergreen into a stage its green has not begun, so the vehicles arriving until
    it does join the queue counted between the loops (the main road's end came 1.6 s early at
    the median when predicted 5-10 s before its green; docs/benchmarks-history.md)."""
    state, now = green_main_road(4)
    run = state.program
    assert isinstance(run, ActRun)

    def likely_k1(green_in_ms: int) -> int:
        later = replace(run, start=now + green_in_ms)  # fully green only then
        x_min = max(stage_min_end(state.model, later, state.kernel), now + 100)
        likely, _ = sampled_likely(replace(state, program=later), later, now, x_min)[0]["K1"]
        assert likely is not None
        return likely

    rate = state.detectors.flow.rate("D1", now)  # vehicles per second
    assert rate > 0.05
    # the same draws (seeded by the instant): 8 s more of arrivals before the green, each
    # one more headway of discharge, on top of the 8 s later start
    assert likely_k1(8_000) - likely_k1(0) >= 8_000 + 0.5 * rate * 8 * 2_000


def test_a_group_in_amber_still_says_when_it_is_green_again() -> None:
    """A rider who cannot make the amber glides to the next green: the amber row has it."""
    state, now = green_main_road(4)
    rows = None
    while state.kernel.heads["K1"].lamp is not Lamp.AMBER:
        now += 100
        state, out = step(state, Inputs(), now)
        rows = {r.sg: r for r in out.groups}
    assert rows is not None
    amber, red = rows["K1"], rows["K2"]
    assert amber.next_green is not None and amber.green_end is None  # green_end: red only
    assert red.likely_end is not None and red.green_end is not None
    # after the side road's green and the intergreens
    assert amber.next_green > red.likely_end + 8_000
    assert red.likely_end < red.green_end <= amber.next_green
    assert red.next_green is not None and red.next_green > amber.next_green  # the one after
    run = state.program
    assert isinstance(run, ActRun)
    _, next_green, _ = sampled_likely(state, run, now, now + 100)
    assert next_green["K1"] == amber.next_green
    # the red that follows says the same: its walk and the amber's see the side road's green
    # and both intergreens (the amber's walk once went from the lamps of the intergreen, as
    # if the side road would never be green, and said 13 s too early)
    while state.kernel.heads["K1"].lamp is not Lamp.RED:
        now += 100
        state, out = step(state, Inputs(), now)
    red_k1 = {r.sg: r for r in out.groups}["K1"]
    assert red_k1.likely_end is not None
    k1 = state.model.by_sg["K1"]
    assert abs(red_k1.likely_end + k1.red_amber - amber.next_green) <= 3_000

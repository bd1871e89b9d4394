"""Scenario generation: geometry, configs, demand reproducibility, signal mapping (pure)."""

from __future__ import annotations

import pytest

from edge_agent.contract.configs import IntersectionConfig
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.plan_check import check_intersection
from signal_controller.domain.rilsa import Movement, intergreen
from simulations.scenario.domain.arterial import (
    STAGE_GROUPS,
    SignalTiming,
    build_network,
    conflict_distances,
    cycle_lanes_into,
    intergreens,
    intersection_config_data,
    loop_ids,
    vehicle_lane_indices,
    xy_to_latlon,
)
from simulations.scenario.domain.demand import CYCLISTS_PER_DIRECTION_PH, build_demand, route
from simulations.scenario.domain.signals import (
    Link,
    baseline_phases,
    lamps_of_state,
    minor_links,
    state_string,
)


@pytest.fixture(scope="module")
def net():
    return build_network()


def test_network_has_six_signalised_junctions_and_stops_both_ways(net):
    signalised = [n for n in net.nodes if n.signalised]
    assert len(signalised) == 6
    assert len(net.junctions) == 6
    assert len(net.stops_east) == len(net.stops_west) == 6
    edge_ids = {e.id for e in net.edges}
    assert all(s.edge in edge_ids for s in (*net.stops_east, *net.stops_west))
    assert net.eastbound[0] == "W0_J1"
    assert net.westbound[-1] == "J1_W0"


def test_routes_follow_the_tree(net):
    assert route(net, "W0", "E7") == net.eastbound
    assert route(net, "J3n", "J3s") == ("J3n_J3", "J3_J3s")
    assert route(net, "J3n", "W0") == ("J3n_J3", "J3_J2", "J2_J1", "J1_W0")
    assert route(net, "E7", "J1s")[-1] == "J1_J1s"


def test_intergreens_are_symmetric_in_pairs_and_cover_stage_conflicts():
    ig = intergreens()
    for a, row in ig.items():
        for b, seconds in row.items():
            assert a in ig[b], f"{b}->{a} missing"
            assert seconds >= 1
    stage_of = {sg: sid for sid, groups in STAGE_GROUPS for sg in groups}
    for a, row in ig.items():
        for b in row:
            assert stage_of[a] != stage_of[b], f"{a} and {b} conflict inside one stage"
    # pedestrians clearing the 12.8 m arterial at 1.2 m/s need the longest intergreens
    assert ig["F2"]["K2"] >= 10


def test_every_junction_config_validates_and_passes_the_plan_check(net):
    for j in net.junctions:
        data = intersection_config_data(net, j, SignalTiming(), priority=True)
        cfg = IntersectionConfig.model_validate(data)
        assert check_intersection(cfg) == []
        assert cfg.priority.enabled
        assert {d.id for d in cfg.detectors} == set(loop_ids(net, j))


def test_priority_flag_is_configuration_only(net):
    j = net.junctions[0]
    off = intersection_config_data(net, j, SignalTiming(), priority=False)
    on = intersection_config_data(net, j, SignalTiming(), priority=True)
    assert off["priority"] != on["priority"]
    assert {k: v for k, v in off.items() if k != "priority"} == {
        k: v for k, v in on.items() if k != "priority"
    }


def test_demand_is_reproducible_from_the_seed(net):
    a = build_demand(net, minutes=10, seed=7)
    b = build_demand(net, minutes=10, seed=7)
    c = build_demand(net, minutes=10, seed=8)
    assert a == b
    assert a.cars != c.cars
    assert a.cars and a.buses and a.walks
    assert [t.depart for t in a.cars] == sorted(t.depart for t in a.cars)
    assert all(0 <= t.depart < 600 for t in a.cars)


def test_buses_run_both_directions_with_timetabled_calls(net):
    demand = build_demand(net, minutes=20, seed=1)
    east = [b for b in demand.buses if b.direction == "E"]
    west = [b for b in demand.buses if b.direction == "W"]
    assert len(east) == len(west) == 4
    for bus in demand.buses:
        assert len(bus.calls) == 6
        untils = [c.until for c in bus.calls]
        assert untils == sorted(untils)
        assert untils[0] > bus.depart
        assert all(12 <= c.duration <= 28 for c in bus.calls)


def test_latlon_projection_is_metric():
    lat0, lon0 = xy_to_latlon(0.0, 0.0)
    lat1, _ = xy_to_latlon(0.0, 1000.0)
    _, lon1 = xy_to_latlon(1000.0, 0.0)
    assert (lat1 - lat0) * 111_195 == pytest.approx(1000.0, rel=1e-6)
    assert lon1 > lon0


LINKS = (
    Link(0, "K1", True), Link(1, "K1", False), Link(2, "K3", False), Link(3, "F1", False),
)


def test_state_string_uses_lowercase_green_for_permissive_links():
    lamps = {"K1": Lamp.GREEN, "K3": Lamp.RED, "F1": Lamp.GREEN}
    assert state_string(LINKS, lamps) == "gGrG"
    lamps = {"K1": Lamp.AMBER, "K3": Lamp.RED_AMBER, "F1": Lamp.RED}
    assert state_string(LINKS, lamps) == "yyur"


def test_lamps_of_state_round_trips():
    lamps = {"K1": Lamp.GREEN, "K3": Lamp.RED_AMBER, "F1": Lamp.RED}
    assert lamps_of_state(LINKS, state_string(LINKS, lamps)) == lamps


def test_minor_links_come_from_netconverts_program():
    assert minor_links(["gGr", "rrG"], 3) == frozenset({0})


def test_baseline_program_keeps_stages_and_intergreens(net):
    j = net.junctions[0]
    cfg = IntersectionConfig.model_validate(
        intersection_config_data(net, j, SignalTiming(), priority=False)
    )
    links = tuple(Link(i, g.sg, False) for i, g in enumerate(cfg.signal_groups))
    phases = baseline_phases(cfg, links)
    greens = [p for p in phases if p.min_dur is not None]
    assert len(greens) == 2
    assert greens[0].min_dur == 10.0 and greens[0].max_dur == 40.0
    # the transition after S2 lasts at least the largest intergreen from S2 into S1
    idx = phases.index(greens[1])
    transition = sum(p.duration for p in phases[idx + 1:])
    assert transition >= max(cfg.intergreen_s["F2"]["K2"], cfg.intergreen_s["F4"]["K1"])


def test_the_arterial_has_a_cycle_lane_the_side_streets_none(net):
    """Lane 0 sidewalk, 1 cycle lane, then the driving lanes: the buses stop and the loops lie
    on the driving lanes only."""
    for e in net.edges:
        if e.id.split("_")[0][-1:] in ("n", "s") or e.id.split("_")[1][-1:] in ("n", "s"):
            assert not e.bike_lane and vehicle_lane_indices(e) == (1,)
        else:
            assert e.bike_lane and vehicle_lane_indices(e) == (2, 3)
    assert {s.lane for s in (*net.stops_east, *net.stops_west)} == {2}
    j = net.junctions[0]
    cycle = set(cycle_lanes_into(net, j))
    assert cycle == {"W0_J1_1", "J2_J1_1"}
    assert not cycle & {lane for lane, _ in loop_ids(net, j).values()}


def test_cyclists_clearing_set_the_arterials_intergreens_where_slower():
    """K1/K2 carry cyclists: where a cyclist (4 m/s, 1 s passing) clears later than a car, the
    intergreen is the cyclist's (the far crossing), elsewhere the car's."""
    ig = intergreens()
    s_clear, s_enter, _ = conflict_distances()[("K1", "F2")]
    cyclist = intergreen(Movement("bicycle", s_clear), Movement("pedestrian", s_enter)).seconds
    car = intergreen(Movement("vehicle", s_clear, False, 3.0),
                     Movement("pedestrian", s_enter)).seconds
    assert cyclist > car
    assert ig["K1"]["F2"] == cyclist
    assert ig["K3"]["K1"] >= 1 and ig["K1"]["K3"] >= 6


def test_cyclists_ride_the_corridor_both_ways_at_their_own_speeds(net):
    demand = build_demand(net, minutes=60, seed=1)
    east = [c for c in demand.cyclists if c.direction == "E"]
    west = [c for c in demand.cyclists if c.direction == "W"]
    for riders in (east, west):
        assert 0.7 * CYCLISTS_PER_DIRECTION_PH < len(riders) < 1.3 * CYCLISTS_PER_DIRECTION_PH
    assert all(c.edges == net.eastbound for c in east)
    assert all(c.edges == net.westbound for c in west)
    speeds = [c.cruise_mps * 3.6 for c in demand.cyclists]
    assert min(speeds) > 12 - 0.02 and max(speeds) < 25 + 0.02  # rounded to 0.01 m/s
    assert 16 < sum(speeds) / len(speeds) < 20
    assert build_demand(net, minutes=60, seed=1).cyclists == demand.cyclists

"""Bus priority: policy over many simultaneous requests, locks, rejections, and its effect."""

from __future__ import annotations

import json

import pytest

from edge_agent.contract.configs import IntersectionConfig
from edge_agent.contract.payloads import Srem, decode
from signal_controller.app import priority_message
from signal_controller.domain.controller import initial_state
from signal_controller.domain.detectors import DetectorEvent
from signal_controller.domain.intersection import Intersection
from signal_controller.domain.lamps import Lamp
from signal_controller.domain.priority import (
    FLOOD_MESSAGES,
    MAX_ACTIVE,
    MAX_PER_VEHICLE,
    MAX_REJECTED_SHOWN,
    MAX_TABLE,
    PriorityMessage,
    PriorityState,
    StageView,
    evaluate,
    receive,
)
from signal_controller.domain.state import ActRun, Inputs
from tests.unit.signal_controller.scenarios import EPOCH
from tests.unit.signal_controller.test_controller import lamp_changes, run

NOW = EPOCH + 60_000


def msg(rid: str, sg: str = "K1", eta: int = NOW + 20_000, **kw: object) -> PriorityMessage:
    """A SREM of vehicle ``v-{rid}`` (or ``vehicle_id``), sent on its own topic unless
    ``sender_id`` says otherwise."""
    fields: dict[str, object] = {"vehicle_id": f"v-{rid}", "intersection_id": "ks-1",
                                 "type": "request", "role": "transit", "ts": NOW}
    fields.update(kw)
    fields.setdefault("sender_id", fields["vehicle_id"])
    return PriorityMessage(request_id=rid, sg=sg, eta=eta, **fields)  # type: ignore[arg-type]


def key(rid: str, vehicle: str | None = None) -> tuple[str, str]:
    """The table key of request ``rid`` of ``vehicle`` (default ``v-{rid}``, as in msg)."""
    return (vehicle or f"v-{rid}", rid)


def view(stage: int = 1, cycle: int = 5) -> StageView:
    return StageView(stage=stage, cycle=cycle, hold_limit=NOW + 60_000,
                     serving=frozenset({"K2", "F2"}) if stage == 1 else frozenset({"K1"}))


def test_twenty_simultaneous_requests_follow_the_policy(two_phase: IntersectionConfig) -> None:
    model = Intersection.from_config(two_phase)
    st = PriorityState()
    for i in range(20):  # 20 buses for K1 and K2, ETAs spread, one emergency, lateness ties
        sg = "K1" if i % 2 else "K2"
        st = receive(st, model, msg(f"r{i:02}", sg, NOW + 5_000 + (i // 2) * 3_000,
                                    delay_s=float(i)),
                     NOW, accepting=True, cycle=5)
    st = receive(st, model, msg("amb", "K1", NOW + 50_000, role="emergency",
                                vehicle_id="ambulance"), NOW, accepting=True, cycle=5)
    assert sum(1 for r in st.requests.values() if r.status == "processing") == 21
    st, wish = evaluate(st, model, view(stage=1), NOW)
    statuses = {r.request_id: r.status for r in st.requests.values()}
    # The emergency vehicle ranks first: early green for its stage S1 (K1).
    assert statuses["amb"] == "granted" and wish.early_stage == 0
    assert all(statuses[f"r{i:02}"] == "granted" for i in range(1, 20, 2))  # same stage
    assert all(statuses[f"r{i:02}"] == "watchOtherTraffic" for i in range(0, 20, 2))
    assert len(st.ssem()) == 21


def test_earliest_eta_then_latest_bus_wins(two_phase: IntersectionConfig) -> None:
    model = Intersection.from_config(two_phase)
    st = PriorityState()
    st = receive(st, model, msg("a", "K1", NOW + 9_000, delay_s=60.0), NOW, accepting=True,
                 cycle=5)
    st = receive(st, model, msg("b", "K2", NOW + 9_000, delay_s=300.0), NOW, accepting=True,
                 cycle=5)
    st, wish = evaluate(st, model, view(stage=0), NOW)
    assert st.requests[key("b")].status == "granted"
    assert st.requests[key("a")].status == "watchOtherTraffic"
    assert wish.early_stage == 1


def test_reservice_lock_protects_cross_traffic(two_phase: IntersectionConfig) -> None:
    model = Intersection.from_config(two_phase)
    st = PriorityState()
    st = receive(st, model, msg("a", "K1"), NOW, accepting=True, cycle=5)
    st, _ = evaluate(st, model, view(stage=0), NOW)
    assert st.requests[key("a")].status == "granted"
    st = receive(st, model, msg("a", "K1", type="cancel"), NOW, accepting=True, cycle=5)
    assert st.served_cycle["N"] == 5
    st = receive(st, model, msg("b", "K1"), NOW, accepting=True, cycle=6)
    st, wish = evaluate(st, model, view(stage=0, cycle=6), NOW)
    assert st.requests[key("b")].status == "reserviceLocked" and wish.hold_until is None
    st = receive(st, model, msg("c", "K1", role="emergency", vehicle_id="ambulance"), NOW,
                 accepting=True, cycle=6)
    st, _ = evaluate(st, model, view(stage=0, cycle=6), NOW)
    assert st.requests[key("c", "ambulance")].status == "granted"  # never locked
    st, _ = evaluate(st, model, view(stage=0, cycle=7), NOW)
    assert st.requests[key("b")].status == "granted"  # a cycle later the lock is gone


def test_bad_requests_are_rejected_and_counted(two_phase: IntersectionConfig) -> None:
    model = Intersection.from_config(two_phase)
    st = PriorityState()
    cases = [msg("u", "K9"), msg("n", "F2"), msg("s", "K1", NOW - 60_000),
             msg("o", "K1", ts=NOW - 120_000), msg("w", "K1", intersection_id="ks-2")]
    for m in cases:
        st = receive(st, model, m, NOW, accepting=True, cycle=1)
    for i in range(FLOOD_MESSAGES + 5):
        st = receive(st, model, msg(f"f{i}", vehicle_id="flood"), NOW, accepting=True, cycle=1)
    st = receive(st, model, msg("x", "K1"), NOW, accepting=False, cycle=1)
    c = st.counts
    assert c["rejected_unknown_group"] == 1 and c["rejected_not_priority_group"] == 1
    assert c["rejected_stale_eta"] == 2 and c["rejected_wrong_intersection"] == 1
    assert c["rejected_too_many_per_vehicle"] >= 1 and c["rejected_flood"] >= 1
    assert c["rejected_not_actuated"] == 1
    assert st.requests[key("u")].status == "rejected"
    assert sum(1 for r in st.requests.values() if r.vehicle_id == "flood"
               and r.status != "rejected") == 4


def test_a_vehicle_acts_only_on_its_own_requests(two_phase: IntersectionConfig) -> None:
    """Requests are keyed by (vehicle of the topic, request id): another bus can neither
    cancel nor update a request, whatever ids it puts in the payload or reads on SSEM."""
    model = Intersection.from_config(two_phase)
    st = receive(PriorityState(), model, msg("r", vehicle_id="A"), NOW, accepting=True,
                 cycle=1)
    # B names A in the payload (on its own topic): refused, counted, neither tracked nor shown
    st = receive(st, model, msg("r", vehicle_id="A", sender_id="B", type="cancel"), NOW,
                 accepting=True, cycle=1)
    st = receive(st, model, msg("x", vehicle_id="A", sender_id="B", eta=NOW + 1_000), NOW,
                 accepting=True, cycle=1)
    assert st.counts == {"rejected_vehicle_mismatch": 2}
    assert "B" not in st.recent and list(st.requests) == [key("r", "A")]
    # B with its own id and A's request id: a cancel finds nothing of B's, a request is B's own
    st = receive(st, model, msg("r", vehicle_id="B", type="cancel"), NOW, accepting=True,
                 cycle=1)
    assert list(st.requests) == [key("r", "A")]
    st = receive(st, model, msg("r", "K2", vehicle_id="B", eta=NOW + 1_000), NOW,
                 accepting=True, cycle=1)
    st, _ = evaluate(st, model, view(stage=0), NOW)
    assert st.requests[key("r", "A")].sg == "K1" and st.requests[key("r", "B")].sg == "K2"
    assert sorted(st.ssem()) == [("r", "A", "K1", st.requests[key("r", "A")].status),
                                 ("r", "B", "K2", st.requests[key("r", "B")].status)]
    # A's own cancel removes A's request only
    st = receive(st, model, msg("r", vehicle_id="A", type="cancel"), NOW, accepting=True,
                 cycle=1)
    assert list(st.requests) == [key("r", "B")]


def test_emergency_rank_only_for_configured_vehicles(two_phase: IntersectionConfig) -> None:
    """A bus claiming ``role: emergency`` is served as transit (counted); the configured
    emergency vehicle ranks first."""
    model = Intersection.from_config(two_phase)
    assert model.priority.emergency_vehicles == {"ambulance"}
    st = PriorityState()
    st = receive(st, model, msg("bus", "K1", NOW + 9_000), NOW, accepting=True, cycle=5)
    st = receive(st, model, msg("liar", "K2", NOW + 20_000, role="emergency"), NOW,
                 accepting=True, cycle=5)
    assert st.requests[key("liar")].role == "transit"
    assert st.counts == {"downgraded_emergency": 1}
    st, wish = evaluate(st, model, view(stage=0), NOW)
    assert st.requests[key("bus")].status == "granted"  # earlier ETA, both transit
    assert st.requests[key("liar")].status == "watchOtherTraffic" and wish.early_stage is None
    # an update cannot claim it either; the configured vehicle can
    st = receive(st, model, msg("liar", "K2", NOW + 20_000, role="emergency"), NOW,
                 accepting=True, cycle=5)
    assert st.requests[key("liar")].role == "transit"
    st = receive(st, model, msg("amb", "K2", NOW + 30_000, role="emergency",
                                vehicle_id="ambulance"), NOW, accepting=True, cycle=5)
    st, wish = evaluate(st, model, view(stage=0), NOW)
    assert st.requests[key("amb", "ambulance")].status == "granted" and wish.early_stage == 1
    assert st.counts == {"downgraded_emergency": 2}


def test_the_table_is_bounded_per_vehicle_and_in_all(two_phase: IntersectionConfig) -> None:
    """Open requests: MAX_PER_VEHICLE each, MAX_ACTIVE in all; finished (rejected) entries
    shown on SSEM: MAX_PER_VEHICLE each, MAX_REJECTED_SHOWN in all, so one vehicle's
    rejections cannot push another's off the list."""
    model = Intersection.from_config(two_phase)
    st = receive(PriorityState(), model, msg("mine", "K9", vehicle_id="A"), NOW,
                 accepting=True, cycle=1)
    assert st.requests[key("mine", "A")].status == "rejected"
    for i in range(MAX_REJECTED_SHOWN + 8):  # one bus, more rejections than are shown in all
        st = receive(st, model, msg(f"u{i}", "K9", vehicle_id="B"), NOW + i * 600,
                     accepting=True, cycle=1)
    assert "rejected_flood" not in st.counts
    assert sum(1 for r in st.requests.values() if r.vehicle_id == "B") == MAX_PER_VEHICLE
    assert key("mine", "A") in st.requests  # A's rejection is still shown
    for v in range(40):  # many buses, each with more requests than it may have open
        for i in range(MAX_PER_VEHICLE + 2):
            st = receive(st, model, msg(f"r{i}", vehicle_id=f"bus{v}"), NOW + 100, accepting=True,
                         cycle=1)
            assert len(st.requests) <= MAX_TABLE
    by_status: dict[str, int] = {}
    for r in st.requests.values():
        by_status[r.status] = by_status.get(r.status, 0) + 1
    assert by_status == {"processing": MAX_ACTIVE, "rejected": MAX_REJECTED_SHOWN}
    for v in {r.vehicle_id for r in st.requests.values()}:
        mine = [r for r in st.requests.values() if r.vehicle_id == v]
        assert sum(1 for r in mine if r.status == "processing") <= MAX_PER_VEHICLE
        assert sum(1 for r in mine if r.status == "rejected") <= MAX_PER_VEHICLE
    assert st.counts["rejected_capacity"] > 0 and st.counts["rejected_too_many_per_vehicle"] > 0


def test_max_presence_ends_a_forgotten_request(two_phase: IntersectionConfig) -> None:
    model = Intersection.from_config(two_phase)
    st = receive(PriorityState(), model, msg("a", "K1", NOW + 1_000), NOW, accepting=True,
                 cycle=1)
    st, _ = evaluate(st, model, view(stage=0), NOW + 40_000)
    assert st.requests[key("a")].status == "maxPresence"
    st, _ = evaluate(st, model, view(stage=0), NOW + 50_000)
    assert key("a") not in st.requests


def bus(rid: str, sg: str, eta: int, now: int) -> PriorityMessage:
    return PriorityMessage(rid, "77", "ks-1", "request", sg, eta, "transit", now, "77")


def test_extension_holds_green_until_the_bus_passed(two_phase: IntersectionConfig) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 30)
    assert isinstance(state.program, ActRun) and state.program.stage == 0
    t = state.kernel.last_tick + 100
    eta = t + 12_000
    state, outs = run(state, 40, lambda now: Inputs(
        detectors=(DetectorEvent("D2", True),),
        requests=(bus("b1", "K1", eta, now),) if now == t else ()))
    end = next(tt for tt, lamp in lamp_changes(outs, "K1") if lamp is Lamp.AMBER)
    assert end == eta + 2_000  # without the bus K1 would gap out right away
    assert any(o.ssem and o.ssem[0][3] == "granted" for o in outs)
    k1 = [next(g for g in o.groups if g.sg == "K1") for o in outs if o.now < end]
    assert all(g.max_end is not None and end <= g.max_end for g in k1[1:])


def test_early_green_truncates_the_conflicting_stage(two_phase: IntersectionConfig) -> None:
    state, _ = run(initial_state(two_phase, EPOCH), 20)
    t0 = state.kernel.last_tick + 100
    # Serve the side road with a busy loop (it would run to its 20 s maximum).
    state, _ = run(state, 14, lambda now: Inputs(detectors=(DetectorEvent("D2", True),))
                   if now == t0 else Inputs())
    assert isinstance(state.program, ActRun) and state.program.stage == 1
    s2_start = state.program.start
    t = state.kernel.last_tick + 100
    state, outs = run(state, 30, lambda now: Inputs(
        requests=(bus("b2", "K1", now + 30_000, now),) if now == t else (),
        detectors=(DetectorEvent("D1", True),) if now == t else ()))
    end = next(tt for tt, lamp in lamp_changes(outs, "K2") if lamp is Lamp.AMBER)
    assert end == max(s2_start + 8_000, s2_start + 20_000 - 10_000, t)  # max - max_early


@pytest.mark.parametrize(
    ("delay_a", "delay_b", "winner"),
    [(None, 120, "b"), (60, None, "a"), (-30, None, "b"), (None, None, "a")],
)
def test_srem_delay_breaks_an_eta_tie(
    two_phase: IntersectionConfig, delay_a: int | None, delay_b: int | None, winner: str
) -> None:
    """Two buses (K1 now green, K2 red) with the same ETA: the later one by the srem's
    ``delay_s`` gets priority; no report counts as on time; an early bus yields; without any
    report the earlier request wins, as before."""
    model = Intersection.from_config(two_phase)

    def wire(rid: str, sg: str, delay: int | None) -> PriorityMessage:
        doc: dict[str, object] = {
            "v": 1, "ts": NOW, "request_id": rid, "vehicle_id": f"v-{rid}",
            "intersection_id": "ks-1", "type": "request", "sg": sg, "eta": NOW + 9_000,
            "role": "transit", "route_id": "4",
        }
        if delay is not None:
            doc["delay_s"] = delay
        return priority_message(decode(Srem, json.dumps(doc).encode()), f"v-{rid}")

    st = PriorityState()
    st = receive(st, model, wire("a", "K1", delay_a), NOW, accepting=True, cycle=5)
    st = receive(st, model, wire("b", "K2", delay_b), NOW + 100, accepting=True, cycle=5)
    st, _ = evaluate(st, model, view(stage=0), NOW + 100)
    loser = "b" if winner == "a" else "a"
    assert st.requests[key(winner)].status == "granted"
    assert st.requests[key(loser)].status == "watchOtherTraffic"

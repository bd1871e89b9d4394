"""Further rounds: accepted places are kept, freed places go to the unplaced, lottery reversed."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.kita.domain import (
    Application,
    Decision,
    KitaPlaces,
    Reason,
    Round,
    explain,
    first_round,
    next_round,
)
from central_hub.kita.errors import DecisionError
from tests.unit.kita.kita_oracle import blocking, instances

KASSEL = (51.3155, 9.4975)


def kita(kita_id: str, capacity: int) -> KitaPlaces:
    return KitaPlaces(kita_id, kita_id, "U3", capacity, *KASSEL, 1.0)


def child(child_id: str, choices: tuple[str, ...], lottery: int) -> Application:
    return Application(
        child_id, f"F-{child_id}", "U3", choices, None, False, *KASSEL, lottery=lottery
    )


def random_decisions(round_: Round, rng: random.Random) -> dict[str, Decision]:
    return {
        child_id: rng.choice([Decision.ACCEPT, Decision.DECLINE])
        for child_id in sorted(round_.offers())
    }


@settings(max_examples=150, deadline=None)
@given(
    instances(max_kitas=4, max_children=12, groups=("U3", "Ü3")),
    st.randoms(use_true_random=False),
)
def test_further_rounds_keep_accepted_places_and_stay_stable(
    instance: tuple[list[KitaPlaces], list[Application]], rng: random.Random
) -> None:
    kitas, apps = instance
    by_id = {a.child_id: a for a in apps}
    current = first_round(kitas, apps)
    accepted: dict[str, str] = {}
    declined: set[str] = set()
    for number in (2, 3):
        # staff withdraw a few applications, offered or waiting, instead of an answer
        withdrawn = {p.child_id for p in current.placements if rng.random() < 0.2}
        decisions = {c: d for c, d in random_decisions(current, rng).items()
                     if c not in withdrawn}
        unplaced = [p.child_id for p in current.placements
                    if p.kita_id is None and p.child_id not in withdrawn]
        offers = current.offers()
        accepted |= {c: offers[c] for c, d in decisions.items() if d is Decision.ACCEPT}
        declined |= {c for c, d in decisions.items() if d is Decision.DECLINE} | withdrawn

        current = next_round(current, decisions, withdrawn)

        assert current.number == number
        assert current.lottery_descending
        assert [p.child_id for p in current.placements] == unplaced
        assert current.accepted() == accepted
        assert current.withdrawn() == declined
        taken = Counter((kita_id, by_id[c].age_group) for c, kita_id in accepted.items())
        open_places = {
            (k.kita_id, k.age_group): k.capacity - taken[(k.kita_id, k.age_group)] for k in kitas
        }
        assert all(places >= 0 for places in open_places.values())
        participants = [by_id[c] for c in unplaced]
        assignment = {p.child_id: p.kita_id for p in current.placements}
        assert (
            blocking(
                kitas,
                participants,
                assignment,
                capacities=open_places,
                lottery_descending=True,
            )
            == []
        )
        for row in explain(current):
            key = (row.kita_id, by_id[row.child_id].age_group)
            if row.reason is Reason.HIGHER_PRIORITY:
                assert row.cutoff is not None
                assert row.cutoff.sort_key(True) < row.priority.sort_key(True)
            elif row.reason is Reason.NO_PLACES:
                assert open_places[key] == 0


def test_freed_place_goes_to_the_worst_lottery_number_first() -> None:
    kitas = [kita("A", 1)]
    apps = [child("x", ("A",), 1), child("y", ("A",), 2), child("z", ("A",), 3)]
    first = first_round(kitas, apps)
    assert first.offers() == {"x": "A"}

    second = next_round(first, {"x": Decision.DECLINE})

    assert second.offers() == {"z": "A"}
    assert [p.child_id for p in second.placements] == ["y", "z"]
    assert second.withdrawn() == frozenset({"x"})


def test_accepted_places_are_not_offered_again() -> None:
    kitas = [kita("A", 2), kita("B", 1)]
    apps = [
        child("x", ("A",), 1),
        child("y", ("A", "B"), 2),
        child("z", ("A", "B"), 3),
        child("w", ("B",), 4),
    ]
    first = first_round(kitas, apps)
    assert first.offers() == {"x": "A", "y": "A", "z": "B"}

    second = next_round(first, {"x": Decision.ACCEPT, "y": Decision.DECLINE, "z": Decision.ACCEPT})

    # one place of A is free again; B stays full, so w gets nothing
    assert second.accepted() == {"x": "A", "z": "B"}
    assert second.offers() == {}
    assert [(p.child_id, p.kita_id) for p in second.placements] == [("w", None)]


def test_a_missing_decision_is_refused() -> None:
    first = first_round([kita("A", 2)], [child("x", ("A",), 1), child("y", ("A",), 2)])
    with pytest.raises(DecisionError, match="y: no decision"):
        next_round(first, {"x": Decision.ACCEPT})


def test_a_decision_without_an_offer_is_refused() -> None:
    first = first_round([kita("A", 1)], [child("x", ("A",), 1), child("y", ("A",), 2)])
    with pytest.raises(DecisionError, match="y: has no offer in round 1"):
        next_round(first, {"x": Decision.ACCEPT, "y": Decision.ACCEPT})
    with pytest.raises(DecisionError, match="ghost: has no offer"):
        next_round(first, {"x": Decision.ACCEPT, "ghost": Decision.DECLINE})


def test_withdrawn_children_leave_and_free_their_offers() -> None:
    kitas = [kita("A", 1)]
    apps = [child("x", ("A",), 1), child("y", ("A",), 2), child("z", ("A",), 3)]
    first = first_round(kitas, apps)
    assert first.offers() == {"x": "A"}

    second = next_round(first, {}, withdrawn={"x", "z"})

    assert second.offers() == {"y": "A"}
    assert [p.child_id for p in second.placements] == ["y"]
    assert second.withdrawn() == frozenset({"x", "z"})


def test_a_withdrawal_needs_a_participant_without_an_answer() -> None:
    first = first_round([kita("A", 1)], [child("x", ("A",), 1), child("y", ("A",), 2)])
    with pytest.raises(DecisionError, match="x: withdrawn after answering"):
        next_round(first, {"x": Decision.ACCEPT}, withdrawn={"x"})
    with pytest.raises(DecisionError, match="ghost: withdrawn, but took no part in round 1"):
        next_round(first, {"x": Decision.ACCEPT}, withdrawn={"ghost"})

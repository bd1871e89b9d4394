"""Fairness properties of the first round on random instances (hypothesis).

Stable (no justified envy, no wasted place), child-optimal (checked against every stable
matching by brute force), strategy-proof (no misreport helps a child), deterministic and
independent of input order, and every missed choice explained consistently.
"""

from __future__ import annotations

import dataclasses
import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from central_hub.kita.domain import (
    Application,
    KitaPlaces,
    Reason,
    cutoffs,
    explain,
    first_round,
)
from tests.unit.kita.kita_oracle import (
    all_matchings,
    blocking,
    instances,
    kita_of,
    priority,
    rank_of,
)


def assignment_of(kitas: list[KitaPlaces], apps: list[Application]) -> dict[str, str | None]:
    return {p.child_id: p.kita_id for p in first_round(kitas, apps).placements}


@settings(max_examples=300, deadline=None)
@given(instances(max_kitas=5, max_children=12, groups=("U3", "Ü3")))
def test_every_allocation_is_stable(instance: tuple[list[KitaPlaces], list[Application]]) -> None:
    kitas, apps = instance
    result = first_round(kitas, apps)
    assignment = {p.child_id: p.kita_id for p in result.placements}
    assert blocking(kitas, apps, assignment) == []
    assert [p.child_id for p in result.placements] == [a.child_id for a in apps]
    for placement, app in zip(result.placements, apps, strict=True):
        if placement.kita_id is None:
            assert placement.choice_rank is None
        else:
            assert app.choices[placement.choice_rank - 1] == placement.kita_id
        assert placement.lottery == app.lottery


@settings(max_examples=150, deadline=None)
@given(instances(max_kitas=3, max_children=6, max_capacity=2))
def test_allocation_is_the_child_optimal_stable_matching(
    instance: tuple[list[KitaPlaces], list[Application]],
) -> None:
    kitas, apps = instance
    ours = assignment_of(kitas, apps)
    stable = [m for m in all_matchings(kitas, apps) if not blocking(kitas, apps, m)]
    assert ours in stable
    for other in stable:
        for app in apps:
            assert rank_of(app, ours[app.child_id]) <= rank_of(app, other[app.child_id])


@settings(max_examples=120, deadline=None)
@given(instances(max_kitas=4, max_children=7), st.randoms(use_true_random=False))
def test_no_child_gains_by_misreporting(
    instance: tuple[list[KitaPlaces], list[Application]], rng: random.Random
) -> None:
    kitas, apps = instance
    if not apps:
        return
    truthful = assignment_of(kitas, apps)
    liar = rng.randrange(len(apps))
    app = apps[liar]
    offered = [k.kita_id for k in kitas if k.age_group == app.age_group]
    for length in range(1, min(5, len(offered)) + 1):
        for report in itertools.permutations(offered, length):
            lied = list(apps)
            lied[liar] = dataclasses.replace(app, choices=report)
            outcome = assignment_of(kitas, lied)[app.child_id]
            assert rank_of(app, outcome) >= rank_of(app, truthful[app.child_id]), report


@settings(max_examples=150, deadline=None)
@given(
    instances(max_kitas=5, max_children=12, groups=("U3", "Ü3")),
    st.randoms(use_true_random=False),
)
def test_result_is_deterministic_and_independent_of_input_order(
    instance: tuple[list[KitaPlaces], list[Application]], rng: random.Random
) -> None:
    kitas, apps = instance
    first = first_round(kitas, apps)
    assert first_round(kitas, apps).placements == first.placements
    shuffled_kitas = rng.sample(kitas, len(kitas))
    shuffled_apps = rng.sample(apps, len(apps))
    again = first_round(shuffled_kitas, shuffled_apps)
    assert {p.child_id: p.kita_id for p in again.placements} == {
        p.child_id: p.kita_id for p in first.placements
    }


@settings(max_examples=200, deadline=None)
@given(instances(max_kitas=5, max_children=12, groups=("U3", "Ü3")))
def test_every_missed_choice_is_explained_by_the_cutoff(
    instance: tuple[list[KitaPlaces], list[Application]],
) -> None:
    kitas, apps = instance
    result = first_round(kitas, apps)
    by_child = {p.child_id: p for p in result.placements}
    rows = explain(result)
    cut = {(c.kita_id, c.age_group): c for c in cutoffs(result)}
    explained = [(e.child_id, e.choice_rank) for e in rows]
    expected = [
        (app.child_id, rank)
        for app in apps
        for rank in range(1, len(app.choices) + 1)
        if rank != by_child[app.child_id].choice_rank
    ]
    assert explained == expected
    apps_by_id = {a.child_id: a for a in apps}
    for row in rows:
        app = apps_by_id[row.child_id]
        kita = kita_of(kitas, app, row.kita_id)
        placed_rank = by_child[row.child_id].choice_rank
        mine = priority(app, kita)
        assert row.priority.sort_key() == mine
        assert row.cutoff == cut[(kita.kita_id, kita.age_group)].last_admitted
        if row.reason is Reason.PLACED_AT_BETTER_CHOICE:
            assert placed_rank is not None
            assert row.choice_rank > placed_rank
        elif row.reason is Reason.NO_PLACES:
            assert kita.capacity == 0
        else:
            assert row.cutoff is not None
            assert row.cutoff.sort_key() < mine
            assert cut[(kita.kita_id, kita.age_group)].admitted == kita.capacity


@settings(max_examples=150, deadline=None)
@given(instances(max_kitas=5, max_children=12))
def test_cutoff_is_the_lowest_priority_admitted(
    instance: tuple[list[KitaPlaces], list[Application]],
) -> None:
    kitas, apps = instance
    result = first_round(kitas, apps)
    for cutoff in cutoffs(result):
        kita = next(k for k in kitas if k.kita_id == cutoff.kita_id)
        admitted = [
            priority(app, kita)
            for app, p in zip(apps, result.placements, strict=True)
            if p.kita_id == kita.kita_id
        ]
        assert cutoff.admitted == len(admitted)
        assert cutoff.places == kita.capacity
        if admitted and len(admitted) == kita.capacity:
            assert cutoff.last_admitted is not None
            assert cutoff.last_admitted.sort_key() == max(admitted)
        else:
            assert cutoff.last_admitted is None

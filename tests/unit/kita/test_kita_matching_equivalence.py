"""The allocation equals the ``matching`` library's resident-optimal HospitalResident solution.

``matching`` is an independent, textbook implementation; feeding it our published priorities
as its hospital preference lists (built here from the records by the oracle, not from our
integer keys) must give exactly the same assignment on every instance.
"""

from __future__ import annotations

import sys
import warnings

from hypothesis import given, settings
from matching.games import HospitalResident

from central_hub.kita.domain import Application, KitaPlaces, first_round
from central_hub.kita.domain.instance import build_instances
from central_hub.kita.domain.preference_lists import preference_lists
from central_hub.kita.synthetic import kassel_instance
from tests.unit.kita.kita_oracle import instances, kita_of, priority


def solve_with_matching(kitas: list[KitaPlaces], apps: list[Application]) -> dict[str, str | None]:
    """child_id -> kita_id from matching, one game per age group, Kitas without places left out."""
    result: dict[str, str | None] = {app.child_id: None for app in apps}
    for group in sorted({k.age_group for k in kitas}):
        open_kitas = [k for k in kitas if k.age_group == group and k.capacity > 0]
        open_ids = {k.kita_id for k in open_kitas}
        members = [a for a in apps if a.age_group == group]
        residents = {
            a.child_id: [c for c in a.choices if c in open_ids]
            for a in members
            if any(c in open_ids for c in a.choices)
        }
        if not residents:
            continue
        hospitals = {
            k.kita_id: [
                a.child_id
                for a in sorted(
                    members, key=lambda a, k=k: priority(a, kita_of(kitas, a, k.kita_id))
                )
                if a.child_id in residents and k.kita_id in a.choices
            ]
            for k in open_kitas
        }
        capacities = {k.kita_id: k.capacity for k in open_kitas}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it warns about Kitas nobody ranked
            game = HospitalResident.create_from_dictionaries(residents, hospitals, capacities)
            matching = game.solve(optimal="resident")
        for hospital, matched in matching.items():
            for resident in matched:
                result[resident.name] = hospital.name
    return result


@settings(max_examples=150, deadline=None)
@given(instances(max_kitas=6, max_children=25, max_capacity=4, groups=("U3", "Ü3")))
def test_same_assignment_as_matching_hospital_resident(
    instance: tuple[list[KitaPlaces], list[Application]],
) -> None:
    kitas, apps = instance
    ours = {p.child_id: p.kita_id for p in first_round(kitas, apps).placements}
    assert ours == solve_with_matching(kitas, apps)


def test_same_assignment_as_matching_on_a_kassel_like_instance() -> None:
    # matching deep-copies its linked players recursively; 1,500 children need more depth
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        kitas, apps = kassel_instance(1_500, 40, seed=11)
        ours = {p.child_id: p.kita_id for p in first_round(kitas, apps).placements}
        theirs = solve_with_matching(kitas, apps)
    finally:
        sys.setrecursionlimit(old_limit)
    assert ours == theirs
    assert sum(kita is not None for kita in ours.values()) > 1_000


@settings(max_examples=100, deadline=None)
@given(instances(max_kitas=5, max_children=12))
def test_preference_lists_rank_applicants_by_the_published_criteria(
    instance: tuple[list[KitaPlaces], list[Application]],
) -> None:
    kitas, apps = instance
    for inst in build_instances(kitas, apps):
        for descending in (False, True):
            lists = preference_lists(inst, descending)
            for kita in inst.kitas:
                applicants = [a for a in apps if kita.kita_id in a.choices]
                expected = sorted(applicants, key=lambda a, k=kita: priority(a, k, descending))
                assert lists.kitas[kita.kita_id] == [a.child_id for a in expected]
                assert lists.capacities[kita.kita_id] == kita.capacity
            assert lists.children == {a.child_id: list(a.choices) for a in inst.children}

"""Rule violations in the records are all found, named by record and field, and refused."""

from __future__ import annotations

import dataclasses

import pytest

from central_hub.kita.domain import Application, KitaPlaces, find_problems, first_round
from central_hub.kita.errors import RecordsError

KASSEL = (51.3155, 9.4975)
KITAS = [
    KitaPlaces("A", "Kita A", "U3", 2, *KASSEL, 1.0),
    KitaPlaces("A", "Kita A", "Ü3", 2, *KASSEL, 1.0),
    KitaPlaces("B", "Kita B", "Ü3", 2, *KASSEL, 1.0),
]
GOOD = Application("c1", "f1", "Ü3", ("A", "B"), None, False, *KASSEL, 1)


def problems_for(*apps: Application, kitas: list[KitaPlaces] = KITAS) -> list[tuple[str, ...]]:
    return [(p.kind, str(p.index), p.field, p.message) for p in find_problems(kitas, apps)]


def test_valid_records_have_no_problems() -> None:
    other_group = Application("c2", "f2", "U3", ("A",), "B", True, *KASSEL, 2)
    assert find_problems(KITAS, [GOOD, other_group]) == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"choices": ("A", "X")}, "choice2", "unknown Kita 'X'"),
        ({"choices": ("A", "A")}, "choice2", "Kita 'A' is already choice1"),
        ({"choices": ("B",), "age_group": "U3"}, "choice1", "no places for age group 'U3'"),
        ({"choices": ()}, "choice1", "at least one choice is required"),
        ({"choices": ("A", "B", "A", "B", "A", "B")}, "choice6", "at most 5 choices"),
        ({"sibling_kita": "Z"}, "sibling_kita", "unknown Kita 'Z'"),
        ({"age_group": "U6", "choices": ("A",)}, "age_group", "no Kita offers age group 'U6'"),
        ({"lat": 91.0}, "lat", "latitude must be in [-90, 90]"),
        ({"lon": float("nan")}, "lon", "longitude must be in [-180, 180]"),
        ({"lottery": -1}, "lottery", "must not be negative"),
        ({"child_id": ""}, "child_id", "must not be empty"),
        ({"family_id": ""}, "family_id", "must not be empty"),
    ],
)
def test_application_problems_name_the_field(
    change: dict[str, object], field: str, message: str
) -> None:
    found = problems_for(dataclasses.replace(GOOD, **change))  # type: ignore[arg-type]
    assert any(p[2] == field and message in p[3] for p in found), found
    assert all(p[:2] == ("application", "0") for p in found)


def test_duplicates_point_at_the_first_occurrence() -> None:
    twin = dataclasses.replace(GOOD, lottery=2)
    same_draw = dataclasses.replace(GOOD, child_id="c2")
    problems = find_problems(KITAS, [GOOD, twin, same_draw])
    assert [(p.index, p.field, p.first) for p in problems] == [
        (1, "child_id", 0),
        (2, "lottery", 0),
    ]


def test_the_same_lottery_number_may_recur_in_another_age_group() -> None:
    other_group = Application("c2", "f2", "U3", ("A",), None, False, *KASSEL, GOOD.lottery)
    assert find_problems(KITAS, [GOOD, other_group]) == []


@pytest.mark.parametrize(
    ("kita", "field"),
    [
        (KitaPlaces("C", "C", "U3", -1, *KASSEL, 1.0), "capacity"),
        (KitaPlaces("C", "C", "U3", 1, *KASSEL, -0.5), "catchment_km"),
        (KitaPlaces("C", "C", "U3", 1, *KASSEL, float("inf")), "catchment_km"),
        (KitaPlaces("A", "again", "U3", 1, *KASSEL, 1.0), "kita_id"),
        (KitaPlaces("", "C", "U3", 1, *KASSEL, 1.0), "kita_id"),
        (KitaPlaces("C", "C", "", 1, *KASSEL, 1.0), "age_group"),
        (KitaPlaces("C", "C", "U3", 1, 51.0, 200.0, 1.0), "lon"),
    ],
)
def test_kita_problems_name_the_field(kita: KitaPlaces, field: str) -> None:
    problems = find_problems([*KITAS, kita], [GOOD])
    assert [(p.kind, p.index, p.field) for p in problems] == [("kita", 3, field)]


def test_first_round_refuses_broken_records() -> None:
    broken = dataclasses.replace(GOOD, choices=("A", "X"))
    with pytest.raises(RecordsError, match=r"application #1: choice2: unknown Kita 'X'"):
        first_round(KITAS, [broken])

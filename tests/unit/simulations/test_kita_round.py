"""The demo's Kita round is consistent: every wish and sibling names a seeded Kita and age
group, and the wishes respect the service's limit."""

from __future__ import annotations

from central_hub.kita.domain.records import MAX_CHOICES
from simulations.demo.domain.kita_round import FAMILIES, KITAS

AGE_GROUPS = {"U3", "Ü3"}


def test_every_wish_names_a_seeded_kita_and_stays_within_the_limit() -> None:
    ids = {k.kita_id for k in KITAS}
    assert len(ids) == len(KITAS)
    children = [c for family in FAMILIES for c in family]
    assert children
    for child in children:
        assert child.age_group in AGE_GROUPS
        assert 1 <= len(child.choices) <= MAX_CHOICES
        assert set(child.choices) <= ids and len(set(child.choices)) == len(child.choices)
        assert child.sibling_kita is None or child.sibling_kita in ids


def test_the_round_shows_what_staff_meet() -> None:
    children = [c for family in FAMILIES for c in family]
    assert any(c.sibling_kita for c in children) and any(c.hardship for c in children)
    assert any(len(family) > 1 for family in FAMILIES)
    first_wishes = [c.choices[0] for c in children]
    assert len(set(first_wishes)) < len(first_wishes)  # a contested first wish

"""Class codes, pseudonyms and the teacher's aggregates (pure rules)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central_hub.learning.domain.classes import (
    CODE_ALPHABET,
    Attempt,
    is_mastered,
    new_class_code,
    new_pseudonym,
    read_class_code,
    tally,
)
from central_hub.learning.domain.exercises import Mastery


@given(st.randoms(use_true_random=False))
def test_a_new_code_reads_back_however_it_is_typed(rng: random.Random) -> None:
    code = new_class_code(rng.randrange)
    assert len(code) == 9 and code[4] == "-"
    assert set(code.replace("-", "")) <= set(CODE_ALPHABET)
    for typed in (code, code.lower(), code.replace("-", ""), f" {code[:4]} {code[5:]} "):
        assert read_class_code(typed) == code


@pytest.mark.parametrize("typed", ["", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFG1", "ABCD-EFGO",
                                   "ÄBCD-EFGH", "A" * 40])
def test_what_cannot_be_a_code_is_refused(typed: str) -> None:
    assert read_class_code(typed) is None


def test_pseudonyms_are_drawn_never_twice_in_a_class() -> None:
    rng = random.Random(7)
    taken: list[str] = []
    for _ in range(300):
        taken.append(new_pseudonym(rng.randrange, taken))
    assert len(set(taken)) == 300
    animal, number = taken[0].rsplit(" ", 1)
    assert animal.isalpha() and 10 <= int(number) <= 99


def test_mastery_is_m_right_of_the_last_n() -> None:
    rule = Mastery(4, 5)
    assert is_mastered([True] * 4 + [False], rule)
    assert not is_mastered([True] * 4, rule)  # not yet five attempts
    assert not is_mastered([True] * 5 + [False, False], rule)  # the last five count
    assert is_mastered([True, True], Mastery(2, 2))


def test_tally_per_exercise_and_per_pseudonym() -> None:
    t0 = datetime(2026, 12, 7, 8, tzinfo=UTC)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    attempts = [Attempt("Fuchs 17", "brueche.b1", False, at(1)),
                Attempt("Fuchs 17", "brueche.b1", True, at(2)),
                Attempt("Eule 42", "brueche.b1", True, at(3)),
                Attempt("Eule 42", "brueche.b2", True, at(4)),
                Attempt("Eule 42", "brueche.b3", True, at(0))]
    exercises, pupils = tally(attempts, {"brueche": Mastery(3, 3)})
    assert [(e.exercise, e.pupils, e.attempts, e.correct) for e in exercises] == [
        ("brueche.b1", 2, 3, 2), ("brueche.b2", 1, 1, 1), ("brueche.b3", 1, 1, 1)]
    assert [(p.pseudonym, p.attempts, p.correct, p.exercises, p.mastered, p.last_at)
            for p in pupils] == [("Eule 42", 3, 3, 3, ("brueche",), at(4)),
                                 ("Fuchs 17", 2, 1, 1, (), at(2))]

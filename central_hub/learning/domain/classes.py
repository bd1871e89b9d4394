"""Classes: a teacher's code, pupils under pseudonyms, and what the teacher may see of them.

WHY these rules: pupils work without an account, and a teacher still wants to know which
exercises the class finds hard. A pupil who opts in joins with the teacher's class code and
gets a pseudonym ("Fuchs 17") drawn by the platform, never a name typed in; the teacher sees
attempts only as aggregates per exercise and per pseudonym. Codes avoid letters and digits
that look alike (no I/1, O/0, L), so they can be read out in class and typed on a phone.

Pure: the caller brings the randomness and the stored attempts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from central_hub.learning.domain.exercises import Mastery

#: the characters of a class code: no I, L, O, 0, 1
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: characters in a code (31^8 ≈ 8.5·10^11 codes), written as two groups of four
CODE_LENGTH = 8
#: the animals of the pseudonyms (a pseudonym is an animal and a number 10-99)
ANIMALS = ("Adler", "Biber", "Dachs", "Delfin", "Eule", "Elch", "Falke", "Fuchs", "Gecko",
           "Igel", "Kauz", "Koala", "Kranich", "Luchs", "Lama", "Marder", "Möwe", "Otter",
           "Panda", "Pinguin", "Rabe", "Reh", "Robbe", "Specht", "Storch", "Tiger", "Wal",
           "Wiesel", "Zebra", "Hase", "Bär", "Wolf")


def new_class_code(randbelow: Callable[[int], int]) -> str:
    """A fresh code like ``K7QF-3MZP`` (``randbelow``: :func:`secrets.randbelow`)."""
    raw = "".join(CODE_ALPHABET[randbelow(len(CODE_ALPHABET))] for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def read_class_code(text: str) -> str | None:
    """A code as typed (any case, with or without spaces and dash) in its written form, or
    ``None`` when it cannot be one."""
    if len(text) > 4 * CODE_LENGTH:
        return None
    raw = "".join(text.split()).replace("-", "").upper()
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return f"{raw[:4]}-{raw[4:]}"


def new_pseudonym(randbelow: Callable[[int], int], taken: Iterable[str] = ()) -> str:
    """An animal and a number not yet taken in the class (3,200 possible)."""
    used = set(taken)
    for _ in range(1000):
        name = f"{ANIMALS[randbelow(len(ANIMALS))]} {10 + randbelow(90)}"
        if name not in used:
            return name
    raise ValueError("no free pseudonym left in this class")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One checked answer of a pupil in a class, as the hub judged it."""

    pseudonym: str
    exercise: str
    correct: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class ExerciseTally:
    """How a class did on one exercise."""

    exercise: str
    pupils: int
    attempts: int
    correct: int


@dataclass(frozen=True, slots=True)
class PupilTally:
    """How one pseudonym did: attempts, right ones, exercises tried, sets mastered."""

    pseudonym: str
    attempts: int
    correct: int
    exercises: int
    mastered: tuple[str, ...]
    last_at: datetime


def item_of(address: str) -> str:
    """The item of an exercise address ``<item>.<exercise>``."""
    return address.partition(".")[0]


def is_mastered(tries: list[bool], mastery: Mastery) -> bool:
    """A set is mastered after ``mastery.correct`` right of its last ``mastery.of`` attempts
    (over all its exercises, oldest first); the pupils' pages apply the same rule."""
    last = tries[-mastery.of:]
    return len(last) >= mastery.of and sum(last) >= mastery.correct


def tally(attempts: Iterable[Attempt], mastery: Mapping[str, Mastery]
          ) -> tuple[list[ExerciseTally], list[PupilTally]]:
    """The aggregates a teacher sees: per exercise (by address) and per pseudonym (by name);
    ``mastery`` holds the rule of each item (missing: the default 4 of 5)."""
    ordered = sorted(attempts, key=lambda a: a.at)
    by_exercise: dict[str, list[Attempt]] = defaultdict(list)
    by_pupil: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in ordered:
        by_exercise[attempt.exercise].append(attempt)
        by_pupil[attempt.pseudonym].append(attempt)
    exercises = [ExerciseTally(address, len({a.pseudonym for a in found}), len(found),
                               sum(a.correct for a in found))
                 for address, found in sorted(by_exercise.items())]
    pupils = []
    for name, found in sorted(by_pupil.items()):
        per_item: dict[str, list[bool]] = defaultdict(list)
        for a in found:
            per_item[item_of(a.exercise)].append(a.correct)
        mastered = tuple(sorted(item for item, tries in per_item.items()
                                if is_mastered(tries, mastery.get(item, Mastery()))))
        pupils.append(PupilTally(name, len(found), sum(a.correct for a in found),
                                 len({a.exercise for a in found}), mastered, found[-1].at))
    return exercises, pupils

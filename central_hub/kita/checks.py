"""What a request must satisfy before the Kita service stores it: bounds, dates, the
allocation's rules, and what identifies a child.

WHY one module: the same rule (a Kita id fits its column, a child is younger than eight,
a choice names a Kita with places for the age group) holds for a form, a file and a test,
and each problem names the field it concerns, in the words of the domain and the CSV
formats, so the HTTP routes can point at it. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from datetime import date

from central_hub.kita.domain import Application, KitaPlaces, Problem, find_problems
from central_hub.kita.domain.limits import AGE_GROUP_LENGTH, ID_LENGTH, MAX_AGE_YEARS, NAME_LENGTH
from central_hub.kita.errors import FieldProblem


def child_key(child_name: str, date_of_birth: date) -> str:
    """What identifies a child within its family: name and date of birth, as a digest.

    The name is compared with Unicode forms, case and spacing folded (``"  mia  MUSTER"`` is
    ``"Mia Muster"``); spelling variants (``ü``/``ue``, a second given name) are not caught.
    A digest only to give the key a fixed length: a name and a birthday are easy to guess,
    so it hides nothing.
    """
    folded = " ".join(unicodedata.normalize("NFKC", child_name).casefold().split())
    return hashlib.sha256(f"{folded}\n{date_of_birth.isoformat()}".encode()).hexdigest()


def too_long(field: str, value: str | None, limit: int) -> list[FieldProblem]:
    """A problem when ``value`` is longer than ``limit`` characters."""
    if value is not None and len(value) > limit:
        return [FieldProblem(field, f"at most {limit} characters, got {len(value)}")]
    return []


def kita_problems(kita: KitaPlaces) -> list[FieldProblem]:
    """Every rule one Kita's places break (bounds and the domain's rules)."""
    problems = [
        *too_long("kita_id", kita.kita_id, ID_LENGTH),
        *too_long("age_group", kita.age_group, AGE_GROUP_LENGTH),
        *too_long("name", kita.name, NAME_LENGTH),
    ]
    problems.extend(FieldProblem(p.field, p.message) for p in find_problems([kita], []))
    return problems


def birth_problems(born: date, today: date) -> list[FieldProblem]:
    """A birth date in the future, or of a child too old for a Kita."""
    if born > today:
        return [FieldProblem("date_of_birth", "must not be in the future")]
    if (today.year - born.year, today.month, today.day) >= (MAX_AGE_YEARS, born.month, born.day):
        return [FieldProblem("date_of_birth", f"a Kita child is younger than {MAX_AGE_YEARS}")]
    return []


def text_problems(field_name: str, value: str, limit: int) -> list[FieldProblem]:
    """An empty or too long text (a note, a staff member's name)."""
    if not value.strip():
        return [FieldProblem(field_name, "must not be empty")]
    return too_long(field_name, value, limit)


def application_problems(
    kitas: Sequence[KitaPlaces], record: Application, child_name: str
) -> list[FieldProblem]:
    """Every rule an application breaks: bounds of its texts and the domain's rules."""
    problems = []
    if not child_name.strip():
        problems.append(FieldProblem("child_name", "must not be empty"))
    problems += too_long("child_name", child_name, NAME_LENGTH)
    problems += too_long("age_group", record.age_group, AGE_GROUP_LENGTH)
    problems += too_long("sibling_kita", record.sibling_kita, ID_LENGTH)
    problems.extend(
        FieldProblem(p.field, p.message)
        for p in find_problems(kitas, [record])
        if p.kind == "application"
    )
    return problems


def describe(problem: Problem, kitas: Sequence[KitaPlaces], records: Sequence[Application]) -> str:
    """A domain problem of stored data in words for staff (which Kita or application)."""
    if problem.kind == "kita":
        kita = kitas[problem.index]
        where = f"Kita {kita.kita_id!r} ({kita.age_group})"
    else:
        where = f"application {records[problem.index].child_id}"
    return f"{where}: {problem.field}: {problem.message}"

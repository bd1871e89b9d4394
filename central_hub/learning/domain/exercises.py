"""What a learning item and its exercises are, read from an author's document.

WHY one reader for every source: the starter content (YAML files), the authoring routes and
the GIFT/Moodle imports all end as the same dictionaries. Reading them here, with an error
that names the exercise and the field, means a broken exercise is refused the same way
wherever it comes from, before anyone can play it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, cast, get_args

from central_hub.learning.domain.forms import Form
from central_hub.learning.domain.notation import NotationError, parse
from central_hub.learning.domain.quantities import parse_quantity
from central_hub.learning.errors import ContentError

ExerciseType = Literal["single_choice", "multiple_choice", "input", "cloze", "ordering",
                       "matching"]
AnswerKind = Literal["number", "expression", "quantity", "text"]
ItemKind = Literal["explanation", "exercises"]
#: what a pupil sends: a string (input) or a list of strings (choices, gaps, orderings)
Answer = str | tuple[str, ...]

EXERCISE_TYPES: tuple[str, ...] = get_args(ExerciseType)
ANSWER_KINDS: tuple[str, ...] = get_args(AnswerKind)
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
_GAP = re.compile(r"\{\{(\d+)\}\}")


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    """How one typed answer (an input exercise or one gap) is read and compared."""

    kind: AnswerKind
    value: str
    alternatives: tuple[str, ...] = ()
    form: Form | None = None
    tolerance: Fraction | None = None
    case_sensitive: bool = False
    typo_tolerance: bool = True


@dataclass(frozen=True, slots=True)
class Option:
    """A choice, or an element to put in order (then listed in the right order)."""

    id: str
    text: str
    correct: bool = False


@dataclass(frozen=True, slots=True)
class Pair:
    """A matching pair: the left side and the right side that belongs to it."""

    id: str
    left: str
    right: str


@dataclass(frozen=True, slots=True)
class Hint:
    """A known wrong answer and what the author says to it."""

    answer: Answer
    feedback: str


@dataclass(frozen=True, slots=True)
class Samples:
    """Answers the author says must be accepted and must be refused."""

    accept: tuple[Answer, ...]
    reject: tuple[Answer, ...]


@dataclass(frozen=True, slots=True)
class Exercise:
    """One exercise: its question, the rule that checks it, its worked solution."""

    id: str
    type: ExerciseType
    title: str
    prompt: str
    solution: str
    answer: AnswerSpec | None = None
    options: tuple[Option, ...] = ()
    pairs: tuple[Pair, ...] = ()
    gaps: tuple[AnswerSpec, ...] = ()
    hints: tuple[Hint, ...] = ()
    samples: Samples = field(default_factory=lambda: Samples((), ()))


@dataclass(frozen=True, slots=True)
class Mastery:
    """An exercise set is mastered after :attr:`correct` of the last :attr:`of` attempts."""

    correct: int = 4
    of: int = 5


@dataclass(frozen=True, slots=True)
class Item:
    """A learning item: an explanation, or a set of exercises, for a range of grades."""

    id: str
    title: str
    kind: ItemKind
    subject: str
    topic: str
    grade_min: int
    grade_max: int
    description: str = ""
    keywords: tuple[str, ...] = ()
    body: str = ""
    mastery: Mastery = Mastery()
    exercises: tuple[Exercise, ...] = ()


# -- reading --------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = True,
          limit: int = 20_000) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise ContentError(f"{where}: '{key}' is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ContentError(f"{where}: '{key}' must be text")
    text = str(value)
    if len(text) > limit:
        raise ContentError(f"{where}: '{key}' is longer than {limit} characters")
    return text


def _ident(data: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(data, key, where, limit=80)
    if not _ID.fullmatch(value):
        raise ContentError(f"{where}: '{key}' {value!r} must be lowercase letters, digits, '-'")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ContentError(f"{where}: '{key}' must be a list")
    return value


def _answer(value: object, where: str) -> Answer:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v) for v in value)
    raise ContentError(f"{where}: an answer is text or a list of texts")


def read_answer_spec(data: object, where: str) -> AnswerSpec:
    """An ``answer``/gap dictionary: kind, value, alternatives, form, tolerance, flags."""
    if not isinstance(data, Mapping):
        raise ContentError(f"{where}: the answer must be a mapping")
    kind = _text(data, "kind", where)
    if kind not in ANSWER_KINDS:
        raise ContentError(f"{where}: kind {kind!r} is not one of {', '.join(ANSWER_KINDS)}")
    value = _text(data, "value", where, limit=200)
    alternatives = tuple(str(a) for a in _list(data, "alternatives", where))
    form = None
    if data.get("form") is not None:
        try:
            form = Form.parse(str(data["form"]))
        except ValueError as exc:
            raise ContentError(f"{where}: {exc}") from None
        if kind == "text":
            raise ContentError(f"{where}: a text answer has no form")
    tolerance = None
    if data.get("tolerance") is not None:
        try:
            tolerance = Fraction(str(data["tolerance"]).replace(",", "."))
        except ValueError:
            raise ContentError(f"{where}: tolerance must be a number") from None
    if kind != "text":
        for text in (value, *alternatives):
            try:
                if kind == "quantity":
                    parse_quantity(text)
                else:
                    parse(text)
            except NotationError as exc:
                raise ContentError(f"{where}: the answer {text!r} cannot be read: {exc}") from None
    flags = {}
    for flag in ("case_sensitive", "typo_tolerance"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise ContentError(f"{where}: '{flag}' must be true or false")
            flags[flag] = data[flag]
    return AnswerSpec(kind=cast(AnswerKind, kind), value=value, alternatives=alternatives,
                      form=form, tolerance=tolerance, **flags)


def read_exercise(data: object, where: str) -> Exercise:
    """One exercise dictionary, checked for what its type needs."""
    if not isinstance(data, Mapping):
        raise ContentError(f"{where}: an exercise must be a mapping")
    ident = _ident(data, "id", where)
    where = f"{where} {ident}"
    kind = _text(data, "type", where)
    if kind not in EXERCISE_TYPES:
        raise ContentError(f"{where}: type {kind!r} is not one of {', '.join(EXERCISE_TYPES)}")
    prompt = _text(data, "prompt", where)
    answer: AnswerSpec | None = None
    options: tuple[Option, ...] = ()
    pairs: tuple[Pair, ...] = ()
    gaps: tuple[AnswerSpec, ...] = ()
    if kind == "input":
        answer = read_answer_spec(data.get("answer"), f"{where} answer")
    elif kind in ("single_choice", "multiple_choice", "ordering"):
        options = tuple(_option(o, f"{where} option") for o in _list(data, "options", where))
        if len(options) < 2:
            raise ContentError(f"{where}: needs at least two options")
        correct = sum(o.correct for o in options)
        if kind in ("single_choice", "multiple_choice") and correct < 1:
            raise ContentError(f"{where}: a choice needs a correct option")
    elif kind == "matching":
        pairs = tuple(_pair(p, f"{where} pair") for p in _list(data, "pairs", where))
        if len(pairs) < 2:
            raise ContentError(f"{where}: needs at least two pairs")
    else:
        gaps = tuple(read_answer_spec(g, f"{where} gap {n}")
                     for n, g in enumerate(_list(data, "gaps", where), 1))
        numbers = [int(n) for n in _GAP.findall(prompt)]
        if not gaps or numbers != list(range(1, len(gaps) + 1)):
            raise ContentError(f"{where}: the prompt's gaps {{{{1}}}}..{{{{n}}}} must match the "
                               f"{len(gaps)} gaps in order")
    ids = [o.id for o in options] + [p.id for p in pairs]
    if len(set(ids)) != len(ids):
        raise ContentError(f"{where}: two options have the same id")
    hints = tuple(_hint(h, f"{where} hint") for h in _list(data, "hints", where))
    raw_samples = data.get("samples")
    if not isinstance(raw_samples, Mapping):
        raise ContentError(f"{where}: 'samples' (accept and reject) is missing")
    samples = Samples(
        tuple(_answer(a, f"{where} sample") for a in _list(raw_samples, "accept", where)),
        tuple(_answer(a, f"{where} sample") for a in _list(raw_samples, "reject", where)))
    if not samples.accept or not samples.reject:
        raise ContentError(f"{where}: samples need at least one accepted and one rejected answer")
    return Exercise(id=ident, type=cast(ExerciseType, kind), title=_text(data, "title", where),
                    prompt=prompt, solution=_text(data, "solution", where), answer=answer,
                    options=options, pairs=pairs, gaps=gaps, hints=hints, samples=samples)


def _option(data: object, where: str) -> Option:
    if not isinstance(data, Mapping):
        raise ContentError(f"{where}: an option must be a mapping")
    correct = data.get("correct", False)
    if not isinstance(correct, bool):
        raise ContentError(f"{where}: 'correct' must be true or false")
    return Option(_ident(data, "id", where), _text(data, "text", where, limit=2000), correct)


def _pair(data: object, where: str) -> Pair:
    if not isinstance(data, Mapping):
        raise ContentError(f"{where}: a pair must be a mapping")
    return Pair(_ident(data, "id", where), _text(data, "left", where, limit=2000),
                _text(data, "right", where, limit=2000))


def _hint(data: object, where: str) -> Hint:
    if not isinstance(data, Mapping) or "answer" not in data:
        raise ContentError(f"{where}: a hint has an answer and a feedback")
    return Hint(_answer(data["answer"], where), _text(data, "feedback", where, limit=2000))


def read_item(data: object, where: str = "item") -> Item:
    """A whole item dictionary (one YAML document of the starter content)."""
    if not isinstance(data, Mapping):
        raise ContentError(f"{where}: an item must be a mapping")
    ident = _ident(data, "id", where)
    where = f"{where} {ident}"
    kind = _text(data, "kind", where)
    if kind not in ("explanation", "exercises"):
        raise ContentError(f"{where}: kind must be 'explanation' or 'exercises'")
    grades = []
    for key in ("grade_min", "grade_max"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 13:
            raise ContentError(f"{where}: '{key}' must be a Klassenstufe 1-13")
        grades.append(value)
    if grades[0] > grades[1]:
        raise ContentError(f"{where}: grade_min is above grade_max")
    mastery = Mastery()
    if data.get("mastery") is not None:
        raw = data["mastery"]
        if not isinstance(raw, Mapping):
            raise ContentError(f"{where}: mastery is {{correct: m, of: n}}")
        mastery = Mastery(int(raw.get("correct", 4)), int(raw.get("of", 5)))
        if not 1 <= mastery.correct <= mastery.of <= 50:
            raise ContentError(f"{where}: mastery needs 1 <= correct <= of <= 50")
    exercises = tuple(read_exercise(e, where) for e in _list(data, "exercises", where))
    if kind == "exercises" and not exercises:
        raise ContentError(f"{where}: an exercise set has exercises")
    if kind == "explanation" and exercises:
        raise ContentError(f"{where}: an explanation has no exercises")
    if len({e.id for e in exercises}) != len(exercises):
        raise ContentError(f"{where}: two exercises have the same id")
    keywords: Sequence[object] = _list(data, "keywords", where)
    return Item(id=ident, title=_text(data, "title", where, limit=200),
                kind=cast(ItemKind, kind), subject=_ident(data, "subject", where),
                topic=_text(data, "topic", where, limit=200),
                grade_min=grades[0], grade_max=grades[1],
                description=_text(data, "description", where, required=False, limit=2000),
                keywords=tuple(str(k) for k in keywords),
                body=_text(data, "body", where, required=kind == "explanation"),
                mastery=mastery, exercises=exercises)

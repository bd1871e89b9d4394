"""Checking an answer the way a teacher would: the value first, then the form, then a hint.

WHY this order: a teacher first asks whether the result is right (``2,5`` and ``2.50`` are
the same number, ``x+1`` and ``1+x`` the same term), then whether it is written as the task
asked (reduced, expanded, to two decimals), and for a known mistake says what went wrong
("du hast die Nenner addiert"). An answer that cannot be read is not an error of the server:
the pupil is told what could not be read.

The authors' sample answers run through the same :func:`check` (:func:`sample_failures`), so
an edit that breaks an exercise is caught before it is published.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

import sympy

from central_hub.learning.domain import limits
from central_hub.learning.domain.algebra import equivalent, to_sympy
from central_hub.learning.domain.exercises import Answer, AnswerSpec, Exercise
from central_hub.learning.domain.notation import NotationError, parse, variables
from central_hub.learning.domain.quantities import (
    parse_quantity,
    same_dimension,
    same_quantity,
)
from central_hub.learning.domain.text_answers import match_text
from central_hub.learning.errors import AnswerShapeError

__all__ = ["MESSAGES", "AnswerShapeError", "SampleFailure", "Verdict", "check", "check_typed",
           "sample_failures"]

Outcome = Literal["correct", "typo", "wrong", "hint", "form", "unreadable"]

#: what a pupil reads, by occasion; the pupils' pages check some exercises in the browser
#: when offline with these same texts (:mod:`~.offline`), so they are written only here
MESSAGES: dict[str, str] = {
    "right": "Richtig!",
    "wrong": "Das stimmt leider noch nicht.",
    "typo": "Richtig! Achte noch auf die Schreibweise: „{intended}“.",
    "too_long": "Diese Antwort ist zu lang.",
    "one_choice": "Wähle genau eine Antwort.",
    "missing_choices": "Richtig gewählt, aber es fehlen noch richtige Antworten.",
    "order": "Die Reihenfolge stimmt noch nicht.",
    "pairs": "{wrong} von {total} Zuordnungen stimmen noch nicht.",
    "gap": "Lücke {gaps} stimmt noch nicht.",
    "gaps": "Die Lücken {gaps} stimmen noch nicht.",
}
RIGHT = MESSAGES["right"]
WRONG = MESSAGES["wrong"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of one check: right or not, what the pupil reads, and why (for counting).
    ``gaps`` says for a cloze which gaps were right."""

    correct: bool
    feedback: str
    outcome: Outcome
    gaps: tuple[bool, ...] = ()


def _right(outcome: Outcome = "correct", feedback: str = RIGHT) -> Verdict:
    return Verdict(True, feedback, outcome)


def _wrong(feedback: str = WRONG, outcome: Outcome = "wrong") -> Verdict:
    return Verdict(False, feedback, outcome)


# -- typed answers --------------------------------------------------------------------------


def _round(value: sympy.Expr, places: int) -> Fraction:
    exact = Decimal(str(sympy.N(value, 40)))
    return Fraction(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _same_value(spec: AnswerSpec, given_text: str, model: str) -> bool:
    """Whether the typed answer has the model answer's value (form aside)."""
    if spec.kind == "quantity":
        given_q, model_q = parse_quantity(given_text), parse_quantity(model)
        if spec.form is not None and spec.form.name == "decimals":
            if not same_dimension(given_q, model_q):
                return False
            converted = (model_q.magnitude * model_q.unit).to(given_q.unit).magnitude
            places = spec.form.places
            given_value = sympy.Float(given_q.magnitude) if given_q.exact is None else \
                sympy.Rational(given_q.exact.numerator, given_q.exact.denominator)
            return _round(given_value, places) == _round(sympy.Float(converted), places)
        if spec.tolerance is not None:
            return same_dimension(given_q, model_q) and \
                abs(given_q.base()[0] - model_q.base()[0]) <= float(spec.tolerance)
        return same_quantity(given_q, model_q)
    given, expected = parse(given_text), parse(model)
    if spec.kind == "number" and variables(given):
        raise NotationError("Gib eine Zahl an, ohne Buchstaben.")
    if spec.form is not None and spec.form.name == "decimals":
        # the same value to the places asked; how many places were written is the form's
        places = spec.form.places
        value = to_sympy(given)
        return bool(value.is_real) and _round(value, places) == _round(to_sympy(expected), places)
    if spec.tolerance is not None:
        difference = sympy.N(to_sympy(given) - to_sympy(expected))
        return bool(difference.is_real) and abs(float(difference)) <= float(spec.tolerance)
    return equivalent(given, expected)


def _form_holds(spec: AnswerSpec, given_text: str) -> bool:
    if spec.form is None:
        return True
    if spec.kind == "quantity":
        places = parse_quantity(given_text).decimals
        return spec.form.name != "decimals" or places == spec.form.places
    return spec.form.holds(parse(given_text))


def _unit_hint(spec: AnswerSpec, given_text: str) -> str | None:
    if spec.kind != "quantity":
        return None
    if not same_dimension(parse_quantity(given_text), parse_quantity(spec.value)):
        return "Die Einheit passt nicht zu dieser Größe."
    return None


def check_typed(spec: AnswerSpec, answer: str, hints: tuple[tuple[str, str], ...] = ()) -> Verdict:
    """One typed answer against its spec; ``hints`` are (known wrong answer, feedback)."""
    if len(answer) > limits.MAX_ANSWER_CHARS:
        return _wrong(MESSAGES["too_long"], "unreadable")
    if spec.kind == "text":
        accepted = (spec.value, *spec.alternatives)
        found = match_text(answer, accepted, case_sensitive=spec.case_sensitive,
                           typo_tolerance=spec.typo_tolerance)
        if found.matched and found.typo:
            return _right("typo", MESSAGES["typo"].format(intended=found.intended))
        if found.matched:
            return _right()
        for wrong, feedback in hints:
            if match_text(answer, (wrong,), case_sensitive=spec.case_sensitive,
                          typo_tolerance=False).matched:
                return _wrong(feedback, "hint")
        return _wrong()
    try:
        if any(_same_value(spec, answer, model) for model in (spec.value, *spec.alternatives)):
            if _form_holds(spec, answer):
                return _right()
            return _hinted(spec, answer, hints) or _wrong(_form_feedback(spec), "form")
        return _hinted(spec, answer, hints) or _wrong(_unit_hint(spec, answer) or WRONG)
    except NotationError as exc:
        return _wrong(str(exc), "unreadable")


def _form_feedback(spec: AnswerSpec) -> str:
    assert spec.form is not None
    return spec.form.feedback()


def _hinted(spec: AnswerSpec, answer: str, hints: tuple[tuple[str, str], ...]) -> Verdict | None:
    bare = AnswerSpec(spec.kind, spec.value, case_sensitive=spec.case_sensitive,
                      typo_tolerance=False)
    for wrong, feedback in hints:
        try:
            if _same_value(bare, answer, wrong) and _written_alike(spec, answer, wrong):
                return _wrong(feedback, "hint")
        except NotationError:
            continue
    return None


def _written_alike(spec: AnswerSpec, answer: str, wrong: str) -> bool:
    """A hint for an answer of the right value but the wrong form (``6/8`` for ``3/4``)
    applies only to that answer as written (not to ``0,75``); a hint for a wrong value to
    every answer of that value."""
    if spec.form is None or not _same_value(AnswerSpec(spec.kind, spec.value), wrong, spec.value):
        return True
    if spec.kind == "quantity":
        return parse_quantity(answer) == parse_quantity(wrong)
    return parse(answer) == parse(wrong)


# -- the exercise types ---------------------------------------------------------------------


def _ids(answer: Answer, allowed: set[str], exercise: Exercise) -> tuple[str, ...]:
    if isinstance(answer, str):
        raise AnswerShapeError(f"exercise {exercise.id}: the answer is a list of option ids")
    if len(answer) > limits.MAX_LIST_ITEMS or not set(answer) <= allowed:
        raise AnswerShapeError(f"exercise {exercise.id}: unknown option ids")
    return answer


def _hint_for(exercise: Exercise, answer: tuple[str, ...], as_set: bool) -> Verdict | None:
    for hint in exercise.hints:
        wanted = (hint.answer,) if isinstance(hint.answer, str) else hint.answer
        if (set(wanted) == set(answer)) if as_set else (tuple(wanted) == answer):
            return _wrong(hint.feedback, "hint")
    return None


def check(exercise: Exercise, answer: Answer) -> Verdict:
    """Check a pupil's answer to an exercise. Raises :class:`AnswerShapeError` only for an
    answer of the wrong shape; every pupil's mistake is a :class:`Verdict`."""
    kind = exercise.type
    if kind == "input":
        if not isinstance(answer, str):
            raise AnswerShapeError(f"exercise {exercise.id}: the answer is a string")
        assert exercise.answer is not None
        hints = tuple((h.answer, h.feedback) for h in exercise.hints if isinstance(h.answer, str))
        return check_typed(exercise.answer, answer, hints)
    if kind == "cloze":
        if isinstance(answer, str) or len(answer) != len(exercise.gaps):
            raise AnswerShapeError(f"exercise {exercise.id}: one answer per gap "
                                   f"({len(exercise.gaps)})")
        results = [check_typed(spec, given) for spec, given in zip(exercise.gaps, answer,
                                                                   strict=True)]
        gaps = tuple(r.correct for r in results)
        if all(gaps):
            typo = next((r for r in results if r.outcome == "typo"), None)
            return Verdict(True, typo.feedback if typo else RIGHT,
                           "typo" if typo else "correct", gaps)
        hinted = _hint_for(exercise, tuple(answer), as_set=False)
        if hinted is not None:
            return Verdict(False, hinted.feedback, "hint", gaps)
        wrong = [str(n) for n, ok in enumerate(gaps, 1) if not ok]
        unreadable = next((r for r in results if r.outcome == "unreadable"), None)
        feedback = MESSAGES["gap" if len(wrong) == 1 else "gaps"].format(gaps=", ".join(wrong))
        if unreadable is not None:
            feedback += " " + unreadable.feedback
        return Verdict(False, feedback, "wrong", gaps)
    if kind == "matching":
        chosen = _ids(answer, {p.id for p in exercise.pairs}, exercise)
        if len(chosen) != len(exercise.pairs):
            raise AnswerShapeError(f"exercise {exercise.id}: one choice per left side")
        # right sides are compared by their text: two left sides may share one (Moodle)
        right_of = {p.id: p.right for p in exercise.pairs}
        mismatched = sum(right_of[a] != p.right for a, p in zip(chosen, exercise.pairs,
                                                                 strict=True))
        if not mismatched:
            return _right()
        return _hint_for(exercise, chosen, as_set=False) or _wrong(
            MESSAGES["pairs"].format(wrong=mismatched, total=len(chosen)))
    chosen = _ids(answer, {o.id for o in exercise.options}, exercise)
    if kind == "ordering":
        if sorted(chosen) != sorted(o.id for o in exercise.options):
            raise AnswerShapeError(f"exercise {exercise.id}: every option once")
        if chosen == tuple(o.id for o in exercise.options):
            return _right()
        return _hint_for(exercise, chosen, as_set=False) or _wrong(MESSAGES["order"])
    if len(set(chosen)) != len(chosen):
        raise AnswerShapeError(f"exercise {exercise.id}: an option chosen twice")
    correct = {o.id for o in exercise.options if o.correct}
    if kind == "single_choice" and len(chosen) != 1:
        return _wrong(MESSAGES["one_choice"])
    # a single choice with several right options (Moodle's): any one of them is right
    if set(chosen) == correct or (kind == "single_choice" and chosen[0] in correct):
        return _right()
    hinted = _hint_for(exercise, chosen, as_set=True)
    if hinted is not None:
        return hinted
    if kind == "multiple_choice" and set(chosen) < {o.id for o in exercise.options if o.correct}:
        return _wrong(MESSAGES["missing_choices"])
    return _wrong()


@dataclass(frozen=True, slots=True)
class SampleFailure:
    """An author's sample answer that the exercise does not judge as the author said."""

    exercise: str
    answer: Answer
    expected: bool
    verdict: Verdict

    def __str__(self) -> str:
        said = "accepted" if self.expected else "refused"
        return (f"exercise {self.exercise}: {self.answer!r} should be {said}, "
                f"got {self.verdict.outcome}: {self.verdict.feedback}")


def sample_failures(exercise: Exercise) -> list[SampleFailure]:
    """Every sample answer judged against what its author said of it (the exercise's own
    regression test); also the model answer itself must be right."""
    failures = []
    model: tuple[Answer, ...] = ()
    if exercise.type == "input" and exercise.answer is not None:
        model = (exercise.answer.value,)
    elif exercise.type == "cloze":
        model = (tuple(g.value for g in exercise.gaps),)
    for expected, answers in ((True, model + exercise.samples.accept),
                              (False, exercise.samples.reject)):
        for answer in answers:
            try:
                verdict = check(exercise, answer)
            except AnswerShapeError as exc:
                verdict = Verdict(False, str(exc), "unreadable")
            if verdict.correct != expected:
                failures.append(SampleFailure(exercise.id, answer, expected, verdict))
    return failures


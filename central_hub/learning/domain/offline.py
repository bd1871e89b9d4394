"""What the pupils' pages need to check an exercise without the hub: the offline rules.

WHY: a pupil on a bus loses the network between stops; an exercise set once opened keeps
working. Choices, orderings, matchings and word answers (input or cloze of kind ``text``) are
compared, not computed, so the browser can judge them with the same rule and the same words
as :mod:`.checking` (:data:`~.checking.MESSAGES` travels with the rules). Numbers, terms and
quantities need the hub's reader and sympy: the pages queue those answers until the hub is
reached again, so no second reader of school notation is written in JavaScript.

The rules hold the answers of the exercises they cover: that is the price of checking in the
browser, acceptable on a practice platform (no marks, no exams) and said in the docs. The
authors' samples are not sent, and the server-checked types keep their answers on the hub.
"""

from __future__ import annotations

from typing import Any

from central_hub.learning.domain import limits
from central_hub.learning.domain.catalogue import exercise_address
from central_hub.learning.domain.checking import MESSAGES
from central_hub.learning.domain.exercises import AnswerSpec, Exercise, Item
from central_hub.learning.domain.text_answers import TYPO_MIN_LETTERS


def browser_checkable(exercise: Exercise) -> bool:
    """Whether the browser can judge ``exercise`` exactly as the hub does."""
    if exercise.type == "input":
        return exercise.answer is not None and exercise.answer.kind == "text"
    if exercise.type == "cloze":
        return all(gap.kind == "text" for gap in exercise.gaps)
    return True


def _words(spec: AnswerSpec) -> dict[str, Any]:
    return {"accepted": [spec.value, *spec.alternatives], "case_sensitive": spec.case_sensitive,
            "typo_tolerance": spec.typo_tolerance}


def _rule(exercise: Exercise) -> dict[str, Any]:
    rule: dict[str, Any] = {"type": exercise.type, "hints": [
        {"answer": h.answer if isinstance(h.answer, str) else list(h.answer),
         "feedback": h.feedback} for h in exercise.hints]}
    if exercise.type in ("single_choice", "multiple_choice"):
        rule["correct"] = [o.id for o in exercise.options if o.correct]
        rule["options"] = [o.id for o in exercise.options]
    elif exercise.type == "ordering":
        rule["order"] = [o.id for o in exercise.options]
    elif exercise.type == "matching":
        rule["pairs"] = [{"id": p.id, "right": p.right} for p in exercise.pairs]
    elif exercise.type == "input":
        assert exercise.answer is not None
        rule["answer"] = _words(exercise.answer)
    else:
        rule["gaps"] = [_words(g) for g in exercise.gaps]
    return rule


def offline_rules(item: Item) -> dict[str, Any]:
    """The rules of ``item``'s browser-checkable exercises by address, the texts a pupil
    reads, and the limits the hub applies (so a verdict offline is the hub's verdict)."""
    return {
        "messages": MESSAGES,
        "typo_min_letters": TYPO_MIN_LETTERS,
        "max_answer_chars": limits.MAX_ANSWER_CHARS,
        "exercises": {exercise_address(item.id, e.id): _rule(e)
                      for e in item.exercises if browser_checkable(e)},
    }

"""Imported questions as exercise documents: one rule per question type for every format.

WHY apart from the readers: GIFT and Moodle XML write the same question types differently,
but what a choice, a matching, a numerical or a short answer becomes here — which options
are right, which hints and samples it gets, its fallback solution — must not depend on the
file it came from. :mod:`.gift` and :mod:`.moodle_xml` only take their syntax apart and hand
the pieces to these builders.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from central_hub.learning.errors import FormatError

#: a rejected sample for a text answer: no short answer is this
NO_TEXT = "???"


def decimal_text(value: Fraction) -> str:
    """A number as an answer is written: an integer, a decimal, or else a fraction."""
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.12g}"
    return text if Fraction(text) == value else f"{value.numerator}/{value.denominator}"


def choice(rows: Sequence[tuple[str, Fraction, str]], *, single: bool, line: int,
           name: str, ids: Sequence[str] | None = None) -> dict[str, Any]:
    """A choice from ``(text, credit in %, feedback)`` rows. With a single answer only full
    credit is right (partial credit counts as wrong); with several, every positive credit.
    Feedback on a wrong option becomes its hint."""
    names = list(ids) if ids is not None else [f"a{n}" for n in range(1, len(rows) + 1)]
    options = [{"id": option, "text": text,
                "correct": credit >= 100 if single else credit > 0}
               for option, (text, credit, _) in zip(names, rows, strict=True)]
    hints = [{"answer": [option["id"]], "feedback": feedback}
             for option, (_, _, feedback) in zip(options, rows, strict=True)
             if feedback and not option["correct"]]
    right = [str(o["id"]) for o in options if o["correct"]]
    wrong = [str(o["id"]) for o in options if not o["correct"]]
    if not right:
        raise FormatError(line, name, "a choice without a right answer")
    solution = "Richtig: " + "; ".join(str(o["text"]) for o in options if o["correct"]) + "."
    if single:
        return {"type": "single_choice", "options": options, "hints": hints,
                "samples": {"accept": [[r] for r in right],
                            "reject": [[w] for w in wrong] or [[]]},
                "model_solution": solution}
    return {"type": "multiple_choice", "options": options, "hints": hints,
            "samples": {"accept": [right], "reject": [right[:-1] + wrong[:1]]},
            "model_solution": solution}


def true_false(right: bool, wrong_feedback: str) -> dict[str, Any]:
    """True/false as a single choice of Wahr and Falsch; the feedback is for the wrong one."""
    return choice([("Wahr", Fraction(100 if right else 0), "" if right else wrong_feedback),
                   ("Falsch", Fraction(0 if right else 100), wrong_feedback if right else "")],
                  single=True, line=0, name="", ids=["wahr", "falsch"])


def matching(pairs: Sequence[tuple[str, str]], *, line: int, name: str) -> dict[str, Any]:
    """Pairs ``(left, right)``; a pair without a left side (a distractor in Moodle, which the
    platform's matchings do not have) is left out."""
    kept = [{"id": f"p{n}", "left": left, "right": right}
            for n, (left, right) in enumerate(pairs, 1) if left]
    if len(kept) < 2:
        raise FormatError(line, name, "a matching question needs two pairs or more")
    ids = [p["id"] for p in kept]
    return {"type": "matching", "pairs": kept,
            "samples": {"accept": [ids], "reject": [ids[1:] + ids[:1]]},
            "model_solution": "; ".join(f"{p['left']} → {p['right']}" for p in kept)}


def number(value: Fraction, tolerance: Fraction) -> dict[str, Any]:
    """A numerical question: the value, within its tolerance."""
    shown = decimal_text(value)
    answer: dict[str, Any] = {"kind": "number", "value": shown}
    if tolerance:
        answer["tolerance"] = decimal_text(tolerance)
    return {"type": "input", "answer": answer,
            "samples": {"accept": [shown], "reject": [decimal_text(value + 10 * tolerance + 1)]},
            "model_solution": f"Richtig ist: {shown.replace('.', ',')}."}


def short_answer(texts: Sequence[str], *, case_sensitive: bool, line: int,
                 name: str) -> dict[str, Any]:
    """A short answer: the full-credit answers, the first the model answer."""
    if not texts:
        raise FormatError(line, name, "a short answer without a full-credit answer")
    return {"type": "input",
            "answer": {"kind": "text", "value": texts[0], "alternatives": list(texts[1:]),
                       "case_sensitive": case_sensitive},
            "samples": {"accept": list(texts), "reject": [NO_TEXT]},
            "model_solution": f"Richtig ist: {texts[0]}."}

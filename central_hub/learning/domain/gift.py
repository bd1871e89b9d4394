"""Moodle's GIFT format: the questions teachers already have, read into exercises and back.

WHY GIFT: it is the plain-text format Moodle imports and exports, and the one teachers type
by hand. Each question becomes an exercise document as an author would write it
(:mod:`.exercises` reads it), so an import is checked like any other content. Question types
the platform has no exercise for (essay, description) are listed with the reason, never
dropped silently; a syntax error names its line and nothing is imported.

Mapping: multiple choice with one right answer → ``single_choice``; with weights, every
answer of positive weight right → ``multiple_choice``; true/false → ``single_choice``
(Wahr/Falsch); short answer → ``input`` (text, alternatives); numerical → ``input`` (number
with its tolerance); matching → ``matching``; missing word → ``single_choice`` with a blank
in the text. Per-answer feedback becomes the author's hints; general feedback (``####``) the
worked solution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import nh3

from central_hub.learning.domain import questions
from central_hub.learning.errors import FormatError

#: GIFT's escapes (an escaped backslash first), replaced by private-use characters while
#: the question is taken apart
_ESCAPES = {"\\\\": "\ue006", "\\~": "\ue000", "\\=": "\ue001", "\\#": "\ue002",
            "\\{": "\ue003", "\\}": "\ue004", "\\:": "\ue005", "\\n": "\n"}
_UNESCAPE = {"\ue000": "~", "\ue001": "=", "\ue002": "#", "\ue003": "{", "\ue004": "}",
             "\ue005": ":", "\ue006": "\\"}
_FORMAT = re.compile(r"^\[(html|moodle|plain|markdown)\]\s*", re.IGNORECASE)
_TITLE = re.compile(r"^::(.*?)::\s*", re.DOTALL)
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
BLANK = "_____"


@dataclass
class Imported:
    """What an imported file gave: exercise documents, and what was skipped and why."""

    exercises: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    category: str | None = None


def _escape(text: str) -> str:
    for raw, mark in _ESCAPES.items():
        text = text.replace(raw, mark)
    return text


def _plain(text: str) -> str:
    for mark, raw in _UNESCAPE.items():
        text = text.replace(mark, raw)
    return text.strip()


def _markdown(text: str, html: bool) -> str:
    """Question text as Markdown: HTML (Moodle's default for imports) is reduced to text."""
    text = _plain(text)
    if html:
        text = nh3.clean(text.replace("<br>", "\n").replace("<br />", "\n"), tags=set())
    return text


def _blocks(source: str) -> list[tuple[int, str]]:
    """``(first line, text)`` of every question: blocks between blank lines, comments out."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(source.splitlines(), 1):
        if line.lstrip().startswith("//"):
            continue
        if not line.strip():
            if current:
                blocks.append((start, "\n".join(current)))
                current = []
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append((start, "\n".join(current)))
    return blocks


def _answers(body: str) -> list[tuple[str, str, str]]:
    """``(marker, text, feedback)`` of every answer in an answer block (``=`` or ``~``)."""
    out: list[tuple[str, str, str]] = []
    for match in re.finditer(r"([=~])([^=~]*)", body):
        text, _, feedback = match.group(2).partition("#")
        out.append((match.group(1), text.strip(), feedback.strip()))
    return out


def _exercise_id(number: int) -> str:
    return f"q{number}"


def read_gift(source: str) -> Imported:
    """Every question of a GIFT file, or :class:`FormatError`."""
    result = Imported()
    number = 0
    for line, raw in _blocks(_escape(source)):
        if raw.startswith("$CATEGORY:"):
            result.category = _plain(raw.removeprefix("$CATEGORY:").strip())
            continue
        text = raw.strip()
        title_match = _TITLE.match(text)
        title = _plain(title_match.group(1)) if title_match else ""
        if title_match:
            text = text[title_match.end():]
        format_match = _FORMAT.match(text)
        html = format_match is not None and format_match.group(1).lower() in ("html", "moodle")
        if format_match:
            text = text[format_match.end():]
        name = title or _plain(text)[:40]
        opening = text.find("{")
        if opening < 0:
            if "}" in text:
                raise FormatError(line, name, "a closing brace without an opening one")
            result.skipped.append((name, "description (no answers): not an exercise"))
            continue
        closing = text.find("}", opening)
        if closing < 0:
            raise FormatError(line, name, "the answer block { … } is not closed")
        if "{" in text[opening + 1:closing] or "{" in text[closing + 1:]:
            raise FormatError(line, name, "more than one answer block")
        before, body, after = text[:opening], text[opening + 1:closing], text[closing + 1:]
        body, _, general = body.partition("####")
        prompt = _markdown(before.rstrip() + f" {BLANK} " + after.lstrip() if after.strip()
                           else before, html)
        exercise = _question(body.strip(), line, name)
        if exercise is None:
            result.skipped.append((name, "essay (free text): not checked automatically"))
            continue
        number += 1
        title = title or f"Frage {number}"
        solution = _markdown(general, html) or exercise.pop("model_solution")
        exercise.pop("model_solution", None)
        result.exercises.append({"id": _exercise_id(number), "title": title,
                                 "prompt": prompt or title, "solution": solution,
                                 **exercise})
    return result


def _question(body: str, line: int, name: str) -> dict[str, Any] | None:
    """One answer block, by Moodle's order of detection: essay, numerical, multiple choice
    (a ``~``), matching (``=`` and ``->``), true/false, short answer."""
    if not body:
        return None
    if body.startswith("#"):
        return _numerical(body[1:], line, name)
    if "~" in body:
        return _choice(_answers(body), single="=" in body, line=line, name=name)
    if "=" in body and "->" in body:
        return _matching(_answers(body), line, name)
    word = body.split("#", 1)[0].strip()
    if word in ("T", "TRUE", "F", "FALSE"):
        feedbacks = body.split("#")[1:]
        return questions.true_false(word.startswith("T"),
                                    _plain(feedbacks[0]) if feedbacks else "")
    answers = _answers(body)
    if not answers:
        raise FormatError(line, name, "an answer block without = or ~ answers")
    texts = [_plain(_FORMAT.sub("", text)) for _, text, _ in answers
             if not _partial(text) and _plain(text) != "*"]
    return questions.short_answer(texts, case_sensitive=False, line=line, name=name)


def _partial(text: str) -> bool:
    """An answer with a weight below full credit (``%50%``, ``%0%``)."""
    weight = _WEIGHT.match(text)
    return weight is not None and Fraction(weight.group(1)) < 100


def _choice(answers: list[tuple[str, str, str]], *, single: bool, line: int,
            name: str) -> dict[str, Any]:
    """Multiple choice: ``=`` is full credit, ``~`` none unless weighted (``~%50%``); one
    right answer when an ``=`` marks it (Moodle: single answer)."""
    rows = []
    for marker, written, feedback in answers:
        weight_match = _WEIGHT.match(written) if marker == "~" else None
        credit = Fraction(weight_match.group(1)) if weight_match else \
            (Fraction(100) if marker == "=" else Fraction(0))
        text = _FORMAT.sub("", written[weight_match.end():] if weight_match else written)
        rows.append((_plain(text), credit, _plain(_FORMAT.sub("", feedback))))
    return questions.choice(rows, single=single, line=line, name=name)


def _matching(answers: list[tuple[str, str, str]], line: int, name: str) -> dict[str, Any]:
    """Pairs ``=left -> right``."""
    pairs = []
    for marker, text, _ in answers:
        left, arrow, right = text.partition("->")
        if marker != "=" or not arrow or not right.strip():
            raise FormatError(line, name, "a matching pair is written =left -> right")
        pairs.append((_plain(_FORMAT.sub("", left.strip())), _plain(right)))
    return questions.matching(pairs, line=line, name=name)


def _number(text: str, line: int, name: str) -> Fraction:
    try:
        return Fraction(_plain(text).replace(",", "."))
    except (ValueError, ZeroDivisionError):
        raise FormatError(line, name, f"{_plain(text)!r} is not a number") from None


def _numerical(body: str, line: int, name: str) -> dict[str, Any]:
    """``{#value:tolerance}``, ``{#low..high}`` (the middle ± half the width), or several
    ``=`` answers of which the first with full credit counts."""
    answers = _answers(body if body.lstrip()[:1] in ("=", "~") else "=" + body)
    right = [text for marker, text, _ in answers
             if marker == "=" and not _partial(text) and text.strip()]
    if not right:
        raise FormatError(line, name, "a numerical question without a full-credit answer")
    text = right[0].split("#", 1)[0].strip()
    if ".." in text:
        low, high = (_number(part, line, name) for part in text.split("..", 1))
        return questions.number((low + high) / 2, abs(high - low) / 2)
    value_text, _, tolerance_text = text.partition(":")
    tolerance = _number(tolerance_text, line, name) if tolerance_text.strip() else Fraction(0)
    return questions.number(_number(value_text, line, name), tolerance)


# -- writing --------------------------------------------------------------------------------


def _gift_text(text: str) -> str:
    for raw in ("\\", "~", "=", "#", "{", "}", ":"):
        text = text.replace(raw, "\\" + raw)
    return text.replace("\n", "\\n")


def write_gift(exercises: list[dict[str, Any]], category: str | None = None) -> tuple[str,
                                                                                      list[str]]:
    """GIFT of the exercises it can express; returns the text and the ids it could not."""
    lines = [f"$CATEGORY: {category}", ""] if category else []
    skipped: list[str] = []
    for exercise in exercises:
        body = _gift_answers(exercise)
        if body is None:
            skipped.append(exercise["id"])
            continue
        lines += [f"::{_gift_text(exercise['title'])}::[markdown]"
                  f"{_gift_text(exercise['prompt'])}{{{body}"
                  f"####{_gift_text(exercise['solution'])}}}", ""]
    return "\n".join(lines), skipped


def _gift_answers(exercise: dict[str, Any]) -> str | None:
    kind = exercise["type"]
    hints = {tuple(h["answer"]) if isinstance(h["answer"], list) else (h["answer"],):
             h["feedback"] for h in exercise.get("hints", [])}
    if kind == "single_choice" and [o["text"] for o in exercise["options"]] == ["Wahr",
                                                                                 "Falsch"]:
        right = exercise["options"][0].get("correct")
        wrong_id = "falsch" if right else "wahr"
        feedback = next((h["feedback"] for h in exercise.get("hints", [])
                         if h["answer"] in ([wrong_id], [o["id"] for o in exercise["options"]
                                                         if not o.get("correct")])), "")
        return ("T" if right else "F") + (f"#{_gift_text(feedback)}" if feedback else "")
    if kind == "single_choice":
        return " ".join(("=" if o.get("correct") else "~") + _gift_text(o["text"])
                        + (f"#{_gift_text(hints[(o['id'],)])}" if (o["id"],) in hints else "")
                        for o in exercise["options"])
    if kind == "multiple_choice":
        right = sum(1 for o in exercise["options"] if o.get("correct"))
        share = f"{100 / right:.5g}"
        return " ".join(f"~%{share if o.get('correct') else '-100'}%{_gift_text(o['text'])}"
                        + (f"#{_gift_text(hints[(o['id'],)])}" if (o["id"],) in hints else "")
                        for o in exercise["options"])
    if kind == "matching":
        return " ".join(f"={_gift_text(p['left'])} -> {_gift_text(p['right'])}"
                        for p in exercise["pairs"])
    if kind == "input":
        answer = exercise["answer"]
        if answer["kind"] == "text" and not answer.get("case_sensitive"):
            values = [answer["value"], *answer.get("alternatives", [])]
            return " ".join(f"={_gift_text(v)}" for v in values)
        if answer["kind"] == "number" and not answer.get("form"):
            try:
                value = Fraction(str(answer["value"]).replace(",", "."))
            except ValueError:
                return None
            tolerance = Fraction(str(answer.get("tolerance", 0)).replace(",", "."))
            if Fraction(f"{float(value):.12g}") != value:
                return None
            return f"#{float(value):.12g}:{float(tolerance):.12g}"
    return None

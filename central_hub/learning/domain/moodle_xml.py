"""Moodle XML: the quiz export of every Moodle, read into exercises and written back.

WHY its own reader beside GIFT: Moodle XML is what a school's Moodle exports in bulk, with
HTML question texts and per-answer feedback. It is parsed with defusedxml, so an upload
cannot expand entities into gigabytes or read files through external entities. The
question types map as in :mod:`.gift`; every other type (calculated, cloze/multianswer,
drag and drop, essay, description, ...) is listed as skipped with its Moodle name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from typing import Any

import nh3
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from central_hub.learning.domain import questions
from central_hub.learning.domain.gift import Imported
from central_hub.learning.domain.questions import decimal_text
from central_hub.learning.errors import FormatError

SKIPPED = {
    "essay": "essay (free text): not checked automatically",
    "description": "description (no answers): not an exercise",
}


def _text(element: ET.Element | None) -> str:
    if element is None:
        return ""
    inner = element.find("text")
    raw = (inner.text if inner is not None else element.text) or ""
    return " ".join(nh3.clean(raw.replace("<br>", "\n"), tags=set()).split(" ")).strip()


def read_moodle_xml(source: bytes) -> Imported:
    """Every question of a Moodle XML quiz file, or :class:`FormatError`."""
    try:
        root = SafeET.fromstring(source)
    except ET.ParseError as exc:
        line = exc.position[0] if hasattr(exc, "position") else 0
        raise FormatError(line, "", f"not well-formed XML: {exc}") from None
    except DefusedXmlException as exc:
        raise FormatError(0, "", f"refused: {type(exc).__name__}") from None
    if root.tag != "quiz":
        raise FormatError(1, "", "the root element is not <quiz>")
    result = Imported()
    number = 0
    for question in root.findall("question"):
        kind = question.get("type", "")
        if kind == "category":
            result.category = _text(question.find("category"))
            continue
        name = _text(question.find("name")) or f"Frage {number + 1}"
        number += 1
        if kind in SKIPPED or kind not in ("multichoice", "truefalse", "shortanswer",
                                           "numerical", "matching"):
            result.skipped.append((name, SKIPPED.get(kind, f"Moodle type {kind!r} is not "
                                                           "supported")))
            continue
        prompt = _text(question.find("questiontext")) or name
        exercise = _exercise(kind, question, name)
        solution = _text(question.find("generalfeedback")) or exercise.pop("model_solution")
        exercise.pop("model_solution", None)
        result.exercises.append({"id": f"q{number}", "title": name, "prompt": prompt,
                                 "solution": solution, **exercise})
    return result


def _answers(question: ET.Element) -> list[tuple[str, Fraction, str]]:
    """``(text, credit in %, feedback)`` of every answer."""
    out = []
    for answer in question.findall("answer"):
        try:
            fraction = Fraction(answer.get("fraction", "0"))
        except ValueError:
            raise FormatError(0, _text(question.find("name")),
                                 "an answer's fraction is not a number") from None
        out.append((_text(answer), fraction, _text(answer.find("feedback"))))
    return out


def _exercise(kind: str, question: ET.Element, name: str) -> dict[str, Any]:
    if kind == "matching":
        return questions.matching([(_text(sub), _text(sub.find("answer")))
                                   for sub in question.findall("subquestion")],
                                  line=0, name=name)
    answers = _answers(question)
    if not answers:
        raise FormatError(0, name, f"a {kind} question without answers")
    right = [text for text, credit, _ in answers if credit >= 100]
    if kind == "shortanswer":
        case = (question.findtext("usecase") or "0").strip() == "1"
        return questions.short_answer(right, case_sensitive=case, line=0, name=name)
    if kind == "numerical":
        if not right:
            raise FormatError(0, name, "a numerical question without a full-credit answer")
        element = next(a for a in question.findall("answer")
                       if Fraction(a.get("fraction", "0")) >= 100)
        try:
            value = Fraction(right[0].replace(",", "."))
            tolerance = Fraction((element.findtext("tolerance") or "0").strip() or "0")
        except ValueError:
            raise FormatError(0, name, "a numerical answer is not a number") from None
        return questions.number(value, tolerance)
    if kind == "truefalse":
        truth = next((text.lower() in ("true", "wahr") for text, credit, _ in answers
                      if credit >= 100), None)
        if truth is None:
            raise FormatError(0, name, "a choice without a right answer")
        wrong = next((feedback for _, credit, feedback in answers if credit < 100), "")
        return questions.true_false(truth, wrong)
    single = (question.findtext("single") or "true").strip() in ("true", "1")
    return questions.choice(answers, single=single, line=0, name=name)


def write_moodle_xml(exercises: list[dict[str, Any]],
                     category: str | None = None) -> tuple[bytes, list[str]]:
    """Moodle XML of the exercises it can express; the bytes and the ids it could not."""
    quiz = ET.Element("quiz")
    if category:
        question = ET.SubElement(quiz, "question", type="category")
        ET.SubElement(ET.SubElement(question, "category"), "text").text = category
    skipped: list[str] = []
    for exercise in exercises:
        element = _question_element(exercise)
        if element is None:
            skipped.append(exercise["id"])
            continue
        quiz.append(element)
    ET.indent(quiz)
    return ET.tostring(quiz, encoding="utf-8", xml_declaration=True), skipped


def _texted(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    ET.SubElement(element, "text").text = text
    return element


def _question_element(exercise: dict[str, Any]) -> ET.Element | None:
    kind = exercise["type"]
    answer = exercise.get("answer") or {}
    moodle = {"single_choice": "multichoice", "multiple_choice": "multichoice",
              "matching": "matching"}.get(kind)
    if kind == "single_choice" and [o["text"] for o in exercise["options"]] == ["Wahr",
                                                                                 "Falsch"]:
        moodle = "truefalse"
    if kind == "input" and answer.get("kind") == "text":
        moodle = "shortanswer"
    if kind == "input" and answer.get("kind") == "number" and not answer.get("form"):
        moodle = "numerical"
    if moodle is None:
        return None
    question = ET.Element("question", type=moodle)
    _texted(question, "name", exercise["title"])
    _texted(question, "questiontext", exercise["prompt"], format="markdown")
    _texted(question, "generalfeedback", exercise["solution"], format="markdown")
    hints = {h["answer"][0]: h["feedback"] for h in exercise.get("hints", [])
             if isinstance(h["answer"], list) and len(h["answer"]) == 1}
    if moodle == "truefalse":
        for option in exercise["options"]:
            element = _texted(question, "answer", "true" if option["text"] == "Wahr" else
                              "false", fraction="100" if option.get("correct") else "0")
            if option["id"] in hints:
                _texted(element, "feedback", hints[option["id"]])
    elif moodle == "multichoice":
        right = sum(1 for o in exercise["options"] if o.get("correct"))
        ET.SubElement(question, "single").text = "true" if kind == "single_choice" else "false"
        for option in exercise["options"]:
            share = f"{100 / right:.5g}" if option.get("correct") else \
                ("0" if kind == "single_choice" else "-100")
            element = _texted(question, "answer", option["text"], fraction=share)
            if option["id"] in hints:
                _texted(element, "feedback", hints[option["id"]])
    elif moodle == "matching":
        for pair in exercise["pairs"]:
            sub = _texted(question, "subquestion", pair["left"])
            _texted(sub, "answer", pair["right"])
    elif moodle == "shortanswer":
        ET.SubElement(question, "usecase").text = "1" if answer.get("case_sensitive") else "0"
        for value in (answer["value"], *answer.get("alternatives", [])):
            _texted(question, "answer", value, fraction="100")
    else:
        try:
            value = Fraction(str(answer["value"]).replace(",", "."))
        except ValueError:
            return None
        element = _texted(question, "answer", decimal_text(value), fraction="100")
        tolerance = Fraction(str(answer.get("tolerance", 0)).replace(",", "."))
        ET.SubElement(element, "tolerance").text = decimal_text(tolerance)
    return question

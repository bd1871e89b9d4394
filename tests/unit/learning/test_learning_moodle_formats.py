"""GIFT and Moodle XML against Moodle's own example files (``tests/fixtures/moodle``, see
its NOTICE.md): the number and types of questions Moodle itself imports from them, every
unsupported one listed, every imported exercise readable and passing its own samples."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from central_hub.learning.domain.checking import sample_failures
from central_hub.learning.domain.exercises import read_exercise
from central_hub.learning.domain.gift import Imported, read_gift, write_gift
from central_hub.learning.domain.moodle_xml import read_moodle_xml, write_moodle_xml
from central_hub.learning.errors import FormatError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "moodle"

# file -> (exercises by type, skipped question names); Moodle's counts from NOTICE.md:
# examples.txt 16 single + 5 true/false, 9 short answer + 8 numerical, 3 matching, 2 multi
EXPECTED: dict[str, tuple[dict[str, int], list[str]]] = {
    "questions.gift.txt": ({"single_choice": 4, "input": 2, "matching": 1,
                            "multiple_choice": 1}, ["Q8"]),
    "questions_in_category.gift.txt": ({"single_choice": 2, "matching": 1, "input": 1}, []),
    "examples.txt": ({"single_choice": 21, "input": 17, "matching": 3,
                      "multiple_choice": 2}, []),
    "nested_categories_with_questions.xml": ({"single_choice": 4}, ["Kappa Essay Question"]),
    "sample_questions_with_old_image_tag.xml": ({"single_choice": 1},
                                                ["cloze question with image"]),
    "multichoice-testquestion.moodle.xml": ({"multiple_choice": 1}, []),
    "shortanswer-testquestion.moodle.xml": ({"input": 1}, []),
    "numerical-testquestion.moodle.xml": ({"input": 1}, []),
    "match-testquestion.moodle.xml": ({"matching": 1}, []),
    "description-testquestion.moodle.xml": ({}, ["description-001"]),
}


def load(name: str) -> Imported:
    path = FIXTURES / name
    return read_moodle_xml(path.read_bytes()) if name.endswith(".xml") else \
        read_gift(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_moodles_example_files_import_as_moodle_imports_them(name: str) -> None:
    imported = load(name)
    types, skipped = EXPECTED[name]
    assert Counter(e["type"] for e in imported.exercises) == Counter(types)
    assert [question for question, _ in imported.skipped] == skipped
    assert all(reason for _, reason in imported.skipped)
    for document in imported.exercises:
        exercise = read_exercise(document, name)
        assert sample_failures(exercise) == [], document


def test_what_the_questions_say_survives() -> None:
    exercises = {e["title"]: e for e in load("questions.gift.txt").exercises}
    true_false = exercises["Q1"]
    assert [o["text"] for o in true_false["options"] if o["correct"]] == ["Falsch"]
    assert true_false["hints"] == [{"answer": ["wahr"],
                                    "feedback": "42 is the Ultimate Answer."}]
    assert true_false["solution"] == ("This is, of course, a Hitchiker's Guide to the Galaxy "
                                      "reference.")
    assert exercises["Q5"]["answer"] == {"kind": "number", "value": "3", "tolerance": "2"}
    assert exercises["Shortanswer"]["answer"]["value"] == "Frog"
    assert exercises["Shortanswer"]["answer"]["alternatives"] == []  # Cat is half credit
    colours = exercises["colours"]
    assert [o["text"] for o in colours["options"] if o["correct"]] == ["yellow", "off-beige"]
    activities = exercises["Moodle activities"]
    assert [p["right"] for p in activities["pairs"]] == ["Forum", "Choice", "Database", "Wiki"]
    assert activities["prompt"] == "Match the activity to the description."


@pytest.mark.parametrize(("source", "line", "words"), [
    ("::A::Frage {=a ~b\n\n::B::Zweite {=c ~d}", 1, "not closed"),
    ("// Kommentar\n\n::A::Frage } ohne Anfang", 3, "closing brace"),
    ("::A::Zahl {#drei:1}", 1, "not a number"),
    ("::A::Paare {=a -> b =c}", 1, "matching"),
    ("::A::Wahl {~a ~b}", 1, "without a right answer"),
])
def test_gift_syntax_errors_name_the_line(source: str, line: int, words: str) -> None:
    with pytest.raises(FormatError) as caught:
        read_gift(source)
    assert caught.value.line == line
    assert words in str(caught.value)


@pytest.mark.parametrize("source", [
    b"<quiz><question type='multichoice'>",
    b"<?xml version='1.0'?><!DOCTYPE quiz [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
    b"<quiz>&x;</quiz>",
    b"<notaquiz/>",
])
def test_moodle_xml_refuses_broken_and_hostile_files(source: bytes) -> None:
    with pytest.raises(FormatError):
        read_moodle_xml(source)


@pytest.mark.parametrize("name", ["examples.txt", "questions.gift.txt"])
def test_gift_and_moodle_xml_round_trips(name: str) -> None:
    original = load(name).exercises
    text, skipped = write_gift(original)
    assert skipped == []
    assert read_gift(text).exercises == original
    data, skipped = write_moodle_xml(original)
    assert skipped == []
    again = read_moodle_xml(data).exercises
    assert [(e["type"], e["title"], e.get("options"), e.get("pairs")) for e in again] == \
        [(e["type"], e["title"], e.get("options"), e.get("pairs")) for e in original]

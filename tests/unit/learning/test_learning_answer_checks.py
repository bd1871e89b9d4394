"""The answer checks against the table of the issue: German school notation, units, algebra,
forms, text answers, and hostile input refused (``central_hub/learning/domain``)."""

from __future__ import annotations

import pytest

from central_hub.learning.domain.checking import Verdict, check, check_typed, sample_failures
from central_hub.learning.domain.exercises import AnswerSpec, read_answer_spec, read_exercise


def spec(kind: str, value: str, **extra: object) -> AnswerSpec:
    return read_answer_spec({"kind": kind, "value": value, **extra}, "test")


def verdict(kind: str, value: str, answer: str, **extra: object) -> Verdict:
    return check_typed(spec(kind, value, **extra), answer)


# (kind, model answer, extra, answers a teacher accepts)
EQUAL = [
    ("number", "2,5", {}, ["2.50", "2,50", "5/2", "2 1/2", " 2,5 "]),
    ("number", "30/7", {}, ["4 2/7", "60/14"]),
    ("number", "-3", {}, ["−3", "-3,0", "(-3)"]),
    ("expression", "5*x", {}, ["5x", "x*5", "5·x", "x·5", "5 x"]),
    ("expression", "(5x+7)*(5x-7)", {}, ["(5x+7)(5x-7)", "25x^2-49", "25x²-49", "(5x-7)(7+5x)"]),
    ("expression", "x+1", {}, ["1+x", "(x+1)", "2x+1-x"]),
    ("expression", "a/b", {}, ["a:b", "a÷b", "1/b*a"]),
    ("expression", "x^2+2x+1", {}, ["(x+1)^2", "(x+1)(x+1)", "x**2+2*x+1"]),
    ("expression", "2*sqrt(2)", {}, ["sqrt(8)", "√8", "2√2", "√(8)"]),
    ("expression", "2/(x^2-1)", {}, ["1/(x-1)-1/(x+1)"]),
    ("quantity", "2,5 km", {}, ["2500 m", "2,5km", "250000 cm", "2 1/2 km"]),
    ("quantity", "1,5 h", {}, ["90 min", "5400 s", "90 Min."]),
    ("quantity", "120 km/h", {}, ["33 1/3 m/s"]),
    ("quantity", "3 m²", {}, ["30000 cm²", "3 m^2", "3m2"]),
    ("quantity", "2,50 €", {}, ["250 ct", "2,5 €", "2.50 EUR"]),
    ("quantity", "1,5 l", {}, ["1500 ml", "1,5 dm³"]),
]


@pytest.mark.parametrize(("kind", "model", "extra", "answers"), EQUAL)
def test_answers_a_teacher_accepts_are_right(kind: str, model: str, extra: dict[str, object],
                                              answers: list[str]) -> None:
    for answer in answers:
        result = verdict(kind, model, answer, **extra)
        assert result.correct, (answer, result)
        assert result.outcome == "correct"


# (kind, model, extra, wrong answer, the outcome, words the feedback contains)
WRONG = [
    ("number", "2,5", {}, "2,6", "wrong", "stimmt leider"),
    ("number", "2,5", {}, "2,5x", "unreadable", "ohne Buchstaben"),
    ("expression", "x+1", {}, "x+2", "wrong", "stimmt leider"),
    ("expression", "x^2-9", {}, "x^2+9", "wrong", "stimmt leider"),
    ("quantity", "2,5 km", {}, "2500", "unreadable", "Einheit"),
    ("quantity", "2,5 km", {}, "2500 g", "wrong", "Einheit passt nicht"),
    ("quantity", "2,5 km", {}, "2,4 km", "wrong", "stimmt leider"),
    ("quantity", "2,5 km", {}, "2,5 parsec", "unreadable", "kenne ich nicht"),
    # forms: the value is right, the form is not, and the pupil is told which
    ("expression", "3/4", {"form": "reduced"}, "6/8", "form", "gekürzten Bruch"),
    ("number", "3/4", {"form": "reduced"}, "0,75", "form", "gekürzten Bruch"),
    ("expression", "x^2-9", {"form": "expanded"}, "(x+3)(x-3)", "form", "ausmultipliziert"),
    ("expression", "x^2-9", {"form": "expanded"}, "x^2+3x-3x-9", "form", "zusammengefasst"),
    ("expression", "(5x+7)(5x-7)", {"form": "factorised"}, "25x^2-49", "form", "faktorisiert"),
    ("expression", "2(x+2)(x-1)", {"form": "factorised"}, "(2x+4)(x-1)", "form", "faktorisiert"),
    ("number", "4*pi", {"form": "decimals:2"}, "12,566", "form", "2 Nachkommastellen"),
    ("number", "4*pi", {"form": "decimals:2"}, "12,56", "wrong", "stimmt leider"),
    ("number", "4*pi", {"form": "decimals:2"}, "12,6", "wrong", "stimmt leider"),
]


@pytest.mark.parametrize(("kind", "model", "extra", "answer", "outcome", "words"), WRONG)
def test_wrong_answers_are_told_why(kind: str, model: str, extra: dict[str, object], answer: str,
                                    outcome: str, words: str) -> None:
    result = verdict(kind, model, answer, **extra)
    assert not result.correct
    assert result.outcome == outcome
    assert words in result.feedback


@pytest.mark.parametrize(("model", "form", "answer"), [
    ("3/4", "reduced", "3/4"),
    ("3/4", "reduced", "-(-3/4)"),
    ("3/2", "reduced", "1 1/2"),
    ("x^2-9", "expanded", "-9+x²"),
    ("(5x+7)(5x-7)", "factorised", "(5x-7)(5x+7)"),
    ("(x+3)^2", "factorised", "(x+3)(x+3)"),
    ("2(x+2)(x-1)", "factorised", "2(x-1)(x+2)"),
    ("4*pi", "decimals:2", "12,57"),
    ("4*pi", "decimals:2", "12.57"),
])
def test_the_right_form_is_accepted(model: str, form: str, answer: str) -> None:
    result = verdict("expression", model, answer, form=form)
    assert result.correct, result


def test_two_decimals_of_a_quantity() -> None:
    assert verdict("quantity", "2*pi m", "6,28 m", form="decimals:2").correct
    assert verdict("quantity", "2*pi m", "628,32 cm", form="decimals:2").correct
    assert verdict("quantity", "2*pi m", "6,3 m", form="decimals:2").outcome == "wrong"
    assert verdict("quantity", "2*pi m", "6,283 m", form="decimals:2").outcome == "form"


HOSTILE = [
    "__import__('os')",
    "__import__('os').system('id')",
    "9**9**9**9",
    "9^9^9^9",
    "10^1000",
    "(x+1)^100000",
    "2^(2^(2^(2^(2^2))))",
    "x" * 10_000,
    "1+" * 5_000 + "1",
    "(" * 1000 + "x" + ")" * 1000,
    "lambda: 1",
    "().__class__.__bases__[0]",
    "sqrt(-1)^(10^10)",
    "1/0",
    "",
    "   ",
    "\x00",
    "x" * 150 + "+1",
]


@pytest.mark.parametrize("answer", HOSTILE)
def test_hostile_expressions_are_refused_with_a_friendly_message(answer: str) -> None:
    result = verdict("expression", "x+1", answer)
    assert not result.correct
    assert result.outcome in ("unreadable", "wrong")
    assert result.feedback and "Traceback" not in result.feedback


def test_text_answers_alternatives_case_and_one_typo() -> None:
    vocabulary = spec("text", "mobile phone", alternatives=["cell phone", "mobile"])
    assert check_typed(vocabulary, "Mobile  Phone").outcome == "correct"
    assert check_typed(vocabulary, "cell phone").outcome == "correct"
    typo = check_typed(vocabulary, "mobile phnoe")  # 'phone' has 5 letters: no typo allowed
    assert not typo.correct
    butterfly = spec("text", "Schmetterling")
    forgiven = check_typed(butterfly, "Schmeterling")
    assert forgiven.correct and forgiven.outcome == "typo" and "Schmetterling" in forgiven.feedback
    assert check_typed(butterfly, "Schmettreling").outcome == "typo"  # two letters swapped
    assert not check_typed(butterfly, "Schmeterlin").correct  # two edits
    spelling = spec("text", "Schmetterling", typo_tolerance=False, case_sensitive=True)
    assert not check_typed(spelling, "Schmeterling").correct
    assert not check_typed(spelling, "schmetterling").correct
    assert check_typed(spelling, " Schmetterling ").correct
    short = spec("text", "Hund")
    assert not check_typed(short, "Hunt").correct


def _exercise(source: dict[str, object]) -> object:
    return read_exercise(source, "test")


def test_a_known_wrong_answer_gets_the_authors_hint() -> None:
    exercise = read_exercise({
        "id": "add", "type": "input", "title": "Brüche addieren", "prompt": "1/4 + 1/4",
        "solution": "1/4 + 1/4 = 2/4 = 1/2",
        "answer": {"kind": "number", "value": "1/2", "form": "reduced"},
        "hints": [{"answer": "2/8", "feedback": "Du hast die Nenner addiert."},
                  {"answer": "2/4", "feedback": "Richtig gerechnet, jetzt noch kürzen."}],
        "samples": {"accept": ["1/2"], "reject": ["2/8", "2/4", "0,5"]}}, "test")
    assert check(exercise, "2/8").feedback == "Du hast die Nenner addiert."
    assert check(exercise, "1/4").feedback == "Du hast die Nenner addiert."  # same value as 2/8
    assert check(exercise, "2/4").feedback == "Richtig gerechnet, jetzt noch kürzen."
    # 0,5 has the right value but is not the 2/4 the hint is about: the form's own feedback
    assert check(exercise, "0,5").outcome == "form"
    assert sample_failures(exercise) == []


CHOICES = {
    "id": "nomen", "type": "single_choice", "title": "Nomen", "prompt": "Welches ist ein Nomen?",
    "solution": "Haus", "options": [{"id": "a", "text": "laufen"},
                                    {"id": "b", "text": "Haus", "correct": True},
                                    {"id": "c", "text": "schnell"}],
    "hints": [{"answer": ["a"], "feedback": "laufen ist ein Verb."}],
    "samples": {"accept": [["b"]], "reject": [["a"], ["c"]]},
}


def test_choice_ordering_matching_and_cloze() -> None:
    single = read_exercise(CHOICES, "test")
    assert check(single, ("b",)).correct
    assert check(single, ("a",)).feedback == "laufen ist ein Verb."
    assert check(single, ("a", "b")).feedback == "Wähle genau eine Antwort."
    multiple = read_exercise({**CHOICES, "type": "multiple_choice", "options": [
        {"id": "a", "text": "Haus", "correct": True}, {"id": "b", "text": "Baum", "correct": True},
        {"id": "c", "text": "gehen"}], "hints": [],
        "samples": {"accept": [["a", "b"], ["b", "a"]], "reject": [["a"], ["a", "b", "c"]]}},
        "test")
    assert check(multiple, ("b", "a")).correct
    assert "fehlen noch" in check(multiple, ("a",)).feedback
    ordering = read_exercise({**CHOICES, "type": "ordering", "hints": [], "options": [
        {"id": "a", "text": "1/4"}, {"id": "b", "text": "1/3"}, {"id": "c", "text": "1/2"}],
        "samples": {"accept": [["a", "b", "c"]], "reject": [["c", "b", "a"]]}}, "test")
    assert check(ordering, ("a", "b", "c")).correct
    assert not check(ordering, ("b", "a", "c")).correct
    matching = read_exercise({**CHOICES, "type": "matching", "hints": [], "options": [],
                              "pairs": [{"id": "p1", "left": "dog", "right": "Hund"},
                                        {"id": "p2", "left": "cat", "right": "Katze"}],
                              "samples": {"accept": [["p1", "p2"]], "reject": [["p2", "p1"]]}},
                             "test")
    assert check(matching, ("p1", "p2")).correct
    assert check(matching, ("p2", "p1")).feedback.startswith("2 von 2")
    cloze = read_exercise({
        "id": "c", "type": "cloze", "title": "Zeitformen", "solution": "...",
        "prompt": "Gestern {{1}} wir ins Kino, es kostete {{2}}.",
        "gaps": [{"kind": "text", "value": "gingen", "typo_tolerance": False},
                 {"kind": "quantity", "value": "7,50 €"}],
        "samples": {"accept": [["gingen", "750 ct"]], "reject": [["gehen", "7,50 €"]]}}, "test")
    right = check(cloze, ("gingen", "7,5 €"))
    assert right.correct and right.gaps == (True, True)
    wrong = check(cloze, ("gehen", "7,50 €"))
    assert wrong.gaps == (False, True) and wrong.feedback == "Lücke 1 stimmt noch nicht."
    for exercise in (single, multiple, ordering, matching, cloze):
        assert sample_failures(exercise) == []


def test_compound_quantities_as_written_at_primary_school() -> None:
    assert verdict("quantity", "90 min", "1 h 30 min").correct
    assert verdict("quantity", "2,35 m", "2 m 35 cm").correct
    assert verdict("quantity", "3,50 €", "3 € 50 ct").correct
    assert verdict("quantity", "3,50 €", "3 € 40 ct").outcome == "wrong"
    assert verdict("quantity", "90 min", "1 h 30 kg").outcome == "unreadable"

"""The offline rules: what the pupils' pages receive to check an item without the hub."""

from __future__ import annotations

from central_hub.learning.domain.checking import MESSAGES
from central_hub.learning.domain.exercises import read_item
from central_hub.learning.domain.offline import browser_checkable, offline_rules

ITEM = read_item({
    "id": "probe", "title": "Probe", "kind": "exercises", "subject": "deutsch",
    "topic": "Test", "grade_min": 3, "grade_max": 4,
    "exercises": [
        {"id": "w", "type": "input", "title": "Wort", "prompt": "?", "solution": "!",
         "answer": {"kind": "text", "value": "Schmetterling", "alternatives": ["Falter"],
                    "typo_tolerance": True},
         "hints": [{"answer": "Raupe", "feedback": "Das ist das Kind."}],
         "samples": {"accept": ["Falter"], "reject": ["Raupe"]}},
        {"id": "n", "type": "input", "title": "Zahl", "prompt": "?", "solution": "!",
         "answer": {"kind": "number", "value": "2,5"},
         "samples": {"accept": ["2.5"], "reject": ["3"]}},
        {"id": "c", "type": "cloze", "title": "Lücken", "prompt": "{{1}} und {{2}}",
         "solution": "!", "gaps": [{"kind": "text", "value": "Hund"},
                                   {"kind": "number", "value": "4"}],
         "samples": {"accept": [["Hund", "4"]], "reject": [["Katze", "4"]]}},
        {"id": "m", "type": "multiple_choice", "title": "Wahl", "prompt": "?", "solution": "!",
         "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"}],
         "samples": {"accept": [["a"]], "reject": [["b"]]}},
    ]})


def test_only_what_the_browser_can_judge_alike_is_sent() -> None:
    assert [browser_checkable(e) for e in ITEM.exercises] == [True, False, False, True]
    rules = offline_rules(ITEM)
    assert set(rules["exercises"]) == {"probe.w", "probe.m"}
    assert rules["messages"] is MESSAGES
    assert rules["exercises"]["probe.w"] == {
        "type": "input", "answer": {"accepted": ["Schmetterling", "Falter"],
                                    "case_sensitive": False, "typo_tolerance": True},
        "hints": [{"answer": "Raupe", "feedback": "Das ist das Kind."}]}
    assert rules["exercises"]["probe.m"] == {
        "type": "multiple_choice", "correct": ["a"], "options": ["a", "b"], "hints": []}

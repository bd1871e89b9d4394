"""The demo's look at the learning platform over the hub's own HTTP API, as its users would.

WHY over HTTP: the hub loads the starter content when it starts; the demo then proves the
public path a visitor uses next — the catalogue, an item, and one answer checked the way a
teacher would (``6.150`` for ``6,15``) by the hub's checker processes — and seeds what the
other pages show: a teacher's class that six pupils joined and practised in (their answers
checked by the hub, so the overview has figures), and a volunteer's draft in the review queue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import httpx

from edge_agent.errors import KasselError

PREFIX = "api/v1/learning"
#: the exercise the demo answers (its model answer is ``6,15``) and the answer it gives:
#: a decimal point and a trailing zero, which a teacher accepts
SAMPLE_ITEM = "mathe-dezimalzahlen"
SAMPLE_EXERCISE = f"{SAMPLE_ITEM}.d1"
SAMPLE_ANSWER = "6.150"


@dataclass(frozen=True, slots=True)
class LearningTour:
    """What the demo saw, for its progress lines."""

    items: int
    subjects: list[str]
    checked: str


class LearningTourError(KasselError):
    """The hub answered the demo's tour unexpectedly (a bug in the demo or the service)."""


def _json(answer: httpx.Response, what: str) -> object:
    if answer.status_code != 200:
        raise LearningTourError(f"learning platform: {what}: HTTP {answer.status_code} "
                                f"{answer.text[:200]}")
    return answer.json()


async def tour_learning(base_url: str) -> LearningTour:
    """Count the published items and subjects, and check one sample answer."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        page = _json(await client.get(f"{PREFIX}/items", params={"limit": 1}), "the catalogue")
        subjects = _json(await client.get(f"{PREFIX}/subjects"), "the subjects")
        item = _json(await client.get(f"{PREFIX}/items/{SAMPLE_ITEM}"), "an item")
        assert isinstance(page, dict) and isinstance(subjects, list) and isinstance(item, dict)
        if not any(e["id"] == SAMPLE_EXERCISE for e in item["exercises"]):
            raise LearningTourError(f"learning platform: no exercise {SAMPLE_EXERCISE}")
        verdict = _json(await client.post(f"{PREFIX}/exercises/{SAMPLE_EXERCISE}/check",
                                          json={"answer": SAMPLE_ANSWER}), "a check")
        assert isinstance(verdict, dict)
    return LearningTour(items=int(page["total"]), subjects=[s["name"] for s in subjects],
                        checked=f"{SAMPLE_EXERCISE} {SAMPLE_ANSWER!r}: {verdict['feedback']}")


#: the demo class's pupils and what they practise (items with browser-checkable exercises)
CLASS_PUPILS = 6
CLASS_ITEMS = ("deutsch-kommasetzung", "deutsch-wortarten")
#: the volunteer's draft waiting in the review queue
DRAFT = """id: demo-runden
title: Zahlen runden (Entwurf)
kind: exercises
subject: mathematik
topic: Runden
grade_min: 4
grade_max: 5
exercises:
  - id: r1
    type: input
    title: Auf Zehner
    prompt: Runde 47 auf Zehner.
    solution: |
      Die Einerziffer 7 ist 5 oder mehr: aufrunden, also 50.
    answer: {kind: number, value: "50"}
    samples: {accept: ["50"], reject: ["40"]}
"""


@dataclass(frozen=True, slots=True)
class LearningClass:
    """The demo's class: its code, title and its pupils' pseudonyms."""

    code: str
    title: str
    pseudonyms: list[str]


def _answer(rule: dict[str, Any], right: bool, rng: random.Random) -> Any:
    """A right or a wrong answer to a browser-checkable exercise, from its offline rule."""
    kind = rule["type"]
    if kind in ("single_choice", "multiple_choice"):
        wrong = [o for o in rule["options"] if o not in rule["correct"]]
        return rule["correct"][:1 if kind == "single_choice" else None] if right or not wrong \
            else [rng.choice(wrong)]
    if kind == "ordering":
        return rule["order"] if right else list(reversed(rule["order"]))
    if kind == "matching":
        ids = [p["id"] for p in rule["pairs"]]
        return ids if right else ids[1:] + ids[:1]
    if kind == "input":
        return rule["answer"]["accepted"][0] if right else "weiß nicht"
    return [g["accepted"][0] if right else "?" for g in rule["gaps"]]


async def seed_class(base_url: str, teacher: str, seed: int) -> LearningClass:
    """A teacher's class; six pupils join and answer (about two in three right)."""
    rng = random.Random(f"{seed}:learning-class")
    staff = {"Authorization": f"Bearer {teacher}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        made = await client.post(f"{PREFIX}/classes", json={"title": "6a (Demo)"},
                                 headers=staff)
        if made.status_code != 201:
            raise LearningTourError(f"learning platform: a class: HTTP {made.status_code}")
        code = made.json()["code"]
        rules: dict[str, Any] = {}
        for item in CLASS_ITEMS:
            found = _json(await client.get(f"{PREFIX}/items/{item}/offline"), "offline rules")
            assert isinstance(found, dict)
            rules.update(found["exercises"])
        pseudonyms = []
        for _ in range(CLASS_PUPILS):
            joined = await client.post(f"{PREFIX}/classes/{code}/members")
            if joined.status_code != 201:
                raise LearningTourError(f"learning platform: joining: HTTP {joined.status_code}")
            member = joined.json()
            pseudonyms.append(member["pseudonym"])
            pupil = {"Authorization": f"Bearer {member['token']}"}
            skill = rng.uniform(0.4, 0.95)
            for address in rng.sample(sorted(rules), k=min(8, len(rules))):
                answer = _answer(rules[address], rng.random() < skill, rng)
                _json(await client.post(f"{PREFIX}/exercises/{address}/check",
                                        json={"answer": answer}, headers=pupil), "a check")
    return LearningClass(code, "6a (Demo)", pseudonyms)


async def seed_draft(base_url: str, author: str) -> str:
    """A volunteer's item waiting for review; returns its id."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        saved = await client.post(f"{PREFIX}/drafts", content=DRAFT.encode(), headers={
            "Authorization": f"Bearer {author}", "Content-Type": "application/yaml"})
    if saved.status_code not in (201, 409):  # 409: a kept work folder has it already
        raise LearningTourError(f"learning platform: a draft: HTTP {saved.status_code}")
    return "demo-runden"

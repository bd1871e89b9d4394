"""The demo's look at the learning platform over the hub's own HTTP API, as a pupil would.

WHY over HTTP: the hub loads the starter content when it starts; the demo then proves the
public path a visitor uses next — the catalogue, an item, and one answer checked the way a
teacher would (``6.150`` for ``6,15``) by the hub's checker processes.
"""

from __future__ import annotations

from dataclasses import dataclass

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

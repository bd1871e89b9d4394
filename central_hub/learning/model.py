"""The records the learning platform's use cases take and give.

WHY apart from the domain: these are the service's views of stored rows (a catalogue entry,
a page of results), not rules; the domain's :class:`~.domain.exercises.Item` is the content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from central_hub.learning.domain.classes import ExerciseTally, PupilTally
from central_hub.learning.domain.exercises import Item


@dataclass(frozen=True, slots=True)
class Subject:
    """A school subject as the catalogue offers it, with its KIM vocabulary concept."""

    id: str
    name: str
    kim_uri: str


@dataclass(frozen=True, slots=True)
class Entry:
    """A published item as a search lists it."""

    id: str
    title: str
    kind: str
    subject: str
    grade_min: int
    grade_max: int
    topic: str


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a search: how many matched in all, and this page's entries."""

    total: int
    entries: list[Entry]


@dataclass(frozen=True, slots=True)
class Waiting:
    """An item waiting for review: whose, which revision, since when."""

    id: str
    title: str
    author: str
    revision: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Published:
    """A published item: its content and the revision that was approved."""

    item: Item
    revision: int


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """A teacher's class: its code, title, when it was created, how many pupils joined."""

    code: str
    title: str
    created_at: datetime
    members: int


@dataclass(frozen=True, slots=True)
class Membership:
    """A pupil's place in a class: the token (shown once; only its digest is kept), the
    pseudonym the teacher sees, the class."""

    token: str | None
    member_id: str
    pseudonym: str
    class_code: str
    class_title: str


@dataclass(frozen=True, slots=True)
class ClassSummary:
    """What a teacher sees of a class: aggregates per exercise and per pseudonym, and the
    titles of the exercises named in them."""

    info: ClassInfo
    exercises: list[ExerciseTally]
    pupils: list[PupilTally]
    titles: dict[str, str]


@dataclass(frozen=True, slots=True)
class SavedDraft:
    """A saved revision: the item, its number, its state, and the samples that fail."""

    item_id: str
    revision: int
    status: str
    failures: list[str]

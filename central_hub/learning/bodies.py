"""The learning platform's HTTP bodies: what the routes take and give.

WHY strict models: the check route is public, so an answer is bounded before it is looked
at (a string of at most 200 characters, or at most 64 of them) and unknown fields are
refused. What a pupil is shown of an exercise never includes its answer, hints, samples or
solution; prompts and options are the authors' Markdown rendered and sanitised
(:mod:`.domain.markup`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from central_hub.learning.domain import limits
from central_hub.learning.domain.catalogue import exercise_address, shuffled
from central_hub.learning.domain.checking import Verdict
from central_hub.learning.domain.exercises import Exercise, Item
from central_hub.learning.domain.markup import render, render_inline
from central_hub.learning.model import (
    ClassInfo,
    ClassSummary,
    Entry,
    Membership,
    Page,
    SavedDraft,
    Subject,
)
from central_hub.learning.tables import TITLE_LENGTH

AnswerText = Annotated[str, Field(max_length=limits.MAX_ANSWER_CHARS)]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SubjectOut(_Out):
    """A subject and its concept in the KIM school-subject vocabulary."""

    id: str
    name: str
    kim_uri: str

    @classmethod
    def of(cls, subject: Subject) -> SubjectOut:
        """From the service's record."""
        return cls(id=subject.id, name=subject.name, kim_uri=subject.kim_uri)


class EntryOut(_Out):
    """A published item as a search lists it."""

    id: str
    title: str
    kind: Literal["explanation", "exercises"]
    subject: str
    topic: str
    grade_min: int
    grade_max: int

    @classmethod
    def of(cls, entry: Entry) -> EntryOut:
        """From the service's record."""
        return cls(id=entry.id, title=entry.title, kind=entry.kind, subject=entry.subject,
                   topic=entry.topic, grade_min=entry.grade_min, grade_max=entry.grade_max)


class PageOut(_Out):
    """A page of search results and how many matched in all."""

    total: int
    items: list[EntryOut]

    @classmethod
    def of(cls, page: Page) -> PageOut:
        """From the service's page."""
        return cls(total=page.total, items=[EntryOut.of(e) for e in page.entries])


class OptionOut(_Out):
    """A choice, an element to order, or the right side of a matching (sanitised HTML)."""

    id: str
    text: str


class ExerciseOut(_Out):
    """An exercise as a pupil sees it: no answer, hint, sample or solution.

    ``id`` is the address the check route takes. Choices, orderings and matchings have
    ``options`` (an ordering's in a shuffled order; a matching's are the right sides,
    shuffled, to be chosen for each of ``left`` in turn); a cloze's prompt holds ``{{1}}``...
    for its ``gaps``; an input says what ``answer_kind`` it reads.
    """

    id: str
    type: Literal["single_choice", "multiple_choice", "input", "cloze", "ordering", "matching"]
    title: str
    prompt: str
    options: list[OptionOut] = []
    left: list[str] = []
    gaps: int = 0
    answer_kind: Literal["number", "expression", "quantity", "text"] | None = None

    @classmethod
    def of(cls, item: Item, exercise: Exercise) -> ExerciseOut:
        """What the public sees of ``exercise``."""
        address = exercise_address(item.id, exercise.id)
        options = [OptionOut(id=o.id, text=render_inline(o.text)) for o in exercise.options]
        if exercise.type == "ordering":
            options = shuffled(options, address)
        left: list[str] = []
        if exercise.type == "matching":
            left = [render_inline(p.left) for p in exercise.pairs]
            options = shuffled([OptionOut(id=p.id, text=render_inline(p.right))
                                for p in exercise.pairs], address)
        return cls(id=address, type=exercise.type, title=exercise.title,
                   prompt=render(exercise.prompt), options=options, left=left,
                   gaps=len(exercise.gaps),
                   answer_kind=exercise.answer.kind if exercise.answer else None)


class MasteryOut(_Out):
    """Mastered after ``correct`` of the last ``of`` attempts."""

    correct: int
    of: int


class ItemOut(_Out):
    """A published item: its catalogue fields, its text, its exercises."""

    id: str
    title: str
    kind: Literal["explanation", "exercises"]
    subject: str
    topic: str
    grade_min: int
    grade_max: int
    description: str
    keywords: list[str]
    license: str
    body: str
    mastery: MasteryOut
    revision: int
    exercises: list[ExerciseOut]

    @classmethod
    def of(cls, item: Item, revision: int, license_uri: str) -> ItemOut:
        """From the published item."""
        return cls(id=item.id, title=item.title, kind=item.kind, subject=item.subject,
                   topic=item.topic, grade_min=item.grade_min, grade_max=item.grade_max,
                   description=item.description, keywords=list(item.keywords),
                   license=license_uri, body=render(item.body) if item.body else "",
                   mastery=MasteryOut(correct=item.mastery.correct, of=item.mastery.of),
                   revision=revision,
                   exercises=[ExerciseOut.of(item, e) for e in item.exercises])


class OfflineOut(_Out):
    """What the pupils' pages need to check an item's exercises without the hub (only the
    browser-checkable ones: choices, orderings, matchings, word answers)."""

    item_id: str
    revision: int
    messages: dict[str, str]
    typo_min_letters: int
    max_answer_chars: int
    exercises: dict[str, dict[str, Any]]


class CheckIn(BaseModel):
    """A pupil's answer: a string for an input, a list for choices, gaps and orderings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: AnswerText | Annotated[list[AnswerText], Field(max_length=limits.MAX_LIST_ITEMS)]


class VerdictOut(_Out):
    """Right or not, and what the pupil reads; for a cloze which gaps were right."""

    correct: bool
    feedback: str
    gaps: list[bool] | None = None

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictOut:
        """From the checker's verdict."""
        return cls(correct=verdict.correct, feedback=verdict.feedback,
                   gaps=list(verdict.gaps) if verdict.gaps else None)


class ReviewIn(BaseModel):
    """A reviewer's decision on an item's latest revision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Literal["approve", "reject"]
    comment: Annotated[str, Field(max_length=2000)] = ""


class ReviewOut(_Out):
    """The item's state after the review."""

    item_id: str
    status: Literal["published", "rejected"]


class SkippedOut(_Out):
    """A question an import did not take, and why."""

    question: str
    reason: str


class ImportOut(_Out):
    """The draft an import created."""

    item_id: str
    imported: int
    skipped: list[SkippedOut]


class QueueEntryOut(_Out):
    """An item waiting for review."""

    id: str
    title: str
    author: str
    revision: int
    waiting_since: str


class ClassIn(BaseModel):
    """A teacher's new class: only its title (no pupil's name is ever asked for)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, Field(min_length=1, max_length=TITLE_LENGTH)]


class ClassOut(_Out):
    """A teacher's class: the code pupils join with, and how many did."""

    code: str
    title: str
    created_at: str
    members: int

    @classmethod
    def of(cls, info: ClassInfo) -> ClassOut:
        """From the service's record."""
        return cls(code=info.code, title=info.title, created_at=info.created_at.isoformat(),
                   members=info.members)


class MembershipOut(_Out):
    """A pupil's membership: the token (only when joining: shown once), the pseudonym the
    teacher sees, the class."""

    token: str | None = None
    pseudonym: str
    class_code: str
    class_title: str

    @classmethod
    def of(cls, membership: Membership) -> MembershipOut:
        """From the service's record."""
        return cls(token=membership.token, pseudonym=membership.pseudonym,
                   class_code=membership.class_code, class_title=membership.class_title)


class ExerciseTallyOut(_Out):
    """How the class did on one exercise."""

    exercise: str
    title: str
    pupils: int
    attempts: int
    correct: int


class PupilTallyOut(_Out):
    """How one pseudonym did."""

    pseudonym: str
    attempts: int
    correct: int
    exercises: int
    mastered: list[str]
    last_at: str


class SummaryOut(_Out):
    """What a teacher sees of a class: aggregates per exercise and per pseudonym only."""

    code: str
    title: str
    members: int
    exercises: list[ExerciseTallyOut]
    pupils: list[PupilTallyOut]

    @classmethod
    def of(cls, summary: ClassSummary) -> SummaryOut:
        """From the service's summary."""
        return cls(code=summary.info.code, title=summary.info.title,
                   members=summary.info.members,
                   exercises=[ExerciseTallyOut(exercise=e.exercise,
                                               title=summary.titles.get(e.exercise, e.exercise),
                                               pupils=e.pupils, attempts=e.attempts,
                                               correct=e.correct) for e in summary.exercises],
                   pupils=[PupilTallyOut(pseudonym=p.pseudonym, attempts=p.attempts,
                                         correct=p.correct, exercises=p.exercises,
                                         mastered=list(p.mastered),
                                         last_at=p.last_at.isoformat())
                           for p in summary.pupils])


class DraftOut(_Out):
    """A saved revision: the item, its number, its state, the samples that fail (a revision
    with failing samples is kept, but cannot be approved)."""

    item_id: str
    revision: int
    status: str
    failures: list[str]

    @classmethod
    def of(cls, saved: SavedDraft) -> DraftOut:
        """From the service's record."""
        return cls(item_id=saved.item_id, revision=saved.revision, status=saved.status,
                   failures=saved.failures)

"""The learning platform's use cases: the public catalogue, answer checks, the starter content.

WHY one object: the routes, the CLI and the tests share these rules — the public sees only
published revisions; an exercise is checked against the revision the public sees; typed
answers go to the checker processes with a deadline (:mod:`.checker_pool`); every outcome is
counted, no answer is logged. Published items are read once per revision and kept parsed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from central_hub.learning import store
from central_hub.learning.checker_pool import CheckerPool, needs_worker
from central_hub.learning.domain.amb import amb_record
from central_hub.learning.domain.catalogue import split_address
from central_hub.learning.domain.checking import AnswerShapeError, Verdict, check, sample_failures
from central_hub.learning.domain.exercises import Answer, Exercise, Item, read_item
from central_hub.learning.domain.vocabularies import SUBJECTS
from central_hub.learning.errors import ContentError, InvalidError, NotFoundError
from central_hub.learning.model import Page, Published, Subject
from central_hub.learning.starter import STARTER_AUTHOR
from central_hub.learning.starter import items as starter_items

#: the largest page of a search
MAX_PAGE = 100
#: who approved the starter content (reviewed in the repository, samples run in CI)
STARTER_REVIEWER = "Startinhalte, im Repository geprüft"


@dataclass
class LearningService:
    """The catalogue on ``engine`` and the checkers of ``pool`` (``None``: check in this
    process, for tools that check a few answers)."""

    engine: Engine
    pool: CheckerPool | None = None
    #: the public address of the hub for the items' metadata; ``None``: the caller's
    public_url: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    _published: dict[str, Published] = field(default_factory=dict)

    # -- the starter content ----------------------------------------------------------------

    def seed(self) -> int:
        """Load the starter content into an empty catalogue, published; returns how many
        items were added (0 when the catalogue has items). Every exercise's samples must
        pass, or nothing is loaded."""
        with self.engine.begin() as conn:
            if store.count_items(conn):
                return 0
            loaded = starter_items()
            for item, _ in loaded:
                _require_samples(item)
            for item, document in loaded:
                store.insert_item(conn, item, json.dumps(document, ensure_ascii=False),
                                  STARTER_AUTHOR, "in_review")
                store.add_review(conn, item.id, 1, reviewer=STARTER_REVIEWER,
                                 decision="approve", comment="")
                store.publish(conn, item, 1)
        return len(loaded)

    # -- the public catalogue ---------------------------------------------------------------

    def subjects(self) -> list[Subject]:
        """The subjects that have published items, with their KIM concepts."""
        with self.engine.connect() as conn:
            used = store.subjects_published(conn)
        return [Subject(s, SUBJECTS[s][1], SUBJECTS[s][0]) for s in used if s in SUBJECTS]

    def search(self, *, grade: int | None = None, subject: str | None = None,
               query: str | None = None, limit: int = 20, offset: int = 0) -> Page:
        """Published items by grade, subject and German full text (see :func:`store.search`)."""
        with self.engine.connect() as conn:
            return store.search(conn, grade=grade, subject=subject, query=query,
                                limit=min(max(limit, 1), MAX_PAGE), offset=max(offset, 0))

    def published(self, item_id: str) -> Published:
        """The published revision of an item, or :class:`NotFoundError` (drafts included)."""
        with self.engine.connect() as conn:
            found = store.published_document(conn, item_id)
        if found is None:
            raise NotFoundError(f"no published item {item_id!r}")
        revision, document = found
        cached = self._published.get(item_id)
        if cached is not None and cached.revision == revision:
            return cached
        published = Published(read_item(json.loads(document), item_id), revision)
        self._published[item_id] = published
        return published

    def amb(self, item_id: str, request_url: str) -> dict[str, Any]:
        """The AMB metadata (JSON-LD) of a published item; its address is on the public
        address, or else on the one the request came to."""
        return amb_record(self.published(item_id).item,
                          base_url=self.public_url or request_url)

    def exercise(self, address: str) -> tuple[Item, Exercise]:
        """A published exercise by its address ``<item>.<exercise>``."""
        parts = split_address(address)
        if parts is None:
            raise NotFoundError(f"no exercise {address!r}")
        item = self.published(parts[0]).item
        for exercise in item.exercises:
            if exercise.id == parts[1]:
                return item, exercise
        raise NotFoundError(f"no exercise {address!r}")

    async def check(self, address: str, answer: Answer) -> Verdict:
        """Check a pupil's answer to a published exercise; counts the outcome."""
        _, exercise = self.exercise(address)
        try:
            if self.pool is not None and needs_worker(exercise):
                verdict = await self.pool.check(exercise, answer)
            else:
                verdict = check(exercise, answer)
        except AnswerShapeError as exc:
            self.counts["shape_error"] += 1
            raise InvalidError(str(exc)) from None
        self.counts[verdict.outcome] += 1
        return verdict


def _require_samples(item: Item) -> None:
    failures = [str(f) for exercise in item.exercises for f in sample_failures(exercise)]
    if failures:
        raise ContentError(f"item {item.id}: " + "; ".join(failures[:5]))

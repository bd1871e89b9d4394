"""The learning platform's use cases: the public catalogue, answer checks, the starter content.

WHY one object: the routes, the CLI and the tests share these rules — the public sees only
published revisions; an exercise is checked against the revision the public sees; typed
answers go to the checker processes with a deadline (:mod:`.checker_pool`); every outcome is
counted, no answer is logged. Published items are read once per revision and kept parsed.
"""

from __future__ import annotations

import difflib
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import inf
from typing import Any, cast

from sqlalchemy import Connection, Engine

from central_hub.core.tokens import token_digest
from central_hub.learning import store
from central_hub.learning.checker_pool import CheckerPool, needs_worker
from central_hub.learning.documents import dump_document, load_document
from central_hub.learning.domain.amb import amb_record
from central_hub.learning.domain.catalogue import split_address
from central_hub.learning.domain.checking import AnswerShapeError, Verdict, check, sample_failures
from central_hub.learning.domain.classes import (
    item_of,
    new_class_code,
    new_pseudonym,
    read_class_code,
    tally,
)
from central_hub.learning.domain.exercises import Answer, Exercise, Item, read_item
from central_hub.learning.domain.gift import read_gift, write_gift
from central_hub.learning.domain.moodle_xml import read_moodle_xml, write_moodle_xml
from central_hub.learning.domain.vocabularies import SUBJECTS
from central_hub.learning.errors import (
    ConflictError,
    ContentError,
    ForbiddenError,
    FormatError,
    ImportSyntaxError,
    InvalidError,
    NotFoundError,
)
from central_hub.learning.model import (
    ClassInfo,
    ClassSummary,
    Membership,
    Page,
    Published,
    SavedDraft,
    Subject,
    Waiting,
)
from central_hub.learning.starter import STARTER_AUTHOR
from central_hub.learning.starter import items as starter_items

#: the largest page of a search
MAX_PAGE = 100
#: how long the published revision of an item is believed without asking the database: a
#: revision published by another hub process reaches this one's checks within this time
PUBLISHED_FRESH_S = 2.0
#: bounds of the classes' tables: per teacher, per class, per pupil
MAX_CLASSES_PER_TEACHER = 100
MAX_MEMBERS_PER_CLASS = 200
MAX_ATTEMPTS_PER_MEMBER = 20_000
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
    #: monotonic seconds (a parameter for tests)
    clock: Callable[[], float] = time.monotonic
    _published: dict[str, Published] = field(default_factory=dict)
    _asked: dict[str, float] = field(default_factory=dict)

    # -- the starter content ----------------------------------------------------------------

    def seed(self, *, check_samples: bool = False) -> int:
        """Load the starter content into an empty catalogue, published; returns how many
        items were added (0 when the catalogue has items). Every item is read and checked as
        any content is; its samples (1,470 checks, most of a second) run in the test suite
        and in ``kassel learning check``, here only when asked: the hub starts often (every
        test, every demo), the shipped files change only with a release."""
        with self.engine.begin() as conn:
            if store.count_items(conn):
                return 0
            loaded = starter_items()
            for item, _ in loaded:
                if check_samples:
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
        """The published revision of an item, or :class:`NotFoundError` (drafts included).

        Kept parsed per revision; which revision is published is asked of the database at
        most every :data:`PUBLISHED_FRESH_S` per item (an answer check then touches no
        database), and at once after a review in this process."""
        now = self.clock()
        cached = self._published.get(item_id)
        if cached is not None and now - self._asked.get(item_id, -inf) < PUBLISHED_FRESH_S:
            return cached
        with self.engine.connect() as conn:
            found = store.published_document(conn, item_id)
        if found is None:
            self._published.pop(item_id, None)
            raise NotFoundError(f"no published item {item_id!r}")
        revision, document = found
        if cached is None or cached.revision != revision:
            cached = Published(read_item(json.loads(document), item_id), revision)
            self._published[item_id] = cached
        self._asked[item_id] = now
        return cached

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

    # -- authoring: imports, the four-eyes review, exports -----------------------------------

    def import_questions(self, *, author: str, fmt: str, data: bytes, subject: str,
                         grade: int, title: str | None = None) -> ImportResult:
        """A GIFT or Moodle XML file as one new draft item by ``author``: every question the
        platform can check becomes an exercise, the rest is listed. A syntax error raises
        :class:`ImportSyntaxError` (line and question) and nothing is kept."""
        if subject not in SUBJECTS:
            raise InvalidError(f"unknown subject {subject!r}")
        try:
            if fmt == "gift":
                text = data.decode("utf-8-sig")
                imported = read_gift(text)
            elif fmt == "moodle-xml":
                imported = read_moodle_xml(data)
            else:
                raise InvalidError(f"unknown format {fmt!r} (gift, moodle-xml)")
        except UnicodeDecodeError:
            raise InvalidError("the file is not UTF-8") from None
        except FormatError as exc:
            raise ImportSyntaxError(exc.line, exc.question, str(exc)) from None
        if not imported.exercises:
            raise InvalidError("the file holds no question the platform can check")
        item_id = f"import-{secrets.token_hex(6)}"
        category = _category(imported.category)
        document = {"id": item_id, "title": title or category or "Importierte Fragen",
                    "kind": "exercises", "subject": subject,
                    "topic": category.rsplit("/", 1)[-1] if category else "Import",
                    "grade_min": grade,
                    "grade_max": grade, "exercises": imported.exercises}
        try:
            item = read_item(document, item_id)
        except ContentError as exc:
            raise InvalidError(f"an imported question cannot be an exercise: {exc}") from None
        with self.engine.begin() as conn:
            store.insert_item(conn, item, json.dumps(document, ensure_ascii=False), author,
                              "draft")
        return ImportResult(item_id, len(imported.exercises), imported.skipped)

    def save_draft(self, *, author: str, raw: bytes, item_id: str | None = None) -> SavedDraft:
        """An author's document (YAML or JSON) as a new item (``item_id`` ``None``) or as the
        next revision of ``item_id``, waiting for review; what the public sees does not
        change until a reviewer approves. The samples that fail are returned (approval needs
        none)."""
        try:
            document = load_document(raw, "document")
            item = read_item(document, "document")
        except ContentError as exc:
            raise InvalidError(str(exc)) from None
        if item.subject not in SUBJECTS:
            raise InvalidError(f"unknown subject {item.subject!r}")
        if item_id is not None and item.id != item_id:
            raise InvalidError(f"the document's id {item.id!r} is not {item_id!r}")
        stored = json.dumps(document, ensure_ascii=False)
        with self.engine.begin() as conn:
            row = store.item_row(conn, item.id)
            if item_id is None:
                if row is not None:
                    raise ConflictError(f"an item {item.id!r} exists; edit it instead")
                store.insert_item(conn, item, stored, author, "draft")
                revision = 1
            else:
                if row is None:
                    raise NotFoundError(f"no item {item_id!r}")
                revision = store.add_revision(conn, item, stored, author)
        failures = [str(f) for e in item.exercises for f in sample_failures(e)]
        return SavedDraft(item.id, revision, "draft", failures)

    def review(self, *, reviewer: str, item_id: str, decision: str, comment: str) -> str:
        """Approve (publish) or reject an item's latest revision: never by its author (four
        eyes), and only when every exercise's samples pass. Returns the item's new state."""
        with self.engine.begin() as conn:
            row = store.item_row(conn, item_id)
            if row is None:
                raise NotFoundError(f"no item {item_id!r}")
            if row["status"] not in ("draft", "in_review"):
                raise ConflictError(f"item {item_id!r} is {row['status']}, not waiting for review")
            history = store.revisions(conn, item_id)
            revision, _, document = history[-1]
            # four eyes: not the item's author, nor an author of what changed since the
            # published revision
            published = cast(int | None, row["published_revision"]) or 0
            authors = {row["author"]} | {a for r, a, _ in history if r > published}
            if reviewer in authors:
                raise ForbiddenError("an author cannot review their own item (four eyes)")
            if decision == "approve":
                try:
                    item = read_item(json.loads(document), item_id)
                    _require_samples(item)
                except ContentError as exc:  # kept as written, not publishable as it is
                    raise InvalidError(f"cannot be published: {exc}") from None
                store.publish(conn, item, revision)
            store.add_review(conn, item_id, revision, reviewer=reviewer, decision=decision,
                             comment=comment)
            if decision != "approve":
                store.set_status(conn, item_id, "rejected")
        self._asked.pop(item_id, None)  # the next reader asks the database again
        return "published" if decision == "approve" else "rejected"

    def review_queue(self) -> list[Waiting]:
        """Items waiting for review, the longest waiting first."""
        with self.engine.connect() as conn:
            return store.waiting_for_review(conn)

    def draft(self, item_id: str) -> dict[str, Any]:
        """What a reviewer sees of an item: its latest document with answers and samples,
        every revision's author, the diff from the published (or previous) revision, and the
        reviews so far."""
        with self.engine.connect() as conn:
            row = store.item_row(conn, item_id)
            if row is None:
                raise NotFoundError(f"no item {item_id!r}")
            history = store.revisions(conn, item_id)
            reviews = store.reviews_of(conn, item_id)
        revision, _, document = history[-1]
        base = next((d for r, _, d in history if r == row["published_revision"]), None)
        if base is None and len(history) > 1:
            base = history[-2][2]
        parsed = json.loads(document)
        try:
            failures = [str(f) for e in read_item(parsed, item_id).exercises
                        for f in sample_failures(e)]
        except ContentError as exc:  # stored before a rule was tightened
            failures = [str(exc)]
        return {"id": item_id, "status": row["status"], "author": row["author"],
                "revision": revision, "document": parsed, "yaml": dump_document(parsed),
                "failures": failures,
                "revisions": [{"revision": r, "author": a} for r, a, _ in history],
                "diff": _diff(base, document), "reviews": reviews}

    def export(self, item_id: str, fmt: str) -> tuple[bytes, list[str]]:
        """The item's latest revision as GIFT or Moodle XML, and the exercises neither can
        express (orderings, cloze, terms, quantities)."""
        with self.engine.connect() as conn:
            history = store.revisions(conn, item_id)
        if not history:
            raise NotFoundError(f"no item {item_id!r}")
        document = json.loads(history[-1][2])
        category = f"{document.get('subject', '')}/{document.get('topic', '')}"
        if fmt == "gift":
            text, skipped = write_gift(document.get("exercises", []), category)
            return text.encode(), skipped
        if fmt == "moodle-xml":
            return write_moodle_xml(document.get("exercises", []), category)
        raise InvalidError(f"unknown format {fmt!r} (gift, moodle-xml)")

    # -- classes: teachers' codes, pupils under pseudonyms, aggregates ----------------------

    def create_class(self, *, teacher: str, title: str) -> ClassInfo:
        """A new class of ``teacher`` with a fresh code."""
        with self.engine.begin() as conn:
            if store.count_classes(conn, teacher) >= MAX_CLASSES_PER_TEACHER:
                raise ConflictError(f"at most {MAX_CLASSES_PER_TEACHER} classes per teacher; "
                                    "close one first")
            code = new_class_code(secrets.randbelow)
            while store.class_row(conn, code) is not None:  # 1 in 10^11 per class
                code = new_class_code(secrets.randbelow)
            now = datetime.now(UTC)
            store.add_class(conn, code, teacher, title, now)
        return ClassInfo(code, title, now, 0)

    def classes(self, teacher: str) -> list[ClassInfo]:
        """The teacher's classes, newest first."""
        with self.engine.connect() as conn:
            return store.classes_of(conn, teacher)

    def class_summary(self, *, teacher: str, code: str) -> ClassSummary:
        """The aggregates of the teacher's class (another teacher's class is not found)."""
        with self.engine.connect() as conn:
            info = _own_class(conn, teacher, code)
            attempts = store.attempts_in(conn, info.code)
        mastery, titles = {}, {}
        for item_id in sorted({item_of(a.exercise) for a in attempts}):
            try:
                item = self.published(item_id).item
            except NotFoundError:
                continue  # withdrawn since: counted, shown by its address
            mastery[item_id] = item.mastery
            titles.update({f"{item.id}.{e.id}": f"{item.title}: {e.title}"
                           for e in item.exercises})
        exercises, pupils = tally(attempts, mastery)
        return ClassSummary(info, exercises, pupils, titles)

    def close_class(self, *, teacher: str, code: str) -> None:
        """Delete the teacher's class with its members and their attempts."""
        with self.engine.begin() as conn:
            store.remove_class(conn, _own_class(conn, teacher, code).code)

    def join_class(self, code_text: str) -> Membership:
        """A pupil opts in: a membership with a fresh token and a drawn pseudonym."""
        code = read_class_code(code_text)
        if code is None:
            raise NotFoundError("no class with this code")
        token = secrets.token_urlsafe(32)
        member_id = "M-" + secrets.token_hex(8)
        with self.engine.begin() as conn:
            row = store.class_row(conn, code)
            if row is None:
                raise NotFoundError("no class with this code")
            taken = store.pseudonyms(conn, code)
            if len(taken) >= MAX_MEMBERS_PER_CLASS:
                raise ConflictError(f"this class is full ({MAX_MEMBERS_PER_CLASS} pupils)")
            pseudonym = new_pseudonym(secrets.randbelow, taken)
            store.add_member(conn, member_id, code, digest=token_digest(token),
                             pseudonym=pseudonym, at=datetime.now(UTC))
        return Membership(token, member_id, pseudonym, code, str(row["title"]))

    def member_of_token(self, token: str) -> str | None:
        """The membership a bearer token belongs to: the hub's identity resolver asks
        (:meth:`central_hub.core.resolver.IdentityResolver.add_pupil_lookup`)."""
        with self.engine.connect() as conn:
            return store.member_of(conn, token_digest(token))

    def membership(self, member_id: str) -> Membership:
        """A pupil's membership, without its token."""
        with self.engine.connect() as conn:
            row = store.member_row(conn, member_id)
        if row is None:
            raise NotFoundError("not in a class")
        return Membership(None, member_id, str(row["pseudonym"]), str(row["class_code"]),
                          str(row["title"]))

    def leave_class(self, member_id: str) -> None:
        """A pupil leaves: the membership and every attempt of it are deleted."""
        with self.engine.begin() as conn:
            store.remove_member(conn, member_id)

    def record(self, member_id: str, address: str, correct: bool) -> bool:
        """Keep a class member's checked answer for the teacher's aggregates; ``False`` when
        the membership is gone or holds :data:`MAX_ATTEMPTS_PER_MEMBER` already."""
        with self.engine.begin() as conn:
            row = store.member_row(conn, member_id)
            if row is None or store.count_attempts(conn, member_id) >= MAX_ATTEMPTS_PER_MEMBER:
                return False
            store.add_attempt(conn, member_id, str(row["class_code"]), exercise=address,
                              correct=correct, at=datetime.now(UTC))
        return True

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


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The draft an import created: its id, how many questions became exercises, and the
    questions skipped with the reason."""

    item_id: str
    imported: int
    skipped: list[tuple[str, str]]


def _own_class(conn: Connection, teacher: str, code: str) -> ClassInfo:
    """The teacher's class by a code as typed; another teacher's is not found (no hint that
    the code exists)."""
    written = read_class_code(code)
    row = None if written is None else store.class_row(conn, written)
    if row is None or row["teacher"] != teacher:
        raise NotFoundError("no such class of yours")
    return ClassInfo(str(row["code"]), str(row["title"]), cast(datetime, row["created_at"]),
                     store.count_members(conn, str(row["code"])))


def _category(path: str | None) -> str:
    """A Moodle category path without its context (``$course$/Mathe/Brüche`` → ``Mathe/Brüche``)."""
    parts = [p for p in (path or "").split("/") if p and not p.startswith("$") and p != "top"]
    return "/".join(parts)[:200]


def _diff(base: str | None, document: str) -> str:
    """A unified diff of two revisions' documents, one field per line."""
    def lines(text: str | None) -> list[str]:
        if text is None:
            return []
        return json.dumps(json.loads(text), ensure_ascii=False, indent=1,
                          sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(lines(base), lines(document), "veröffentlicht",
                                          "Entwurf", lineterm=""))


def _require_samples(item: Item) -> None:
    failures = [str(f) for exercise in item.exercises for f in sample_failures(exercise)]
    if failures:
        raise ContentError(f"item {item.id}: " + "; ".join(failures[:5]))

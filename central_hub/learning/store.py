"""The queries the learning platform needs, on SQLite and PostgreSQL: one function per question.

WHY SQLAlchemy Core on the caller's connection: the use cases decide the transaction (a
review writes the review, the item's state and the search row together). The search is the
one place the dialects differ: PostgreSQL's ``tsvector`` in the ``german`` configuration,
SQLite's FTS5 over Snowball stems (:mod:`central_hub.learning.tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement, TextClause

from central_hub.learning.domain.catalogue import searchable_text
from central_hub.learning.domain.classes import Attempt
from central_hub.learning.domain.exercises import Item
from central_hub.learning.model import ClassInfo, Entry, Page, Waiting
from central_hub.learning.search_text import fts_query, stems
from central_hub.learning.tables import (
    FTS_TABLE,
    attempts_table,
    classes_table,
    items_table,
    members_table,
    reviews_table,
    revisions_table,
    search_table,
)


def count_items(conn: Connection) -> int:
    """Items of every state."""
    return int(conn.execute(select(func.count()).select_from(items_table)).scalar_one())


def item_row(conn: Connection, item_id: str) -> dict[str, object] | None:
    """An item's catalogue row (any state)."""
    row = conn.execute(select(items_table).where(items_table.c.id == item_id)).first()
    return None if row is None else dict(row._mapping)


def insert_item(conn: Connection, item: Item, document: str, author: str, status: str) -> None:
    """A new item with its first revision."""
    conn.execute(insert(items_table).values(
        id=item.id, subject=item.subject, topic=item.topic, kind=item.kind, title=item.title,
        grade_min=item.grade_min, grade_max=item.grade_max, status=status, author=author,
        revision=1, published_revision=None, updated_at=datetime.now(UTC)))
    conn.execute(insert(revisions_table).values(item_id=item.id, revision=1, document=document,
                                                author=author, created_at=datetime.now(UTC)))


def add_revision(conn: Connection, item: Item, document: str, author: str) -> int:
    """The next revision of an item, waiting for review (its catalogue row shows the new
    title for the queue; the published revision stays what the public sees)."""
    latest = conn.execute(select(func.max(revisions_table.c.revision))
                          .where(revisions_table.c.item_id == item.id)).scalar_one()
    revision = int(latest or 0) + 1
    conn.execute(insert(revisions_table).values(item_id=item.id, revision=revision,
                                                document=document, author=author,
                                                created_at=datetime.now(UTC)))
    conn.execute(update(items_table).where(items_table.c.id == item.id).values(
        status="draft", revision=revision, title=item.title, updated_at=datetime.now(UTC)))
    return revision


def add_review(conn: Connection, item_id: str, revision: int, *, reviewer: str, decision: str,
               comment: str) -> None:
    """Record a review."""
    conn.execute(insert(reviews_table).values(item_id=item_id, revision=revision,
                                              reviewer=reviewer, decision=decision,
                                              comment=comment, at=datetime.now(UTC)))


def set_status(conn: Connection, item_id: str, status: str) -> None:
    """An item's new state."""
    conn.execute(update(items_table).where(items_table.c.id == item_id)
                 .values(status=status, updated_at=datetime.now(UTC)))


def publish(conn: Connection, item: Item, revision: int) -> None:
    """Make ``revision`` of ``item`` the one the public sees, and index it for search."""
    conn.execute(update(items_table).where(items_table.c.id == item.id).values(
        status="published", published_revision=revision, subject=item.subject,
        topic=item.topic, kind=item.kind, title=item.title, grade_min=item.grade_min,
        grade_max=item.grade_max, updated_at=datetime.now(UTC)))
    body = searchable_text(item)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        old = conn.execute(select(text("rowid")).select_from(search_table)
                           .where(search_table.c.item_id == item.id)).scalar()
        if old is not None:
            conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :r"), {"r": old})
    conn.execute(delete(search_table).where(search_table.c.item_id == item.id))
    conn.execute(insert(search_table).values(
        item_id=item.id, subject=item.subject, kind=item.kind, title=item.title,
        grade_min=item.grade_min, grade_max=item.grade_max, body=body))
    if sqlite:
        rowid = conn.execute(select(text("rowid")).select_from(search_table)
                             .where(search_table.c.item_id == item.id)).scalar_one()
        conn.execute(text(f"INSERT INTO {FTS_TABLE} (rowid, item_id, stems) "
                          "VALUES (:r, :i, :s)"),
                     {"r": rowid, "i": item.id,
                      "s": " ".join(stems(item.title) * 3 + stems(body))})


def published_document(conn: Connection, item_id: str) -> tuple[int, str] | None:
    """``(revision, document)`` the public sees of an item, ``None`` when none is published."""
    row = conn.execute(
        select(revisions_table.c.revision, revisions_table.c.document)
        .select_from(items_table.join(revisions_table, and_(
            revisions_table.c.item_id == items_table.c.id,
            revisions_table.c.revision == items_table.c.published_revision)))
        .where(items_table.c.id == item_id)).first()
    return None if row is None else (int(row.revision), str(row.document))


def subjects_published(conn: Connection) -> list[str]:
    """The subjects that have a published item."""
    return list(conn.execute(select(search_table.c.subject).distinct()
                             .order_by(search_table.c.subject)).scalars())


def search(conn: Connection, *, grade: int | None, subject: str | None, query: str | None,
           limit: int, offset: int) -> Page:
    """Published items for a grade and subject, matching every word of ``query`` (stemmed,
    best first), otherwise by subject, grade and title."""
    where: list[ColumnElement[bool]] = []
    if grade is not None:
        where += [search_table.c.grade_min <= grade, search_table.c.grade_max >= grade]
    if subject is not None:
        where.append(search_table.c.subject == subject)
    columns = (search_table.c.item_id, search_table.c.title, search_table.c.kind,
               search_table.c.subject, search_table.c.grade_min, search_table.c.grade_max)
    statement = select(*columns).where(*where)
    order: list[ColumnElement[object] | TextClause] = [
        search_table.c.subject, search_table.c.grade_min, search_table.c.title]
    if query is not None and query.strip():
        if conn.dialect.name == "postgresql":
            statement = statement.where(
                text("document @@ websearch_to_tsquery('german', :q1)").bindparams(q1=query))
            order = [text("ts_rank(document, websearch_to_tsquery('german', :q2)) DESC")
                     .bindparams(q2=query), search_table.c.title]
        else:
            return _search_stems(conn, grade=grade, subject=subject, query=query, limit=limit,
                                 offset=offset)
    total = conn.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    rows = conn.execute(statement.order_by(*order).limit(limit).offset(offset)).all()
    return Page(int(total), _entries(conn, rows))


def _entries(conn: Connection, rows: Sequence[Row[Any, Any, Any, Any, Any, Any]]) -> list[Entry]:
    """A page's rows with their items' topics (one lookup by key for the page, not a join in
    the search: the count and the ranking stay on the search table)."""
    ids = [r.item_id for r in rows]
    topics = {r.id: r.topic for r in conn.execute(
        select(items_table.c.id, items_table.c.topic).where(items_table.c.id.in_(ids)))}
    return [Entry(r.item_id, r.title, r.kind, r.subject, r.grade_min, r.grade_max,
                  topics.get(r.item_id, "")) for r in rows]


#: SQLite: the full-text index drives (``CROSS JOIN`` fixes the order): its hits are joined to
#: their rows, never the catalogue scanned by the filter index with a MATCH for every row
_STEM_HITS = (f"FROM (SELECT rowid AS hit, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "
              f"WHERE {FTS_TABLE} MATCH :match) AS hits CROSS JOIN learning_search AS s "
              "ON s.rowid = hits.hit "
              "WHERE (:grade IS NULL OR (s.grade_min <= :grade AND s.grade_max >= :grade)) "
              "AND (:subject IS NULL OR s.subject = :subject)")


def _search_stems(conn: Connection, *, grade: int | None, subject: str | None, query: str,
                  limit: int, offset: int) -> Page:
    match = fts_query(query)
    if match is None:
        return Page(0, [])
    values = {"match": match, "grade": grade, "subject": subject}
    total = conn.execute(text(f"SELECT count(*) {_STEM_HITS}"), values).scalar_one()
    rows = conn.execute(text(
        "SELECT s.item_id, s.title, s.kind, s.subject, s.grade_min, s.grade_max "
        f"{_STEM_HITS} ORDER BY hits.rank, s.title LIMIT :limit OFFSET :offset"),
        {**values, "limit": limit, "offset": offset}).all()
    return Page(int(total), _entries(conn, rows))


def revisions(conn: Connection, item_id: str) -> list[tuple[int, str, str]]:
    """``(revision, author, document)`` of every revision of an item, oldest first."""
    rows = conn.execute(select(revisions_table.c.revision, revisions_table.c.author,
                               revisions_table.c.document)
                        .where(revisions_table.c.item_id == item_id)
                        .order_by(revisions_table.c.revision)).all()
    return [(int(r.revision), str(r.author), str(r.document)) for r in rows]


def waiting_for_review(conn: Connection) -> list[Waiting]:
    """Items waiting for a review (drafts), the longest waiting first."""
    rows = conn.execute(select(items_table.c.id, items_table.c.title, items_table.c.author,
                               items_table.c.revision, items_table.c.updated_at)
                        .where(items_table.c.status.in_(("draft", "in_review")))
                        .order_by(items_table.c.updated_at, items_table.c.id)).all()
    return [Waiting(r.id, r.title, r.author, int(r.revision), r.updated_at) for r in rows]


def reviews_of(conn: Connection, item_id: str) -> list[dict[str, object]]:
    """Every review of an item, oldest first."""
    rows = conn.execute(select(reviews_table.c.revision, reviews_table.c.reviewer,
                               reviews_table.c.decision, reviews_table.c.comment,
                               reviews_table.c.at)
                        .where(reviews_table.c.item_id == item_id)
                        .order_by(reviews_table.c.id)).all()
    return [dict(r._mapping) for r in rows]


# -- classes ----------------------------------------------------------------------------------


def add_class(conn: Connection, code: str, teacher: str, title: str, at: datetime) -> None:
    """A teacher's new class."""
    conn.execute(insert(classes_table).values(code=code, teacher=teacher, title=title,
                                              created_at=at))


def class_row(conn: Connection, code: str) -> dict[str, object] | None:
    """A class by its code."""
    row = conn.execute(select(classes_table).where(classes_table.c.code == code)).first()
    return None if row is None else dict(row._mapping)


def classes_of(conn: Connection, teacher: str) -> list[ClassInfo]:
    """A teacher's classes with how many pupils joined, newest first."""
    members = (select(members_table.c.class_code, func.count().label("n"))
               .group_by(members_table.c.class_code).subquery())
    rows = conn.execute(
        select(classes_table.c.code, classes_table.c.title, classes_table.c.created_at,
               func.coalesce(members.c.n, 0).label("members"))
        .select_from(classes_table.outerjoin(members,
                                             members.c.class_code == classes_table.c.code))
        .where(classes_table.c.teacher == teacher)
        .order_by(classes_table.c.created_at.desc(), classes_table.c.code)).all()
    return [ClassInfo(r.code, r.title, r.created_at, int(r.members)) for r in rows]


def count_classes(conn: Connection, teacher: str) -> int:
    """How many classes a teacher has."""
    return int(conn.execute(select(func.count()).select_from(classes_table)
                            .where(classes_table.c.teacher == teacher)).scalar_one())


def count_members(conn: Connection, code: str) -> int:
    """How many pupils joined a class."""
    return int(conn.execute(select(func.count()).select_from(members_table)
                            .where(members_table.c.class_code == code)).scalar_one())


def pseudonyms(conn: Connection, code: str) -> list[str]:
    """The pseudonyms taken in a class."""
    return list(conn.execute(select(members_table.c.pseudonym)
                             .where(members_table.c.class_code == code)).scalars())


def add_member(conn: Connection, member_id: str, code: str, *, digest: str, pseudonym: str,
               at: datetime) -> None:
    """A pupil joined a class."""
    conn.execute(insert(members_table).values(id=member_id, class_code=code,
                                              token_digest=digest, pseudonym=pseudonym,
                                              joined_at=at))


def member_of(conn: Connection, digest: str) -> str | None:
    """The membership a token's digest belongs to."""
    return conn.execute(select(members_table.c.id)
                        .where(members_table.c.token_digest == digest)).scalar()


def member_row(conn: Connection, member_id: str) -> dict[str, object] | None:
    """A membership with its class's title."""
    row = conn.execute(
        select(members_table.c.id, members_table.c.class_code, members_table.c.pseudonym,
               classes_table.c.title)
        .select_from(members_table.join(classes_table,
                                        classes_table.c.code == members_table.c.class_code))
        .where(members_table.c.id == member_id)).first()
    return None if row is None else dict(row._mapping)


def add_attempt(conn: Connection, member_id: str, code: str, *, exercise: str, correct: bool,
                at: datetime) -> None:
    """A checked answer of a class's pupil."""
    conn.execute(insert(attempts_table).values(member_id=member_id, class_code=code,
                                               exercise=exercise, correct=correct, at=at))


def count_attempts(conn: Connection, member_id: str) -> int:
    """How many attempts a membership holds."""
    return int(conn.execute(select(func.count()).select_from(attempts_table)
                            .where(attempts_table.c.member_id == member_id)).scalar_one())


def attempts_in(conn: Connection, code: str) -> list[Attempt]:
    """Every attempt in a class, with the pupil's pseudonym, oldest first."""
    rows = conn.execute(
        select(members_table.c.pseudonym, attempts_table.c.exercise,
               attempts_table.c.correct, attempts_table.c.at)
        .select_from(attempts_table.join(members_table,
                                         members_table.c.id == attempts_table.c.member_id))
        .where(attempts_table.c.class_code == code)
        .order_by(attempts_table.c.at, attempts_table.c.id)).all()
    return [Attempt(r.pseudonym, r.exercise, bool(r.correct), r.at) for r in rows]


def remove_member(conn: Connection, member_id: str) -> None:
    """A pupil left: the membership and its attempts are deleted."""
    conn.execute(delete(attempts_table).where(attempts_table.c.member_id == member_id))
    conn.execute(delete(members_table).where(members_table.c.id == member_id))


def remove_class(conn: Connection, code: str) -> None:
    """A class closed: its attempts, members and the class are deleted."""
    conn.execute(delete(attempts_table).where(attempts_table.c.class_code == code))
    conn.execute(delete(members_table).where(members_table.c.class_code == code))
    conn.execute(delete(classes_table).where(classes_table.c.code == code))

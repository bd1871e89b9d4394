"""The learning platform's tables on SQLite and PostgreSQL, and how they are created.

WHY its own :class:`~sqlalchemy.MetaData`: the catalogue and its review history have their own
life cycle (a city may keep them in a database of their own, ``learning.database``); every
table is prefixed ``learning_`` and created by :func:`create_schema` when the hub mounts the
service, never by a constructor.

* ``learning_items`` — one row per item: its catalogue fields as of the latest revision, its
  state (``draft``, ``in_review``, ``published``, ``rejected``), its author, the latest and the
  published revision. A draft's newer revision does not touch what the public sees.
* ``learning_revisions`` — every revision of every item, the author's whole document as JSON,
  kept for ever: the review shows the diff between two of them.
* ``learning_reviews`` — every review: revision, reviewer, decision and comment.
* ``learning_classes``, ``learning_members``, ``learning_attempts`` — a teacher's class codes,
  the pupils who joined one (a pseudonym and the digest of their token, nothing else), and
  their checked answers (exercise, right or not, when). Leaving a class deletes the member's
  attempts; closing a class deletes its members and attempts.
* ``learning_search`` — one row per *published* item with its searchable text. PostgreSQL
  indexes it with a generated ``tsvector`` in the ``german`` configuration (GIN); SQLite with
  the FTS5 table ``learning_fts`` over German Snowball stems of the same text
  (:mod:`central_hub.learning.search_text`), so both stem "Brüche" and "Bruch" alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from central_hub.storage.schema import AutoId

ID_LENGTH = 80
PERSON_LENGTH = 120
TITLE_LENGTH = 120

metadata = MetaData()


def _now() -> datetime:
    return datetime.now(UTC)


items_table = Table(
    "learning_items", metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("subject", String(40), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("title", String(200), nullable=False),
    Column("grade_min", Integer, nullable=False),
    Column("grade_max", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("author", String(PERSON_LENGTH), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("published_revision", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, default=_now),
)

revisions_table = Table(
    "learning_revisions", metadata,
    Column("item_id", String(ID_LENGTH), ForeignKey("learning_items.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Column("author", String(PERSON_LENGTH), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, default=_now),
    PrimaryKeyConstraint("item_id", "revision"),
)

reviews_table = Table(
    "learning_reviews", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("item_id", String(ID_LENGTH), ForeignKey("learning_items.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("reviewer", String(PERSON_LENGTH), nullable=False),
    Column("decision", String(12), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False, default=_now),
)

search_table = Table(
    "learning_search", metadata,
    Column("item_id", String(ID_LENGTH), ForeignKey("learning_items.id"), primary_key=True),
    Column("subject", String(40), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("title", String(200), nullable=False),
    Column("grade_min", Integer, nullable=False),
    Column("grade_max", Integer, nullable=False),
    Column("body", Text, nullable=False),
)

classes_table = Table(
    "learning_classes", metadata,
    Column("code", String(9), primary_key=True),
    Column("teacher", String(PERSON_LENGTH), nullable=False, index=True),
    Column("title", String(TITLE_LENGTH), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, default=_now),
)

members_table = Table(
    "learning_members", metadata,
    Column("id", String(20), primary_key=True),
    Column("class_code", String(9), ForeignKey("learning_classes.code"), nullable=False,
           index=True),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("pseudonym", String(40), nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False, default=_now),
)

attempts_table = Table(
    "learning_attempts", metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("member_id", String(20), ForeignKey("learning_members.id"), nullable=False,
           index=True),
    Column("class_code", String(9), nullable=False, index=True),
    Column("exercise", String(2 * ID_LENGTH + 1), nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, default=_now),
)

#: SQLite: the full-text index over the stems of ``learning_search`` (rowid = its rowid)
FTS_TABLE = "learning_fts"


def create_schema(engine: Engine) -> None:
    """Create the tables and the dialect's full-text index (idempotent)."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(
                "ALTER TABLE learning_search ADD COLUMN IF NOT EXISTS document tsvector "
                "GENERATED ALWAYS AS (setweight(to_tsvector('german', title), 'A') || "
                "setweight(to_tsvector('german', body), 'B')) STORED"))
            conn.execute(text("CREATE INDEX IF NOT EXISTS learning_search_document "
                              "ON learning_search USING GIN (document)"))
        else:
            conn.execute(text(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                "item_id UNINDEXED, stems, tokenize = 'unicode61 remove_diacritics 2')"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS learning_search_filter "
                          "ON learning_search (subject, grade_min, grade_max)"))

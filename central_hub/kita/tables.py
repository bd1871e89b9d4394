"""The Kita allocation's tables on SQLite and PostgreSQL, and how they are created.

WHY its own :class:`~sqlalchemy.MetaData` instead of the hub's schema: the allocation holds
personal data (children's names, homes, hardship) with its own life cycle, and keeping its
tables (all prefixed ``kita_``) apart lets them be created, backed up or purged without
touching the traffic data. The tables are created by :func:`create_schema` when the hub
mounts the service (:mod:`central_hub.kita.mount`), never by a constructor; column sizes
come from :mod:`central_hub.kita.domain.limits`, the bounds every adapter checks.

What is stored, and why:

* ``kita_period`` — one row: the application deadline and a version counter. Every write
  that depends on the deadline or on the rounds first bumps the counter
  (:func:`~central_hub.kita.store.lock_period`), which takes a row lock on PostgreSQL and
  the write lock on SQLite, so a submission cannot slip in while staff close the period
  or run a round.
* ``kita_places`` — one row per Kita and age group, like ``K.csv``.
* ``kita_families`` — a random public id and the SHA-256 digest of the family's token; the
  token itself is never stored, so a leaked database grants no access.
* ``kita_applications`` — one row per child, like ``A.csv`` plus the child's name and date of
  birth; ``seq`` keeps the order of submission, which is the order of every result and
  export. ``child_key`` (a digest of the normalised name and the date of birth) is unique per
  family — one application per child — and indexed, so staff find the same child applied for
  by two families.
* ``kita_claim_checks`` — staff's checks of the priority claims (sibling, hardship, home):
  verdict, the value checked, what was checked and by whom; appended, never changed, so the
  latest check of a claim is its state and the earlier ones its history.
* ``kita_withdrawals`` — applications staff withdrew, with the reason, who and when, and the
  round before which it took effect; the application itself stays (the rounds it took part
  in are replayed from it).
* ``kita_lottery`` — the numbers drawn for round 1 (the seed is on its ``kita_rounds`` row).
* ``kita_rounds``, ``kita_placements``, ``kita_decisions`` — every round's result and the
  families' answers to its offers, so a round can be replayed and checked.
"""


from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Double,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator

from central_hub.kita.domain.limits import (
    AGE_GROUP_LENGTH,
    CLAIM_VALUE_LENGTH,
    ID_LENGTH,
    NAME_LENGTH,
    NOTE_LENGTH,
    STAFF_NAME_LENGTH,
)
from central_hub.kita.domain.records import MAX_CHOICES
from central_hub.kita.errors import KitaError
from central_hub.storage.schema import AutoId

#: the one row of ``kita_period``.
PERIOD_ROW = 1


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects.

    SQLite has no time zones and hands back naive values; PostgreSQL answers in the session's
    zone. Normalising to UTC at the boundary keeps deadline comparisons correct everywhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; naive values are refused because their zone is a guess."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a time zone")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Hand back an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

period_table = Table(
    "kita_period",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("deadline", UtcDateTime, nullable=True),
    Column("version", BigInteger, nullable=False),
)

kitas_table = Table(
    "kita_places",
    metadata,
    Column("kita_id", String(ID_LENGTH), nullable=False),
    Column("age_group", String(AGE_GROUP_LENGTH), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("lat", Double, nullable=False),
    Column("lon", Double, nullable=False),
    Column("catchment_km", Double, nullable=False),
    PrimaryKeyConstraint("kita_id", "age_group"),
)

families_table = Table(
    "kita_families",
    metadata,
    Column("family_id", String(ID_LENGTH), primary_key=True),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("registered_at", UtcDateTime, nullable=False),
)

_choice_columns = [
    Column(f"choice{rank}", String(ID_LENGTH), nullable=rank > 1)
    for rank in range(1, MAX_CHOICES + 1)
]

applications_table = Table(
    "kita_applications",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("child_id", String(ID_LENGTH), nullable=False, unique=True),
    Column(
        "family_id",
        String(ID_LENGTH),
        ForeignKey("kita_families.family_id"),
        nullable=False,
        index=True,
    ),
    Column("child_name", String(NAME_LENGTH), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("child_key", String(64), nullable=False, index=True),
    Column("age_group", String(AGE_GROUP_LENGTH), nullable=False),
    *_choice_columns,
    Column("sibling_kita", String(ID_LENGTH), nullable=True),
    Column("hardship", Boolean, nullable=False),
    Column("lat", Double, nullable=False),
    Column("lon", Double, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("family_id", "child_key", name="uq_kita_one_application_per_child"),
)

claim_checks_table = Table(
    "kita_claim_checks",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column(
        "child_id",
        String(ID_LENGTH),
        ForeignKey("kita_applications.child_id"),
        nullable=False,
        index=True,
    ),
    Column("claim", String(16), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("value", String(CLAIM_VALUE_LENGTH), nullable=False),
    Column("note", String(NOTE_LENGTH), nullable=False),
    Column("checked_by", String(STAFF_NAME_LENGTH), nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
)

withdrawals_table = Table(
    "kita_withdrawals",
    metadata,
    Column(
        "child_id",
        String(ID_LENGTH),
        ForeignKey("kita_applications.child_id"),
        primary_key=True,
    ),
    Column("reason", String(NOTE_LENGTH), nullable=False),
    Column("withdrawn_by", String(STAFF_NAME_LENGTH), nullable=False),
    Column("withdrawn_at", UtcDateTime, nullable=False),
    Column("before_round", Integer, nullable=False),
)

lottery_table = Table(
    "kita_lottery",
    metadata,
    Column(
        "child_id",
        String(ID_LENGTH),
        ForeignKey("kita_applications.child_id"),
        primary_key=True,
    ),
    Column("lottery", BigInteger, nullable=False),
)

rounds_table = Table(
    "kita_rounds",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("seed", BigInteger, nullable=True),
    Column("lottery_descending", Boolean, nullable=False),
    Column("run_at", UtcDateTime, nullable=False),
    Column("participants", Integer, nullable=False),
    Column("offers", Integer, nullable=False),
)

placements_table = Table(
    "kita_placements",
    metadata,
    Column("round_number", Integer, ForeignKey("kita_rounds.number"), nullable=False),
    Column("child_id", String(ID_LENGTH), ForeignKey("kita_applications.child_id"), nullable=False),
    Column("kita_id", String(ID_LENGTH), nullable=True),
    Column("choice_rank", Integer, nullable=True),
    PrimaryKeyConstraint("round_number", "child_id"),
)

decisions_table = Table(
    "kita_decisions",
    metadata,
    Column("round_number", Integer, nullable=False),
    Column("child_id", String(ID_LENGTH), nullable=False),
    Column("decision", String(8), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("round_number", "child_id"),
    ForeignKeyConstraint(
        ["round_number", "child_id"],
        ["kita_placements.round_number", "kita_placements.child_id"],
    ),
)


class SchemaError(KitaError):
    """The database holds ``kita_*`` tables of an older layout with data in them."""


def create_schema(engine: Engine) -> None:
    """Create the tables (idempotent) and the single period row.

    Applications from before the one-application-per-child rule (no ``date_of_birth``) cannot
    be completed by the hub: if that table is empty it is rebuilt in the new layout (with the
    tables that refer to it, empty too), otherwise :class:`SchemaError` stops the start with
    what to do — there is no migration (``docs/kita.md``).
    """
    metadata.create_all(engine)
    columns = {c["name"] for c in inspect(engine).get_columns(applications_table.name)}
    missing = sorted({c.name for c in applications_table.columns} - columns)
    if missing:
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(applications_table)).scalar_one()
        if rows:
            raise SchemaError(
                f"table {applications_table.name} predates this version (no "
                f"{', '.join(missing)}) and holds {rows} applications: export what is needed, "
                "drop the kita_* tables and enter the procedure again"
            )
        dependent = (decisions_table, placements_table, lottery_table, claim_checks_table,
                     withdrawals_table, applications_table)
        for table in dependent:
            table.drop(engine, checkfirst=True)
        metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            exists = conn.execute(
                select(period_table.c.id).where(period_table.c.id == PERIOD_ROW)
            ).first()
            if exists is None:
                conn.execute(insert(period_table).values(id=PERIOD_ROW, deadline=None, version=0))
    except IntegrityError:  # another process created it at the same moment
        pass

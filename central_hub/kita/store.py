"""The Kita allocation's tables and the few queries the service needs, on SQLite and PostgreSQL.

WHY its own :class:`~sqlalchemy.MetaData` instead of the hub's schema: the allocation holds
personal data (children's names, homes, hardship) with its own life cycle, and keeping its
tables (all prefixed ``kita_``) apart lets them be created, backed up or purged without
touching the traffic data. WHY SQLAlchemy Core: a round writes one row per child in one
``executemany``, and the same statements run on both dialects.

What is stored, and why:

* ``kita_period`` — one row: the application deadline and a version counter. Every write
  that depends on the deadline or on the rounds first bumps the counter
  (:func:`lock_period`), which takes a row lock on PostgreSQL and the write lock on SQLite,
  so a submission cannot slip in while staff close the period or run a round.
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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
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
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator

from central_hub.kita.domain.records import MAX_CHOICES, KitaPlaces
from central_hub.kita.domain.rounds import Decision, Placement
from central_hub.kita.errors import KitaError

#: longest Kita id, age group, child name the tables hold (the API validates against them).
ID_LENGTH = 64
AGE_GROUP_LENGTH = 16
NAME_LENGTH = 200
#: longest note of a claim check or reason of a withdrawal, and staff member's name.
NOTE_LENGTH = 500
STAFF_NAME_LENGTH = 100
#: a claim as checked: ``true``, a Kita id, or the home's ``lat,lon``.
CLAIM_VALUE_LENGTH = 80

_PERIOD_ROW = 1

#: an auto-increment 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
_AutoId = BigInteger().with_variant(Integer(), "sqlite")


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
    Column("seq", _AutoId, primary_key=True, autoincrement=True),
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
    Column("seq", _AutoId, primary_key=True, autoincrement=True),
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


@dataclass(frozen=True, slots=True)
class Period:
    """The application deadline (``None`` until staff set one)."""

    deadline: datetime | None


@dataclass(frozen=True, slots=True)
class StoredApplication:
    """One child's application as stored: the domain's fields, the name and the timestamps.

    The lottery is not part of it: it does not exist before round 1 and lives in its own
    table.
    """

    child_id: str
    family_id: str
    child_name: str
    date_of_birth: date
    child_key: str
    age_group: str
    choices: tuple[str, ...]
    sibling_kita: str | None
    hardship: bool
    lat: float
    lon: float
    submitted_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """One check of a priority claim by staff: the verdict on ``value`` and what was checked."""

    child_id: str
    claim: str
    verdict: str
    value: str
    note: str
    checked_by: str
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """An application staff withdrew: why, who, when, and the round it no longer takes part in.

    ``before_round`` is the number of the round run next when it was withdrawn: 1 keeps it out
    of the allocation altogether; ``n`` > 1 frees its offer of round ``n - 1`` or keeps it out
    of round ``n``.
    """

    child_id: str
    reason: str
    withdrawn_by: str
    withdrawn_at: datetime
    before_round: int


@dataclass(frozen=True, slots=True)
class RoundRow:
    """A round's summary: the seed (round 1 only), lottery direction and counts."""

    number: int
    seed: int | None
    lottery_descending: bool
    run_at: datetime
    participants: int
    offers: int


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
                select(period_table.c.id).where(period_table.c.id == _PERIOD_ROW)
            ).first()
            if exists is None:
                conn.execute(insert(period_table).values(id=_PERIOD_ROW, deadline=None, version=0))
    except IntegrityError:  # another process created it at the same moment
        pass


def lock_period(conn: Connection) -> Period:
    """Serialise writers on the period row, then read it.

    The ``UPDATE`` is the lock: a row lock on PostgreSQL, the database write lock on SQLite;
    it is held until the caller's transaction ends.
    """
    conn.execute(
        update(period_table)
        .where(period_table.c.id == _PERIOD_ROW)
        .values(version=period_table.c.version + 1)
    )
    return read_period(conn)


def read_period(conn: Connection) -> Period:
    """The current deadline."""
    deadline = conn.execute(
        select(period_table.c.deadline).where(period_table.c.id == _PERIOD_ROW)
    ).scalar_one()
    return Period(deadline)


def set_deadline(conn: Connection, deadline: datetime) -> None:
    """Move the application deadline."""
    conn.execute(
        update(period_table).where(period_table.c.id == _PERIOD_ROW).values(deadline=deadline)
    )


def _kita(row: Any) -> KitaPlaces:
    return KitaPlaces(
        row.kita_id, row.name, row.age_group, row.capacity, row.lat, row.lon, row.catchment_km
    )


def load_kitas(conn: Connection) -> list[KitaPlaces]:
    """Every Kita and age group, ordered by id and age group."""
    rows = conn.execute(
        select(kitas_table).order_by(kitas_table.c.kita_id, kitas_table.c.age_group)
    )
    return [_kita(row) for row in rows]


def save_kita(conn: Connection, kita: KitaPlaces) -> bool:
    """Insert or replace one Kita's places for one age group; ``True`` if it was new."""
    values = {
        "name": kita.name,
        "capacity": kita.capacity,
        "lat": kita.lat,
        "lon": kita.lon,
        "catchment_km": kita.catchment_km,
    }
    changed = conn.execute(
        update(kitas_table)
        .where(kitas_table.c.kita_id == kita.kita_id, kitas_table.c.age_group == kita.age_group)
        .values(**values)
    ).rowcount
    if changed:
        return False
    conn.execute(
        insert(kitas_table).values(kita_id=kita.kita_id, age_group=kita.age_group, **values)
    )
    return True


def delete_kita(conn: Connection, kita_id: str, age_group: str) -> bool:
    """Remove one Kita's places for one age group; ``False`` if there were none."""
    removed = conn.execute(
        delete(kitas_table).where(
            kitas_table.c.kita_id == kita_id, kitas_table.c.age_group == age_group
        )
    ).rowcount
    return bool(removed)


def add_family(conn: Connection, family_id: str, token_digest: str, now: datetime) -> None:
    """Register a family by the hex SHA-256 digest of its token."""
    conn.execute(
        insert(families_table).values(
            family_id=family_id, token_digest=token_digest, registered_at=now
        )
    )


def family_of(conn: Connection, token_digest: str) -> str | None:
    """The family holding the token with this digest, if any."""
    return conn.execute(
        select(families_table.c.family_id).where(families_table.c.token_digest == token_digest)
    ).scalar_one_or_none()


def _application_values(app: StoredApplication) -> dict[str, object]:
    padded = app.choices + (None,) * (MAX_CHOICES - len(app.choices))
    return {
        "child_id": app.child_id,
        "family_id": app.family_id,
        "child_name": app.child_name,
        "date_of_birth": app.date_of_birth,
        "child_key": app.child_key,
        "age_group": app.age_group,
        **{f"choice{rank}": kita for rank, kita in enumerate(padded, start=1)},
        "sibling_kita": app.sibling_kita,
        "hardship": app.hardship,
        "lat": app.lat,
        "lon": app.lon,
        "submitted_at": app.submitted_at,
        "updated_at": app.updated_at,
    }


def _application(row: Any) -> StoredApplication:
    mapping = row._mapping
    choices = tuple(
        kita
        for kita in (mapping[f"choice{rank}"] for rank in range(1, MAX_CHOICES + 1))
        if kita is not None
    )
    return StoredApplication(
        child_id=row.child_id,
        family_id=row.family_id,
        child_name=row.child_name,
        date_of_birth=row.date_of_birth,
        child_key=row.child_key,
        age_group=row.age_group,
        choices=choices,
        sibling_kita=row.sibling_kita,
        hardship=row.hardship,
        lat=row.lat,
        lon=row.lon,
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
    )


def add_application(conn: Connection, app: StoredApplication) -> None:
    """Store a new application."""
    conn.execute(insert(applications_table).values(**_application_values(app)))


def replace_application(conn: Connection, app: StoredApplication) -> None:
    """Overwrite an application's fields (its id, family and submission time stay)."""
    values = _application_values(app)
    for fixed in ("child_id", "family_id", "submitted_at"):
        del values[fixed]
    conn.execute(
        update(applications_table)
        .where(applications_table.c.child_id == app.child_id)
        .values(**values)
    )


def delete_application(conn: Connection, child_id: str) -> None:
    """Remove an application and its claim checks (a family's withdrawal: nothing is kept)."""
    conn.execute(delete(claim_checks_table).where(claim_checks_table.c.child_id == child_id))
    conn.execute(delete(applications_table).where(applications_table.c.child_id == child_id))


def count_applications(conn: Connection, family_id: str) -> int:
    """How many applications a family has (withdrawn ones included)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(applications_table)
            .where(applications_table.c.family_id == family_id)
        ).scalar_one()
    )


def application_with_key(conn: Connection, family_id: str, child_key: str) -> str | None:
    """The child id of a family's application with this child key, if any."""
    return conn.execute(
        select(applications_table.c.child_id).where(
            applications_table.c.family_id == family_id,
            applications_table.c.child_key == child_key,
        )
    ).scalar_one_or_none()


def shared_child_keys(conn: Connection) -> list[list[str]]:
    """Child ids grouped by child key, for every key that more than one family applied with."""
    shared = (
        select(applications_table.c.child_key)
        .group_by(applications_table.c.child_key)
        .having(func.count(applications_table.c.family_id.distinct()) > 1)
    )
    rows = conn.execute(
        select(applications_table.c.child_key, applications_table.c.child_id)
        .where(applications_table.c.child_key.in_(shared))
        .order_by(applications_table.c.seq)
    )
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row.child_key, []).append(row.child_id)
    return list(groups.values())


def add_claim_check(conn: Connection, check: ClaimCheck) -> None:
    """Append a check of a claim."""
    conn.execute(
        insert(claim_checks_table).values(
            child_id=check.child_id,
            claim=check.claim,
            verdict=check.verdict,
            value=check.value,
            note=check.note,
            checked_by=check.checked_by,
            checked_at=check.checked_at,
        )
    )


def latest_claim_checks(
    conn: Connection, child_id: str | None = None
) -> dict[str, dict[str, ClaimCheck]]:
    """child id → claim → its latest check (of one child, or of every child)."""
    query = select(claim_checks_table).order_by(claim_checks_table.c.seq)
    if child_id is not None:
        query = query.where(claim_checks_table.c.child_id == child_id)
    out: dict[str, dict[str, ClaimCheck]] = {}
    for row in conn.execute(query):
        out.setdefault(row.child_id, {})[row.claim] = ClaimCheck(
            row.child_id,
            row.claim,
            row.verdict,
            row.value,
            row.note,
            row.checked_by,
            row.checked_at,
        )
    return out


def add_withdrawal(conn: Connection, withdrawal: Withdrawal) -> None:
    """Record that staff withdrew an application."""
    conn.execute(
        insert(withdrawals_table).values(
            child_id=withdrawal.child_id,
            reason=withdrawal.reason,
            withdrawn_by=withdrawal.withdrawn_by,
            withdrawn_at=withdrawal.withdrawn_at,
            before_round=withdrawal.before_round,
        )
    )


def load_withdrawals(conn: Connection, child_id: str | None = None) -> dict[str, Withdrawal]:
    """child id → staff's withdrawal (of one child, or of every child)."""
    query = select(withdrawals_table)
    if child_id is not None:
        query = query.where(withdrawals_table.c.child_id == child_id)
    return {
        row.child_id: Withdrawal(
            row.child_id, row.reason, row.withdrawn_by, row.withdrawn_at, row.before_round
        )
        for row in conn.execute(query)
    }


def load_applications(conn: Connection, family_id: str | None = None) -> list[StoredApplication]:
    """Applications in order of submission; only one family's when ``family_id`` is given."""
    query = select(applications_table).order_by(applications_table.c.seq)
    if family_id is not None:
        query = query.where(applications_table.c.family_id == family_id)
    return [_application(row) for row in conn.execute(query)]


def load_application(conn: Connection, child_id: str) -> StoredApplication | None:
    """One application by child id."""
    row = conn.execute(
        select(applications_table).where(applications_table.c.child_id == child_id)
    ).first()
    return None if row is None else _application(row)


def save_lottery(conn: Connection, numbers: Iterable[tuple[str, int]]) -> None:
    """Store the drawn lottery numbers (child id, number)."""
    rows = [{"child_id": child_id, "lottery": number} for child_id, number in numbers]
    if rows:
        conn.execute(insert(lottery_table), rows)


def load_lottery(conn: Connection) -> dict[str, int]:
    """child id → lottery number (empty before round 1)."""
    return {
        row.child_id: row.lottery
        for row in conn.execute(select(lottery_table.c.child_id, lottery_table.c.lottery))
    }


def add_round(conn: Connection, round_row: RoundRow, placements: Sequence[Placement]) -> None:
    """Store a round's summary and every participant's placement.

    The round number is the primary key, so two staff members running the same round at once
    cannot both succeed.
    """
    conn.execute(
        insert(rounds_table).values(
            number=round_row.number,
            seed=round_row.seed,
            lottery_descending=round_row.lottery_descending,
            run_at=round_row.run_at,
            participants=round_row.participants,
            offers=round_row.offers,
        )
    )
    rows = [
        {
            "round_number": round_row.number,
            "child_id": p.child_id,
            "kita_id": p.kita_id,
            "choice_rank": p.choice_rank,
        }
        for p in placements
    ]
    if rows:
        conn.execute(insert(placements_table), rows)


def load_rounds(conn: Connection) -> list[RoundRow]:
    """Every round run so far, in order."""
    rows = conn.execute(select(rounds_table).order_by(rounds_table.c.number))
    return [
        RoundRow(
            row.number,
            row.seed,
            row.lottery_descending,
            row.run_at,
            row.participants,
            row.offers,
        )
        for row in rows
    ]


def load_placements(conn: Connection, round_number: int) -> list[Placement]:
    """A round's placements in order of submission, with each child's lottery number."""
    query = (
        select(
            placements_table.c.child_id,
            applications_table.c.age_group,
            placements_table.c.kita_id,
            placements_table.c.choice_rank,
            lottery_table.c.lottery,
        )
        .join(applications_table, applications_table.c.child_id == placements_table.c.child_id)
        .join(lottery_table, lottery_table.c.child_id == placements_table.c.child_id)
        .where(placements_table.c.round_number == round_number)
        .order_by(applications_table.c.seq)
    )
    return [
        Placement(row.child_id, row.age_group, row.kita_id, row.choice_rank, row.lottery)
        for row in conn.execute(query)
    ]


def offer_of(conn: Connection, round_number: int, child_id: str) -> str | None:
    """The Kita a child was offered in a round; ``None`` without an offer or participation."""
    return conn.execute(
        select(placements_table.c.kita_id).where(
            placements_table.c.round_number == round_number,
            placements_table.c.child_id == child_id,
        )
    ).scalar_one_or_none()


def load_decisions(conn: Connection, round_number: int) -> dict[str, Decision]:
    """child id → decision on the offers of one round."""
    rows = conn.execute(
        select(decisions_table.c.child_id, decisions_table.c.decision).where(
            decisions_table.c.round_number == round_number
        )
    )
    return {row.child_id: Decision(row.decision) for row in rows}


def decisions_of(conn: Connection, child_id: str) -> dict[int, Decision]:
    """round number → one child's decision on that round's offer."""
    rows = conn.execute(
        select(decisions_table.c.round_number, decisions_table.c.decision).where(
            decisions_table.c.child_id == child_id
        )
    )
    return {row.round_number: Decision(row.decision) for row in rows}


def add_decision(
    conn: Connection, round_number: int, child_id: str, decision: Decision, now: datetime
) -> None:
    """Record a family's answer to an offer."""
    conn.execute(
        insert(decisions_table).values(
            round_number=round_number, child_id=child_id, decision=decision.value, decided_at=now
        )
    )

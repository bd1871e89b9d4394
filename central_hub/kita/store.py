"""The queries the Kita service needs, on SQLite and PostgreSQL: one function per question.

WHY SQLAlchemy Core: a round writes one row per child in one ``executemany``, and the same
statements run on both dialects. Every function takes the caller's connection, so the use
cases decide the transaction (:func:`lock_period` serialises the writers). The tables and
why each exists: :mod:`central_hub.kita.tables`. Records are read from and written to their
tables by their field names (columns are named like the fields), so a new field is one
column and one dataclass field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, func, insert, select, update

from central_hub.kita.domain.records import MAX_CHOICES, KitaPlaces
from central_hub.kita.domain.rounds import Decision, Placement
from central_hub.kita.model import ClaimCheck, Period, RoundRow, StoredApplication, Withdrawal
from central_hub.kita.tables import (
    PERIOD_ROW,
    applications_table,
    claim_checks_table,
    decisions_table,
    families_table,
    kitas_table,
    lottery_table,
    period_table,
    placements_table,
    rounds_table,
    withdrawals_table,
)

#: the fields of a stored application that are one column each (choices are five columns).
_SCALAR_FIELDS = tuple(f.name for f in fields(StoredApplication) if f.name != "choices")
#: what a family's change leaves as it was.
_FIXED_FIELDS = ("child_id", "family_id", "submitted_at")

_R = TypeVar("_R", ClaimCheck, Withdrawal, RoundRow)


def _columns(record: ClaimCheck | Withdrawal | RoundRow) -> dict[str, object]:
    """A record's values by column: its fields are named like the columns of its table."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _record(kind: type[_R], row: Any) -> _R:
    """The record of ``kind`` read from a row of its table (columns named like its fields)."""
    mapping = row._mapping
    return kind(**{f.name: mapping[f.name] for f in fields(kind)})


def lock_period(conn: Connection) -> Period:
    """Serialise writers on the period row, then read it.

    The ``UPDATE`` is the lock: a row lock on PostgreSQL, the database write lock on SQLite;
    it is held until the caller's transaction ends.
    """
    conn.execute(
        update(period_table)
        .where(period_table.c.id == PERIOD_ROW)
        .values(version=period_table.c.version + 1)
    )
    return read_period(conn)


def read_period(conn: Connection) -> Period:
    """The current deadline."""
    deadline = conn.execute(
        select(period_table.c.deadline).where(period_table.c.id == PERIOD_ROW)
    ).scalar_one()
    return Period(deadline)


def set_deadline(conn: Connection, deadline: datetime) -> None:
    """Move the application deadline."""
    conn.execute(
        update(period_table).where(period_table.c.id == PERIOD_ROW).values(deadline=deadline)
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
        **{name: getattr(app, name) for name in _SCALAR_FIELDS},
        **{f"choice{rank}": kita for rank, kita in enumerate(padded, start=1)},
    }


def _application(row: Any) -> StoredApplication:
    mapping = row._mapping
    choices = tuple(
        kita
        for kita in (mapping[f"choice{rank}"] for rank in range(1, MAX_CHOICES + 1))
        if kita is not None
    )
    return StoredApplication(**{name: mapping[name] for name in _SCALAR_FIELDS}, choices=choices)


def add_application(conn: Connection, app: StoredApplication) -> None:
    """Store a new application."""
    conn.execute(insert(applications_table).values(**_application_values(app)))


def replace_application(conn: Connection, app: StoredApplication) -> None:
    """Overwrite an application's fields (its id, family and submission time stay)."""
    values = _application_values(app)
    for fixed in _FIXED_FIELDS:
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
    conn.execute(insert(claim_checks_table).values(**_columns(check)))


def latest_claim_checks(
    conn: Connection, child_id: str | None = None
) -> dict[str, dict[str, ClaimCheck]]:
    """child id → claim → its latest check (of one child, or of every child)."""
    query = select(claim_checks_table).order_by(claim_checks_table.c.seq)
    if child_id is not None:
        query = query.where(claim_checks_table.c.child_id == child_id)
    out: dict[str, dict[str, ClaimCheck]] = {}
    for row in conn.execute(query):
        out.setdefault(row.child_id, {})[row.claim] = _record(ClaimCheck, row)
    return out


def add_withdrawal(conn: Connection, withdrawal: Withdrawal) -> None:
    """Record that staff withdrew an application."""
    conn.execute(insert(withdrawals_table).values(**_columns(withdrawal)))


def load_withdrawals(conn: Connection, child_id: str | None = None) -> dict[str, Withdrawal]:
    """child id → staff's withdrawal (of one child, or of every child)."""
    query = select(withdrawals_table)
    if child_id is not None:
        query = query.where(withdrawals_table.c.child_id == child_id)
    return {row.child_id: _record(Withdrawal, row) for row in conn.execute(query)}


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
    conn.execute(insert(rounds_table).values(**_columns(round_row)))
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
    return [_record(RoundRow, row) for row in rows]


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

"""Alarm persistence: the pure :class:`AlarmEngine`'s transitions become rows (list/ack/history).

WHY a separate adapter: the engine decides in microseconds on the event loop; writing a row is
I/O and runs in a worker thread, batched every half second. An alarm row is open (``active``)
until its clear transition; acknowledging does not clear it (the condition may persist).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, select, update

from central_hub.domain.alarms import AlarmChange, AlarmEngine
from central_hub.storage.schema import alarms


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One alarm as stored and as the API returns it: ``active`` until the condition clears,
    ``acked_ms`` once acknowledged."""

    id: int
    kind: str
    device_id: str
    severity: str
    message: str
    raised_ms: int
    cleared_ms: int | None
    acked_ms: int | None
    acked_by: str | None
    active: bool


class AlarmStore:
    """Reads and writes the ``alarms`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def apply(self, changes: list[AlarmChange]) -> None:
        """Persist transitions in order: raise inserts (unless open), clear closes."""
        if not changes:
            return
        with self.engine.begin() as conn:
            for ch in changes:
                key = and_(alarms.c.kind == ch.kind, alarms.c.device_id == ch.device_id,
                           alarms.c.active.is_(True))
                if ch.active:
                    exists = conn.execute(select(alarms.c.id).where(key).limit(1)).first()
                    if exists is None:
                        conn.execute(alarms.insert().values(
                            kind=ch.kind, device_id=ch.device_id, severity=ch.severity,
                            message=ch.message[:400], raised_ms=ch.at_ms, active=True))
                else:
                    conn.execute(update(alarms).where(key).values(active=False,
                                                                   cleared_ms=ch.at_ms))

    def close_all_open(self, at_ms: int) -> None:
        """At start the engine knows nothing: close rows a previous run left open."""
        with self.engine.begin() as conn:
            conn.execute(update(alarms).where(alarms.c.active.is_(True))
                         .values(active=False, cleared_ms=at_ms))

    def list(self, state: str = "open", limit: int = 200,
             device_id: str | None = None) -> list[AlarmRecord]:
        """Alarms newest first: ``open`` (active), ``unacked`` (active, not acked) or ``all``."""
        q = select(alarms).order_by(alarms.c.raised_ms.desc(), alarms.c.id.desc()).limit(limit)
        if state == "open":
            q = q.where(alarms.c.active.is_(True))
        elif state == "unacked":
            q = q.where(alarms.c.active.is_(True), alarms.c.acked_ms.is_(None))
        if device_id is not None:
            q = q.where(alarms.c.device_id == device_id)
        with self.engine.connect() as conn:
            return [AlarmRecord(**dict(r._mapping)) for r in conn.execute(q)]

    def ack(self, alarm_id: int, by: str, at_ms: int) -> AlarmRecord | None:
        """Acknowledge one alarm; ``None`` when there is no such alarm."""
        with self.engine.begin() as conn:
            conn.execute(update(alarms).where(alarms.c.id == alarm_id, alarms.c.acked_ms.is_(None))
                         .values(acked_ms=at_ms, acked_by=by))
            row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).first()
        return None if row is None else AlarmRecord(**dict(row._mapping))


class AlarmService:
    """The engine, the transitions not yet broadcast, and a bounded backlog not yet written.

    WHY a backlog: the alarm rows live in the hub's database, so while it is down (the very
    time ``hub_storage_down`` is active) they cannot be written. Transitions whose write
    failed stay in :attr:`unwritten`, in order, and are written when the database returns;
    it keeps the newest ``max_unwritten`` and counts what it had to drop. Meanwhile the
    engine's :attr:`AlarmEngine.active` is what the API shows (``GET /api/v1/alarms``).
    """

    def __init__(self, engine: AlarmEngine, store: AlarmStore,
                 max_unwritten: int = 10_000) -> None:
        self.engine = engine
        self.store = store
        self.max_unwritten = max_unwritten
        #: transitions since the last :meth:`take` (to broadcast, then to write)
        self.pending: list[AlarmChange] = []
        #: transitions waiting to be written, oldest first
        self.unwritten: list[AlarmChange] = []
        #: transitions dropped from :attr:`unwritten` because it was full
        self.dropped = 0

    def submit(self, changes: list[AlarmChange]) -> None:
        if changes:
            self.pending.extend(changes)

    def forget_intersection(self, intersection_id: str, now: int) -> None:
        """A removed intersection: its SPaT alarms clear (broadcast and written like any)."""
        self.submit(self.engine.forget_intersection(intersection_id, now))

    def take(self) -> list[AlarmChange]:
        out, self.pending = self.pending, []
        return out

    def hold(self, changes: list[AlarmChange], *, first: bool = False) -> None:
        """Keep transitions to write later: after the backlog, or ahead of it (``first``,
        for a batch whose write just failed)."""
        if not changes:
            return
        if first:
            self.unwritten[:0] = changes
        else:
            self.unwritten.extend(changes)
        over = len(self.unwritten) - self.max_unwritten
        if over > 0:
            del self.unwritten[:over]
            self.dropped += over

    def take_unwritten(self) -> list[AlarmChange]:
        out, self.unwritten = self.unwritten, []
        return out

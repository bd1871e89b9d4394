"""Batched, idempotent inserts of validated rows.

WHY ``executemany`` with ``ON CONFLICT DO NOTHING`` in one transaction per batch: one commit
(one fsync) per few hundred messages is what makes thousands of messages a second cheap, and the
conflict clause turns QoS 1 redelivery into a no-op, so the caller may acknowledge the whole
batch once :meth:`BatchWriter.write` returns.

On SQLite the statement goes to the driver's ``executemany`` directly and the cursor's row
count says how many rows were new: SQLAlchemy's compiled ``RETURNING`` path costs about 11 µs
per row there, the driver's about 3 µs (measured, BENCHMARKS.md). PostgreSQL keeps
``RETURNING``, because a batched ``executemany``'s row count is not reliable across drivers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, Table

from central_hub.domain.intake import Row
from central_hub.storage.db import insert_ignore
from central_hub.storage.schema import events, samples


class BatchWriter:
    """Writes batches of :class:`Row` into ``samples`` and ``events``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # RETURNING counts what was really inserted on both dialects (executemany's rowcount
        # is -1 under SQLAlchemy's batched "insertmanyvalues" on PostgreSQL)
        self._samples = insert_ignore(engine, samples).returning(samples.c.id)
        self._events = insert_ignore(engine, events).returning(events.c.id)
        self._driver_sql: dict[str, str] | None = None
        if engine.dialect.name == "sqlite":
            self._driver_sql = {t.name: _sqlite_insert_ignore(t) for t in (samples, events)}

    def write(self, rows: Sequence[Row]) -> int:
        """Insert ``rows`` in one transaction; the number actually inserted (new) is returned."""
        sample_rows = [r.values for r in rows if r.table == "samples"]
        event_rows = [r.values for r in rows if r.table == "events"]
        inserted = 0
        driver_sql = self._driver_sql
        if driver_sql is not None:
            with self.engine.begin() as conn:
                if sample_rows:
                    inserted += conn.exec_driver_sql(driver_sql["samples"], sample_rows).rowcount
                if event_rows:
                    inserted += conn.exec_driver_sql(driver_sql["events"], event_rows).rowcount
            return inserted
        with self.engine.begin() as conn:
            if sample_rows:
                inserted += len(conn.execute(self._samples, sample_rows).all())
            if event_rows:
                inserted += len(conn.execute(self._events, event_rows).all())
        return inserted


def _sqlite_insert_ignore(table: Table) -> str:
    """``INSERT ... ON CONFLICT DO NOTHING`` with named parameters for every column but the id."""
    cols = [c.name for c in table.columns if not c.primary_key]
    return (f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES "
            f"({', '.join(':' + c for c in cols)}) ON CONFLICT DO NOTHING")

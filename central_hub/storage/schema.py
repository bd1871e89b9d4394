"""Tables of the hub's relational store.

WHY SQLAlchemy Core tables rather than ORM classes: ingest writes thousands of rows a second in
``executemany`` batches with ``ON CONFLICT DO NOTHING``; Core does that without per-object
overhead, and the same statements run on SQLite and PostgreSQL. The unique key
(device, topic, seq) of :data:`samples` is what makes ingest exactly-once over at-least-once
delivery: a redelivered message hits the key and is dropped.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: an auto-increment 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
AutoId = BigInteger().with_variant(Integer(), "sqlite")

#: raw sequenced messages (position, occupancy, wlan, health, ssem), kept ``raw_days``.
samples = Table(
    "samples",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("topic", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("historical", Boolean, nullable=False, default=False),
    Column("payload", Text, nullable=False),
    UniqueConstraint("device_id", "topic", "seq", name="uq_samples_stream_seq"),
)
Index("ix_samples_ts", samples.c.ts)
Index("ix_samples_received", samples.c.received_ms)

#: messages without ``seq`` (status, map, srem, cmd/ack), de-duplicated by a natural key.
events = Table(
    "events",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("topic", String(16), nullable=False),
    Column("key", String(200), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    UniqueConstraint("device_id", "topic", "key", name="uq_events_key"),
)
Index("ix_events_ts", events.c.ts)


def _rollup(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("device_id", String(64), primary_key=True),
        Column("metric", String(64), primary_key=True),
        Column("bucket", BigInteger, primary_key=True),
        Column("count", Integer, nullable=False),
        Column("total", Float, nullable=False),
        Column("minimum", Float, nullable=False),
        Column("maximum", Float, nullable=False),
    )


rollup_minute = _rollup("rollup_minute")
rollup_hour = _rollup("rollup_hour")
Index("ix_rollup_minute_bucket", rollup_minute.c.bucket)
Index("ix_rollup_hour_bucket", rollup_hour.c.bucket)

#: signal history: one row per state change of a signal group (for the phase diagram).
signal_changes = Table(
    "signal_changes",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("intersection_id", String(64), nullable=False),
    Column("sg", String(64), nullable=False),
    Column("state", String(40), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    UniqueConstraint("intersection_id", "sg", "start_ms", name="uq_signal_change"),
)
Index("ix_signal_changes_start", signal_changes.c.start_ms)

#: the device registry; the Mosquitto password and ACL files are generated from it.
devices = Table(
    "devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("label", String(200), nullable=False, default=""),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", String(400), nullable=False),
    Column("raised_ms", BigInteger, nullable=False),
    Column("cleared_ms", BigInteger, nullable=True),
    Column("acked_ms", BigInteger, nullable=True),
    Column("acked_by", String(32), nullable=True),
    Column("active", Boolean, nullable=False),
)
Index("ix_alarms_active", alarms.c.active, alarms.c.kind, alarms.c.device_id)

#: watermarks of the maintenance job (roll-ups), so a restart continues where it stopped.
watermarks = Table(
    "watermarks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

#: bearer tokens issued with ``kassel hub token issue`` (:mod:`central_hub.core.tokens`): only
#: the SHA-256 digest of a token is stored, never the token.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    #: role names separated by blanks (``engineer kita_staff``)
    Column("roles", String(300), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("last_used_ms", BigInteger, nullable=True),
)

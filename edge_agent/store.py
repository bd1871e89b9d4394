"""Durable state of one device in SQLite (WAL): the store-and-forward queue and counters.

Every QoS 1 message is committed here before it is handed to MQTT and deleted only when the
broker's PUBACK arrives, so an LTE outage, ``kill -9`` or a reboot loses nothing. The same
database keeps the per-topic ``seq`` counters, the birth/death sequence ``bdseq`` and the acks
of commands already executed. The queue is bounded in messages and bytes; when full the oldest
rows are dropped and counted. Depth and size are kept by triggers, so they are exact and cheap.

All methods are blocking and must be called from one thread (the agent uses a single-thread
executor), which is how SQLite is used safely and without a lock.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from edge_agent.errors import QueueError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commands (id TEXT PRIMARY KEY, ack BLOB NOT NULL, ts INTEGER NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('$depth', 0), ('$bytes', 0),
    ('$dropped', 0), ('$bdseq', 0);
CREATE TRIGGER IF NOT EXISTS outbox_ins AFTER INSERT ON outbox BEGIN
    UPDATE counters SET value = value + 1 WHERE name = '$depth';
    UPDATE counters SET value = value + length(NEW.payload) WHERE name = '$bytes';
END;
CREATE TRIGGER IF NOT EXISTS outbox_del AFTER DELETE ON outbox BEGIN
    UPDATE counters SET value = value - 1 WHERE name = '$depth';
    UPDATE counters SET value = value - length(OLD.payload) WHERE name = '$bytes';
END;
"""
COMMANDS_KEPT = 1000


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A message waiting for its PUBACK (``id`` orders the queue)."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_ms: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to enqueue."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_ms: int


@dataclass(frozen=True, slots=True)
class QueueState:
    """Depth, size and drop count of the queue after a commit."""

    depth: int
    bytes: int
    dropped: int
    oldest_created_ms: int | None


class AgentStore:
    """The device's SQLite state file; see the module docstring."""

    def __init__(
        self,
        path: Path,
        *,
        max_messages: int,
        max_bytes: int,
        synchronous: str = "full",
    ) -> None:
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA cache_size=-512")  # KiB: the queue is small and hot
            self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise QueueError(f"cannot open the state database {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the database (the WAL is checkpointed)."""
        self._db.close()

    # --- counters ------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Every stored counter: topic seq high-water marks and the ``$``-prefixed internals."""
        return dict(self._db.execute("SELECT name, value FROM counters").fetchall())

    def next_bdseq(self) -> int:
        """Increment and return the birth/death sequence (one per connect attempt)."""
        with self._tx():
            self._db.execute("UPDATE counters SET value = value + 1 WHERE name = '$bdseq'")
            (value,) = self._db.execute(
                "SELECT value FROM counters WHERE name = '$bdseq'"
            ).fetchone()
        return int(value)

    # --- queue ---------------------------------------------------------------------------

    def commit(
        self,
        messages: list[NewMessage],
        counters: dict[str, int],
        acked: list[int],
    ) -> QueueState:
        """In one transaction: enqueue ``messages``, store ``counters``, delete ``acked`` rows,
        then drop the oldest rows while the queue is over its bounds."""
        try:
            with self._tx():
                if acked:
                    self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in acked])
                if messages:
                    self._db.executemany(
                        "INSERT INTO outbox (topic, payload, qos, retain, created_ms) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [
                            (m.topic, m.payload, m.qos, int(m.retain), m.created_ms)
                            for m in messages
                        ],
                    )
                if counters:
                    self._db.executemany(
                        "INSERT INTO counters (name, value) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
                        list(counters.items()),
                    )
                self._enforce_bounds()
        except sqlite3.Error as exc:
            raise QueueError(f"cannot write the state database {self.path}: {exc}") from exc
        return self.state()

    def _enforce_bounds(self) -> None:
        depth, size = self._depth_bytes()
        if depth <= self.max_messages and size <= self.max_bytes:
            return
        cutoff = None
        dropped = 0
        for row_id, length in self._db.execute(
            "SELECT id, length(payload) FROM outbox ORDER BY id"
        ):
            if depth <= self.max_messages and size <= self.max_bytes:
                break
            cutoff = row_id
            depth -= 1
            size -= length
            dropped += 1
        if cutoff is not None:
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (cutoff,))
            self._db.execute(
                "UPDATE counters SET value = value + ? WHERE name = '$dropped'", (dropped,)
            )

    def _depth_bytes(self) -> tuple[int, int]:
        rows = dict(
            self._db.execute(
                "SELECT name, value FROM counters WHERE name IN ('$depth', '$bytes')"
            ).fetchall()
        )
        return int(rows["$depth"]), int(rows["$bytes"])

    def state(self) -> QueueState:
        """Current depth, bytes, dropped count and creation time of the oldest row."""
        rows = dict(
            self._db.execute(
                "SELECT name, value FROM counters WHERE name IN ('$depth', '$bytes', '$dropped')"
            ).fetchall()
        )
        oldest = self._db.execute("SELECT created_ms FROM outbox ORDER BY id LIMIT 1").fetchone()
        return QueueState(
            depth=int(rows["$depth"]),
            bytes=int(rows["$bytes"]),
            dropped=int(rows["$dropped"]),
            oldest_created_ms=None if oldest is None else int(oldest[0]),
        )

    def read_after(self, after_id: int, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` queued rows with ``id > after_id``, oldest first."""
        cur = self._db.execute(
            "SELECT id, topic, payload, qos, retain, created_ms FROM outbox "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [OutboxRow(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5]) for r in cur]

    # --- commands ------------------------------------------------------------------------

    def command_ack(self, command_id: str) -> bytes | None:
        """The ack already sent for ``command_id``, if it was executed before."""
        row = self._db.execute("SELECT ack FROM commands WHERE id = ?", (command_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def record_command(self, command_id: str, ack: bytes, ts: int) -> None:
        """Remember an executed command's ack; only the newest ones are kept."""
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO commands (id, ack, ts) VALUES (?, ?, ?)",
                (command_id, ack, ts),
            )
            self._db.execute(
                "DELETE FROM commands WHERE id NOT IN "
                "(SELECT id FROM commands ORDER BY ts DESC LIMIT ?)",
                (COMMANDS_KEPT,),
            )

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error) for an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")

"""Durable state of one device in SQLite (WAL): the store-and-forward queue and counters.

Every QoS 1 message is committed here before it is handed to MQTT and deleted only when the
broker's PUBACK arrives, so an LTE outage, ``kill -9`` or a reboot loses nothing. The same
database keeps the per-topic ``seq`` counters, the birth/death sequence ``bdseq`` and the acks
of commands already executed. The queue is bounded in messages and bytes; when full the oldest
rows are dropped and counted. Depth and size are kept by triggers, so they are exact and cheap.

A file that is not a usable SQLite database (a corrupt or foreign file where the state should
be) is never fatal: it is moved aside next to itself (``agent.db.unusable-<ms>``), a fresh
store starts, and the reset is recorded (:class:`StoreReset`) so the agent can report it. The
fresh store's counters start at the reset's wall-clock milliseconds, above any ``seq`` or
``bdseq`` the lost file can have held (one message per millisecond since 1970 is far beyond any
device), so the hub never mistakes new messages for repeats.

All methods are blocking and must be called from one thread (the agent uses a single-thread
executor), which is how SQLite is used safely and without a lock.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.errors import QueueError

log = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS resets (at_ms INTEGER PRIMARY KEY, moved_to TEXT NOT NULL,
    reason TEXT NOT NULL);
INSERT OR IGNORE INTO counters (name, value) VALUES ('$depth', 0), ('$bytes', 0),
    ('$dropped', 0), ('$bdseq', 0), ('$seq_floor', 0);
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
class StoreReset:
    """The state file was unusable and was moved aside; a fresh store took its place."""

    at_ms: int
    moved_to: str
    reason: str


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
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._synchronous = "FULL" if synchronous == "full" else "NORMAL"
        #: set when this start found an unusable file and moved it aside.
        self.reset: StoreReset | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise QueueError(f"cannot create the state directory {self.path.parent}: {exc}") \
                from exc
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:  # not a database, malformed, unreadable schema
            self.reset = self._move_aside(str(exc), now_ms())
            try:
                self._db = self._open()
                with self._tx():
                    self._db.execute(
                        "UPDATE counters SET value = ? WHERE name IN ('$seq_floor', '$bdseq')",
                        (self.reset.at_ms,),
                    )
                    self._db.execute(
                        "INSERT OR REPLACE INTO resets (at_ms, moved_to, reason) VALUES (?, ?, ?)",
                        (self.reset.at_ms, self.reset.moved_to, self.reset.reason),
                    )
            except (OSError, sqlite3.Error) as exc2:
                raise QueueError(f"cannot open the state database {self.path}: {exc2}") from exc2
        except OSError as exc:
            raise QueueError(f"cannot open the state database {self.path}: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        """Open, configure and check the file; ``sqlite3.DatabaseError`` if it is unusable."""
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA cache_size=-512")  # KiB: the queue is small and hot
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {verdict}")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, reason: str, at_ms: int) -> StoreReset:
        """Rename the unusable file (and its WAL and shared-memory files) out of the way."""
        moved = self.path.with_name(f"{self.path.name}.unusable-{at_ms}")
        try:
            for suffix in ("-wal", "-shm"):
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    side.rename(moved.with_name(moved.name + suffix))
            self.path.rename(moved)
        except OSError as exc:
            raise QueueError(
                f"the state database {self.path} is unusable ({reason}) and cannot be moved "
                f"aside: {exc}"
            ) from exc
        log.error(
            "the state database %s is unusable (%s): moved it to %s and started a fresh one",
            self.path, reason, moved,
        )
        return StoreReset(at_ms, str(moved), reason)

    def last_reset(self) -> StoreReset | None:
        """The newest recorded reset of this store (kept across restarts)."""
        row = self._db.execute(
            "SELECT at_ms, moved_to, reason FROM resets ORDER BY at_ms DESC LIMIT 1"
        ).fetchone()
        return None if row is None else StoreReset(int(row[0]), str(row[1]), str(row[2]))

    def close(self) -> None:
        """Close the database (the WAL is checkpointed)."""
        self._db.close()

    # --- counters ------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Every stored counter: topic seq high-water marks and the ``$``-prefixed internals."""
        return dict(self._db.execute("SELECT name, value FROM counters").fetchall())

    def next_bdseq(self) -> int:
        """Increment and return the birth/death sequence (one per connect attempt)."""
        try:
            with self._tx():
                self._db.execute("UPDATE counters SET value = value + 1 WHERE name = '$bdseq'")
                (value,) = self._db.execute(
                    "SELECT value FROM counters WHERE name = '$bdseq'"
                ).fetchone()
        except sqlite3.Error as exc:
            raise QueueError(f"cannot write the state database {self.path}: {exc}") from exc
        return int(value)

    # --- queue ---------------------------------------------------------------------------

    def commit(
        self,
        messages: list[NewMessage],
        counters: dict[str, int],
        acked: list[int],
        lost: int = 0,
    ) -> QueueState:
        """In one transaction: enqueue ``messages``, store ``counters``, delete ``acked`` rows,
        add ``lost`` (messages the agent could not store earlier) to the drop count, then drop
        the oldest rows while the queue is over its bounds. :class:`QueueError` (``full`` set
        when the disk is full) leaves the store as it was."""
        try:
            with self._tx():
                if lost:
                    self._db.execute(
                        "UPDATE counters SET value = value + ? WHERE name = '$dropped'", (lost,)
                    )
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
            full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            raise QueueError(
                f"cannot write the state database {self.path}: {exc}", full=full
            ) from exc
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
        try:
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
        except sqlite3.Error as exc:
            raise QueueError(f"cannot write the state database {self.path}: {exc}") from exc

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error) for an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        elif self._db.in_transaction:  # SQLite may already have rolled back (SQLITE_FULL)
            self._db.execute("ROLLBACK")

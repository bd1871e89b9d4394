"""The durable queue: order, bounds, drop counting, counters, persistence."""

from __future__ import annotations

import random
from pathlib import Path

from edge_agent.backoff import Backoff
from edge_agent.outbox import mark_historical
from edge_agent.store import AgentStore, NewMessage


def _store(tmp_path: Path, **kw: int) -> AgentStore:
    return AgentStore(tmp_path / "s.db", max_messages=kw.get("max_messages", 1000),
                      max_bytes=kw.get("max_bytes", 1 << 20), synchronous="normal")


def _msgs(n: int, start: int = 0) -> list[NewMessage]:
    return [NewMessage("t/a", f'{{"i":{i}}}'.encode(), 1, False, 1000 + i)
            for i in range(start, start + n)]


def test_rows_come_back_in_order_and_acks_delete(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.commit(_msgs(10), {}, [])
    rows = s.read_after(0, 100)
    assert [r.payload for r in rows] == [m.payload for m in _msgs(10)]
    assert s.read_after(rows[4].id, 2) == rows[5:7]
    state = s.commit([], {}, [r.id for r in rows[:3]])
    assert state.depth == 7
    assert state.oldest_created_ms == 1003


def test_full_queue_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    s = _store(tmp_path, max_messages=5)
    s.commit(_msgs(3), {}, [])
    state = s.commit(_msgs(4, start=3), {}, [])
    assert state.depth == 5
    assert state.dropped == 2
    assert [r.created_ms for r in s.read_after(0, 10)] == [1002, 1003, 1004, 1005, 1006]


def test_byte_bound_drops_the_oldest(tmp_path: Path) -> None:
    s = _store(tmp_path, max_bytes=1024)
    big = [NewMessage("t", b"x" * 300, 1, False, i) for i in range(5)]
    state = s.commit(big, {}, [])
    assert state.bytes <= 1024
    assert state.depth == 3
    assert state.dropped == 2


def test_state_survives_reopen(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.commit(_msgs(4), {"kassel/v1/bus/1/position": 4}, [])
    assert s.next_bdseq() == 1
    s.close()
    s2 = _store(tmp_path)
    assert s2.state().depth == 4
    assert s2.counters()["kassel/v1/bus/1/position"] == 4
    assert s2.next_bdseq() == 2


def test_counters_never_go_backwards(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.commit([], {"t": 10}, [])
    s.commit([], {"t": 7}, [])
    assert s.counters()["t"] == 10


def test_command_acks_are_remembered(tmp_path: Path) -> None:
    s = _store(tmp_path)
    assert s.command_ack("c1") is None
    s.record_command("c1", b"{}", 5)
    assert s.command_ack("c1") == b"{}"


def test_mark_historical_adds_the_flag_once() -> None:
    assert mark_historical(b'{"v":1}') == b'{"v":1,"historical":true}'
    flagged = b'{"v":1,"historical":true}'
    assert mark_historical(flagged) == flagged


def test_mark_historical_leaves_etsi_bytes_alone() -> None:
    """UPER bytes may end in ``}`` (0x7d); they start with protocol version 2, never ``{``."""
    uper = bytes([2, 5, 0, 0, 1, 0x7D])
    assert mark_historical(uper) == uper


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    b = Backoff(1.0, 60.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(12)]
    assert 0.5 <= delays[0] <= 1.0
    assert 2.0 <= delays[2] <= 4.0
    assert all(30.0 <= d <= 60.0 for d in delays[7:])
    assert len(set(delays[7:])) > 1
    b.reset()
    assert b.next_delay() <= 1.0


def test_an_unusable_file_is_moved_aside_and_counters_start_above_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"PNG not a database" * 100)
    s = AgentStore(path, max_messages=10, max_bytes=1 << 20, now_ms=lambda: 1_700_000_000_000)
    assert s.reset is not None and s.reset.at_ms == 1_700_000_000_000
    assert "not a database" in s.reset.reason
    moved = Path(s.reset.moved_to)
    assert moved.read_bytes().startswith(b"PNG") and moved.name == "s.db.unusable-1700000000000"
    counters = s.counters()
    assert counters["$seq_floor"] == counters["$bdseq"] == 1_700_000_000_000
    assert s.next_bdseq() == 1_700_000_000_001
    s.close()
    again = AgentStore(path, max_messages=10, max_bytes=1 << 20)
    assert again.reset is None  # the fresh file is fine
    assert again.last_reset() == s.reset  # but the reset stays on record for health
    again.close()


def test_lost_messages_are_added_to_the_drop_count(tmp_path: Path) -> None:
    s = _store(tmp_path)
    assert s.commit(_msgs(2), {}, [], lost=7).dropped == 7
    assert s.state().depth == 2

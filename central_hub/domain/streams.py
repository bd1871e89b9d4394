"""De-duplication and gap detection on the per-device, per-topic ``seq`` counter.

WHY a sliding bit window: QoS 1 redelivers after a reconnect and the store-and-forward queue
replays old messages, so duplicates and late messages are normal, but a window of ``W`` bits per
stream answers "seen before?" in O(1) with bounded memory (a Python int of ``W`` bits), and a
seq that leaves the window unseen is a gap. Seqs older than the window are reported as
:attr:`Verdict.OLD`: only the durable store (its unique key) can decide those.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    """What the tracker knows about one observed ``seq``."""

    NEW = "new"
    DUPLICATE = "duplicate"
    #: older than the window: maybe a replay, maybe a duplicate; the store's unique key decides.
    OLD = "old"


@dataclass(slots=True)
class _Stream:
    high: int  # highest seq seen
    seen: int  # bit i set: seq ``high - i`` was seen
    low: int  # lowest seq the tracker has known of this stream


@dataclass(frozen=True, slots=True)
class Observation:
    """Result of :meth:`SeqTracker.observe`: the verdict and seqs newly declared missing."""

    verdict: Verdict
    gaps: int = 0


class SeqTracker:
    """Per-stream window of recently seen seqs; LRU-bounded number of streams."""

    def __init__(self, window: int = 1024, max_streams: int = 100_000) -> None:
        if window < 1 or max_streams < 1:
            raise ValueError("window and max_streams must be positive")
        self.window = window
        self.max_streams = max_streams
        self._full = (1 << window) - 1
        self._streams: OrderedDict[tuple[str, str], _Stream] = OrderedDict()
        self.duplicates = 0
        self.gaps = 0
        self.gaps_by_stream: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._streams)

    def observe(self, device: str, topic: str, seq: int) -> Observation:
        """Record ``seq`` of stream (``device``, ``topic``) and classify it."""
        key = (device, topic)
        st = self._streams.get(key)
        if st is None:
            self._streams[key] = _Stream(seq, 1, seq)
            if len(self._streams) > self.max_streams:
                old, _ = self._streams.popitem(last=False)
                self.gaps_by_stream.pop(old, None)
            return Observation(Verdict.NEW)
        self._streams.move_to_end(key)
        w = self.window
        if seq > st.high:
            d = seq - st.high
            missing = self._leaving_unseen(st, d) + max(0, seq - w - st.high)
            st.seen = ((st.seen << d) | 1) & self._full if d < w else 1
            st.high = seq
            if missing:
                self.gaps += missing
                self.gaps_by_stream[key] = self.gaps_by_stream.get(key, 0) + missing
            return Observation(Verdict.NEW, missing)
        age = st.high - seq
        if age >= w:
            return Observation(Verdict.OLD)
        bit = 1 << age
        if st.seen & bit and seq >= st.low:
            self.duplicates += 1
            return Observation(Verdict.DUPLICATE)
        st.seen |= bit
        st.low = min(st.low, seq)
        return Observation(Verdict.NEW)

    def _leaving_unseen(self, st: _Stream, d: int) -> int:
        """Unseen seqs (at or above ``low``) pushed out of the window by advancing ``d``."""
        w = self.window
        start = max(0, w - d)  # bit positions start..w-1 leave the window
        last = min(w - 1, st.high - st.low)  # positions above this are before the stream began
        if last < start:
            return 0
        n = last - start + 1
        present = ((st.seen >> start) & ((1 << n) - 1)).bit_count()
        return n - present

    def gaps_of(self, device: str, topic: str) -> int:
        """Seqs of one stream that left the window without arriving."""
        return self.gaps_by_stream.get((device, topic), 0)

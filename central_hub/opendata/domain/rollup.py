"""The statistics roll-up: one hour of a bus's or an intersection's raw messages folded into
the small rows the datasets are produced from.

WHY roll up first: a year of Kassel is billions of position rows (300 buses at 1 Hz), and the
raw rows are kept only for days (the hub's retention). Each completed hour is folded once into
rows keyed by day, line, stop and hour of day; every dataset is then produced from those rows,
which are mergeable sums (counts, totals, histograms), so a month is a sum of days. Percentiles
come from 30-s delay histograms, which merge exactly.

Pure: no I/O; the caller reads the messages and passes the schedule lookup (``delay_of``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from central_hub.opendata.domain.datasets import OCCUPANCY_STATUSES

BERLIN = ZoneInfo("Europe/Berlin")
#: width of a delay histogram bin (s); delays are clamped to ±DELAY_LIMIT_S
DELAY_BIN_S = 30
DELAY_LIMIT_S = 3600
#: a gap between two green starts longer than this is a pause, not a cycle (s)
MAX_CYCLE_S = 300


def local(ts_ms: int) -> datetime:
    """The local (Europe/Berlin) time of ``ts_ms``."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(BERLIN)


@dataclass(frozen=True, slots=True)
class PositionRow:
    """What the roll-up reads of a ``position`` message."""

    ts: int
    route_id: str | None
    trip_id: str | None
    stop_id: str | None
    stop_status: str
    lat: float = 0.0
    lon: float = 0.0


@dataclass(frozen=True, slots=True)
class OccupancyRow:
    """What the roll-up reads of an ``occupancy`` message."""

    ts: int
    passengers: int
    status: str


@dataclass(frozen=True, slots=True)
class WlanRow:
    """What the roll-up reads of a ``wlan`` message: no client address, only counters."""

    ts: int
    authenticated: int
    bytes: int


@dataclass(slots=True)
class StopHour:
    """Sums of one line's calls at one stop in one hour of one day."""

    calls: int = 0
    boardings: int = 0
    alightings: int = 0
    load_sum: int = 0
    load_n: int = 0
    statuses: list[int] = field(default_factory=lambda: [0] * len(OCCUPANCY_STATUSES))

    def merge(self, other: StopHour) -> None:
        """Add ``other``'s sums to these."""
        self.calls += other.calls
        self.boardings += other.boardings
        self.alightings += other.alightings
        self.load_sum += other.load_sum
        self.load_n += other.load_n
        self.statuses = [a + b for a, b in zip(self.statuses, other.statuses, strict=True)]


@dataclass(slots=True)
class BusRollup:
    """What one or more bus-hours add to the statistics.

    ``stops``: (day, route, stop, hour) → sums; ``delays``: (day, route, stop, bin) → calls;
    ``wlan``: (day, route) → [sessions, bytes].
    """

    stops: dict[tuple[date, str, str, int], StopHour] = field(default_factory=dict)
    delays: dict[tuple[date, str, str, int], int] = field(
        default_factory=lambda: defaultdict(int))
    wlan: dict[tuple[date, str], list[int]] = field(default_factory=dict)


def delay_bin(delay_s: float) -> int:
    """The histogram bin (its lower edge, s) of a delay."""
    d = max(-DELAY_LIMIT_S, min(DELAY_LIMIT_S, delay_s))
    return int(d // DELAY_BIN_S) * DELAY_BIN_S


@dataclass(slots=True)
class _Call:
    route: str
    stop: str
    start: int
    last: PositionRow
    boardings: int = 0
    alightings: int = 0
    passengers: int | None = None
    status: str | None = None


def roll_bus(positions: Sequence[PositionRow], occupancies: Sequence[OccupancyRow],
             wlans: Sequence[WlanRow], *, start_ms: int, end_ms: int,
             delay_of: Callable[[PositionRow], float | None],
             into: BusRollup | None = None) -> BusRollup:
    """Fold one bus's messages of ``[start_ms, end_ms)`` into ``into`` (or a new roll-up).

    Messages before ``start_ms`` may be passed: they set the state the hour starts in (the
    bus's line, its passengers, its counters) and are not counted. A call (consecutive
    ``STOPPED_AT`` positions at one stop) counts in the hour it began; the passengers it
    gained and lost are its boardings and alightings, the passengers and the occupancy status
    when it ends are its load; its delay is the schedule deviation of its last position.
    """
    out = into if into is not None else BusRollup()
    events: list[tuple[int, int, object]] = [(p.ts, 0, p) for p in positions]
    events += [(o.ts, 1, o) for o in occupancies]
    events += [(w.ts, 2, w) for w in wlans]
    events.sort(key=lambda e: (e[0], e[1]))
    route: str | None = None
    call: _Call | None = None
    passengers: int | None = None
    status: str | None = None
    auth: int | None = None
    volume: int | None = None

    def close(c: _Call) -> None:
        if not start_ms <= c.start < end_ms:
            return
        t = local(c.start)
        key = (t.date(), c.route, c.stop, t.hour)
        s = out.stops.setdefault(key, StopHour())
        s.calls += 1
        s.boardings += c.boardings
        s.alightings += c.alightings
        load = c.passengers if c.passengers is not None else passengers
        if load is not None:
            s.load_sum += load
            s.load_n += 1
        st = c.status or status
        if st in OCCUPANCY_STATUSES:
            s.statuses[OCCUPANCY_STATUSES.index(st)] += 1
        delay = delay_of(c.last)
        if delay is not None:
            out.delays[(t.date(), c.route, c.stop, delay_bin(delay))] += 1

    for ts, kind, ev in events:
        if kind == 0:
            assert isinstance(ev, PositionRow)
            route = ev.route_id or route
            at = ev.stop_status == "STOPPED_AT" and ev.stop_id is not None
            moved = call is not None and (ev.stop_id, ev.route_id) != (call.stop, call.route)
            if call is not None and (not at or moved):
                close(call)
                call = None
            if at and ev.route_id and ev.stop_id:
                if call is None:
                    call = _Call(ev.route_id, ev.stop_id, ts, ev)
                call.last = ev
        elif kind == 1:
            assert isinstance(ev, OccupancyRow)
            if call is not None and passengers is not None and ts >= start_ms:
                delta = ev.passengers - passengers
                if delta > 0:
                    call.boardings += delta
                else:
                    call.alightings -= delta
            if call is not None:
                call.passengers, call.status = ev.passengers, ev.status
            passengers, status = ev.passengers, ev.status
        else:
            assert isinstance(ev, WlanRow)
            if ts >= start_ms and ts < end_ms and route is not None:
                w = out.wlan.setdefault((local(ts).date(), route), [0, 0])
                if auth is not None and ev.authenticated > auth:
                    w[0] += ev.authenticated - auth
                if volume is not None:
                    w[1] += ev.bytes - volume if ev.bytes >= volume else ev.bytes
            auth, volume = ev.authenticated, ev.bytes
    if call is not None:
        close(call)
    return out


@dataclass(frozen=True, slots=True)
class SignalChange:
    """A signal group's state change (the hub's signal history)."""

    sg: str
    state: str
    start_ms: int


GREEN = frozenset({"permissive-Movement-Allowed", "protected-Movement-Allowed"})


@dataclass(slots=True)
class SignalDay:
    """One intersection's sums for one day: per group green and observed time, the cycles of
    its first group, priority requests, fail-safe minutes and prediction errors by band."""

    green_ms: dict[str, int] = field(default_factory=dict)
    observed_ms: dict[str, int] = field(default_factory=dict)
    cycles: int = 0
    cycle_ms: int = 0
    granted: int = 0
    rejected: int = 0
    failsafe_min: float = 0.0
    band_rows: list[int] = field(default_factory=lambda: [0, 0, 0])
    band_err_ms: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    bounded: int = 0
    inside: int = 0


def roll_signals(changes: Iterable[SignalChange], *, start_ms: int, end_ms: int,
                 day: SignalDay) -> SignalDay:
    """Add the green and observed time of ``[start_ms, end_ms)`` and the cycles begun in it.

    ``changes`` are every change of the window and, per group, the last one before it (the
    state the window starts in); time after a group's last change up to ``end_ms`` counts
    in its last state.
    """
    by_sg: dict[str, list[SignalChange]] = defaultdict(list)
    for c in sorted(changes, key=lambda c: c.start_ms):
        by_sg[c.sg].append(c)
    first_sg = min(by_sg) if by_sg else None
    for sg, rows in by_sg.items():
        for i, c in enumerate(rows):
            until = rows[i + 1].start_ms if i + 1 < len(rows) else end_ms
            a, b = max(c.start_ms, start_ms), min(until, end_ms)
            if b <= a:
                continue
            day.observed_ms[sg] = day.observed_ms.get(sg, 0) + (b - a)
            if c.state in GREEN:
                day.green_ms[sg] = day.green_ms.get(sg, 0) + (b - a)
        if sg == first_sg:
            starts = [c.start_ms for i, c in enumerate(rows) if c.state in GREEN
                      and (i == 0 or rows[i - 1].state not in GREEN)]
            for prev, nxt in pairwise(starts):
                if start_ms <= nxt < end_ms and nxt - prev <= MAX_CYCLE_S * 1000:
                    day.cycles += 1
                    day.cycle_ms += nxt - prev
    return day


def percentile(histogram: dict[int, int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a delay histogram, at the middle of its bin."""
    total = sum(histogram.values())
    if total == 0:
        return None
    need = q * total
    seen = 0
    for edge in sorted(histogram):
        seen += histogram[edge]
        if seen >= need:
            return edge + DELAY_BIN_S / 2
    return max(histogram) + DELAY_BIN_S / 2

"""The open-data queries, one function per question, on the caller's connection.

WHY on the caller's connection: a use case decides the transaction (an hour's roll-up is
replaced whole, a version and its files are written together); these functions only say
what to read and write. The producers' sums are done by the database (``GROUP BY`` over the
hourly roll-up), so a month at Kassel scale never crosses into Python row by row.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, delete, func, insert, select, update

from central_hub.opendata import tables as t
from central_hub.opendata.domain.records import VersionState
from central_hub.opendata.domain.rollup import BusRollup, SignalDay, StopHour, local


def replace_hour(conn: Connection, hour_ms: int, buses: BusRollup,
                 signals: dict[str, SignalDay]) -> None:
    """Write the roll-up of the hour starting at ``hour_ms`` in place of what it had."""
    for table in t.ROLLUP_TABLES:
        conn.execute(delete(table).where(table.c.hour_ms == hour_ms))
    day = local(hour_ms).date()
    rows: list[dict[str, object]] = [
        {"hour_ms": hour_ms, "day": d, "route_id": r, "stop_id": s, "hour": h,
         "calls": v.calls, "boardings": v.boardings, "alightings": v.alightings,
         "load_sum": v.load_sum, "load_n": v.load_n,
         **{f"status{i}": n for i, n in enumerate(v.statuses)}}
        for (d, r, s, h), v in buses.stops.items()]
    if rows:
        conn.execute(insert(t.stop_hours), rows)
    rows = [{"hour_ms": hour_ms, "day": d, "route_id": r, "stop_id": s, "bin_s": b, "calls": n}
            for (d, r, s, b), n in buses.delays.items()]
    if rows:
        conn.execute(insert(t.delays), rows)
    rows = [{"hour_ms": hour_ms, "day": d, "route_id": r, "sessions": v[0], "bytes": v[1]}
            for (d, r), v in buses.wlan.items()]
    if rows:
        conn.execute(insert(t.wlan_hours), rows)
    groups = [{"hour_ms": hour_ms, "day": day, "intersection_id": iid, "sg": sg,
               "green_ms": s.green_ms.get(sg, 0), "observed_ms": observed}
              for iid, s in signals.items() for sg, observed in s.observed_ms.items()]
    if groups:
        conn.execute(insert(t.signal_groups), groups)
    rows = [{"hour_ms": hour_ms, "day": day, "intersection_id": iid, "cycles": s.cycles,
             "cycle_ms": s.cycle_ms, "granted": s.granted, "rejected": s.rejected,
             "failsafe_min": s.failsafe_min,
             **{f"band{b}_rows": s.band_rows[b] for b in range(3)},
             **{f"band{b}_err_ms": s.band_err_ms[b] for b in range(3)},
             "bounded": s.bounded, "inside": s.inside}
            for iid, s in signals.items()]
    if rows:
        conn.execute(insert(t.signal_hours), rows)


def watermark(conn: Connection, name: str) -> int | None:
    """The value of watermark ``name``, ``None`` before the first."""
    value = conn.execute(select(t.watermarks.c.value).where(t.watermarks.c.name == name)
                         ).scalar_one_or_none()
    return None if value is None else int(value)


def set_watermark(conn: Connection, name: str, value: int) -> None:
    """Move watermark ``name`` to ``value``."""
    if conn.execute(update(t.watermarks).where(t.watermarks.c.name == name)
                    .values(value=value)).rowcount == 0:
        conn.execute(insert(t.watermarks).values(name=name, value=value))


def data_days(conn: Connection, first: date, last: date) -> tuple[date, date] | None:
    """The first and last day in ``[first, last]`` the roll-up has rows of."""
    lo, hi = None, None
    for table in (t.stop_hours, t.signal_hours, t.wlan_hours):
        a, b = conn.execute(select(func.min(table.c.day), func.max(table.c.day))
                            .where(table.c.day.between(first, last))).one()
        if a is not None:
            lo = a if lo is None else min(lo, a)
            hi = b if hi is None else max(hi, b)
    return None if lo is None or hi is None else (lo, hi)


def occupancy(conn: Connection, first: date, last: date) -> list[tuple[str, str, int, StopHour]]:
    """Per line, stop and hour of day: the sums of ``[first, last]``."""
    c = t.stop_hours.c
    q = (select(c.route_id, c.stop_id, c.hour, func.sum(c.calls), func.sum(c.boardings),
                func.sum(c.alightings), func.sum(c.load_sum), func.sum(c.load_n),
                *(func.sum(c[f"status{i}"]) for i in range(5)))
         .where(c.day.between(first, last)).group_by(c.route_id, c.stop_id, c.hour))
    return [(r[0], r[1], int(r[2]), StopHour(int(r[3]), int(r[4]), int(r[5]), int(r[6]),
                                             int(r[7]), [int(x) for x in r[8:13]]))
            for r in conn.execute(q)]


def delay_histograms(conn: Connection, first: date, last: date
                     ) -> list[tuple[str, str, dict[int, int]]]:
    """Per line and stop: the delay histogram of ``[first, last]``."""
    c = t.delays.c
    q = (select(c.route_id, c.stop_id, c.bin_s, func.sum(c.calls))
         .where(c.day.between(first, last)).group_by(c.route_id, c.stop_id, c.bin_s))
    out: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for route, stop, edge, n in conn.execute(q):
        out[(route, stop)][int(edge)] = int(n)
    return [(r, s, h) for (r, s), h in out.items()]


def wlan(conn: Connection, first: date, last: date) -> list[tuple[date, str, int, int]]:
    """Per day and line: sessions and bytes."""
    c = t.wlan_hours.c
    q = (select(c.day, c.route_id, func.sum(c.sessions), func.sum(c.bytes))
         .where(c.day.between(first, last)).group_by(c.day, c.route_id))
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in conn.execute(q)]


def signals(conn: Connection, first: date, last: date) -> list[tuple[date, str, SignalDay]]:
    """Per day and intersection: the day's sums, its groups' green and observed time."""
    days: dict[tuple[date, str], SignalDay] = defaultdict(SignalDay)
    c = t.signal_hours.c
    q = (select(c.day, c.intersection_id, func.sum(c.cycles), func.sum(c.cycle_ms),
                func.sum(c.granted), func.sum(c.rejected), func.sum(c.failsafe_min),
                *(func.sum(c[f"band{b}_rows"]) for b in range(3)),
                *(func.sum(c[f"band{b}_err_ms"]) for b in range(3)),
                func.sum(c.bounded), func.sum(c.inside))
         .where(c.day.between(first, last)).group_by(c.day, c.intersection_id))
    for r in conn.execute(q):
        d = days[(r[0], r[1])]
        d.cycles, d.cycle_ms, d.granted, d.rejected = int(r[2]), int(r[3]), int(r[4]), int(r[5])
        d.failsafe_min = float(r[6])
        d.band_rows = [int(x) for x in r[7:10]]
        d.band_err_ms = [float(x) for x in r[10:13]]
        d.bounded, d.inside = int(r[13]), int(r[14])
    g = t.signal_groups.c
    q = (select(g.day, g.intersection_id, g.sg, func.sum(g.green_ms), func.sum(g.observed_ms))
         .where(g.day.between(first, last)).group_by(g.day, g.intersection_id, g.sg))
    for g_row in conn.execute(q):
        d = days[(g_row[0], str(g_row[1]))]
        d.green_ms[str(g_row[2])] = int(g_row[3])
        d.observed_ms[str(g_row[2])] = int(g_row[4])
    return [(day, iid, d) for (day, iid), d in days.items()]


# --- versions and files ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionRow:
    """A stored version of a dataset (its files apart)."""

    dataset_id: str
    version: int
    state: VersionState
    produced_ms: int
    published_ms: int | None
    withdrawn_ms: int | None
    first_day: date | None
    last_day: date | None
    rows: int
    report: dict[str, object]
    produced_by: str


def _version(r: Sequence[object]) -> VersionRow:
    report = json.loads(str(r[9]))
    return VersionRow(str(r[0]), int(str(r[1])), VersionState(r[2]), int(str(r[3])),
                      None if r[4] is None else int(str(r[4])),
                      None if r[5] is None else int(str(r[5])),
                      r[6] if isinstance(r[6], date) else None,
                      r[7] if isinstance(r[7], date) else None,
                      int(str(r[8])), report if isinstance(report, dict) else {}, str(r[10]))


_VERSION_COLUMNS = (t.versions.c.dataset_id, t.versions.c.version, t.versions.c.state,
                    t.versions.c.produced_ms, t.versions.c.published_ms,
                    t.versions.c.withdrawn_ms, t.versions.c.first_day, t.versions.c.last_day,
                    t.versions.c.rows, t.versions.c.report, t.versions.c.produced_by)


def add_version(conn: Connection, v: VersionRow,
                files: Iterable[tuple[str, str, bytes, str]]) -> None:
    """Store a version and its files ``(name, media type, content, sha256)``."""
    conn.execute(insert(t.versions).values(
        dataset_id=v.dataset_id, version=v.version, state=v.state.value,
        produced_ms=v.produced_ms, published_ms=v.published_ms, withdrawn_ms=v.withdrawn_ms,
        first_day=v.first_day, last_day=v.last_day, rows=v.rows,
        report=json.dumps(v.report, ensure_ascii=False), produced_by=v.produced_by))
    rows = [{"dataset_id": v.dataset_id, "version": v.version, "name": n, "media_type": m,
             "content": c, "sha256": h, "bytes": len(c)} for n, m, c, h in files]
    if rows:
        conn.execute(insert(t.files), rows)


def next_version(conn: Connection, dataset_id: str) -> int:
    """The number the dataset's next version gets."""
    top = conn.execute(select(func.max(t.versions.c.version))
                       .where(t.versions.c.dataset_id == dataset_id)).scalar_one_or_none()
    return 1 if top is None else int(top) + 1


def versions(conn: Connection, dataset_id: str | None = None) -> list[VersionRow]:
    """Every version (of one dataset), newest first."""
    q = select(*_VERSION_COLUMNS).order_by(t.versions.c.dataset_id, t.versions.c.version.desc())
    if dataset_id is not None:
        q = q.where(t.versions.c.dataset_id == dataset_id)
    return [_version(r) for r in conn.execute(q)]


def version(conn: Connection, dataset_id: str, number: int) -> VersionRow | None:
    """One version, ``None`` when there is none."""
    r = conn.execute(select(*_VERSION_COLUMNS).where(
        t.versions.c.dataset_id == dataset_id, t.versions.c.version == number)).one_or_none()
    return None if r is None else _version(r)


def set_state(conn: Connection, dataset_id: str, number: int, state: VersionState,
              at_ms: int) -> None:
    """Move a version to ``state`` (published or withdrawn at ``at_ms``)."""
    values: dict[str, object] = {"state": state.value}
    if state is VersionState.PUBLISHED:
        values["published_ms"] = at_ms
    elif state is VersionState.WITHDRAWN:
        values["withdrawn_ms"] = at_ms
    conn.execute(update(t.versions).where(t.versions.c.dataset_id == dataset_id,
                                          t.versions.c.version == number).values(**values))


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A stored file's description (not its content)."""

    name: str
    media_type: str
    sha256: str
    bytes: int


def file_infos(conn: Connection, dataset_id: str, number: int) -> list[FileInfo]:
    """The files of a version, by name."""
    c = t.files.c
    q = (select(c.name, c.media_type, c.sha256, c.bytes)
         .where(c.dataset_id == dataset_id, c.version == number).order_by(c.name))
    return [FileInfo(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in conn.execute(q)]


def file_content(conn: Connection, dataset_id: str, number: int, name: str) -> bytes | None:
    """A file's bytes, ``None`` when there is none."""
    c = t.files.c
    value = conn.execute(select(c.content).where(
        c.dataset_id == dataset_id, c.version == number, c.name == name)).scalar_one_or_none()
    return None if value is None else bytes(value)


def chunks(content: bytes, size: int = 65_536) -> Iterator[bytes]:
    """``content`` in pieces, for a streamed answer."""
    for i in range(0, len(content), size):
        yield content[i:i + size]

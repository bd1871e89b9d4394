"""The producers: each dataset's table computed from the statistics roll-up (or, for the
Kitas, from the latest allocation round), before the privacy gate.

WHY pure: a producer is arithmetic over rows (sums, shares, percentiles); kept free of the
database it is tested directly with made-up rows, and the same code runs on SQLite and
PostgreSQL, whichever read the rows.

Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from central_hub.opendata.domain.datasets import (
    KITA,
    OCCUPANCY,
    OCCUPANCY_STATUSES,
    PUNCTUALITY,
    SIGNALS,
    WLAN,
)
from central_hub.opendata.domain.districts import district_of
from central_hub.opendata.domain.records import Table
from central_hub.opendata.domain.rollup import DELAY_BIN_S, SignalDay, StopHour, percentile

#: on time, as the VDV counts it: from 1 min early to 3 min late (s)
ON_TIME_S = (-60, 180)


def _r(x: float, digits: int = 3) -> float:
    return round(x, digits)


def occupancy(rows: Iterable[tuple[str, str, int, StopHour]]) -> Table:
    """Rows ``(route, stop, hour, sums over the period)`` → the occupancy table."""
    out = []
    for route, stop, hour, s in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        n = sum(s.statuses)
        out.append((route, stop, hour, s.calls, s.boardings, s.alightings,
                    _r(s.load_sum / s.load_n, 1) if s.load_n else None,
                    *(_r(c / n) if n else None for c in s.statuses)))
    return Table(OCCUPANCY.columns, tuple(out))


def punctuality(histograms: Iterable[tuple[str, str, dict[int, int]]]) -> Table:
    """Rows ``(route, stop, {delay bin: calls})`` → the punctuality table."""
    out = []
    lo, hi = ON_TIME_S
    for route, stop, h in sorted(histograms, key=lambda r: (r[0], r[1])):
        calls = sum(h.values())
        if not calls:
            continue
        on_time = sum(n for edge, n in h.items() if edge >= lo and edge + DELAY_BIN_S <= hi)
        out.append((route, stop, calls, percentile(h, 0.5), percentile(h, 0.9),
                    percentile(h, 0.95), _r(on_time / calls)))
    return Table(PUNCTUALITY.columns, tuple(out))


def wlan(rows: Iterable[tuple[date, str, int, int]]) -> Table:
    """Rows ``(day, route, sessions, bytes)`` → the WLAN table (MB, 10⁶ bytes)."""
    out = [(day, route, sessions, _r(volume / 1e6, 1))
           for day, route, sessions, volume in sorted(rows, key=lambda r: (r[0], r[1]))]
    return Table(WLAN.columns, tuple(out))


def signals(days: Iterable[tuple[date, str, SignalDay]]) -> Table:
    """Rows ``(day, intersection, sums)`` → the signal table, a row per signal group."""
    out = []
    for day, iid, d in sorted(days, key=lambda r: (r[0], r[1])):
        maes = [_r(err / n / 1000, 2) if n else None
                for n, err in zip(d.band_rows, d.band_err_ms, strict=True)]
        inside = _r(d.inside / d.bounded) if d.bounded else None
        mean_cycle = _r(d.cycle_ms / d.cycles / 1000, 1) if d.cycles else None
        for sg in sorted(d.observed_ms):
            observed = d.observed_ms[sg]
            out.append((day, iid, sg,
                        _r(d.green_ms.get(sg, 0) / observed) if observed else None,
                        d.cycles, mean_cycle, d.granted, d.rejected, _r(d.failsafe_min, 1),
                        *maes, inside))
    return Table(SIGNALS.columns, tuple(out))


@dataclass(frozen=True, slots=True)
class KitaPlaces:
    """A Kita's places of one age group, where it is."""

    kita_id: str
    age_group: str
    capacity: int
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class KitaOutcome:
    """One application as the statistics see it: no child, only where it wished first and
    which of its wishes the latest round offered (``None``: no offer)."""

    first_choice: str
    age_group: str
    offered_rank: int | None


def kita(places: Sequence[KitaPlaces], outcomes: Iterable[KitaOutcome]) -> Table:
    """Places, applications and offers by wish rank per district of the first choice and age
    group, and the Kitas with more first-choice applications than places."""
    district = {(p.kita_id, p.age_group): district_of(p.lat, p.lon) for p in places}
    any_group = {p.kita_id: district_of(p.lat, p.lon) for p in places}
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 9)
    firsts: dict[tuple[str, str], int] = defaultdict(int)
    for p in places:
        cells[(district[(p.kita_id, p.age_group)], p.age_group)][0] += p.capacity
    for o in outcomes:
        where = district.get((o.first_choice, o.age_group)) or any_group.get(o.first_choice)
        if where is None:
            continue
        c = cells[(where, o.age_group)]
        c[1] += 1
        c[1 + (o.offered_rank if o.offered_rank and 1 <= o.offered_rank <= 5 else 6)] += 1
        firsts[(o.first_choice, o.age_group)] += 1
    for p in places:
        if firsts[(p.kita_id, p.age_group)] > p.capacity:
            cells[(district[(p.kita_id, p.age_group)], p.age_group)][8] += 1
    rows = tuple((d, g, *c) for (d, g), c in sorted(cells.items()))
    return Table(KITA.columns, rows)


__all__ = ["OCCUPANCY_STATUSES", "KitaOutcome", "KitaPlaces", "kita", "occupancy",
           "punctuality", "signals", "wlan"]

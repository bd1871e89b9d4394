"""Seeded, Kassel-like statistics roll-ups for the demo, the benchmark and large tests.

WHY generated roll-ups: the producers read the hourly roll-up, never raw messages; to show a
month of the city in the demo, or to measure a month at Kassel scale (300 buses, 300
intersections), the roll-up rows are generated as the hourly job would write them: buses of
each line calling at its stops with a daily rhythm of passengers (peaks at 7-8 and 16-17
o'clock), delays that grow in the peaks, WLAN sessions, and intersections with 60-120-s
cycles, bus priority requests and the odd fail-safe minute. The same seed always gives the
same rows.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from central_hub.opendata import store
from central_hub.opendata.domain.rollup import (
    BERLIN,
    BusRollup,
    SignalDay,
    StopHour,
    delay_bin,
)
from central_hub.opendata.statistics import WATERMARK

#: passengers boarding per call at each hour of the day, relative to the peak
RHYTHM = (0.05, 0.02, 0.01, 0.01, 0.03, 0.2, 0.55, 1.0, 0.9, 0.5, 0.4, 0.45, 0.55, 0.5, 0.55,
          0.7, 1.0, 0.9, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1)


def kassel_network(routes: int, stops_per_route: int, intersections: int
                   ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """A made-up network: ``routes`` lines of ``stops_per_route`` stops (neighbouring lines
    share some) and ``intersections`` with 4-10 signal groups."""
    lines = {str(r + 1): [f"st-{(r * stops_per_route // 2 + s):04d}"
                          for s in range(stops_per_route)] for r in range(routes)}
    rng = random.Random(7)
    signals = {f"ks-{i + 1:04d}": [f"K{g + 1}" for g in range(rng.randint(4, 10))]
               for i in range(intersections)}
    return lines, signals


def hours(first: date, days: int) -> Iterator[int]:
    """The start (epoch ms) of every local hour of ``days`` days from ``first``."""
    start = datetime(first.year, first.month, first.day, tzinfo=BERLIN)
    for h in range(days * 24):
        yield int((start + timedelta(hours=h)).timestamp() * 1000)


def bus_hour(hour_ms: int, lines: Mapping[str, Sequence[str]], *, calls_per_hour: int,
             rng: random.Random) -> BusRollup:
    """One hour of the buses' roll-up: every line calls ``calls_per_hour`` times at each stop."""
    local = datetime.fromtimestamp(hour_ms / 1000, BERLIN)
    day, hour = local.date(), local.hour
    peak = RHYTHM[hour]
    out = BusRollup()
    if peak < 0.03:
        return out
    for route, stops in lines.items():
        load = 0
        for i, stop in enumerate(stops):
            s = StopHour()
            s.calls = calls_per_hour
            for _ in range(calls_per_hour):
                board = rng.randint(0, int(12 * peak) + 1) if i < len(stops) - 1 else 0
                alight = min(load, rng.randint(0, int(10 * peak) + 1)) if i else 0
                if i == len(stops) - 1:
                    alight = load
                load = max(0, load + board - alight)
                s.boardings += board
                s.alightings += alight
                s.load_sum += load
                s.load_n += 1
                pct = load / 40
                s.statuses[0 if pct <= 0.7 else 1 if pct <= 0.99 else 2 if pct <= 1.14
                           else 3 if pct <= 1.3 else 4] += 1
                delay = rng.gauss(30 + 150 * peak * i / len(stops), 40 + 60 * peak)
                b = (day, route, stop, delay_bin(delay))
                out.delays[b] += 1
            out.stops[(day, route, stop, hour)] = s
        sessions = rng.randint(0, int(30 * peak) + 2) * calls_per_hour
        out.wlan[(day, route)] = [sessions, sessions * rng.randint(2_000_000, 9_000_000)]
    return out


def signal_hour(hour_ms: int, signals: Mapping[str, Sequence[str]], *,
                rng: random.Random) -> dict[str, SignalDay]:
    """One hour of the intersections' roll-up."""
    hour = datetime.fromtimestamp(hour_ms / 1000, BERLIN).hour
    out = {}
    for iid, groups in signals.items():
        d = SignalDay()
        cycle = 60 + 30 * (zlib.crc32(iid.encode()) % 3) + (20 if RHYTHM[hour] > 0.5 else 0)
        d.cycles = 3600 // cycle
        d.cycle_ms = d.cycles * cycle * 1000
        for g in groups:
            d.observed_ms[g] = 3_600_000
            d.green_ms[g] = int(3_600_000 * rng.uniform(0.15, 0.45))
        d.granted = rng.randint(0, int(6 * RHYTHM[hour]) + 1)
        d.rejected = rng.randint(0, 1) if RHYTHM[hour] > 0.5 else 0
        d.failsafe_min = 1.0 if rng.random() < 0.002 else 0.0
        d.band_rows = [rng.randint(200, 400), rng.randint(300, 600), rng.randint(100, 300)]
        d.band_err_ms = [n * rng.uniform(300, 900) for n in d.band_rows[:1]] + [
            n * rng.uniform(800, 2500) for n in d.band_rows[1:2]] + [
            n * rng.uniform(2000, 6000) for n in d.band_rows[2:]]
        d.bounded = d.cycles * len(groups)
        d.inside = int(d.bounded * rng.uniform(0.97, 1.0))
        out[iid] = d
    return out



def seed_rollup(engine: Engine, lines: Mapping[str, Sequence[str]],
                signals: Mapping[str, Sequence[str]], *, first: date, days: int, seed: int,
                calls_per_hour: int = 3) -> int:
    """Write ``days`` generated days from ``first`` into the roll-up at ``engine`` and move
    the roll-up's watermark past them (the schedule then rolls up only what came after, and
    never replaces a generated hour with the empty raw data of that hour); the hours written.
    """
    rng = random.Random(seed)
    last = None
    for hour in hours(first, days):
        with engine.begin() as conn:
            store.replace_hour(conn, hour, bus_hour(hour, lines, calls_per_hour=calls_per_hour,
                                                    rng=rng), signal_hour(hour, signals, rng=rng))
        last = hour
    if last is not None:
        with engine.begin() as conn:
            store.set_watermark(conn, WATERMARK, last)
    return days * 24

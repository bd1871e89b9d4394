"""Benchmark of the journey planner (``central_hub/mobility``): latency, peers, London, HTTP.

Why: the goal is "a journey query answers in p50 < 10 ms, p99 < 50 ms on one core" for a
Kassel-sized network with real time applied, and the planner is pure Python where the usual
engines are C++ (nigiri, MOTIS) or another pure-Python RAPTOR (pyraptor). The sections:

* ``latency``: the Kassel-sized synthetic network (``simulations.city_network.KASSEL``: 569
  stops, 36 lines, 7,168 trips a day, times to the second) with real time applied (a
  GTFS-RT TripUpdate feed delaying a seeded 5 % of the day's trips by 1-10 minutes, through
  ``realtime.merge`` + ``timetable.build``); seeded random stop-to-stop queries leaving
  05:00-22:00 on 2026-12-07, after a warm-up; p50/p99 of the bare ``raptor.search``
  (``max_rides`` 5, the origin and destination stops with their footpaths, as the planner
  searches) and of the whole use case ``Planner.plan`` (itineraries, crowding alternative);
  printed as ratios against the goals. Also the build of the network with real time.
* ``peers``: the same feed and the same queries (stop ids and times) in two peers, each in
  its own virtual environment and process, printing its own p50/p99 as JSON:
  ``pyraptor`` 1.3.10 (pure Python, ``/tmp/pyraptor-venv``) on a GTFS copy adapted to its
  preprocessing (below), and ``pynigiri`` 0.1.5 (nigiri, C++, ``/tmp/nv``) on the GTFS zip
  with the same TripUpdate feed applied by nigiri (``route_with_rt``). The venvs are created
  with the exact versions when missing; a peer that cannot run is reported and skipped.
  Caveats printed with the figures: nigiri works in whole minutes (times and delays
  truncated); it runs twice, with walks between stops up to 400 m apart (as ours) and with
  its default 100 m (no walks in this feed, whose stops are 350 m apart), because walking
  changes its cost several-fold. pyraptor reads one service day, has no GTFS-RT (the delays
  are written into its copy's stop_times), walks only between stops of one station (none
  here) and needs no change time at a stop; it runs for a time budget, not every query (a
  query takes it seconds), and its preprocessing (minutes) is cached under
  ``/tmp/pyraptor-venv/bench-cache/`` for the next run.
* ``london``: a London-sized network (~20,000 stops; Delling, Pajor, Werneck, *Round-Based
  Public Transit Routing*, ALENEX 2012, Sec. 5: 20,843 stops, 2,225 routes, 133,011 trips,
  5,132,672 departures); build time and memory (RSS growth) of the network, and p50/p99/mean
  of ``raptor.search`` (``max_rides`` 5, no real time) over random queries at any time of
  day, against the paper's Table 1: RAPTOR on London, 7.3 ms on average (C++, one core of a
  3.33 GHz Xeon X5680, 10,000 random queries, 8.4 rounds on average). ``simulations.
  city_network.LONDON`` (size 170, 280 lines): 20,343 stops, 7.7 million stop times a day.
* ``http``: a real hub (Mosquitto, uvicorn, the hub's app as the tests start it) in its own
  process on the Kassel-sized feed as ``gtfs.static``; 50 concurrent ``httpx`` clients in
  this process, back to back for ``--seconds``, on ``GET /api/v1/journeys`` against the same
  clients on ``GET /api/v1/whoami`` (a public route doing next to nothing) of the same hub,
  measured in the same run: requests/s and p50/p99 latency. The hub's real time comes from
  its buses: there are none, so these queries run without delays. Every client is
  127.0.0.1, so the hub's per-address limit of journey queries is raised (it stays in the
  path): this measures the planner's throughput, not the limiter's refusals.

Everything but the HTTP section runs pinned to one core; in ``http`` the hub and the clients
each get their own core. Times are best read as ratios: the machine is shared.

Run: ``.venv/bin/python bench/bench_journeys.py [--quick] [--only latency,peers,london,http]``
(about 15 minutes in full, 4-5 of them making the London network and 4 preprocessing for
pyraptor on a first run; ``--quick`` about 6 with pyraptor's cache, 10 without; the London
section needs about 8 GB of memory).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import hashlib
import io
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from google.transit import gtfs_realtime_pb2 as rt  # noqa: E402

from central_hub.broker import MosquittoBroker, free_port  # noqa: E402
from central_hub.core.config import JourneyLimit, RateLimitsSettings  # noqa: E402
from central_hub.domain.gtfs_rt import (  # noqa: E402
    VehicleSnapshot,
    trip_updates,
    vehicle_positions,
)
from central_hub.domain.schedule import Schedule, parse  # noqa: E402
from central_hub.mobility.domain import raptor, realtime, timetable  # noqa: E402
from central_hub.mobility.model import JourneyQuery  # noqa: E402
from central_hub.mobility.planner import Planner  # noqa: E402
from central_hub.mobility.settings import MobilitySettings  # noqa: E402
from edge_agent.contract.payloads import Position  # noqa: E402
from simulations.city_network import KASSEL, LONDON, feed_files  # noqa: E402
from simulations.gtfs_synth import write_zip  # noqa: E402
from tests.integration.central_hub.helpers import hub_config, start_hub  # noqa: E402

DAY = date(2026, 12, 7)
TZ = ZoneInfo("Europe/Berlin")
GOAL_P50_MS = 10.0
GOAL_P99_MS = 50.0
#: Delling, Pajor, Werneck 2012, Table 1: RAPTOR on London, average query time
PAPER_LONDON_MS = 7.3
#: ~20,000 stops
LONDON_20K = LONDON
DELAYED_SHARE = 0.05
MAX_RIDES = 5
CHANGE_S = 120
WALK_MPS = 1.25

PYRAPTOR_VENV = Path("/tmp/pyraptor-venv")
#: pyraptor's own pins (pandas < 2) need numpy < 2; it imports attrs without declaring it
PYRAPTOR_PINS = ("pyraptor==1.3.10", "pandas==1.5.3", "numpy==1.26.4", "loguru==0.6.0",
                 "joblib==1.6.0", "attrs==26.1.0")
PYRAPTOR_IMPORT = "import pyraptor.gtfs.timetable, pyraptor.model.raptor"
NIGIRI_VENV = Path("/tmp/nv")
NIGIRI_PINS = ("pynigiri==0.1.5", "gtfs-realtime-bindings==3.0.0", "protobuf==7.36.2",
               "numpy==2.4.6")
NIGIRI_IMPORT = "import pynigiri, google.transit.gtfs_realtime_pb2"

Query = tuple[str, str, int]  # origin stop_id, destination stop_id, departure epoch s


# --- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stats:
    """Latency percentiles of ``n`` timed calls, in milliseconds."""

    n: int
    p50: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        ms = sorted(s * 1e3 for s in seconds)
        if not ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(len(ms), percentile(ms, 0.50), percentile(ms, 0.99), statistics.fmean(ms),
                   ms[-1])

    def __str__(self) -> str:
        return (f"p50 {self.p50:7.2f} ms  p99 {self.p99:7.2f} ms  mean {self.mean:7.2f} ms  "
                f"max {self.max:7.1f} ms  (n={self.n})")


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def timed(run: Callable[[Query], object], queries: Sequence[Query]) -> list[float]:
    """Wall time of ``run`` for each query, one after the other (full collection first)."""
    out = []
    gc.collect()
    for q in queries:
        start = time.perf_counter()
        run(q)
        out.append(time.perf_counter() - start)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    """This process's resident set now (MB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss in KiB


@contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Run the block (and the processes it starts) on one CPU."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


@dataclass
class Summary:
    """The rows of the summary table: section, figure, measured, reference, ratio."""

    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def add(self, section: str, figure: str, measured: str, reference: str = "",
            ratio: str = "") -> None:
        self.rows.append((section, figure, measured, reference, ratio))

    def print(self) -> None:
        heads = ("section", "figure", "measured", "against", "ratio")
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(heads)]
        line = "  ".join(f"{{:{w}}}" for w in widths)
        print("\n" + line.format(*heads))
        print("  ".join("-" * w for w in widths))
        for row in self.rows:
            print(line.format(*row))


# --- the Kassel-sized feed, its real time and the queries ----------------------------------


def midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp())


def make_queries(stops: Sequence[str], n: int, seed: int, from_h: int = 5,
                 to_h: int = 22) -> list[Query]:
    """``n`` random stop pairs (origin != destination) leaving between the hours on DAY."""
    rng = random.Random(seed)
    base = midnight(DAY)
    out = []
    for _ in range(n):
        origin, destination = rng.sample(stops, 2)
        out.append((origin, destination, base + rng.randrange(from_h * 3600, to_h * 3600)))
    return out


def delay_feed(schedule: Schedule, share: float, seed: int) -> tuple[rt.FeedMessage,
                                                                      dict[str, int]]:
    """A TripUpdate feed delaying ``share`` of DAY's trips by 60-600 s from their first call
    (propagated to every later call); also the delays by trip."""
    rng = random.Random(seed)
    trips = sorted(schedule.trips)
    delays = {t: rng.randrange(60, 601) for t in rng.sample(trips, round(share * len(trips)))}
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = rt.FeedHeader.FULL_DATASET
    feed.header.timestamp = midnight(DAY) + 8 * 3600
    for trip_id, delay in sorted(delays.items()):
        ent = feed.entity.add()
        ent.id = trip_id
        tu = ent.trip_update
        tu.trip.trip_id = trip_id
        tu.trip.start_date = DAY.strftime("%Y%m%d")
        tu.trip.schedule_relationship = rt.TripDescriptor.SCHEDULED
        first = schedule.trips[trip_id].stop_times[0]
        stu = tu.stop_time_update.add()
        stu.stop_sequence = first.stop_sequence
        stu.stop_id = first.stop_id
        stu.arrival.delay = delay
        stu.departure.delay = delay
    return feed, delays


@dataclass(frozen=True)
class Kassel:
    """The Kassel-sized feed as files and parsed, its real time and the queries."""

    files: dict[str, str]
    schedule: Schedule
    feed: rt.FeedMessage
    delays: dict[str, int]
    live: realtime.Realtime
    warmup: list[Query]
    queries: list[Query]


@cache
def kassel(n_queries: int, n_warmup: int, seed: int) -> Kassel:
    files = feed_files(KASSEL)
    schedule = parse(files)
    feed, delays = delay_feed(schedule, DELAYED_SHARE, seed)
    both = make_queries(sorted(schedule.stops), n_warmup + n_queries, seed)
    return Kassel(files, schedule, feed, delays, realtime.merge([feed]), both[:n_warmup],
                  both[n_warmup:])


def access(net: timetable.Network, stop: int) -> list[tuple[int, int]]:
    """The stop and the stops a footpath away, with seconds of walking (as the planner)."""
    return [(stop, 0)] + [(o, raptor.walk_seconds(m, WALK_MPS)) for o, m in net.footpaths[stop]]


def bare_search(net: timetable.Network, q: Query) -> list[raptor.Journey]:
    origin, destination, t = q
    return raptor.search(net, raptor.Search(
        access(net, net.index[origin]), dict(access(net, net.index[destination])), t,
        max_rides=MAX_RIDES, walk_speed_mps=WALK_MPS, change_s=CHANGE_S))


# --- (a) latency ----------------------------------------------------------------------------


def bench_latency(k: Kassel, summary: Summary) -> None:
    s = k.schedule
    events = sum(len(t.stop_times) for t in s.trips.values())
    print(f"\n== latency: Kassel-sized network, {len(s.stops)} stops, {len(s.routes)} routes, "
          f"{len(s.trips)} trips, {events} stop times a day; {len(k.delays)} trips delayed "
          f"60-600 s on {DAY}")
    builds = []
    net = None
    for _ in range(3):
        gc.collect()
        start = time.perf_counter()
        net = timetable.build(s, DAY, k.live)
        builds.append(time.perf_counter() - start)
    assert net is not None
    print(f"network of 3 service days with real time: {len(net.runs)} runs, "
          f"{len(net.patterns)} patterns, built in {min(builds):.2f} s (best of 3)")
    summary.add("latency", "build network, real time applied", f"{min(builds):.2f} s")
    changed = sum(1 for r in net.runs if r.realtime)
    print(f"runs changed by real time: {changed}")

    def bare(q: Query) -> object:
        return bare_search(net, q)

    planner = Planner(s, MobilitySettings(), lambda: k.live)

    def plan(q: Query) -> object:
        origin, destination, t = q
        return planner.plan(JourneyQuery(f"stop:{origin}", f"stop:{destination}", t * 1000))

    for run in (bare, plan):  # warm-up (the planner builds its network here)
        timed(run, k.warmup)
    found = sum(1 for q in k.queries if bare(q))
    # interleaved, alternating which goes first: both see the same (shared) machine
    times: dict[str, list[float]] = {"bare": [], "plan": []}
    gc.collect()
    for n, q in enumerate(k.queries):
        for name in ("bare", "plan") if n % 2 == 0 else ("plan", "bare"):
            run = bare if name == "bare" else plan
            start = time.perf_counter()
            run(q)
            times[name].append(time.perf_counter() - start)
    for label, name in (("raptor.search (max_rides 5)", "bare"), ("Planner.plan", "plan")):
        st = Stats.of(times[name])
        print(f"{label:28} {st}")
        print(f"{'':28} p50 {st.p50 / GOAL_P50_MS:.2f}x the goal of {GOAL_P50_MS:.0f} ms, "
              f"p99 {st.p99 / GOAL_P99_MS:.2f}x the goal of {GOAL_P99_MS:.0f} ms "
              f"({'met' if st.p50 < GOAL_P50_MS and st.p99 < GOAL_P99_MS else 'MISSED'})")
        summary.add("latency", f"{label} p50", f"{st.p50:.2f} ms", f"goal {GOAL_P50_MS:.0f} ms",
                    f"{st.p50 / GOAL_P50_MS:.2f}x")
        summary.add("latency", f"{label} p99", f"{st.p99:.2f} ms", f"goal {GOAL_P99_MS:.0f} ms",
                    f"{st.p99 / GOAL_P99_MS:.2f}x")
    print(f"queries with at least one journey: {found}/{len(k.queries)}")


# --- (a'') reading live real time ----------------------------------------------------------

LIVE_BUSES = 300


def bench_live(k: Kassel, summary: Summary) -> None:
    """What one reading of our own buses' real time costs (as ``live_realtime`` reads it:
    TripUpdates and VehiclePositions from the live state, each bus matched to its trip,
    merged), against a journey query: why one reading serves the queries of a second."""
    s = k.schedule
    at = midnight(DAY) + 8 * 3600
    running = []
    for trip in sorted(s.trips.values(), key=lambda t: t.trip_id):
        calls = trip.stop_times
        if len(calls) > 4 and calls[0].departure_s <= 8 * 3600 <= calls[-1].arrival_s:
            running.append(trip)
    rng = random.Random(1)
    buses = []
    for n, trip in enumerate(rng.sample(running, min(LIVE_BUSES, len(running)))):
        call = next((c for c in trip.stop_times if c.departure_s >= 8 * 3600),
                    trip.stop_times[-1])
        stop = s.stops[call.stop_id]
        pos = Position(ts=at * 1000, seq=1, vehicle_id=f"{1000 + n}", lat=stop.lat,
                       lon=stop.lon, bearing=0.0, speed_mps=0.0, route_id=trip.route_id,
                       trip_id=trip.trip_id, stop_id=call.stop_id, stop_status="STOPPED_AT")
        buses.append(VehicleSnapshot(pos.vehicle_id, pos, None))

    def read() -> realtime.Realtime:
        now = at * 1000 + 500
        return realtime.merge([trip_updates(buses, now, s), vehicle_positions(buses, now, s)])

    read()
    times = []
    for _ in range(50):
        start = time.perf_counter()
        live = read()
        times.append(time.perf_counter() - start)
    st = Stats.of(times)
    planner = Planner(s, MobilitySettings(), lambda: k.live)
    for q in k.warmup:
        planner.plan(JourneyQuery(f"stop:{q[0]}", f"stop:{q[1]}", q[2] * 1000))
    plans = []
    for q in k.queries[:200]:
        start = time.perf_counter()
        planner.plan(JourneyQuery(f"stop:{q[0]}", f"stop:{q[1]}", q[2] * 1000))
        plans.append(time.perf_counter() - start)
    plan = Stats.of(plans)
    print(f"\n== reading live real time: {len(buses)} buses on their trips at 08:00, "
          f"{len(live.changes)} trip updates")
    print(f"{'one reading':28} {st}")
    print(f"{'Planner.plan, same run':28} {plan}")
    print(f"one reading / one query: p50 {st.p50 / plan.p50:.1f}x")
    summary.add("live", f"reading real time of {len(buses)} buses p50",
                f"{st.p50:.1f} ms", f"Planner.plan {plan.p50:.2f} ms",
                f"{st.p50 / plan.p50:.1f}x")


# --- (a') range queries ---------------------------------------------------------------------

RANGE_WINDOW_S = 3600


def bench_range(k: Kassel, n: int, summary: Summary) -> None:
    """rRAPTOR over an hour against its baseline, one plain search per departure time in the
    hour (what the labels it keeps save), on the same queries, interleaved."""
    net = timetable.build(k.schedule, DAY, k.live)
    queries = k.queries[:n]
    print(f"\n== range queries: every option leaving in {RANGE_WINDOW_S // 60} minutes, "
          f"{len(queries)} queries, real time applied")

    def asked(q: Query) -> raptor.Search:
        origin, destination, t = q
        return raptor.Search(access(net, net.index[origin]),
                             dict(access(net, net.index[destination])), t,
                             max_rides=MAX_RIDES, walk_speed_mps=WALK_MPS, change_s=CHANGE_S)

    def ranged(q: Query) -> int:
        return len(raptor.range_search(net, asked(q), RANGE_WINDOW_S))

    def repeated(q: Query) -> int:
        a = asked(q)
        times = {dep - w for s, w in a.origins for p, pos in net.stop_patterns[s]
                 for dep in net.patterns[p].deps[pos] if a.time_s <= dep - w
                 <= a.time_s + RANGE_WINDOW_S}
        found = [j for t in sorted(times, reverse=True)
                 for j in raptor.search(net, raptor.Search(
                     a.origins, a.destinations, t, max_rides=MAX_RIDES,
                     walk_speed_mps=WALK_MPS, change_s=CHANGE_S))]
        return len(found)

    for run in (ranged, repeated):
        timed(run, k.warmup[:20])
    times: dict[str, list[float]] = {"ranged": [], "repeated": []}
    options = 0
    gc.collect()
    for m, q in enumerate(queries):
        for name in ("ranged", "repeated") if m % 2 == 0 else ("repeated", "ranged"):
            start = time.perf_counter()
            got = (ranged if name == "ranged" else repeated)(q)
            times[name].append(time.perf_counter() - start)
            if name == "ranged":
                options += got
    r, b = Stats.of(times["ranged"]), Stats.of(times["repeated"])
    print(f"{'raptor.range_search':28} {r}")
    print(f"{'a search per departure':28} {b}")
    print(f"rRAPTOR / repeated: p50 {r.p50 / b.p50:.2f}x, p99 {r.p99 / b.p99:.2f}x; "
          f"{options / len(queries):.1f} options per query")
    summary.add("range", "range_search p50 / p99 (1 h)", f"{r.p50:.1f} / {r.p99:.1f} ms",
                f"repeated {b.p50:.1f} / {b.p99:.1f} ms",
                f"{r.p50 / b.p50:.2f}x / {r.p99 / b.p99:.2f}x")


# --- (b) peers ------------------------------------------------------------------------------

NIGIRI_SCRIPT = r'''
import datetime as dt, gc, json, sys, time
import pynigiri as ng
cfg = json.load(open(sys.argv[1]))
day = dt.date.fromisoformat(cfg["day"])
with open(cfg["rt"], "rb") as f:
    feed = f.read()
out = []
for link_m in cfg["link_m"]:  # footpaths between stops up to this far apart
    start = time.perf_counter()
    loader = ng.LoaderConfig()
    loader.link_stop_distance = link_m
    tt = ng.load_timetable([ng.TimetableSource("kassel", cfg["gtfs"], loader)],
                           str(day - dt.timedelta(days=1)), str(day + dt.timedelta(days=2)))
    load_s = time.perf_counter() - start
    rtt = ng.create_rt_timetable(tt, dt.datetime(day.year, day.month, day.day))
    st = ng.gtfsrt_update_from_bytes(tt, rtt, ng.SourceIdx(0), "kassel", feed)
    locs = {}
    def one(q):
        o, d, t = q
        for s in (o, d):
            if s not in locs:
                locs[s] = tt.find_location(s)
        query = ng.Query()
        query.start_time = t // 60
        query.start = [ng.Offset(locs[o], 0, 0)]
        query.destination = [ng.Offset(locs[d], 0, 0)]
        query.max_transfers = cfg["max_rides"] - 1
        return ng.route_with_rt(tt, rtt, query)
    for q in cfg["warmup"]:
        one(q)
    times, found = [], 0
    gc.collect()
    for q in cfg["queries"]:
        t0 = time.perf_counter()
        js = one(q)
        times.append(time.perf_counter() - t0)
        found += bool(js)
    out.append({"link_m": link_m, "times": times, "found": found, "load_s": load_s,
                "rt": [st.total_entities, st.total_entities_success, st.total_entities_fail]})
print(json.dumps({"runs": out}))
'''

PYRAPTOR_SCRIPT = r'''
import gc, json, os, sys, time
from loguru import logger
logger.remove()  # pyraptor logs every round; the timing is of the search, not the logging
from pyraptor.gtfs.timetable import gtfs_to_pyraptor_timetable, read_gtfs_timetable
from pyraptor.model.raptor import RaptorAlgorithm, best_stop_at_target_station, reconstruct_journey
from pyraptor.dao.timetable import read_timetable, write_timetable
cfg = json.load(open(sys.argv[1]))
sys.setrecursionlimit(100_000)  # pickling its linked objects
start = time.perf_counter()
cached = os.path.exists(os.path.join(cfg["cache"], "timetable.pcl"))
if cached:  # preprocessed by an earlier run, for the same feed and pyraptor version
    tt = read_timetable(cfg["cache"])
else:
    tt = gtfs_to_pyraptor_timetable(read_gtfs_timetable(cfg["gtfs"], cfg["date"], [cfg["agency"]]))
prep_s = time.perf_counter() - start
if not cached:
    write_timetable(cfg["cache"], tt)
names, base, rounds = cfg["names"], cfg["midnight"], cfg["max_rides"]
def one(q):
    o, d, t = q
    bag = RaptorAlgorithm(tt).run(tt.stations.get(names[o]).stops, t - base, rounds)
    best = bag[rounds]
    dest = best_stop_at_target_station(tt.stations.get(names[d]).stops, best)
    return None if dest == 0 else reconstruct_journey(dest, best)
for q in cfg["warmup"]:
    one(q)
times, found = [], 0
gc.collect()
deadline = time.perf_counter() + cfg["budget_s"]
for q in cfg["queries"]:
    if time.perf_counter() > deadline and len(times) >= cfg["min_queries"]:
        break
    t0 = time.perf_counter()
    j = one(q)
    times.append(time.perf_counter() - t0)
    found += j is not None
print(json.dumps({"times": times, "found": found, "prep_s": prep_s, "cached": cached,
                  "routes": len(tt.routes), "transfers": len(tt.transfers)}))
'''


def ensure_venv(venv: Path, pins: Sequence[str], probe: str) -> str | None:
    """Create ``venv`` with ``pins`` unless it already imports ``probe``; the reason it
    cannot be used, or ``None``."""
    python = venv / "bin" / "python"

    def works() -> bool:
        return python.exists() and subprocess.run(
            [str(python), "-c", probe], check=False, capture_output=True,
            timeout=120).returncode == 0

    if works():
        return None
    print(f"creating {venv} with {' '.join(pins)}")
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                           capture_output=True, timeout=300)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", *pins],
                              check=False, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"creating {venv} failed: {exc}"
    if done.returncode != 0:
        return f"pip install into {venv} failed: {done.stderr.strip().splitlines()[-1:]}"
    return None if works() else f"{venv}: `{probe}` still fails after installing"


def run_peer(python: Path, script: str, cfg: dict[str, Any], workdir: Path, name: str,
             timeout_s: float) -> dict[str, Any] | str:
    """Run a peer's script on ``cfg``; its JSON result, or why it failed."""
    (workdir / f"peer_{name}.py").write_text(script)
    (workdir / f"{name}.json").write_text(json.dumps(cfg))
    err = workdir / f"{name}.stderr"
    try:
        with err.open("w") as stderr:
            done = subprocess.run([str(python), str(workdir / f"peer_{name}.py"),
                                   str(workdir / f"{name}.json")], stdout=subprocess.PIPE,
                                  stderr=stderr, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout_s:.0f} s"
    if done.returncode != 0 or not done.stdout.strip():
        tail = err.read_text().strip().splitlines()[-3:]
        return f"exit {done.returncode}: {' | '.join(tail)}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def pyraptor_feed(files: dict[str, str], delays: dict[str, int]) -> dict[str, str]:
    """The feed as pyraptor's preprocessing reads it (``pyraptor/gtfs/timetable.py``):
    ``calendar_dates.txt`` instead of ``calendar.txt``; trips with ``trip_short_name`` (an
    integer) and ``trip_long_name``; stops with ``stop_code``, ``platform_code`` and a
    ``parent_station`` (it drops stops without one: each stop gets a station of its own);
    and, having no GTFS-RT, the delays written into the delayed trips' stop times."""
    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(files[name])))

    def text(header: Sequence[str], body: Sequence[dict[str, Any]]) -> str:
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n")
        w.writeheader()
        w.writerows(body)
        return out.getvalue()

    stops = rows("stops.txt")
    stop_rows = [{**s, "stop_code": s["stop_id"], "platform_code": "1", "location_type": "0",
                  "parent_station": f"P{s['stop_id']}"} for s in stops]
    stop_rows += [{**s, "stop_id": f"P{s['stop_id']}", "stop_code": f"P{s['stop_id']}",
                   "platform_code": "", "location_type": "1", "parent_station": ""}
                  for s in stops]
    trips = rows("trips.txt")
    trip_rows = [{**t, "trip_short_name": str(n + 1), "trip_long_name": t["route_id"]}
                 for n, t in enumerate(trips)]
    times = []
    for r in rows("stop_times.txt"):
        d = delays.get(r["trip_id"], 0)
        if d:
            for key in ("arrival_time", "departure_time"):
                h, m, s = (int(x) for x in r[key].split(":"))
                r[key] = hms(h * 3600 + m * 60 + s + d)
        times.append(r)
    service = {t["service_id"] for t in trips}
    return {
        "agency.txt": files["agency.txt"],
        "routes.txt": files["routes.txt"],
        "stops.txt": text(list(stop_rows[0]), stop_rows),
        "trips.txt": text(list(trip_rows[0]), trip_rows),
        "stop_times.txt": text(list(times[0]), times),
        "calendar_dates.txt": text(["service_id", "date", "exception_type"],
                                   [{"service_id": s, "date": DAY.strftime("%Y%m%d"),
                                     "exception_type": "1"} for s in sorted(service)]),
    }


def bench_peers(k: Kassel, summary: Summary, pyraptor_budget_s: float) -> None:
    print(f"\n== peers: the same feed and {len(k.queries)} queries; our bare search for "
          "reference")
    net = timetable.build(k.schedule, DAY, k.live)
    timed(lambda q: bare_search(net, q), k.warmup)
    ours = Stats.of(timed(lambda q: bare_search(net, q), k.queries))
    print(f"{'ours, raptor.search':28} {ours}")
    summary.add("peers", "ours raptor.search p50 / p99",
                f"{ours.p50:.2f} / {ours.p99:.2f} ms")
    agency = next(csv.DictReader(io.StringIO(k.files["agency.txt"])))["agency_name"]
    names = {s.stop_id: s.name for s in k.schedule.stops.values()}
    base = {"day": DAY.isoformat(), "date": DAY.strftime("%Y%m%d"), "midnight": midnight(DAY),
            "max_rides": MAX_RIDES, "agency": agency, "names": names}
    with tempfile.TemporaryDirectory(prefix="bench-journeys-") as tmp:
        work = Path(tmp)
        # nigiri: the zip as written, the TripUpdate feed's bytes; walks up to 400 m (as ours)
        # and up to its default 100 m (none in this feed: its stops are 350 m apart)
        why = ensure_venv(NIGIRI_VENV, NIGIRI_PINS, NIGIRI_IMPORT)
        if why is None:
            write_zip(work / "kassel.zip", k.files)
            (work / "tripupdates.pb").write_bytes(k.feed.SerializeToString())
            cfg = {**base, "gtfs": str(work / "kassel.zip"), "rt": str(work / "tripupdates.pb"),
                   "link_m": [400, 100], "warmup": k.warmup, "queries": k.queries}
            res = run_peer(NIGIRI_VENV / "bin" / "python", NIGIRI_SCRIPT, cfg, work, "nigiri",
                           900)
            if isinstance(res, str):
                why = res
            else:
                for run in res["runs"]:
                    st = Stats.of(run["times"])
                    total, ok, fail = run["rt"]
                    link = run["link_m"]
                    label = f"pynigiri 0.1.5, {link} m"
                    print(f"{label:28} {st}")
                    print(f"{'':28} loaded in {run['load_s']:.2f} s; real time: {ok}/{total} "
                          f"trip updates applied ({fail} failed); journeys found "
                          f"{run['found']}/{st.n}; footpaths between stops up to {link} m "
                          "apart (link_stop_distance; ours: 400 m)")
                    print(f"{'':28} ours / nigiri: p50 {ours.p50 / st.p50:.1f}x, "
                          f"p99 {ours.p99 / st.p99:.1f}x")
                    summary.add("peers", f"pynigiri (C++, minutes), {link} m walks p50 / p99",
                                f"{st.p50:.2f} / {st.p99:.2f} ms", "ours / nigiri",
                                f"{ours.p50 / st.p50:.1f}x / {ours.p99 / st.p99:.1f}x")
                print(f"{'':28} nigiri works in whole minutes: times and delays truncated")
        if why is not None:
            print(f"pynigiri: not run: {why}")
            summary.add("peers", "pynigiri", f"not run: {why[:60]}")
        # pyraptor: its own GTFS reading, one service day, the delays in the stop times
        why = ensure_venv(PYRAPTOR_VENV, PYRAPTOR_PINS, PYRAPTOR_IMPORT)
        if why is None:
            gtfs = work / "pyraptor-gtfs"
            gtfs.mkdir()
            digest = hashlib.sha256(PYRAPTOR_SCRIPT.encode())
            for name, body in sorted(pyraptor_feed(k.files, k.delays).items()):
                (gtfs / name).write_text(body)
                digest.update(name.encode() + body.encode())
            cache = PYRAPTOR_VENV / "bench-cache" / digest.hexdigest()[:16]
            cfg = {**base, "gtfs": str(gtfs), "warmup": k.warmup[:2], "queries": k.queries,
                   "budget_s": pyraptor_budget_s, "min_queries": 5, "cache": str(cache)}
            res = run_peer(PYRAPTOR_VENV / "bin" / "python", PYRAPTOR_SCRIPT, cfg, work,
                           "pyraptor", pyraptor_budget_s * 3 + 600)
            if isinstance(res, str):
                why = res
            else:
                st = Stats.of(res["times"])
                mine = Stats.of(timed(lambda q: bare_search(net, q), k.queries[:st.n]))
                print(f"{'pyraptor 1.3.10 (Python)':28} {st}")
                how = "loaded its cached timetable" if res["cached"] else "preprocessed the GTFS"
                print(f"{'':28} {how} in {res['prep_s']:.1f} s ({res['routes']} routes, "
                      f"{res['transfers']} transfers); journeys found {res['found']}/{st.n}; "
                      f"the first {st.n} queries of the {len(k.queries)} (a "
                      f"{pyraptor_budget_s:.0f} s budget); ours on the same {st.n}: "
                      f"p50 {mine.p50:.2f} ms, p99 {mine.p99:.2f} ms")
                print(f"{'':28} pyraptor / ours: p50 {st.p50 / mine.p50:.0f}x, "
                      f"p99 {st.p99 / mine.p99:.0f}x")
                summary.add("peers", f"pyraptor (Python) p50 / p99, {st.n} queries",
                            f"{st.p50:.0f} / {st.p99:.0f} ms", "pyraptor / ours",
                            f"{st.p50 / mine.p50:.0f}x / {st.p99 / mine.p99:.0f}x")
        if why is not None:
            print(f"pyraptor: not run: {why}")
            summary.add("peers", "pyraptor", f"not run: {why[:60]}")


# --- (c) London -----------------------------------------------------------------------------


def bench_london(n_queries: int, seed: int, summary: Summary) -> None:
    print(f"\n== london: {LONDON_20K}")
    start = time.perf_counter()
    files = feed_files(LONDON_20K)
    gen_s = time.perf_counter() - start
    start = time.perf_counter()
    schedule = parse(files)
    parse_s = time.perf_counter() - start
    del files
    events = sum(len(t.stop_times) for t in schedule.trips.values())
    print(f"{len(schedule.stops)} stops, {len(schedule.routes)} lines, {len(schedule.trips)} "
          f"trips, {events} stop times a day (paper: 20,843 stops, 2,225 routes, 133,011 trips, "
          f"5,132,672 departures); generated in {gen_s:.0f} s, parsed in {parse_s:.0f} s")
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    net = timetable.build(schedule, DAY, realtime.Realtime())
    build_s = time.perf_counter() - start
    gc.collect()
    grown = rss_mb() - before
    print(f"network of 3 service days: {len(net.runs)} runs, {len(net.patterns)} patterns, "
          f"{sum(map(len, net.footpaths))} footpaths; built in {build_s:.1f} s, RSS grew "
          f"{grown:,.0f} MB (process now {rss_mb():,.0f} MB, peak {peak_rss_mb():,.0f} MB)")
    summary.add("london", "build network (3 days)", f"{build_s:.0f} s")
    summary.add("london", "network memory (RSS growth)", f"{grown:,.0f} MB")
    warm = max(10, n_queries // 10)
    queries = make_queries(sorted(schedule.stops), warm + n_queries, seed + 1, 0, 24)
    timed(lambda q: bare_search(net, q), queries[:warm])
    st = Stats.of(timed(lambda q: bare_search(net, q), queries[warm:]))
    print(f"{'raptor.search (max_rides 5)':28} {st}")
    print(f"{'':28} mean {st.mean / PAPER_LONDON_MS:.1f}x, p50 {st.p50 / PAPER_LONDON_MS:.1f}x "
          f"the paper's {PAPER_LONDON_MS} ms average (Delling et al. 2012, Table 1, C++, "
          "unlimited rounds)")
    summary.add("london", "raptor.search p50 / p99",
                f"{st.p50:.0f} / {st.p99:.0f} ms", f"paper {PAPER_LONDON_MS} ms (mean)",
                f"{st.p50 / PAPER_LONDON_MS:.1f}x / {st.p99 / PAPER_LONDON_MS:.1f}x")
    summary.add("london", "raptor.search mean", f"{st.mean:.0f} ms",
                f"paper {PAPER_LONDON_MS} ms (mean)", f"{st.mean / PAPER_LONDON_MS:.1f}x")


# --- (d) HTTP -------------------------------------------------------------------------------


def serve_hub(gtfs: Path, workdir: Path, port: int) -> None:
    """The hub as the integration tests start it, until stdin closes (a child process)."""
    with MosquittoBroker(workdir / "mosquitto") as broker:
        # every client here is 127.0.0.1: the per-address limit of journey queries (120 a
        # minute) would answer 429 to all but the first; the limiter stays in the path
        unlimited = RateLimitsSettings(journeys=JourneyLimit(burst=10**9, per_minute=1e12))
        srv = start_hub(hub_config(workdir, broker, gtfs=str(gtfs)), port=port,
                        rate_limits=unlimited)
        print("ready", flush=True)
        try:
            sys.stdin.read()
        finally:
            srv.stop()


@dataclass(frozen=True, slots=True)
class Load:
    """What the clients saw: requests, failures, latencies, wall and client CPU seconds."""

    requests: int
    failed: dict[int, int]  # status (other than 200) -> count
    latency: Stats
    wall_s: float
    client_cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.wall_s


async def drive(url: str, target: Callable[[random.Random], tuple[str, dict[str, str]]],
                clients: int, seconds: float) -> Load:
    """``clients`` tasks sending back to back for ``seconds`` (closed loop), each with a
    client and keep-alive connection of its own (one pool shared by 50 connections costs
    httpx milliseconds of CPU per request, and the load generator became the bottleneck)."""
    lat: list[float] = []
    failed: dict[int, int] = {}
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds

    async def client(n: int) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=url, timeout=60,
                                     limits=httpx.Limits(max_connections=1)) as http:
            await http.get("/api/v1/whoami")  # connected before the clock starts
            await ready.wait()
            while loop.time() < stop_at:
                path, params = target(rng)
                start = time.perf_counter()
                r = await http.get(path, params=params)
                lat.append(time.perf_counter() - start)
                if r.status_code != 200:
                    failed[r.status_code] = failed.get(r.status_code, 0) + 1

    ready = asyncio.Event()
    tasks = [asyncio.create_task(client(n)) for n in range(clients)]
    await asyncio.sleep(0.5)
    stop_at = loop.time() + seconds
    cpu, wall = time.process_time(), time.perf_counter()
    ready.set()
    await asyncio.gather(*tasks)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Load(len(lat), failed, Stats.of(lat), wall, cpu)


def bench_http(k: Kassel, clients: int, seconds: float, summary: Summary) -> None:
    print(f"\n== http: a hub on the Kassel-sized feed, {clients} clients, {seconds:.0f} s each")
    cores = cpus()
    hub_cpu, client_cpu = (cores[0], cores[-1]) if len(cores) >= 2 else (None, None)
    with tempfile.TemporaryDirectory(prefix="bench-journeys-hub-") as tmp:
        work = Path(tmp)
        gtfs = write_zip(work / "kassel.zip", k.files)
        port = free_port()
        with pinned(hub_cpu):
            proc = subprocess.Popen([sys.executable, __file__, "--serve-hub", str(gtfs),
                                     "--workdir", str(work), "--port", str(port)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # until the hub says it serves (or exits)
                if line.strip() == "ready":
                    break
            else:
                raise RuntimeError(f"the hub did not start (exit {proc.wait()})")
            url = f"http://127.0.0.1:{port}"
            queries = k.warmup + k.queries

            def journeys(rng: random.Random) -> tuple[str, dict[str, str]]:
                o, d, t = rng.choice(queries)
                return "/api/v1/journeys", {"from": f"stop:{o}", "to": f"stop:{d}",
                                            "time": str(t * 1000)}

            def whoami(rng: random.Random) -> tuple[str, dict[str, str]]:
                return "/api/v1/whoami", {}

            with httpx.Client(base_url=url, timeout=300) as http:  # the network is built here
                start = time.perf_counter()
                path, params = journeys(random.Random(0))
                first = http.get(path, params=params)
                print(f"first journey request (builds the network): {first.status_code} in "
                      f"{time.perf_counter() - start:.1f} s")
                for n in range(20):
                    path, params = journeys(random.Random(n))
                    http.get(path, params=params)
            hub_cpu_share: dict[str, float] = {}

            def measured(name: str, target: Callable[[random.Random], tuple[str, dict[str, str]]],
                         ) -> Load:
                before = cpu_seconds(proc.pid)
                load = asyncio.run(drive(url, target, clients, seconds))
                hub_cpu_share[name] = (cpu_seconds(proc.pid) - before) / load.wall_s
                return load

            with pinned(client_cpu):
                asyncio.run(drive(url, whoami, clients, min(3.0, seconds)))  # warm-up
                base = measured("whoami", whoami)
                plan = measured("journeys", journeys)
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    for name, load in (("whoami", base), ("journeys", plan)):
        print(f"GET /api/v1/{name:9} {load.rate:8.1f} req/s  {load.latency}  not 200: "
              f"{load.failed}; CPU: hub {hub_cpu_share[name]:.0%}, clients "
              f"{load.client_cpu_s / load.wall_s:.0%} of a core")
    print(f"journeys / whoami: {plan.rate / base.rate:.3f}x the requests/s, p50 "
          f"{plan.latency.p50 / base.latency.p50:.1f}x, "
          f"p99 {plan.latency.p99 / base.latency.p99:.1f}x")
    summary.add("http", f"journeys req/s ({clients} clients)", f"{plan.rate:.0f}/s",
                f"whoami {base.rate:.0f}/s", f"{plan.rate / base.rate:.3f}x")
    summary.add("http", "journeys p50 / p99",
                f"{plan.latency.p50:.0f} / {plan.latency.p99:.0f} ms",
                f"whoami {base.latency.p50:.0f} / {base.latency.p99:.0f} ms",
                f"{plan.latency.p50 / base.latency.p50:.1f}x / "
                f"{plan.latency.p99 / base.latency.p99:.1f}x")
    if plan.failed or base.failed:
        summary.add("http", "responses other than 200",
                    f"journeys {plan.failed}, whoami {base.failed}")


# --- main -----------------------------------------------------------------------------------

SECTIONS = ("latency", "live", "range", "peers", "london", "http")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries, shorter runs")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument("--queries", type=int, help="Kassel queries (default 1000; quick 200)")
    parser.add_argument("--london-queries", type=int, help="default 200; quick 40")
    parser.add_argument("--pyraptor-seconds", type=float, help="default 120; quick 20")
    parser.add_argument("--seconds", type=float, help="HTTP run per route (default 20; quick 5)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-hub", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hub is not None:
        serve_hub(args.serve_hub, args.workdir, args.port)
        return
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    quick = args.quick
    n_queries = args.queries or (200 if quick else 1000)
    n_warmup = max(20, n_queries // 10)
    print(f"load average {os.getloadavg()[0]:.2f}; CPUs {cpus()}; "
          f"{'quick' if quick else 'full'} run of {', '.join(only)}")
    summary = Summary()
    one_core = cpus()[-1] if cpus() else None
    k = kassel(n_queries, n_warmup, args.seed) \
        if {"latency", "live", "range", "peers", "http"} & set(only) \
        else None
    with pinned(one_core):
        if "latency" in only and k is not None:
            bench_latency(k, summary)
        if "live" in only and k is not None:
            bench_live(k, summary)
        if "range" in only and k is not None:
            bench_range(k, min(n_queries, 200), summary)
        if "peers" in only and k is not None:
            bench_peers(k, summary, args.pyraptor_seconds or (20.0 if quick else 120.0))
        if "london" in only:
            bench_london(args.london_queries or (40 if quick else 200), args.seed, summary)
    if "http" in only and k is not None:
        bench_http(k, args.clients, args.seconds or (5.0 if quick else 20.0), summary)
    summary.print()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

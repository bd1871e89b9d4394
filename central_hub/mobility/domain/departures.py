"""The departures board of a stop: the next vehicles, with real time and crowding.

WHY from the planner's network: the board and the journeys must tell the same story (a
cancelled trip is gone from both, a delayed one is late on both), so the board reads the
same runs, with real time applied, that the planner searches.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from central_hub.mobility.domain.timetable import Network, TripRun


@dataclass(frozen=True, slots=True)
class Departure:
    """One vehicle leaving the stop (times epoch s)."""

    run: TripRun
    call: int  # index into the run's calls
    scheduled_s: int
    expected_s: int

    @property
    def delay_s(self) -> int:
        """How late it leaves (negative: early)."""
        return self.expected_s - self.scheduled_s


def _from_pattern(net: Network, p: int, pos: int, time_s: int) -> Iterator[Departure]:
    pat = net.patterns[p]
    deps = pat.deps[pos]
    for r in range(bisect_left(deps, time_s), len(deps)):
        run = pat.runs[r]
        yield Departure(run, pos, deps[r] - run.delay[pos], deps[r])


def departures(net: Network, stop: int, time_s: int, limit: int) -> list[Departure]:
    """The next ``limit`` departures from ``stop`` at or after ``time_s`` (expected time),
    leaving out runs that end there."""
    streams = [_from_pattern(net, p, pos, time_s) for p, pos in net.stop_patterns[stop]
               if pos < len(net.patterns[p].stops) - 1]
    merged = heapq.merge(*streams, key=lambda d: (d.expected_s, d.run.trip.trip_id))
    out = []
    for dep in merged:
        out.append(dep)
        if len(out) >= limit:
            break
    return out

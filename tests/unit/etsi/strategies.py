"""Hypothesis strategies of SPaT payloads as a controller publishes them, with an ITS identity."""

from __future__ import annotations

from typing import get_args

from hypothesis import strategies as st

from edge_agent.contract.etsi.spatem import ItsIntersection
from edge_agent.contract.payloads import MovementPhaseState, SignalStatus, Spat

HOUR_MS = 3_600_000
#: 2001-09-09 .. 2096-10-02: any year, leap or not
TS = st.integers(1_000_000_000_000, 4_000_000_000_000)


@st.composite
def spat_and_its(draw: st.DrawFn) -> tuple[Spat, ItsIntersection]:
    """A valid Spat (ordered min <= likely <= max when given, as a controller's are) and the
    identity of its intersection."""
    ts = draw(TS)
    n = draw(st.integers(1, 16))
    its_sgs = draw(st.lists(st.integers(1, 255), min_size=n, max_size=n, unique=True))
    groups = []
    for i in range(n):
        times = sorted(draw(st.lists(st.integers(-3000, 2 * HOUR_MS), min_size=3, max_size=3)))
        known = draw(st.lists(st.booleans(), min_size=3, max_size=3))
        lo, likely, hi = (ts + t if k else None for t, k in zip(times, known, strict=True))
        groups.append({"sg": f"K{i}", "state": draw(st.sampled_from(get_args(MovementPhaseState))),
                       "min_end": lo, "max_end": hi, "likely_end": likely,
                       "confidence": draw(st.integers(0, 100)),
                       "next_green": draw(st.none() | st.integers(ts - 3000,
                                                                  ts + 2 * HOUR_MS)),
                       "green_end": draw(st.none() | st.integers(ts - 3000,
                                                                 ts + 2 * HOUR_MS))})
    spat = Spat(ts=ts, seq=draw(st.integers(0, 2**40)), intersection_id="ks-0042",
                revision=draw(st.integers(0, 10**6)),
                status=draw(st.sampled_from(get_args(SignalStatus))), groups=groups)
    its = ItsIntersection(station_id=draw(st.integers(0, 2**32 - 1)),
                          intersection_id=draw(st.integers(0, 65535)),
                          region=draw(st.none() | st.integers(0, 65535)),
                          signal_groups={f"K{i}": its_sgs[i] for i in range(n)})
    return spat, its

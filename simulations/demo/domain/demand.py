"""Passenger demand: how many board and alight at a stop, by the stop and the time of day.

Why this model: the occupancy a feed consumer sees should look like Kassel — the main
stations (Königsplatz, Hauptbahnhof, Bahnhof Wilhelmshöhe) and the university busy, the ends
of the lines quiet, full buses in the morning and afternoon peaks, nearly empty ones at night.
So boarding at a stop is Poisson with a mean of ``BASE_BOARDING × stop weight × time-of-day
factor`` (nobody boards at the last stop), and each rider alights at a stop with the chance
``stop weight / sum of the weights of the stops still ahead`` (everybody at the last stop):
riders leave where the activity is. Pure; the caller passes the random generator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

#: how busy a stop is relative to an ordinary one (1.0), by its name.
STOP_WEIGHTS: dict[str, float] = {
    "Königsplatz": 6.0,
    "Hauptbahnhof": 5.0,
    "Bahnhof Wilhelmshöhe": 5.0,
    "Holländischer Platz": 3.5,  # the university
    "Rathaus": 3.0,
    "Friedrichsplatz": 2.5,
    "Scheidemannplatz": 2.0,
    "Am Stern": 2.0,
    "Altmarkt": 1.5,
    "Auestadion": 1.2,
}
#: an end of a line that is not a main station.
QUIET_END_WEIGHT = 0.5
#: boarders at an ordinary stop at the time-of-day factor 1.0.
BASE_BOARDING = 3.0
#: (hour, factor) points of the day, linear in between: peaks at 7:30 and 16:30.
DAY_PROFILE: tuple[tuple[float, float], ...] = (
    (0.0, 0.15), (4.5, 0.1), (5.5, 0.4), (6.5, 1.1), (7.5, 1.7), (8.5, 1.4), (9.5, 0.8),
    (12.0, 0.9), (13.5, 1.0), (15.0, 1.2), (16.5, 1.7), (18.0, 1.3), (19.5, 0.7),
    (21.0, 0.4), (23.0, 0.25), (24.0, 0.15),
)


def stop_weight(name: str, *, is_end: bool) -> float:
    """How busy the stop is; the ends of a line are quiet unless they are main stations."""
    weight = STOP_WEIGHTS.get(name)
    if weight is not None:
        return weight
    return QUIET_END_WEIGHT if is_end else 1.0


def time_of_day_factor(t_s: float) -> float:
    """Demand at ``t_s`` seconds after local midnight relative to an ordinary hour."""
    hour = (t_s / 3600.0) % 24.0
    for (h0, f0), (h1, f1) in pairwise(DAY_PROFILE):
        if h0 <= hour <= h1:
            return f0 + (f1 - f0) * (hour - h0) / (h1 - h0)
    return DAY_PROFILE[-1][1]  # pragma: no cover - the profile covers 0..24


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass(frozen=True, slots=True)
class StopDemand:
    """What happens at one stop: riders who get off, people who get on."""

    alight: int
    board: int


def at_stop(rng: random.Random, names: Sequence[str], index: int, *, on_board: int,
            capacity: int, t_s: float) -> StopDemand:
    """Alighting and boarding at stop ``index`` of a trip whose stops are ``names``, with
    ``on_board`` riders in a vehicle for ``capacity`` people, at ``t_s``."""
    last = len(names) - 1
    weights = [stop_weight(n, is_end=i in (0, last)) for i, n in enumerate(names)]
    if index >= last:
        return StopDemand(on_board, 0)
    ahead = sum(weights[index:]) if index > 0 else 0.0
    p_off = weights[index] / ahead if ahead > 0 else 0.0
    alight = sum(1 for _ in range(on_board) if rng.random() < p_off)
    mean = BASE_BOARDING * weights[index] * time_of_day_factor(t_s)
    board = min(poisson(rng, mean), max(0, capacity - (on_board - alight)))
    return StopDemand(alight, board)


def dwell_s(demand: StopDemand, doors: int = 2) -> float:
    """Seconds the doors stay open: a fixed part and about 2 s a person per door."""
    per_door = math.ceil(max(demand.board, demand.alight) / max(1, doors))
    return min(60.0, 8.0 + 2.0 * per_door)

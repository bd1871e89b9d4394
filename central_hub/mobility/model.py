"""The records the mobility use cases take: what a passenger asks.

WHY apart from the rules: the API, the CLI and the engine port all speak in these records;
the domain's own records (itineraries, departures) are what the use cases give.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the modes a journey query may name
MODES = frozenset({"transit", "walk", "bike_sharing", "car_sharing"})
#: the longest range of departures one query may ask for (two hours: a range search costs
#: about one search per departure from the origin's stops in it)
MAX_WINDOW_S = 7200


@dataclass(frozen=True, slots=True)
class JourneyQuery:
    """A journey query as the API takes it (times epoch ms)."""

    origin: str  # ``stop:{stop_id}`` or ``{lat},{lon}``
    destination: str
    time_ms: int
    arrive_by: bool = False
    max_transfers: int | None = None
    wheelchair: bool = False
    walk_speed_mps: float | None = None
    modes: frozenset[str] = frozenset({"transit", "walk"})
    #: seconds after ``time_ms`` (before it, arrive-by) the options may leave (arrive): every
    #: option of that range that no other beats, not only the first
    window_s: int = 0

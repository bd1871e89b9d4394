"""The mobility service's use cases as the routes and the CLI reach them.

WHY a facade: the routes know one object (``app.state.mobility``); it holds the planner
(absent when the hub has no timetable: the routes then answer 503) and the source of real
time, which reads the hub's live state: our own buses' TripUpdates and occupancy, through
the same GTFS-Realtime reader an external operator's feed goes through.
"""

from __future__ import annotations

from collections.abc import Callable

from central_hub.mobility.bookings import BookingService
from central_hub.mobility.cycling import CyclistAdvice
from central_hub.mobility.domain.realtime import Realtime
from central_hub.mobility.planner import Engine, Planner
from central_hub.mobility.settings import MobilitySettings


class MobilityService:
    """Journey planning, departures, tickets and the cyclist's advice."""

    def __init__(self, settings: MobilitySettings, planner: Planner | None,
                 realtime: Callable[[], Realtime], engine: Engine | None = None, *,
                 bookings: BookingService | None = None,
                 cycling: CyclistAdvice | None = None) -> None:
        self.settings = settings
        self.planner = planner
        #: what answers journey queries: the planner, or a remote engine behind the port
        self.engine: Engine | None = engine or planner
        self.realtime = realtime
        #: ticket sales (absent when the hub has no fares or payment provider: 503)
        self.bookings = bookings
        #: the cyclist's next-light countdown and speed advice (absent: 503)
        self.cycling = cycling

    def refresh(self) -> bool:
        """Rebuild the planner's networks whose real time changed."""
        return self.planner.refresh() if self.planner is not None else False

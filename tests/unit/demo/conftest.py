"""A timetable like the demo's: the synthetic Kassel feed with the day's headways."""

from __future__ import annotations

import pytest

from central_hub.domain.schedule import parse
from simulations.demo.domain.city import LineStop
from simulations.demo.domain.timetable import ScheduledTrip
from simulations.gtfs_synth import KASSEL_DAY, feed_files


def kassel_trips() -> list[ScheduledTrip]:
    """Every trip of the demo's feed, as the runner builds them."""
    schedule = parse(feed_files(first_s=0, last_s=24 * 3600, headway_s=KASSEL_DAY))
    stops = {sid: LineStop(sid, s.name, s.lat, s.lon) for sid, s in schedule.stops.items()}
    return [ScheduledTrip(t.trip_id, t.route_id, t.direction_id or 0,
                          tuple(stops[c.stop_id] for c in t.stop_times),
                          tuple(c.arrival_s for c in t.stop_times),
                          tuple(c.departure_s for c in t.stop_times))
            for t in sorted(schedule.trips.values(), key=lambda t: t.trip_id)]


@pytest.fixture(scope="session")
def trips() -> list[ScheduledTrip]:
    return kassel_trips()

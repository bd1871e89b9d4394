"""The mobility service as the hub mounts it: its planner, real time and routes.

WHY a mount: the hub knows a service only through one :class:`~central_hub.core.services.
HubService` (see that module for the shape every service has). Opening the service builds
the planner on the hub's static timetable, wires real time from the hub's live state (our
own buses' TripUpdates and VehiclePositions, built as the hub's GTFS-Realtime feeds are) and
starts the loop that rebuilds the planner's timetable when real time changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from central_hub.core.services import HubService
from central_hub.domain.gtfs_rt import VehicleSnapshot, trip_updates, vehicle_positions
from central_hub.hub import Hub
from central_hub.mobility.api import create_mobility_router, create_public_routes
from central_hub.mobility.bookings import open_bookings
from central_hub.mobility.cycling import CyclistAdvice, intersections_of
from central_hub.mobility.domain.realtime import Realtime, merge
from central_hub.mobility.planner import Planner
from central_hub.mobility.realtime_feeds import RealtimeFeeds
from central_hub.mobility.service import MobilityService
from central_hub.mobility.sharing_feeds import SharingFeeds

log = logging.getLogger(__name__)
#: the passenger app's files, served at ``/app/`` (its page: :mod:`~central_hub.mobility.app_page`)
WEB = Path(__file__).parent / "web"


#: how long one reading of real time serves queries (our own feeds are built from the live
#: state and every bus matched to its trip for it: milliseconds with a few hundred buses,
#: more than the search itself; a position is at most this much older for the planner)
REALTIME_REUSE_S = 1.0

T = TypeVar("T")


def reuse_for(seconds: float, read: Callable[[], T],
              clock: Callable[[], float] = time.monotonic) -> Callable[[], T]:
    """``read``, called at most once per ``seconds``; in between, its last answer. Queries
    on several threads may both read at a boundary: harmless, the later answer stays."""
    last: list[tuple[float, T]] = []

    def cached() -> T:
        now = clock()
        if last and now - last[0][0] < seconds:
            return last[0][1]
        value = read()
        last[:] = [(now, value)]
        return value
    return cached


def live_realtime(hub: Hub, external: RealtimeFeeds) -> Callable[[], Realtime]:
    """Real time from other operators' feeds and the hub's live state, through the one
    GTFS-Realtime reader; our own buses' word on a trip wins (they are read last). One
    reading serves every query of :data:`REALTIME_REUSE_S`."""
    def read() -> Realtime:
        schedule = hub.schedule
        if schedule is None:
            return Realtime()
        now = int(time.time() * 1000)
        vehicles = [VehicleSnapshot(v.vehicle_id, v.position, v.occupancy)
                    for v in list(hub.state.vehicles.values())]
        return merge([*external.messages(), trip_updates(vehicles, now, schedule),
                      vehicle_positions(vehicles, now, schedule)])
    return reuse_for(REALTIME_REUSE_S, read)


async def refresh_loop(service: MobilityService) -> None:
    """Rebuild the planner's timetable every ``realtime_refresh_s`` when real time changed."""
    while True:
        await asyncio.sleep(service.settings.realtime_refresh_s)
        try:
            if await asyncio.to_thread(service.refresh):
                log.debug("mobility: timetable rebuilt with new real time")
        except Exception:
            log.exception("mobility: rebuilding the timetable failed")


def _feed_alarms(hub: Hub, kind: str) -> tuple[Callable[[str, str], None],
                                               Callable[[str], None]]:
    """A feed poller's refusals and recoveries as the alarm of ``kind``: ``sharing``
    (``sharing_feed_refused``) or ``realtime`` (``realtime_feed_refused``)."""
    def report(name: str, reason: str | None) -> None:
        if hub.alarms is None:
            return
        engine = hub.alarms.engine
        rule = engine.on_sharing_feed if kind == "sharing" else engine.on_realtime_feed
        hub.alarms.submit(rule(name, reason, now=int(time.time() * 1000)))

    def refused(name: str, reason: str) -> None:
        report(name, reason)

    def accepted(name: str) -> None:
        report(name, None)
    return refused, accepted


@asynccontextmanager
async def open_mobility(hub: Hub) -> AsyncIterator[MobilityService]:
    """Build the planner (when the hub has a timetable) and the sharing feeds' poller, yield
    the service, run the refresh loop and the poller; stop both on the way out."""
    settings = hub.runtime.settings.mobility
    refused, accepted = _feed_alarms(hub, "sharing")
    rt_refused, rt_accepted = _feed_alarms(hub, "realtime")
    external = RealtimeFeeds(settings.realtime_feeds, max_bytes=settings.realtime_max_bytes,
                             on_refused=rt_refused, on_accepted=rt_accepted)
    realtime = live_realtime(hub, external)
    async with SharingFeeds(settings.sharing_operators, on_refused=refused,
                            on_accepted=accepted, limits=settings.sharing_limits) as feeds:
        planner = Planner(hub.schedule, settings, realtime, sharing=feeds.systems) \
            if hub.schedule is not None else None
        service = MobilityService(settings, planner, realtime)
        service.cycling = CyclistAdvice(lambda: intersections_of(hub.state),
                                        stale_ms=hub.runtime.settings.alarms.spat_stale_ms)
        tasks = [asyncio.create_task(refresh_loop(service), name="mobility_refresh")]
        if settings.sharing_operators:
            tasks.append(asyncio.create_task(feeds.run(), name="mobility_sharing_feeds"))
        if settings.realtime_feeds:
            tasks.append(asyncio.create_task(external.run(), name="mobility_realtime_feeds"))
        try:
            async with open_bookings(hub) as bookings:
                service.bookings = bookings
                yield service
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await external.aclose()


MOBILITY = HubService(name="mobility", create_router=create_mobility_router,
                      open=open_mobility, create_public_router=create_public_routes,
                      pages=(("/app", WEB),))

"""Real time as the planner takes it: trip changes and vehicle occupancy from GTFS-Realtime.

WHY one reader for every feed: our own buses' TripUpdates and VehiclePositions (built by
:mod:`central_hub.domain.gtfs_rt`) and any external operator's feed arrive as the same
protobuf, so they go through the same parser and the same rules; a feed that cannot be
parsed is refused as a whole (:class:`~central_hub.mobility.errors.FeedError`) and the
planner keeps what it had. The rules of applying a change to a trip are GTFS-Realtime's:
a stop time update sets the times of its call; calls after it take its delay until the next
update (delay propagation); calls before the first update keep their schedule; a ``SKIPPED``
call cannot be boarded or left; a ``CANCELED`` trip does not run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

from central_hub.mobility.errors import FeedError

#: the GTFS-RT occupancy statuses at which a trip counts as crowded
CROWDED = frozenset({"STANDING_ROOM_ONLY", "CRUSHED_STANDING_ROOM_ONLY", "FULL",
                     "NOT_ACCEPTING_PASSENGERS"})


@dataclass(frozen=True, slots=True)
class StopUpdate:
    """One ``StopTimeUpdate``: absolute times (epoch s) or delays (s), or a skipped call."""

    stop_sequence: int | None
    stop_id: str | None
    arrival_time: int | None = None
    arrival_delay: int | None = None
    departure_time: int | None = None
    departure_delay: int | None = None
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class TripChange:
    """What a feed says of one trip: cancelled, or changed call by call."""

    trip_id: str
    start_date: date | None
    canceled: bool = False
    #: the trip-level delay, used when no call has an update
    delay: int | None = None
    stops: tuple[StopUpdate, ...] = ()
    #: when the feed said it (epoch s): picks the service day when ``start_date`` is absent.
    #: Not compared: a bus that reports again with the same delay changes nothing, and the
    #: planner rebuilds its timetable only when real time changed (``Planner.refresh``)
    timestamp: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Realtime:
    """Everything known in real time, merged from every feed."""

    changes: Mapping[tuple[str, date | None], TripChange] = field(default_factory=dict)
    #: trip_id -> the GTFS-RT occupancy status its vehicle reports
    occupancy: Mapping[str, str] = field(default_factory=dict)
    #: trip_id -> occupancy percentage, where reported
    occupancy_percentage: Mapping[str, int] = field(default_factory=dict)

    def change_for(self, trip_id: str, day: date) -> TripChange | None:
        """The change for this trip on this service day (one without a date matches any)."""
        return self.changes.get((trip_id, day)) or self.changes.get((trip_id, None))


def _start_date(desc: rt.TripDescriptor) -> date | None:
    if not desc.start_date:
        return None
    try:
        return datetime.strptime(desc.start_date, "%Y%m%d").date()
    except ValueError as exc:
        raise FeedError(f"trip {desc.trip_id!r}: start_date {desc.start_date!r} is not "
                        "YYYYMMDD") from exc


def _event(ev: rt.TripUpdate.StopTimeEvent) -> tuple[int | None, int | None]:
    return (ev.time if ev.HasField("time") else None,
            ev.delay if ev.HasField("delay") else None)


def _change(tu: rt.TripUpdate, header_ts: int) -> TripChange:
    desc = tu.trip
    canceled = desc.schedule_relationship == rt.TripDescriptor.CANCELED
    stops = []
    for stu in tu.stop_time_update:
        arr_t, arr_d = _event(stu.arrival) if stu.HasField("arrival") else (None, None)
        dep_t, dep_d = _event(stu.departure) if stu.HasField("departure") else (None, None)
        stops.append(StopUpdate(
            stu.stop_sequence if stu.HasField("stop_sequence") else None,
            stu.stop_id or None, arr_t, arr_d, dep_t, dep_d,
            stu.schedule_relationship == rt.TripUpdate.StopTimeUpdate.SKIPPED))
    return TripChange(desc.trip_id, _start_date(desc), canceled,
                      tu.delay if tu.HasField("delay") else None, tuple(stops),
                      tu.timestamp or header_ts)


def parse_feed(data: bytes, max_bytes: int) -> rt.FeedMessage:
    """A GTFS-RT feed from its bytes; :class:`FeedError` when it is too large or not one."""
    if len(data) > max_bytes:
        raise FeedError(f"feed of {len(data)} bytes is over the limit of {max_bytes}")
    feed = rt.FeedMessage()
    try:
        feed.ParseFromString(data)
    except DecodeError as exc:
        raise FeedError(f"not a GTFS-Realtime feed: {exc}") from exc
    if not feed.header.gtfs_realtime_version:
        raise FeedError("not a GTFS-Realtime feed: the header has no gtfs_realtime_version")
    return feed


def merge(feeds: Sequence[rt.FeedMessage]) -> Realtime:
    """Merge feeds into one :class:`Realtime`; a later feed's word on a trip wins."""
    changes: dict[tuple[str, date | None], TripChange] = {}
    occupancy: dict[str, str] = {}
    percentage: dict[str, int] = {}
    for feed in feeds:
        header_ts = feed.header.timestamp
        for ent in feed.entity:
            if ent.HasField("trip_update") and ent.trip_update.trip.trip_id:
                ch = _change(ent.trip_update, header_ts)
                changes[(ch.trip_id, ch.start_date)] = ch
            if ent.HasField("vehicle") and ent.vehicle.trip.trip_id \
                    and ent.vehicle.HasField("occupancy_status"):
                trip_id = ent.vehicle.trip.trip_id
                occupancy[trip_id] = rt.VehiclePosition.OccupancyStatus.Name(
                    ent.vehicle.occupancy_status)
                if ent.vehicle.HasField("occupancy_percentage"):
                    percentage[trip_id] = ent.vehicle.occupancy_percentage
    return Realtime(changes, occupancy, percentage)


def apply(change: TripChange | None, stop_ids: Sequence[str], sequences: Sequence[int],
          arr: Sequence[int], dep: Sequence[int]) -> tuple[list[int], list[int], list[bool]]:
    """The real times ``(arrivals, departures, skipped)`` of a trip's calls (epoch s) under
    ``change``, GTFS-Realtime's propagation rules (module docstring); times never run
    backwards along the trip."""
    n = len(arr)
    if change is None or not (change.stops or change.delay is not None):
        return list(arr), list(dep), [False] * n
    by_seq = {u.stop_sequence: u for u in change.stops if u.stop_sequence is not None}
    by_stop = {u.stop_id: u for u in change.stops if u.stop_sequence is None and u.stop_id}
    delay = change.delay if not change.stops else None
    out_a, out_d, skipped = [0] * n, [0] * n, [False] * n
    last = -(1 << 62)
    for i in range(n):
        u = by_seq.get(sequences[i]) or by_stop.get(stop_ids[i])
        a, d = arr[i], dep[i]
        if u is not None and u.skipped:
            skipped[i] = True
            a, d = (a + delay, d + delay) if delay is not None else (a, d)
        elif u is not None:
            if u.arrival_time is not None:
                a = u.arrival_time
            else:
                a_delay = next((x for x in (u.arrival_delay, u.departure_delay, delay)
                                if x is not None), 0)
                a = arr[i] + a_delay
            if u.departure_time is not None:
                d = u.departure_time
            elif u.departure_delay is not None:
                d = dep[i] + u.departure_delay
            else:
                d = dep[i] + (a - arr[i])
            delay = d - dep[i]
        elif delay is not None:
            a, d = a + delay, d + delay
        a = max(a, last)
        d = max(d, a)
        out_a[i], out_d[i] = a, d
        last = d
    return out_a, out_d, skipped


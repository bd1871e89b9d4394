"""GTFS-Realtime's rules of applying a trip update, and refusing what is not a feed."""

from __future__ import annotations

from datetime import date

import pytest
from google.transit import gtfs_realtime_pb2 as rt
from hypothesis import given
from hypothesis import strategies as st

from central_hub.mobility.domain.realtime import (
    StopUpdate,
    TripChange,
    apply,
    merge,
    parse_feed,
)
from central_hub.mobility.errors import FeedError

STOPS = ["A", "B", "C", "D", "E"]
SEQ = [1, 2, 3, 4, 5]
ARR = [1000, 1100, 1200, 1300, 1400]
DEP = [1000, 1120, 1220, 1320, 1400]


def _change(*stops: StopUpdate, delay: int | None = None) -> TripChange:
    return TripChange("T", None, stops=stops, delay=delay)


def test_no_change_keeps_the_schedule() -> None:
    assert apply(None, STOPS, SEQ, ARR, DEP) == (ARR, DEP, [False] * 5)


def test_a_delay_propagates_to_later_calls_and_not_to_earlier_ones() -> None:
    arr, dep, skipped = apply(_change(StopUpdate(3, None, arrival_delay=300)),
                              STOPS, SEQ, ARR, DEP)
    assert arr == [1000, 1100, 1500, 1600, 1700]
    assert dep == [1000, 1120, 1520, 1620, 1700]
    assert not any(skipped)


def test_a_later_update_replaces_the_propagated_delay() -> None:
    arr, dep, _ = apply(_change(StopUpdate(2, None, departure_delay=120),
                                StopUpdate(4, None, arrival_delay=30)), STOPS, SEQ, ARR, DEP)
    assert dep[1] == 1240 and arr[2] == 1320 and dep[2] == 1340
    assert arr[3] == 1340 and dep[3] == 1350 and arr[4] == 1430  # 30 s late from D on


def test_absolute_times_win_over_delays_and_times_never_run_backwards() -> None:
    arr, dep, _ = apply(_change(StopUpdate(None, "B", arrival_time=1150, departure_time=1160),
                                StopUpdate(None, "C", arrival_time=1100)), STOPS, SEQ, ARR, DEP)
    assert (arr[1], dep[1]) == (1150, 1160)
    assert arr[2] == 1160  # a prediction before the previous departure is lifted to it
    assert all(a <= d for a, d in zip(arr, dep, strict=True))
    assert all(d <= a for d, a in zip(dep, arr[1:], strict=False))


def test_a_skipped_call_is_marked_and_the_trip_level_delay_applies_everywhere() -> None:
    _, _, skipped = apply(_change(StopUpdate(3, None, skipped=True)), STOPS, SEQ, ARR, DEP)
    assert skipped == [False, False, True, False, False]
    arr, _, _ = apply(_change(delay=60), STOPS, SEQ, ARR, DEP)
    assert arr == [a + 60 for a in ARR]


@given(st.lists(st.tuples(st.sampled_from(SEQ), st.integers(-600, 3600),
                          st.booleans()), max_size=6))
def test_any_updates_keep_times_in_order(updates: list[tuple[int, int, bool]]) -> None:
    change = _change(*(StopUpdate(seq, None, departure_delay=d, skipped=skip)
                       for seq, d, skip in updates))
    arr, dep, _ = apply(change, STOPS, SEQ, ARR, DEP)
    flat = [t for pair in zip(arr, dep, strict=True) for t in pair]
    assert flat == sorted(flat)


def _feed() -> rt.FeedMessage:
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.timestamp = 1_700_000_000
    ent = feed.entity.add()
    ent.id = "1"
    ent.trip_update.trip.trip_id = "T"
    ent.trip_update.trip.start_date = "20261207"
    ent.trip_update.trip.schedule_relationship = rt.TripDescriptor.CANCELED
    ent = feed.entity.add()
    ent.id = "2"
    ent.vehicle.trip.trip_id = "U"
    ent.vehicle.occupancy_status = rt.VehiclePosition.FULL
    ent.vehicle.occupancy_percentage = 120
    return feed


def test_feeds_merge_into_changes_and_occupancy() -> None:
    live = merge([parse_feed(_feed().SerializeToString(), 1 << 20)])
    change = live.change_for("T", date(2026, 12, 7))
    assert change is not None and change.canceled
    assert live.change_for("T", date(2026, 12, 8)) is None
    assert live.occupancy == {"U": "FULL"} and live.occupancy_percentage == {"U": 120}


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xff\xff", "not a GTFS-Realtime feed"),
    (b"", "no gtfs_realtime_version"),
    (b"x" * 2000, "over the limit"),
])
def test_what_is_not_a_feed_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        parse_feed(data, 1000)


def test_a_malformed_start_date_is_refused() -> None:
    feed = _feed()
    feed.entity[0].trip_update.trip.start_date = "7.12.2026"
    with pytest.raises(FeedError, match="YYYYMMDD"):
        merge([feed])


@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_reader(data: bytes) -> None:
    """Either a feed with its trips, or a FeedError that says why: nothing else escapes."""
    try:
        live = merge([parse_feed(data, 1 << 20)])
    except FeedError as exc:
        assert "feed" in str(exc) or "start_date" in str(exc)
    else:
        assert all(key[0] for key in live.changes)

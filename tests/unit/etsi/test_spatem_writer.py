"""The hand-written SPATEM writer: its bytes equal the toolkit's (pycrate) for any tick, over
successive ticks of the same rows (its caches), and its field widths, presence bits and
enumeration are those of the compiled ASN.1 types (docs/c-its.md, "The fast writer")."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrate_asn1dir import ITS_IS

from edge_agent.contract.etsi import spatem_writer as w
from edge_agent.contract.etsi.errors import ItsEncodeError
from edge_agent.contract.etsi.spatem import ItsIntersection, decode_spatem, encode_tick_spatem
from edge_agent.contract.etsi.spatem_writer import SpatemWriter
from edge_agent.contract.payloads import MovementPhaseState, SignalStatus
from tests.support.spat_rows import Row, Tick
from tests.unit.etsi.strategies import HOUR_MS

STATES: tuple[MovementPhaseState, ...] = get_args(MovementPhaseState)
STATUSES: tuple[SignalStatus, ...] = get_args(SignalStatus)


# --- the widths against the compiled types ---------------------------------------------------

SPATEM = ITS_IS.SPATEM_PDU_Descriptions.SPATEM


def _type(*path: str) -> Any:
    node = SPATEM
    for name in path:
        node = node._cont if name == "*" else node._cont[name]
    return node


def _bits(node: Any) -> int:
    """ceil(log2(range)) of a constrained whole number or of a SEQUENCE OF's SIZE."""
    const = node._const_sz if node.TYPE == "SEQUENCE OF" else node._const_val
    assert const.ext is None and len(const.root) == 1, node._name  # no extension marker
    return math.ceil(math.log2(const.ub - const.lb + 1))


STATE = ("spat", "intersections", "*")
MOVEMENT = (*STATE, "states", "*")
EVENT = (*MOVEMENT, "state-time-speed", "*")
WIDTHS = {
    ("header", "protocolVersion"): w.PROTOCOL_VERSION_BITS,
    ("header", "messageID"): w.MESSAGE_ID_BITS,
    ("header", "stationID"): w.STATION_ID_BITS,
    ("spat", "intersections"): w.INTERSECTIONS_COUNT_BITS,
    (*STATE, "id", "region"): w.REGION_BITS,
    (*STATE, "id", "id"): w.INTERSECTION_ID_BITS,
    (*STATE, "revision"): w.REVISION_BITS,
    (*STATE, "moy"): w.MOY_BITS,
    (*STATE, "timeStamp"): w.TIMESTAMP_BITS,
    (*STATE, "states"): w.STATES_COUNT_BITS,
    (*MOVEMENT, "signalGroup"): w.SIGNAL_GROUP_BITS,
    (*MOVEMENT, "state-time-speed"): w.EVENTS_COUNT_BITS,
    **{(*EVENT, "timing", f): w.TIME_MARK_BITS
       for f in ("startTime", "minEndTime", "maxEndTime", "likelyTime", "nextTime")},
    (*EVENT, "timing", "confidence"): w.CONFIDENCE_BITS,
}


@pytest.mark.parametrize("path", list(WIDTHS), ids=".".join)
def test_every_width_is_the_compiled_types(path: tuple[str, ...]) -> None:
    assert _bits(_type(*path)) == WIDTHS[path]


def _preamble(path: tuple[str, ...], present: set[str]) -> tuple[int, int]:
    """The SEQUENCE's extension bit (when extensible) and one bit per OPTIONAL field."""
    node = _type(*path)
    bits = [0] if node._ext is not None else []
    bits += [int(name in present) for name in node._root_opt]
    return int("".join(map(str, bits)) or "0", 2), len(bits)


def test_every_preamble_is_the_compiled_types() -> None:
    assert _type("header")._root_opt == [] and _type("header")._ext is None
    assert _preamble(("spat",), set()) == w.SPAT_PREAMBLE
    assert _preamble(STATE, {"moy", "timeStamp"}) == w.INTERSECTION_PREAMBLE
    assert _type(*STATE, "id")._ext is None and _type(*STATE, "id")._root_opt == ["region"]
    assert _preamble(MOVEMENT, set()) == w.MOVEMENT_STATE_PREAMBLE
    assert _preamble(EVENT, {"timing"}) == w.MOVEMENT_EVENT_PREAMBLE
    assert _preamble((*EVENT, "timing"), {"maxEndTime", "likelyTime"}) == w.TIMING_PREAMBLE
    with_confidence = _preamble((*EVENT, "timing"), {"maxEndTime", "likelyTime", "confidence"})
    assert with_confidence[0] == w.TIMING_PREAMBLE[0] | w._CONFIDENCE_PRESENT
    # the order the writer puts the fields in is the types'
    assert list(_type(*STATE)._cont) == ["name", "id", "revision", "status", "moy", "timeStamp",
                                         "enabledLanes", "states", "maneuverAssistList",
                                         "regional"]
    assert list(_type(*MOVEMENT)._cont)[:3] == ["movementName", "signalGroup", "state-time-speed"]
    assert list(_type(*EVENT)._cont)[:2] == ["eventState", "timing"]
    assert list(_type(*EVENT, "timing")._cont) == ["startTime", "minEndTime", "maxEndTime",
                                                   "likelyTime", "confidence", "nextTime"]


def test_the_enumeration_and_the_status_bits_are_the_compiled_types() -> None:
    state = _type(*EVENT, "eventState")
    assert state._ext is None and tuple(state._root) == w.EVENT_STATES
    assert math.ceil(math.log2(len(state._root))) == w.EVENT_STATE_BITS
    assert set(STATES) <= set(w.EVENT_STATES)
    status = _type(*STATE, "status")._const_sz
    assert (status.lb, status.ub, status.ext) == (w.STATUS_BITS, w.STATUS_BITS, None)
    assert _type(*STATE, "states")._const_sz.ub == w.MAX_STATES


# --- the bytes against the toolkit's ---------------------------------------------------------

YEAR_STARTS = [int(datetime(y, 1, 1, tzinfo=UTC).timestamp()) * 1000 for y in (2024, 2025, 2028)]
#: any time, and the edges of the year (moy), of the minute (timeStamp) and of the hour
#: (TimeMarks wrap)
NOW = (st.integers(1_000_000_000_000, 4_000_000_000_000)
       | st.builds(lambda s, d: s + d, st.sampled_from(YEAR_STARTS),
                   st.integers(-120_000, 120_000))
       | st.builds(lambda h, d: h * HOUR_MS + d, st.integers(480_000, 1_000_000),
                   st.integers(-3000, 3000)))
#: a time relative to now: past, now, ahead, around the hour ahead (36000: far), unknown
OFFSET = st.none() | st.integers(-5000, 2 * HOUR_MS) | st.integers(HOUR_MS - 300, HOUR_MS + 300)


@st.composite
def ticks(draw: st.DrawFn, now: int | None = None, max_groups: int = 16
          ) -> tuple[Tick, ItsIntersection]:
    """Any tick (times in any order, as :func:`time_marks` takes them) and its identity."""
    if now is None:
        now = draw(NOW)
    n = draw(st.integers(1, max_groups))
    its_sgs = draw(st.lists(st.integers(0, 255), min_size=n, max_size=n, unique=True))
    rows = []
    for i in range(n):
        lo, likely, hi = (None if t is None else now + t for t in draw(
            st.lists(OFFSET, min_size=3, max_size=3)))
        if draw(st.booleans()):  # ordered, as a controller's rows are
            known = sorted(t for t in (lo, likely, hi) if t is not None)
            lo, likely, hi = (t if t is None else known.pop(0) for t in (lo, likely, hi))
        nxt = draw(OFFSET)  # the next green: any time, or none (most rows)
        end = draw(OFFSET)  # a red row's coming green's end (not in the SPATEM)
        rows.append(Row(f"K{i}", draw(st.sampled_from(STATES)), lo, hi, likely,
                        draw(st.integers(0, 100)), None if nxt is None else now + nxt,
                        None if end is None else now + end))
    tick = Tick(now, draw(st.integers(0, 10**6)), draw(st.sampled_from(STATUSES)), tuple(rows))
    its = ItsIntersection(station_id=draw(st.integers(0, 2**32 - 1)),
                          intersection_id=draw(st.integers(0, 65535)),
                          region=draw(st.none() | st.integers(0, 65535)),
                          signal_groups={f"K{i}": its_sgs[i] for i in range(n)})
    return tick, its


def _same(writer: SpatemWriter, tick: Tick, its: ItsIntersection, revision: int | None) -> None:
    data = writer.encode(tick, "ks-0042", revision)
    assert data == encode_tick_spatem(tick, "ks-0042", its, revision), tick


@settings(max_examples=400, deadline=None)
@given(case=ticks(), map_revision=st.none() | st.integers(0, 10**6))
def test_the_bytes_of_any_tick_are_the_toolkits(case: tuple[Tick, ItsIntersection],
                                                map_revision: int | None) -> None:
    tick, its = case
    _same(SpatemWriter(its), tick, its, map_revision)


@settings(max_examples=300, deadline=None)
@given(case=ticks(), steps=st.lists(st.integers(0, 300) | st.integers(-300, 0)
                                    | st.integers(-2 * HOUR_MS, 2 * HOUR_MS),
                                    min_size=1, max_size=10),
       status=st.sampled_from(STATUSES))
def test_the_same_rows_tick_after_tick_are_the_toolkits(
        case: tuple[Tick, ItsIntersection], steps: list[int], status: SignalStatus) -> None:
    """The caches: the same rows object over later ticks (times pass, marks come within the
    hour or fall to now) and earlier ones (a clock set back), and the rows again after
    others."""
    tick, its = case
    writer = SpatemWriter(its)
    _same(writer, tick, its, None)
    now = tick.now
    for i, step in enumerate(steps):
        now += step
        later = Tick(now, tick.revision + i, status if i % 2 else tick.status, tick.groups)
        _same(writer, later, its, 7)
        copy = Tick(now, later.revision, later.status, tuple(tick.groups))  # new object
        _same(writer, copy, its, 7)
        first = Tick(now, 1, status, tick.groups[:1])
        _same(writer, first, its, None)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_one_writer_over_changing_rows_is_the_toolkit(data: st.DataObject) -> None:
    tick, its = data.draw(ticks(max_groups=6))
    writer = SpatemWriter(its)
    now = tick.now
    for _ in range(data.draw(st.integers(1, 6))):
        now += data.draw(st.integers(0, 20_000))
        other, _ = data.draw(ticks(now=now, max_groups=len(its.signal_groups)))
        rows = [Row(f"K{i}", r.state, r.min_end, r.max_end, r.likely_end, r.confidence,
                    r.next_green, r.green_end)
                for i, r in enumerate(other.groups)]
        mixed = Tick(now, other.revision, other.status,
                     tuple(rows) + tuple(tick.groups[len(rows):]))
        _same(writer, mixed, its, None)


def test_many_groups_and_the_limits_are_the_toolkits() -> None:
    now = YEAR_STARTS[1] + 12_345
    rows = tuple(Row(f"K{i}", STATES[i % len(STATES)], now + 100 * i, now + 900 * i,
                     None if i % 3 else now + 500 * i, i % 101) for i in range(256))
    its = ItsIntersection(4_294_967_295, 65535, 65535, {f"K{i}": i for i in range(256)})
    full = Tick(now, 127, "fault", rows[:255])
    _same(SpatemWriter(its), full, its, None)
    assert len(decode_spatem(SpatemWriter(its).encode(full, "x")).intersections[0].movements
               ) == 255
    for bad in (Tick(now, 1, "dark", rows), Tick(now, 1, "dark", ())):
        with pytest.raises(ItsEncodeError):
            encode_tick_spatem(bad, "x", its)
        with pytest.raises(ItsEncodeError):
            SpatemWriter(its).encode(bad, "x")
    unknown = Tick(now, 1, "dark", (Row("K999", "dark", None, None, None, 0),))
    with pytest.raises(ItsEncodeError, match="K999 has no its_sg"):
        SpatemWriter(its).encode(unknown, "x")
    with pytest.raises(ItsEncodeError):
        encode_tick_spatem(unknown, "x", its)


@pytest.mark.parametrize("its", [
    ItsIntersection(2**32, 1, None, {}),
    ItsIntersection(1, 65536, None, {}),
    ItsIntersection(1, 1, -1, {}),
    ItsIntersection(1, 1, None, {"K1": 256}),
])
def test_an_identity_out_of_range_is_refused_like_the_toolkit(its: ItsIntersection) -> None:
    tick = Tick(YEAR_STARTS[0], 1, "dark", (Row("K1", "dark", None, None, None, 0),))
    with pytest.raises(ItsEncodeError):
        encode_tick_spatem(tick, "x", ItsIntersection(its.station_id, its.intersection_id,
                                                      its.region, {"K1": 1} | dict(
                                                          its.signal_groups)))
    with pytest.raises(ItsEncodeError):
        SpatemWriter(its)


@pytest.mark.parametrize("limit", [8, w.MAX_CACHED_ROWS])
def test_the_row_cache_stays_bounded_over_ever_new_rows(
        limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows carry absolute ends, so a controller hands out new ones all the time and an
    expired one never holds again: the cache keeps at most ``MAX_CACHED_ROWS`` (dropping the
    expired first), and the bytes stay the toolkit's across every eviction."""
    monkeypatch.setattr(w, "MAX_CACHED_ROWS", limit)
    its = ItsIntersection(4242, 42, None, {"K1": 1, "K2": 2, "K3": 3})
    writer = SpatemWriter(its)
    now = YEAR_STARTS[1] + 1_000
    largest = 0
    for i in range(3 * limit):
        now += 100
        rows = (Row("K1", "protected-Movement-Allowed", now, now + 20_000, now + 5_000 + i, 60),
                Row("K2", "stop-And-Remain", now + 9_000, None, now + 12_000, 40),
                Row("K3", "stop-And-Remain", now + 9_000, now + 30_000, None, 0))
        tick = Tick(now, 3, "operational", rows)
        if i % 7 == 0 or i == 3 * limit - 1:
            _same(writer, tick, its, None)
        else:
            writer.encode(tick, "ks-0042")
        largest = max(largest, len(writer._rows_cache))
    assert limit < largest <= limit + len(rows)  # reached the bound, never grew past it

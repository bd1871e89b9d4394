"""The SPATEM of a controller's tick, written bit by bit: the same UPER bytes as the toolkit's.

Why: pycrate takes 0.6-0.8 ms to encode one SPATEM of 10-16 signal groups; every controller
sends one every 100 ms, so 300 controllers in one process (the platform's goal) would spend
about two cores in the toolkit alone. The message we send has one fixed shape (docs/c-its.md,
"SPATEM of a SPaT tick"), so :class:`SpatemWriter` writes it directly: the UPER fields in
order, each constrained whole number in the bits of its range, no extension ever present. What
repeats from tick to tick is kept: the header and the intersection's reference id (per writer),
each signal group's bits (keyed by its row, valid while its TimeMarks cannot change: they are
absolute) and the whole group list while the controller hands out the same rows object.

How it stays identical: ``tests/unit/etsi/test_spatem_writer.py`` compares its bytes with
:func:`~edge_agent.contract.etsi.spatem.encode_tick_spatem` (pycrate) for any tick, over
successive ticks of the same rows (the caches), and over a running controller's ticks, and pins
every width and optional-field list below against the toolkit's compiled ASN.1 types. The
toolkit stays the decoder and the reference; this module does not import it.

The structure written (UPER, ISO TS 19091 ed. 2 / ETSI TS 103 301; ``ext``: the extension bit
of an extensible SEQUENCE, always 0; ``opt``: one presence bit per OPTIONAL field in order)::

    SPATEM: header (protocolVersion 8, messageID 8, stationID 32)
      spat: ext, opt[timeStamp name regional] = 0 0 0, intersections SIZE(1..32): 5 bits
        IntersectionState: ext, opt[name moy timeStamp enabledLanes maneuverAssistList
                           regional] = 0 1 1 0 0 0
          id: opt[region], region 16?, id 16; revision 7; status BIT STRING(16) 16;
          moy 20 (0..527040); timeStamp 16; states SIZE(1..255): 8 bits
            MovementState: ext, opt[movementName maneuverAssistList regional] = 0 0 0,
                           signalGroup 8, state-time-speed SIZE(1..16): 4 bits
              MovementEvent: ext, opt[timing speeds regional] = 1 0 0,
                             eventState ENUMERATED (10 values, not extensible): 4 bits
                TimeChangeDetails (not extensible): opt[startTime maxEndTime likelyTime
                  confidence nextTime] = 0 1 1 c 0, minEndTime 16, maxEndTime 16,
                  likelyTime 16 (0..36001), confidence 4?
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from edge_agent.contract.etsi.errors import ItsEncodeError
from edge_agent.contract.etsi.header import PROTOCOL_VERSION, MessageId
from edge_agent.contract.etsi.intersection_status import status_value
from edge_agent.contract.etsi.spatem import MSG_COUNT_MODULO, ItsIntersection
from edge_agent.contract.etsi.timemark import (
    FAR,
    HOUR_TENTHS,
    MS_PER_MINUTE,
    MS_PER_TENTH,
    UNKNOWN,
    interval_confidence,
)
from edge_agent.contract.payloads import SignalStatus
from edge_agent.contract.spat_wire import SpatRow, SpatTick, phase_next_green

# --- the widths of the fields (each pinned against the toolkit's types by the tests) --------

PROTOCOL_VERSION_BITS: Final = 8     # INTEGER (0..255)
MESSAGE_ID_BITS: Final = 8           # INTEGER (0..255)
STATION_ID_BITS: Final = 32          # INTEGER (0..4294967295)
INTERSECTIONS_COUNT_BITS: Final = 5  # SEQUENCE (SIZE(1..32)) OF IntersectionState
REGION_BITS: Final = 16              # RoadRegulatorID ::= INTEGER (0..65535)
INTERSECTION_ID_BITS: Final = 16     # IntersectionID ::= INTEGER (0..65535)
REVISION_BITS: Final = 7             # MsgCount ::= INTEGER (0..127)
STATUS_BITS: Final = 16              # IntersectionStatusObject ::= BIT STRING (SIZE(16))
MOY_BITS: Final = 20                 # MinuteOfTheYear ::= INTEGER (0..527040)
TIMESTAMP_BITS: Final = 16           # DSecond ::= INTEGER (0..65535)
STATES_COUNT_BITS: Final = 8         # MovementList ::= SEQUENCE (SIZE(1..255)) OF MovementState
SIGNAL_GROUP_BITS: Final = 8         # SignalGroupID ::= INTEGER (0..255)
EVENTS_COUNT_BITS: Final = 4         # MovementEventList ::= SEQUENCE (SIZE(1..16)) OF ...
EVENT_STATE_BITS: Final = 4          # MovementPhaseState: 10 values, no extension marker
TIME_MARK_BITS: Final = 16           # TimeMark ::= INTEGER (0..36001)
CONFIDENCE_BITS: Final = 4           # TimeIntervalConfidence ::= INTEGER (0..15)

#: MovementPhaseState in the order of its definition (the ENUMERATED index is sent).
EVENT_STATES: Final[tuple[str, ...]] = (
    "unavailable", "dark", "stop-Then-Proceed", "stop-And-Remain", "pre-Movement",
    "permissive-Movement-Allowed", "protected-Movement-Allowed", "permissive-clearance",
    "protected-clearance", "caution-Conflicting-Traffic",
)
_STATE_INDEX: Final = {name: i for i, name in enumerate(EVENT_STATES)}
MAX_STATES = 255

# the preambles: extension bit, then one bit per OPTIONAL field in definition order
SPAT_PREAMBLE: Final = (0b0000, 4)              # ext, timeStamp, name, regional
INTERSECTION_PREAMBLE: Final = (0b0011000, 7)   # ext, name, moy, timeStamp, enabledLanes,
#                                                 maneuverAssistList, regional
MOVEMENT_STATE_PREAMBLE: Final = (0b0000, 4)    # ext, movementName, maneuverAssistList, regional
MOVEMENT_EVENT_PREAMBLE: Final = (0b0100, 4)    # ext, timing, speeds, regional
TIMING_PREAMBLE: Final = (0b01100, 5)           # startTime, maxEndTime, likelyTime,
#                                                 confidence (0b00010 when sent), nextTime
#                                                 (0b00001 when sent)
_CONFIDENCE_PRESENT: Final = 0b00010
_NEXT_TIME_PRESENT: Final = 0b00001

#: the bits of one row or of the whole list: a template whose TimeMarks that say "now" are 0,
#: a mask with a 1 at the lowest bit of each such TimeMark (so ``template | now * mask`` fills
#: them all: the fields do not overlap), the bit count, and the first and last tenth of a
#: second (``now // 100``) the template holds for.
_Bits = tuple[int, int, int, int, int]
#: cached rows per writer before the expired ones go. A controller hands out ~10 current
#: rows a tick and a row whose last tenth has passed never holds again (its ends are
#: absolute), so a few hundred suffice; 4096 cost 300 controllers 200 MB more RSS after
#: 5 minutes (BENCHMARKS.md).
MAX_CACHED_ROWS = 256
_FOREVER = 2**62


class SpatemWriter:
    """SPATEM bytes of one intersection's ticks, byte-identical to
    ``encode_tick_spatem(tick, intersection_id, its, map_revision)``.

    The rows must not change once handed over (a controller's are immutable), as for
    :class:`~edge_agent.contract.spat_wire.SpatEncoder`. Raises :class:`ItsEncodeError` where
    the toolkit would refuse: no signal group or more than 255, a group without ``its_sg``,
    an identity out of range, a state that is no MovementPhaseState.
    """

    def __init__(self, its: ItsIntersection) -> None:
        self.its = its
        for name, value, top in (("station_id", its.station_id, 2**STATION_ID_BITS - 1),
                                 ("intersection_id", its.intersection_id, 65535),
                                 ("region", its.region, 65535)):
            if value is not None and not 0 <= value <= top:
                raise ItsEncodeError(f"its.{name} {value} is not within 0..{top}")
        for sg, its_sg in its.signal_groups.items():
            if not 0 <= its_sg < 2**SIGNAL_GROUP_BITS:
                raise ItsEncodeError(f"signal group {sg}: its_sg {its_sg} is not within 0..255")
        self._sg = dict(its.signal_groups)
        # header, spat preamble, one intersection, its preamble and reference id
        v = PROTOCOL_VERSION << MESSAGE_ID_BITS | int(MessageId.SPATEM)
        v = v << STATION_ID_BITS | its.station_id
        v = v << SPAT_PREAMBLE[1] | SPAT_PREAMBLE[0]
        v = v << INTERSECTIONS_COUNT_BITS | 0  # one IntersectionState: count - 1
        v = v << INTERSECTION_PREAMBLE[1] | INTERSECTION_PREAMBLE[0]
        n = (PROTOCOL_VERSION_BITS + MESSAGE_ID_BITS + STATION_ID_BITS + SPAT_PREAMBLE[1]
             + INTERSECTIONS_COUNT_BITS + INTERSECTION_PREAMBLE[1])
        if its.region is None:
            v, n = v << 1, n + 1
        else:
            v, n = (v << 1 | 1) << REGION_BITS | its.region, n + 1 + REGION_BITS
        self._prefix = v << INTERSECTION_ID_BITS | its.intersection_id
        self._prefix_bits = n + INTERSECTION_ID_BITS
        self._status: dict[str, int] = {}
        self._year = (0, 0)  # start ms, end ms (exclusive) of the UTC year last seen
        self._rows_cache: dict[tuple[object, ...], _Bits] = {}
        self._heads: dict[tuple[int, int, int | None, bool], tuple[int, int]] = {}
        self._rows: Sequence[SpatRow] | None = None
        self._groups: _Bits = (0, 0, 0, 0, -1)  # holds for no tick

    def encode(self, tick: SpatTick, intersection_id: str, map_revision: int | None = None
               ) -> bytes:
        """UPER bytes of the SPATEM of ``tick`` (``intersection_id`` names it in errors)."""
        now = tick.now
        tenth = now // MS_PER_TENTH
        groups = tick.groups
        cached = self._groups
        if groups is not self._rows or not cached[3] <= tenth <= cached[4]:
            cached = self._groups = self._group_list(groups, now, intersection_id)
            self._rows = groups
        template, mask, group_bits = cached[0], cached[1], cached[2]
        revision = tick.revision if map_revision is None else map_revision
        moy, dsecond = self._minute_of_year(now)
        v = self._prefix << REVISION_BITS | revision % MSG_COUNT_MODULO
        v = v << STATUS_BITS | self._status_bits(tick.status)
        v = v << MOY_BITS | moy
        v = v << TIMESTAMP_BITS | dsecond
        v = v << STATES_COUNT_BITS | len(groups) - 1
        v = v << group_bits | template | tenth % HOUR_TENTHS * mask
        n = (self._prefix_bits + REVISION_BITS + STATUS_BITS + MOY_BITS + TIMESTAMP_BITS
             + STATES_COUNT_BITS + group_bits)
        pad = -n % 8
        return (v << pad).to_bytes((n + pad) // 8, "big")

    # --- parts -----------------------------------------------------------------------------

    def _status_bits(self, status: SignalStatus) -> int:
        bits = self._status.get(status)
        if bits is None:
            bits = self._status[status] = status_value(status)[0]
        return bits

    def _minute_of_year(self, now: int) -> tuple[int, int]:
        """As :func:`~edge_agent.contract.etsi.timemark.minute_of_year`, with the year's
        bounds kept (a datetime per tick costs more than the rest of the header)."""
        start, end = self._year
        if not start <= now < end:
            year = datetime.fromtimestamp(now // 1000, tz=UTC).year
            start = _year_start_ms(year)
            self._year = (start, _year_start_ms(year + 1))
        since = now - start
        return since // MS_PER_MINUTE, since % MS_PER_MINUTE

    def _group_list(self, rows: Sequence[SpatRow], now: int, label: str) -> _Bits:
        """The MovementList's items (see :data:`_Bits`)."""
        if not rows:
            raise ItsEncodeError(f"{label}: a SPATEM needs a signal group")
        if len(rows) > MAX_STATES:
            raise ItsEncodeError(f"{label}: {len(rows)} signal groups, a SPATEM takes "
                                 f"at most {MAX_STATES}")
        tenth = now // MS_PER_TENTH
        cache = self._rows_cache
        if len(cache) > MAX_CACHED_ROWS:
            for key in [k for k, row in cache.items() if row[4] < tenth]:
                del cache[key]
            if len(cache) > MAX_CACHED_ROWS // 2:  # not enough expired: start over
                cache.clear()
        template = mask = n = 0
        first, last = -_FOREVER, _FOREVER
        for g in rows:
            key = (g.sg, g.state, g.min_end, g.likely_end, g.max_end, g.confidence,
                   phase_next_green(g))
            row = cache.get(key)
            if row is None or not row[3] <= tenth <= row[4]:
                row = cache[key] = self._row(g, now, label)
            bits = row[2]
            template = template << bits | row[0]
            mask = mask << bits | row[1]
            n += bits
            first, last = max(first, row[3]), min(last, row[4])
        return template, mask, n, first, last

    def _row(self, g: SpatRow, now: int, label: str) -> _Bits:
        """One MovementState with its one MovementEvent (see :data:`_Bits`)."""
        its_sg = self._sg.get(g.sg)
        if its_sg is None:
            raise ItsEncodeError(f"{label}: signal group {g.sg} has no its_sg")
        state = _STATE_INDEX.get(g.state)
        if state is None:
            raise ItsEncodeError(f"{label}: {g.state!r} is no MovementPhaseState")
        tenth = now // MS_PER_TENTH
        confidence = None if g.likely_end is None else interval_confidence(g.confidence)
        nxt = phase_next_green(g)
        has_next = nxt is not None
        head = self._heads.get((its_sg, state, confidence, has_next))
        if head is None:
            head = self._heads[its_sg, state, confidence, has_next] = _head(
                its_sg, state, confidence, next_time=has_next)
        v, n = head
        lo, likely, hi, first, last = _marks(g.min_end, g.likely_end, g.max_end, tenth)
        mask = 0
        now_mark = tenth % HOUR_TENTHS
        for mark in (lo, hi, likely):  # minEndTime, maxEndTime, likelyTime
            v, mask, n = _put_mark(v, mask, n, mark, now_mark)
        if confidence is not None:
            v, mask = v << CONFIDENCE_BITS | confidence, mask << CONFIDENCE_BITS
            n += CONFIDENCE_BITS
        if nxt is not None:  # nextTime
            ahead, a, b = _ahead(nxt, tenth)
            first, last = max(first, a), min(last, b)
            v, mask, n = _put_mark(v, mask, n, _wrap(ahead, tenth), now_mark)
        return v, mask, n, first, last


def _put_mark(v: int, mask: int, n: int, mark: int, now_mark: int) -> tuple[int, int, int]:
    """``(template, mask, bits)`` with one TimeMark appended; a mark that says "now" (a time
    past or at now) is left 0 in the template and flagged in the mask: it moves with the
    tick."""
    v, mask, n = v << TIME_MARK_BITS, mask << TIME_MARK_BITS, n + TIME_MARK_BITS
    if mark == now_mark:
        return v, mask | 1, n
    return v | mark, mask, n


def _head(its_sg: int, state: int, confidence: int | None, *, next_time: bool
          ) -> tuple[int, int]:
    """A MovementState's bits up to its TimeMarks: preambles, signalGroup, one MovementEvent,
    eventState, the TimeChangeDetails' presence bits."""
    v = its_sg  # after the MovementState's four zero preamble bits
    v = v << EVENTS_COUNT_BITS | 0  # one MovementEvent: count - 1
    v = v << MOVEMENT_EVENT_PREAMBLE[1] | MOVEMENT_EVENT_PREAMBLE[0]
    v = v << EVENT_STATE_BITS | state
    v = v << TIMING_PREAMBLE[1] | TIMING_PREAMBLE[0] | (
        0 if confidence is None else _CONFIDENCE_PRESENT) | (
        _NEXT_TIME_PRESENT if next_time else 0)
    return v, (MOVEMENT_STATE_PREAMBLE[1] + SIGNAL_GROUP_BITS + EVENTS_COUNT_BITS
               + MOVEMENT_EVENT_PREAMBLE[1] + EVENT_STATE_BITS + TIMING_PREAMBLE[1])


def _ahead(at: int, tenth: int) -> tuple[int, int, int]:
    """Tenths from ``tenth`` to the absolute time ``at`` (0 at or past now), and the first
    and last tenth over which its TimeMark stays the same but for saying "now": while it
    stays on its side of now (at or past now: its mark is now's; ahead: its own, absolute
    within the hour) and of the hour ahead (beyond it: 36000)."""
    mark_tenth = (at + MS_PER_TENTH // 2) // MS_PER_TENTH
    ahead = mark_tenth - tenth
    if ahead <= 0:  # at or past now: stays so
        return 0, mark_tenth, _FOREVER
    if ahead < HOUR_TENTHS:  # ahead within the hour
        return ahead, mark_tenth - HOUR_TENTHS + 1, mark_tenth - 1
    return ahead, -_FOREVER, mark_tenth - HOUR_TENTHS  # an hour or more ahead: far


def _marks(min_end: int | None, likely_end: int | None, max_end: int | None, tenth: int
           ) -> tuple[int, int, int, int, int]:
    """``(minEndTime, likelyTime, maxEndTime)`` as
    :func:`~edge_agent.contract.etsi.timemark.time_marks` makes them at the tenth of a second
    ``tenth`` (the tests hold the two equal), and the first and last tenth over which they are
    the same but for those that say "now" (:func:`_ahead`). The ordering of min/likely/max
    then compares times ahead, whose differences do not change, and times at now, which are
    equal, so each mark keeps coming from the same time."""
    first, last = -_FOREVER, _FOREVER
    aheads: list[int | None] = []
    for at in (min_end, likely_end, max_end):
        if at is None:
            aheads.append(None)
            continue
        ahead, a, b = _ahead(at, tenth)
        first, last = max(first, a), min(last, b)
        aheads.append(ahead)
    lo, likely, hi = aheads
    if lo is not None and hi is not None and lo > hi:
        lo = hi
    if likely is not None:
        if lo is not None and likely < lo:
            likely = lo
        if hi is not None and likely > hi:
            likely = hi
    return _wrap(lo, tenth), _wrap(likely, tenth), _wrap(hi, tenth), first, last


def _wrap(ahead: int | None, tenth: int) -> int:
    if ahead is None:
        return UNKNOWN
    if ahead >= HOUR_TENTHS:
        return FAR
    return (tenth + ahead) % HOUR_TENTHS


def _year_start_ms(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) * 1000

"""SPATEM (ETSI TS 103 301, messageID 4): our SPaT payload as the standard's UPER bytes.

Why: vehicles and roadside units outside the platform understand signal phase and timing only
as SPATEM. One SPaT tick becomes one SPATEM with one IntersectionState: the intersection's
reference id and revision, the status bits, the message time as minute of the year and
millisecond within the minute, and per signal group one MovementEvent with its state and its
TimeChangeDetails (docs/c-its.md). :func:`decode_spatem` reads any SPATEM of protocol
version 2 into typed values, for the hub and for the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, get_args

from edge_agent.contract.etsi import uper
from edge_agent.contract.etsi.errors import ItsEncodeError, ItsMessageError
from edge_agent.contract.etsi.header import ItsHeader, MessageId, header_for
from edge_agent.contract.etsi.intersection_status import status_names, status_value
from edge_agent.contract.etsi.timemark import (
    epoch_ms,
    interval_confidence,
    minute_of_year,
    time_mark,
    time_marks,
)
from edge_agent.contract.payloads import MovementPhaseState, SignalStatus, Spat
from edge_agent.contract.spat_wire import SpatRow, SpatTick, phase_next_green

if TYPE_CHECKING:
    from edge_agent.contract.configs import IntersectionConfig

#: refuse larger input before decoding: 255 signal groups with full timing fit in ~3 KiB.
MAX_SPATEM_BYTES = 8 * 1024
#: MsgCount ::= INTEGER (0..127): revisions wrap.
MSG_COUNT_MODULO = 128
_PHASE_STATES: Final = frozenset(get_args(MovementPhaseState))


@dataclass(frozen=True, slots=True)
class ItsIntersection:
    """An intersection's C-ITS identity: the station sending, the reference id, and the
    SignalGroupID of each of our signal groups (the config's ``its`` and ``its_sg``)."""

    station_id: int
    intersection_id: int
    region: int | None
    signal_groups: Mapping[str, int]

    @classmethod
    def from_config(cls, config: IntersectionConfig) -> ItsIntersection:
        """The identity a validated config gives (it checks ranges and uniqueness)."""
        its = config.its
        if its is None:
            raise ItsEncodeError(f"{config.device_id}: the config has no its section")
        groups = {g.sg: g.its_sg for g in config.signal_groups if g.its_sg is not None}
        return cls(its.station_id, its.intersection_id, its.region, MappingProxyType(groups))


# --- encode ------------------------------------------------------------------------------


def spatem_value(spat: Spat, its: ItsIntersection, map_revision: int | None = None
                 ) -> dict[str, Any]:
    """The SPATEM of ``spat`` in the toolkit's value notation. ``map_revision``: the revision
    of the MAP this intersection publishes (the one SPATEM's ``revision`` refers to); without
    it the SPaT ``revision`` is sent. Either wraps at 128."""
    return _value(its, map_revision, label=spat.intersection_id, now=spat.ts,
                  spat_revision=spat.revision, status=spat.status, groups=spat.groups)


def tick_spatem_value(tick: SpatTick, intersection_id: str, its: ItsIntersection,
                      map_revision: int | None = None) -> dict[str, Any]:
    """The SPATEM of a controller's tick: the same values :func:`spatem_value` takes from the
    ``Spat`` that :class:`~edge_agent.contract.spat_wire.SpatEncoder` writes of ``tick``
    (``ts`` is ``tick.now``), without building that model on the hot path."""
    return _value(its, map_revision, label=intersection_id, now=tick.now,
                  spat_revision=tick.revision, status=tick.status, groups=tick.groups)


def _value(its: ItsIntersection, map_revision: int | None, *, label: str, now: int,
           spat_revision: int, status: SignalStatus, groups: Sequence[SpatRow]
           ) -> dict[str, Any]:
    if not groups:
        raise ItsEncodeError(f"{label}: a SPATEM needs a signal group")
    moy, dsecond = minute_of_year(now)
    states = []
    for g in groups:
        its_sg = its.signal_groups.get(g.sg)
        if its_sg is None:
            raise ItsEncodeError(f"{label}: signal group {g.sg} has no its_sg")
        lo, likely, hi = time_marks(g.min_end, g.likely_end, g.max_end, now)
        timing: dict[str, int] = {"minEndTime": lo, "maxEndTime": hi, "likelyTime": likely}
        confidence = None if g.likely_end is None else interval_confidence(g.confidence)
        if confidence is not None:
            timing["confidence"] = confidence
        nxt = phase_next_green(g)  # nextTime (docs/c-its.md)
        if nxt is not None:
            timing["nextTime"] = time_mark(nxt, now)
        states.append({"signalGroup": its_sg,
                       "state-time-speed": [{"eventState": g.state, "timing": timing}]})
    ref: dict[str, int] = {"id": its.intersection_id}
    if its.region is not None:
        ref["region"] = its.region
    revision = spat_revision if map_revision is None else map_revision
    intersection = {"id": ref, "revision": revision % MSG_COUNT_MODULO,
                    "status": status_value(status), "moy": moy, "timeStamp": dsecond,
                    "states": states}
    return {"header": header_for(MessageId.SPATEM, its.station_id).as_value(),
            "spat": {"intersections": [intersection]}}


def encode_spatem(spat: Spat, its: ItsIntersection, map_revision: int | None = None) -> bytes:
    """UPER bytes of the SPATEM of ``spat`` (see :func:`spatem_value`)."""
    return uper.encode(MessageId.SPATEM, spatem_value(spat, its, map_revision))


def encode_tick_spatem(tick: SpatTick, intersection_id: str, its: ItsIntersection,
                       map_revision: int | None = None) -> bytes:
    """UPER bytes of the SPATEM of a controller's tick (see :func:`tick_spatem_value`)."""
    return uper.encode(MessageId.SPATEM, tick_spatem_value(tick, intersection_id, its,
                                                           map_revision))


# --- decode ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeChange:
    """TimeChangeDetails as sent: TimeMarks (36000 far, 36001 unknown), ``None`` if absent."""

    min_end: int
    max_end: int | None
    likely: int | None
    confidence: int | None
    start: int | None
    next: int | None


@dataclass(frozen=True, slots=True)
class MovementEvent:
    """One state of a signal group and when it changes."""

    state: MovementPhaseState
    timing: TimeChange | None


@dataclass(frozen=True, slots=True)
class Movement:
    """A MovementState: one signal group's events, the current one first."""

    signal_group: int
    events: tuple[MovementEvent, ...]
    name: str | None


@dataclass(frozen=True, slots=True)
class IntersectionState:
    """One intersection of a SPATEM."""

    region: int | None
    intersection_id: int
    revision: int
    status: frozenset[str]
    moy: int | None
    timestamp: int | None
    movements: tuple[Movement, ...]
    name: str | None

    def sent_at_ms(self, year: int) -> int | None:
        """The epoch ms of ``moy`` and ``timestamp`` in the UTC ``year`` (the receiver's)."""
        if self.moy is None or self.timestamp is None:
            return None
        return epoch_ms(year, self.moy, self.timestamp)


@dataclass(frozen=True, slots=True)
class Spatem:
    """A decoded SPATEM."""

    header: ItsHeader
    intersections: tuple[IntersectionState, ...]
    moy: int | None
    name: str | None


def _timing(v: Mapping[str, Any] | None) -> TimeChange | None:
    if v is None:
        return None
    return TimeChange(v["minEndTime"], v.get("maxEndTime"), v.get("likelyTime"),
                      v.get("confidence"), v.get("startTime"), v.get("nextTime"))


def _event(v: Mapping[str, Any]) -> MovementEvent:
    state = v["eventState"]
    if state not in _PHASE_STATES:
        raise ItsMessageError("malformed", f"unknown MovementPhaseState {state!r}")
    return MovementEvent(state, _timing(v.get("timing")))


def _intersection(v: Mapping[str, Any]) -> IntersectionState:
    bits, nbits = v["status"]
    return IntersectionState(
        region=v["id"].get("region"), intersection_id=v["id"]["id"], revision=v["revision"],
        status=status_names(bits, nbits), moy=v.get("moy"), timestamp=v.get("timeStamp"),
        movements=tuple(
            Movement(m["signalGroup"], tuple(_event(e) for e in m["state-time-speed"]),
                     m.get("movementName"))
            for m in v["states"]
        ),
        name=v.get("name"),
    )


def _spatem(v: Mapping[str, Any]) -> Spatem:
    h, spat = v["header"], v["spat"]
    return Spatem(
        header=ItsHeader(h["protocolVersion"], h["messageID"], h["stationID"]),
        intersections=tuple(_intersection(i) for i in spat["intersections"]),
        moy=spat.get("timeStamp"), name=spat.get("name"),
    )


def decode_spatem(data: bytes | bytearray | memoryview) -> Spatem:
    """Read SPATEM bytes (protocol version 2) or raise :class:`ItsMessageError`."""
    return uper.decode(MessageId.SPATEM, data, MAX_SPATEM_BYTES, _spatem)

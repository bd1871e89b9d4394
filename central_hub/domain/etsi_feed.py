"""The C-ITS messages the hub hears (``signal/{id}/etsi/spatem`` and ``/mapem``): the latest
bytes of each intersection, checked, and whether the SPATEM says what the JSON SPaT says.

WHY sampled: decoding one SPATEM with the ASN.1 toolkit costs about 0.4 ms (10 signal groups),
so decoding all of 300 intersections at 10 Hz would take more than a core of the hub for
nothing the hub needs: it serves the bytes as received. Every message is bounded in size and
its header checked (two octets, no decoding); one SPATEM per intersection and
``decode_interval_ms`` (1 s by default) is decoded in full, and compared with the JSON SPaT of
the same tick when the hub has it (``etsi_agrees``: the dashboard's "JSON and ETSI outputs
agree"). A refused message is counted with the codec's reason, like a bad JSON payload, and
not kept. A MAPEM is rare (retained, sent on start and when the map changes), so every MAPEM
whose bytes differ from the kept ones is decoded in full (``decode_mapem``, bounded by
``mapem.MAX_MAPEM_BYTES``) before it is kept; a repeat of the kept bytes is not decoded again.

Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from edge_agent.contract.etsi import uper
from edge_agent.contract.etsi.header import MessageId
from edge_agent.contract.etsi.intersection_status import BITS_OF_STATUS
from edge_agent.contract.etsi.mapem import MAX_MAPEM_BYTES, decode_mapem
from edge_agent.contract.etsi.spatem import (
    MAX_SPATEM_BYTES,
    MSG_COUNT_MODULO,
    IntersectionState,
    decode_spatem,
)
from edge_agent.contract.etsi.timemark import interval_confidence, time_marks
from edge_agent.contract.payloads import Spat

#: one full decode per intersection and this many ms (hub time); the rest is kept unread.
DECODE_INTERVAL_MS = 1_000
#: the contract row of each message the hub keeps, its ETSI type and size bound.
KEPT: dict[str, tuple[MessageId, int]] = {
    "etsi_spatem": (MessageId.SPATEM, MAX_SPATEM_BYTES),
    "etsi_mapem": (MessageId.MAPEM, MAX_MAPEM_BYTES),
}
EtsiRow = Literal["etsi_spatem", "etsi_mapem"]


@dataclass(slots=True)
class EtsiIntersection:
    """The latest C-ITS messages of one intersection and the latest agreement check."""

    spatem: bytes | None = None
    spatem_ms: int = 0
    mapem: bytes | None = None
    mapem_ms: int = 0
    #: the kept MAPEM's revision (msgIssueRevision), as decoded
    mapem_revision: int | None = None
    #: hub time of the latest full SPATEM decode (the sample), 0 before the first
    decoded_ms: int = 0
    #: whether the latest sampled SPATEM said what the JSON SPaT of its tick said; ``None``
    #: until a sample met its SPaT
    agrees: bool | None = None
    #: what differed, for the log and for people
    difference: str | None = None


class EtsiFeed:
    """Latest C-ITS bytes per intersection; see the module docstring."""

    def __init__(self, decode_interval_ms: int = DECODE_INTERVAL_MS) -> None:
        self.decode_interval_ms = decode_interval_ms
        self.intersections: dict[str, EtsiIntersection] = {}
        #: full decodes made (samples), and samples that met the SPaT of their tick
        self.decoded = 0
        #: full MAPEM decodes (one per MAPEM that differs from the kept one)
        self.mapem_decoded = 0
        self.compared = 0
        #: agreement checks that failed, by intersection
        self.disagreements: Counter[str] = Counter()

    def accept(self, name: EtsiRow, intersection_id: str, payload: bytes, now: int, *,
               spat: Spat | None = None, map_revision: int | None = None) -> None:
        """Check and keep one message; ``spat`` is the latest JSON SPaT of the intersection
        and ``map_revision`` its MAP's, for the agreement check. Raises
        :class:`~edge_agent.contract.etsi.errors.ItsMessageError` (a ``PayloadError``: its
        ``reason`` is the label to count) and keeps nothing."""
        message_id, max_bytes = KEPT[name]
        raw = uper.check_header(message_id, payload, max_bytes)
        entry = self.intersections.get(intersection_id)
        if entry is None:
            entry = self.intersections[intersection_id] = EtsiIntersection()
        if name == "etsi_mapem":
            if raw != entry.mapem:  # a new map: read it in full before keeping it
                self.mapem_decoded += 1
                entry.mapem_revision = decode_mapem(raw).revision
            entry.mapem, entry.mapem_ms = raw, now
            return
        if now - entry.decoded_ms >= self.decode_interval_ms:
            entry.decoded_ms = now  # a refused sample uses up its slot too: bounded cost
            self.decoded += 1
            msg = decode_spatem(raw)  # raises before the bytes are kept
            self._compare(entry, intersection_id, msg.intersections, spat, map_revision)
        entry.spatem, entry.spatem_ms = raw, now

    def _compare(self, entry: EtsiIntersection, intersection_id: str,
                 states: tuple[IntersectionState, ...], spat: Spat | None,
                 map_revision: int | None) -> None:
        if spat is None or len(states) != 1:
            return
        year = datetime.fromtimestamp(spat.ts // 1000, tz=UTC).year
        if states[0].sent_at_ms(year) != spat.ts:
            return  # not the same tick (one of the two was lost): wait for the next sample
        self.compared += 1
        entry.difference = spatem_difference(spat, states[0], map_revision)
        entry.agrees = entry.difference is None
        if not entry.agrees:
            self.disagreements[intersection_id] += 1

    def latest(self, name: EtsiRow, intersection_id: str) -> bytes | None:
        """The latest bytes of ``name`` from ``intersection_id``, ``None`` before the first."""
        entry = self.intersections.get(intersection_id)
        if entry is None:
            return None
        return entry.spatem if name == "etsi_spatem" else entry.mapem

    def agrees(self, intersection_id: str) -> bool | None:
        """The latest agreement check of ``intersection_id`` (``None``: none yet)."""
        entry = self.intersections.get(intersection_id)
        return None if entry is None else entry.agrees


def spatem_difference(spat: Spat, state: IntersectionState, map_revision: int | None
                      ) -> str | None:
    """The first value in which a SPATEM's IntersectionState differs from what the SPaT of
    its tick says (docs/c-its.md), or ``None`` when they agree. The hub does not know the
    intersection's ITS numbers (``its_sg``), so the movements are compared in order (the
    controller writes both from the same rows); the revision only against a known MAP."""
    year = datetime.fromtimestamp(spat.ts // 1000, tz=UTC).year
    if state.sent_at_ms(year) != spat.ts:
        return f"moy/timeStamp {state.moy}/{state.timestamp} is not ts {spat.ts}"
    if map_revision is not None and state.revision != map_revision % MSG_COUNT_MODULO:
        return f"revision {state.revision} is not the MAP's {map_revision}"
    if state.status != frozenset(BITS_OF_STATUS[spat.status]):
        return f"status bits {sorted(state.status)} are not {spat.status}"
    if len(state.movements) != len(spat.groups):
        return f"{len(state.movements)} movements for {len(spat.groups)} signal groups"
    for group, movement in zip(spat.groups, state.movements, strict=True):
        if len(movement.events) != 1:
            return f"{group.sg}: {len(movement.events)} movement events"
        event = movement.events[0]
        if event.state != group.state:
            return f"{group.sg}: state {event.state} is not {group.state}"
        lo, likely, hi = time_marks(group.min_end, group.likely_end, group.max_end, spat.ts)
        confidence = None if group.likely_end is None else interval_confidence(group.confidence)
        t = event.timing
        sent = None if t is None else (t.min_end, t.likely, t.max_end, t.confidence)
        if sent != (lo, likely, hi, confidence):
            return f"{group.sg}: timing {sent} is not {(lo, likely, hi, confidence)}"
    return None


def jer_text(name: EtsiRow, payload: bytes) -> str:
    """The kept bytes in the JSON encoding rules, for people debugging (decodes them)."""
    message_id, max_bytes = KEPT[name]
    return uper.to_jer(message_id, payload, max_bytes)


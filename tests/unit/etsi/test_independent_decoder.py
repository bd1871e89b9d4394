"""Every SPATEM we emit, read back by a second PER implementation (asn1tools, compiled from
ASN.1 text written from the compiled ETSI modules: testbed/etsi_asn1.py), field by field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.etsi.header import MessageId
from edge_agent.contract.etsi.intersection_status import BITS_OF_STATUS, STATUS_BIT_NAMES
from edge_agent.contract.etsi.spatem import decode_spatem, encode_spatem, spatem_value
from edge_agent.contract.etsi.timemark import epoch_ms, interval_confidence, time_mark, time_marks
from edge_agent.contract.payloads import Spat
from testbed import etsi_asn1
from tests.unit.etsi.strategies import spat_and_its


def _bits(value: tuple[bytes, int]) -> set[str]:
    data, nbits = value
    number = int.from_bytes(data, "big") >> (len(data) * 8 - nbits)
    return {name for i, name in enumerate(STATUS_BIT_NAMES) if number >> (nbits - 1 - i) & 1}


def check_fields(spat: Spat, its: Any, map_revision: int | None, other: dict[str, Any]) -> None:
    """asn1tools' value of our message against the payload it was made from."""
    assert other["header"] == {"protocolVersion": 2, "messageID": 4,
                               "stationID": its.station_id}
    assert set(other["spat"]) == {"intersections"}
    (state,) = other["spat"]["intersections"]
    ref = {"id": its.intersection_id} | ({} if its.region is None else {"region": its.region})
    assert state["id"] == ref
    assert state["revision"] == (spat.revision if map_revision is None else map_revision) % 128
    assert _bits(state["status"]) == set(BITS_OF_STATUS[spat.status])
    year = datetime.fromtimestamp(spat.ts // 1000, tz=UTC).year
    assert epoch_ms(year, state["moy"], state["timeStamp"]) == spat.ts
    assert set(state) == {"id", "revision", "status", "moy", "timeStamp", "states"}
    assert len(state["states"]) == len(spat.groups)
    for group, movement in zip(spat.groups, state["states"], strict=True):
        assert set(movement) == {"signalGroup", "state-time-speed"}
        assert movement["signalGroup"] == its.signal_groups[group.sg]
        (event,) = movement["state-time-speed"]
        assert event["eventState"] == group.state
        lo, likely, hi = time_marks(group.min_end, group.likely_end, group.max_end, spat.ts)
        timing = {"minEndTime": lo, "likelyTime": likely, "maxEndTime": hi}
        confidence = None if group.likely_end is None else interval_confidence(group.confidence)
        if confidence is not None:
            timing["confidence"] = confidence
        if group.next_green is not None and group.green_end is None:
            timing["nextTime"] = time_mark(group.next_green, spat.ts)
        assert event == {"eventState": group.state, "timing": timing}


@settings(max_examples=150, deadline=None)
@given(case=spat_and_its(), map_revision=st.none() | st.integers(0, 10**6))
def test_asn1tools_reads_every_field_we_write(case: Any, map_revision: int | None) -> None:
    spat, its = case
    data = encode_spatem(spat, its, map_revision)
    other = etsi_asn1.decode(MessageId.SPATEM, data)
    check_fields(spat, its, map_revision, other)
    # the same bytes from the other encoder: UPER has one encoding of a value
    assert etsi_asn1.encode(MessageId.SPATEM, other) == data


@settings(max_examples=50, deadline=None)
@given(case=spat_and_its())
def test_we_read_what_asn1tools_writes(case: Any) -> None:
    spat, its = case
    value = spatem_value(spat, its)
    (state,) = value["spat"]["intersections"]
    bits, nbits = state["status"]
    state["status"] = (bits.to_bytes(2, "big"), nbits)
    data = etsi_asn1.encode(MessageId.SPATEM, value)
    assert data == encode_spatem(spat, its)
    msg = decode_spatem(data)
    assert msg.intersections[0].movements[0].events[0].state == spat.groups[0].state


def test_the_asn1_text_holds_the_dsrc_constraints() -> None:
    text = etsi_asn1.module_text(MessageId.SPATEM)
    for line in ("minEndTime INTEGER (0..36001)", "revision INTEGER (0..127)",
                 "status BIT STRING (SIZE(16))", "SEQUENCE (SIZE(1..255)) OF",
                 "confidence INTEGER (0..15) OPTIONAL", "stationID INTEGER (0..4294967295)"):
        assert line in text

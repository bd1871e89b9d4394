"""Received SPATEM bytes that are not ours to trust: only our own errors come out."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.contract.etsi.errors import ItsMessageError
from edge_agent.contract.etsi.header import MessageId
from edge_agent.contract.etsi.spatem import MAX_SPATEM_BYTES, decode_spatem, encode_spatem
from edge_agent.errors import KasselError, PayloadError
from testbed import etsi_asn1
from tests.unit.etsi.strategies import spat_and_its

#: A SPATEM captured from a real controller, published in mouse07410/asn1c issue #124
#: ("Decode base64 UPER encoded string", 2023-04-06). Protocol version 1 (ISO TS 19091 DSRC of
#: the same shape for SPaT).
PUBLISHED = base64.b64decode(
    "AQR7NgAKIRkuZLmAHA0tg0ZtlrG9mwAFgAIACHAB5JBkBYMgEENUZQxlCKAsGYECGqMoYyhFAWDUDBDVGUMZ"
    "QigLBuCAhqjKGMoRQFg4BQQ1RlDGUIoCyagwIaoyhjKEUBZNgcENUZQxlCI=")


def _reason(data: bytes) -> str:
    with pytest.raises(ItsMessageError) as info:
        decode_spatem(data)
    return info.value.reason


def test_the_published_vector_decodes_to_its_fields() -> None:
    other = etsi_asn1.decode(MessageId.SPATEM, PUBLISHED)
    assert other["header"] == {"protocolVersion": 1, "messageID": 4, "stationID": 2067136522}
    # we speak protocol version 2 only ...
    assert _reason(PUBLISHED) == "wrong_protocol_version"
    # ... and the header is whole octets: as version 2 the same SPaT reads field by field
    msg = decode_spatem(b"\x02" + PUBLISHED[1:])
    assert msg.name == "2.2.0" and msg.moy is None
    (state,) = msg.intersections
    assert (state.region, state.intersection_id, state.revision) == (31542, 11, 0)
    assert state.name == "K0436-1"
    assert state.status == {"trafficDependentOperation"}
    assert (state.moy, state.timestamp) == (34560, 7753)
    assert [m.signal_group for m in state.movements] == [1, 2, 3, 4, 5, 6, 7]
    assert [m.name for m in state.movements] == ["02", "03", "05", "07", "08", "25", "26"]
    for movement in state.movements:
        (event,) = movement.events
        assert event.state == "stop-And-Remain"
        assert event.timing is not None
        assert (event.timing.min_end, event.timing.max_end, event.timing.likely,
                event.timing.confidence) == (36001, 36001, None, 1)
    spat = other["spat"]["intersections"][0]
    assert spat["status"] == (b"\x02\x00", 16)
    assert [m["movementName"] for m in spat["states"]] == ["02", "03", "05", "07", "08", "25",
                                                           "26"]


def test_header_size_and_trailing_bytes_are_refused_with_a_reason() -> None:
    good = b"\x02" + PUBLISHED[1:]
    assert _reason(b"") == "empty"
    assert _reason(good + b"\x00") == "trailing_bytes"
    assert _reason(b"\x02\x05" + good[2:]) == "wrong_message_id"
    assert _reason(b"\x03" + good[1:]) == "wrong_protocol_version"
    assert _reason(good[:40]) == "malformed"
    assert _reason(b"\x02\x04" + bytes(MAX_SPATEM_BYTES)) == "too_large"
    error = ItsMessageError("malformed", "x")
    assert isinstance(error, PayloadError) and isinstance(error, KasselError)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | st.binary(max_size=300).map(lambda b: b"\x02\x04" + b))
def test_random_bytes_raise_only_our_error(data: bytes) -> None:
    with contextlib.suppress(ItsMessageError):
        decode_spatem(data)


@settings(max_examples=60, deadline=None)
@given(case=spat_and_its(), cut=st.integers(0, 10**6), flip=st.integers(0, 10**6))
def test_truncated_and_damaged_messages_raise_only_our_error(case: object, cut: int,
                                                             flip: int) -> None:
    spat, its = case  # type: ignore[misc]
    data = encode_spatem(spat, its)
    short = data[:cut % len(data)]
    with pytest.raises(ItsMessageError):
        decode_spatem(short)
    damaged = bytearray(data)
    damaged[flip % len(data)] ^= 1 << (flip % 8)
    with contextlib.suppress(ItsMessageError):
        decode_spatem(bytes(damaged))

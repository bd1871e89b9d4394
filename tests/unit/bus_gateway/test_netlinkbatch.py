"""Bulk rtnetlink framing: patched copies of one encoded request, acks read back by sequence."""

from __future__ import annotations

import struct

import pytest

from bus_gateway.netlinkbatch import chunks, parse_acks, with_handle

HDR = struct.Struct("=IHHII")


def request(handle: int, payload: bytes = b"\x01" * 40) -> bytes:
    """An RTM_NEWTCLASS-shaped request: nlmsghdr + tcmsg + attributes."""
    tcmsg = struct.pack("=BBHiIII", 0, 0, 0, 7, handle, 0x10002, 0)
    body = tcmsg + payload
    return HDR.pack(HDR.size + len(body), 40, 0x105, 99, 4242) + body


def ack(seq: int, error: int) -> bytes:
    body = struct.pack("=i", error) + HDR.pack(16, 40, 0x105, seq, 0)
    return HDR.pack(HDR.size + len(body), 2, 0x100, seq, 0) + body


def test_a_copy_differs_only_in_sequence_number_and_class_handle():
    template = request(0x10100)
    copy = with_handle(template, seq=17, handle=0x10163)
    assert len(copy) == len(template)
    length, kind, flags, seq, pid = HDR.unpack_from(copy)
    assert (length, kind, flags, seq, pid) == (len(template), 40, 0x105, 17, 0)
    assert struct.unpack_from("=BBHiIII", copy, 16) == (0, 0, 0, 7, 0x10163, 0x10002, 0)
    assert copy[36:] == template[36:]  # rate tables and the rest untouched


def test_a_template_whose_length_field_is_wrong_is_refused():
    with pytest.raises(ValueError, match="says"):
        with_handle(request(0x10100) + b"\0\0\0\0", seq=1, handle=0x10101)


def test_acks_are_matched_by_sequence_number_with_errno():
    data = ack(5, 0) + ack(6, -2) + HDR.pack(20, 3, 0, 7, 0) + b"\0\0\0\0" + ack(8, -22)
    assert parse_acks(data) == {5: 0, 6: 2, 8: 22}


def test_a_truncated_message_header_is_an_error():
    with pytest.raises(ValueError, match="netlink message"):
        parse_acks(HDR.pack(4, 2, 0, 1, 0))


def test_chunks_keep_order_and_never_exceed_the_limit():
    messages = [bytes([i]) * 3000 for i in range(50)]
    groups = chunks(messages, limit=10_000)
    assert [m for g in groups for m in g] == messages
    assert all(sum(map(len, g)) <= 10_000 for g in groups)
    assert [len(g) for g in groups] == [3] * 16 + [2]
    assert chunks([], limit=10_000) == []
    assert chunks([b"x" * 20_000], limit=10_000) == [[b"x" * 20_000]]  # alone if too big

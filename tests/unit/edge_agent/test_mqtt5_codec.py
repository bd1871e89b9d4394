"""The MQTT 5 codec against the specification's byte layouts, and stream splitting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.mqtt5 import codec


@pytest.mark.parametrize(("n", "encoded"), [
    (0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16_383, b"\xff\x7f"),
    (16_384, b"\x80\x80\x01"), (2_097_151, b"\xff\xff\x7f"), (2_097_152, b"\x80\x80\x80\x01"),
    (268_435_455, b"\xff\xff\xff\x7f"),
])
def test_varint_matches_the_specification_table(n: int, encoded: bytes) -> None:
    # MQTT 5.0 §1.5.5, table 1-1
    assert codec.varint(n) == encoded


def test_varint_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        codec.varint(268_435_456)


def test_connect_layout() -> None:
    pkt = codec.connect("hub-1", keepalive_s=30, clean_start=False, session_expiry_s=3600,
                       receive_maximum=4000, username="hub", password="pw")
    body = (b"\x00\x04MQTT\x05"  # protocol name and level 5
            + bytes((0x80 | 0x40,))  # username + password, clean start off
            + b"\x00\x1e"  # keepalive 30
            + b"\x08\x11\x00\x00\x0e\x10\x21\x0f\xa0"  # session expiry 3600, receive max 4000
            + b"\x00\x05hub-1" + b"\x00\x03hub" + b"\x00\x02pw")
    assert pkt == b"\x10" + bytes((len(body),)) + body


def test_connect_with_will_sets_flags_and_payload() -> None:
    pkt = codec.connect("c", keepalive_s=10, clean_start=True,
                       will=codec.Will("t/x", b"off", qos=1, retain=True))
    flags = pkt[2 + 7]
    assert flags == 0x02 | 0x04 | 0x08 | 0x20
    assert pkt.endswith(b"\x00\x01c" + b"\x00" + b"\x00\x03t/x" + b"\x00\x03off")


def test_subscribe_and_pubacks_layout() -> None:
    assert codec.subscribe(7, [("a/#", 1), ("b", 0)]) == (
        b"\x82\x0d\x00\x07\x00" + b"\x00\x03a/#\x01" + b"\x00\x01b\x00")
    assert codec.pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"
    assert codec.pubacks([]) == b""


def _publish_with_properties(topic: bytes, payload: bytes, mid: int) -> bytes:
    # a QoS 1 PUBLISH as a broker forwards it with properties (content type, user property)
    props = b"\x03\x00\x10application/json" + b"\x26\x00\x01k\x00\x01v"
    body = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big")
    body += codec.varint(len(props)) + props + payload
    return b"\x32" + codec.varint(len(body)) + body


def test_splitter_reads_publish_with_and_without_properties() -> None:
    s = codec.Splitter()
    s.feed(codec.publish("kassel/v1/bus/1/position", b'{"a":1}', qos=0)
           + _publish_with_properties(b"kassel/v1/bus/2/wlan", b"{}", 513)
           + b"\xd0\x00")
    assert s.messages == [(0, 0, "kassel/v1/bus/1/position", b'{"a":1}'),
                          (1, 513, "kassel/v1/bus/2/wlan", b"{}")]
    assert s.controls == [(codec.PINGRESP, None)]


def test_splitter_decodes_connack_suback_and_disconnect() -> None:
    s = codec.Splitter()
    s.feed(b"\x20\x03\x01\x00\x00" + b"\x90\x05\x00\x07\x00\x01\x87" + b"\xe0\x02\x8b\x00")
    (k1, connack), (k2, suback), (k3, disc) = s.controls
    assert (k1, k2, k3) == (codec.CONNACK, codec.SUBACK, codec.DISCONNECT)
    assert connack is not None and connack.session_present and not connack.failed
    assert suback is not None and suback.reason_codes == (0x01, 0x87) and suback.failed
    assert disc is not None and disc.reason_codes == (0x8B,)


@pytest.mark.parametrize(("data", "match"), [
    (b"\x30\xff\xff\xff\xff\x01", "four bytes"),
    (b"\x50\x02\x00\x01", "unexpected packet type"),
    (b"\x20\x00", "short CONNACK"),
    (b"\x90" + codec.varint(200) + b"\x00" * 200, "exceeds"),  # an oversized control packet
])
def test_splitter_refuses_a_stream_it_cannot_follow(data: bytes, match: str) -> None:
    with pytest.raises(codec.ProtocolError, match=match):
        codec.Splitter(max_packet=100).feed(data)


_GOOD = codec.publish("ok", b"after", 1, 9)


@pytest.mark.parametrize(("packet", "reason", "qos", "mid"), [
    (b"\x34\x06\x00\x01t\x00\x04\x00", "qos2", 2, 4),
    (b"\x36\x06\x00\x01t\x00\x04\x00", "qos3", 3, 4),
    (b"\x32\x05\x00\x01t\x00\x05", "malformed", 1, 5),  # properties missing
    (b"\x32\x06\x00\x01t\x00\x05\x05", "malformed", 1, 5),  # properties run past
    (b"\x32\x09\x00\x01t\x00\x05\xff\xff\xff\xff", "malformed", 1, 5),  # broken varint
    (b"\x32\x07\x00\x02\xff\xfe\x00\x06\x00", "bad_topic", 1, 6),
    (b"\x32\x04\x00\x40ka", "malformed", 1, 0),  # topic runs past: no packet id
    (b"\x30\x01\x00", "malformed", 0, 0),
])
def test_splitter_skips_a_poison_publish_and_goes_on(packet: bytes, reason: str, qos: int,
                                                     mid: int) -> None:
    s = codec.Splitter()
    s.feed(packet + _GOOD)
    assert [p.reason for p in s.poison] == [reason]
    assert s.messages[0][:2] == (qos, mid) and s.messages[0][3] is codec.POISON
    assert s.messages[1] == (1, 9, "ok", b"after")


def test_splitter_skips_oversized_publishes_without_buffering_them() -> None:
    s = codec.Splitter(max_packet=100)
    big = codec.publish("t/big", b"x" * 10_000, 1, 77)
    s.feed(big[:12])  # header only: poison known, the rest is skipped as it comes
    assert s.poison == [codec.Poison("too_large", 1, 77, "t/big", len(big) - 3)]
    for i in range(12, len(big), 1000):
        s.feed(big[i:i + 1000])
        assert len(s._rest) == 0
    s.feed(_GOOD)
    assert [m[:3] for m in s.messages] == [(1, 77, "t/big"), (1, 9, "ok")]
    assert s.messages[0][3] is codec.POISON and s.messages[1][3] == b"after"


def test_splitter_waits_for_the_header_of_an_oversized_publish() -> None:
    s = codec.Splitter(max_packet=100)
    big = codec.publish("t/" + "a" * 300, b"x" * 500, 1, 3)
    s.feed(big[:50])  # the topic is not complete yet
    assert s.poison == []
    s.feed(big[50:] + _GOOD)
    assert [p.packet_id for p in s.poison] == [3]
    assert s.messages[-1] == (1, 9, "ok", b"after")


def test_an_empty_payload_is_not_the_poison_marker() -> None:
    s = codec.Splitter()
    s.feed(codec.publish("t", b"", 1, 1))
    assert s.messages == [(1, 1, "t", b"")] and s.messages[0][3] is not codec.POISON


@settings(max_examples=100)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=30))
def test_any_chunking_skips_the_same_poison(cuts: list[int]) -> None:
    stream = (codec.publish("a", b"1", 1, 1) + codec.publish("big", b"x" * 3000, 1, 2)
              + b"\x34\x06\x00\x01t\x00\x03\x00" + codec.publish("b", b"2", 1, 4))
    s = codec.Splitter(max_packet=1000)
    pos = 0
    for c in cuts:
        s.feed(stream[pos:pos + c])
        pos += c
    s.feed(stream[pos:])
    assert [(m[1], m[3] is codec.POISON) for m in s.messages] == [
        (1, False), (2, True), (3, True), (4, False)]


_messages = st.lists(st.tuples(
    st.integers(0, 1), st.integers(1, 0xFFFF),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40),
    st.binary(max_size=300)), max_size=20)


@settings(max_examples=200)
@given(_messages, st.lists(st.integers(1, 64), min_size=1, max_size=30))
def test_any_chunking_of_a_stream_gives_the_same_messages(
        msgs: list[tuple[int, int, str, bytes]], cuts: list[int]) -> None:
    stream = b"".join(codec.publish(t, p, q, m if q else 0) for q, m, t, p in msgs)
    s = codec.Splitter()
    pos = 0
    i = 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        s.feed(stream[pos:pos + step])
        pos += step
        i += 1
    assert s.messages == [(q, m if q else 0, t, p) for q, m, t, p in msgs]
    assert s._rest == b""


@settings(max_examples=2000)
@given(st.binary(max_size=200), st.integers(1, 50))
def test_random_bytes_only_ever_raise_protocol_error(data: bytes, step: int) -> None:
    s = codec.Splitter(max_packet=1000)
    try:
        for k in range(0, len(data), step):
            s.feed(data[k:k + step])
    except codec.ProtocolError:
        return
    for _qos, _mid, topic, payload in s.messages:
        assert isinstance(topic, str) and isinstance(payload, bytes)

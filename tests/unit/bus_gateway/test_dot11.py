"""The hand-written 802.11 probe-request parser agrees with scapy and never trips on junk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dot11 import Dot11, Dot11Beacon, Dot11Elt, Dot11ProbeReq, RadioTap

from bus_gateway.domain.dot11 import (
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    parse_probe_request,
)

macs = st.binary(min_size=6, max_size=6).map(lambda b: b.hex(":"))
elements = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40)), max_size=6)


def _probe(src: str, seq: int, elts: list[tuple[int, bytes]]) -> Dot11:
    frame = Dot11(type=0, subtype=4, addr1="ff:ff:ff:ff:ff:ff", addr2=src,
                  addr3="ff:ff:ff:ff:ff:ff", SC=seq << 4) / Dot11ProbeReq()
    for ident, info in elts:
        frame = frame / Dot11Elt(ID=ident, info=info)
    return frame


@settings(max_examples=200, deadline=None)
@given(src=macs, seq=st.integers(0, 4095), elts=elements, rssi=st.integers(-100, -1))
def test_radiotap_probe_requests_parse_like_scapy(
    src: str, seq: int, elts: list[tuple[int, bytes]], rssi: int
) -> None:
    raw = bytes(RadioTap(present="dBm_AntSignal", dBm_AntSignal=rssi) / _probe(src, seq, elts))
    parsed = parse_probe_request(raw, LINKTYPE_IEEE802_11_RADIOTAP)
    assert parsed is not None
    theirs = RadioTap(raw)
    assert parsed.source == theirs[Dot11].addr2 == src
    assert parsed.seq == theirs[Dot11].SC >> 4 == seq
    assert parsed.rssi_dbm == theirs.dBm_AntSignal == rssi
    assert list(parsed.elements) == elts


@settings(max_examples=100, deadline=None)
@given(src=macs, seq=st.integers(0, 4095), elts=elements)
def test_bare_802_11_has_no_signal_strength(src: str, seq: int,
                                            elts: list[tuple[int, bytes]]) -> None:
    parsed = parse_probe_request(bytes(_probe(src, seq, elts)), LINKTYPE_IEEE802_11)
    assert parsed is not None
    assert (parsed.source, parsed.seq, parsed.rssi_dbm) == (src, seq, None)


def test_other_frames_and_link_types_are_ignored() -> None:
    beacon = bytes(RadioTap() / Dot11(type=0, subtype=8, addr2="02:00:00:00:00:01")
                   / Dot11Beacon() / Dot11Elt(ID=0, info=b"ssid"))
    assert parse_probe_request(beacon, LINKTYPE_IEEE802_11_RADIOTAP) is None
    probe = bytes(_probe("02:00:00:00:00:01", 1, []))
    assert parse_probe_request(probe, 1) is None  # Ethernet link type


def test_truncated_element_keeps_the_complete_ones() -> None:
    raw = bytes(_probe("02:00:00:00:00:02", 7, [(0, b"net"), (1, b"\x82\x84")]))
    parsed = parse_probe_request(raw[:-1], LINKTYPE_IEEE802_11)
    assert parsed is not None
    assert parsed.elements == ((0, b"net"),)


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(max_size=200), linktype=st.sampled_from(
    [LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP]))
def test_junk_never_raises(raw: bytes, linktype: int) -> None:
    result = parse_probe_request(raw, linktype)
    assert result is None or len(result.source) == 17

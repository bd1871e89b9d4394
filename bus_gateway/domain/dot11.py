"""802.11 probe requests read straight from raw frames (radiotap or bare 802.11).

Why by hand and not with scapy's dissector: the gateway needs four things of a probe request
— the transmitter address, the sequence number, the information elements as bytes and the
signal strength — and they sit at fixed offsets or in a type-length-value list. Scapy builds
an object per layer and per element (an HT-capabilities element alone has 30 fields), which
cost about 3 ms of CPU per frame on a PC: at 50 probe requests per second that was 17 % of a
core, the whole budget of the gateway (``bench/bench_gateway.py``), and a Pi is slower.
Parsing here costs a few microseconds, and importing nothing keeps scapy (~20 MB) out of the
router's memory.

Supported link types: radiotap (``LINKTYPE_IEEE802_11_RADIOTAP``; every mac80211 monitor
interface, so every Pi adapter) and bare 802.11 (no signal strength). :data:`PROBE_REQUEST_BPF`
is the classic-BPF program that libpcap compiles for ``type mgt subtype probe-req`` on each,
so the kernel drops every other frame before Python sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: pcap link types (DLT) of 802.11 captures
LINKTYPE_IEEE802_11 = 105
LINKTYPE_IEEE802_11_RADIOTAP = 127
#: Linux ``ARPHRD_*`` device types → pcap link type
LINKTYPE_FOR_ARPHRD = {801: LINKTYPE_IEEE802_11, 803: LINKTYPE_IEEE802_11_RADIOTAP}

#: frame control byte 0 without the version bits: type management (0), subtype probe request (4)
_FC0_PROBE_REQUEST = 0x40
_MGMT_HEADER = 24
_HT_CONTROL = 4
_FCS = 4
#: radiotap fields up to the antenna signal, by ``present`` bit: (alignment, size)
_RADIOTAP_FIELDS = ((8, 8), (1, 1), (1, 1), (2, 4), (1, 2), (1, 1))  # TSFT … dBm_AntSignal
_RT_FLAGS = 1
_RT_ANTSIGNAL = 5
_RT_EXT = 1 << 31
_RT_FLAG_FCS_AT_END = 0x10
_RT_FLAG_BAD_FCS = 0x40

BpfInstruction = tuple[int, int, int, int]  # code, jt, jf, k (``struct sock_filter``)

#: ``tcpdump -dd -y IEEE802_11_RADIO 'type mgt subtype probe-req'`` (and ``-y IEEE802_11``):
#: X = radiotap length, then accept when frame control byte 0 & 0xfc == 0x40.
PROBE_REQUEST_BPF: dict[int, tuple[BpfInstruction, ...]] = {
    LINKTYPE_IEEE802_11_RADIOTAP: (
        (0x30, 0, 0, 3),  # ldb [3]      radiotap it_len, high byte
        (0x64, 0, 0, 8),  # lsh #8
        (0x07, 0, 0, 0),  # tax
        (0x30, 0, 0, 2),  # ldb [2]      low byte
        (0x4C, 0, 0, 0),  # or x
        (0x07, 0, 0, 0),  # tax          X = it_len
        (0x50, 0, 0, 0),  # ldb [x + 0]  frame control, byte 0
        (0x54, 0, 0, 0xFC),  # and #0xfc
        (0x15, 0, 1, _FC0_PROBE_REQUEST),  # jeq #0x40
        (0x06, 0, 0, 0x40000),  # ret #262144 (accept)
        (0x06, 0, 0, 0),  # ret #0 (drop)
    ),
    LINKTYPE_IEEE802_11: (
        (0x30, 0, 0, 0),  # ldb [0]
        (0x54, 0, 0, 0xFC),  # and #0xfc
        (0x15, 0, 1, _FC0_PROBE_REQUEST),  # jeq #0x40
        (0x06, 0, 0, 0x40000),
        (0x06, 0, 0, 0),
    ),
}


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """What a probe request tells (the address still in the clear: pseudonymise it next)."""

    source: str  # transmitter address, ``aa:bb:cc:dd:ee:ff``
    seq: int
    elements: tuple[tuple[int, bytes], ...]
    rssi_dbm: int | None


def _radiotap(frame: bytes) -> tuple[int, int | None, int] | None:
    """(header length, antenna signal in dBm or None, flags) of a radiotap header."""
    if len(frame) < 8 or frame[0] != 0:
        return None
    length = int.from_bytes(frame[2:4], "little")
    if length < 8 or length > len(frame):
        return None
    present = int.from_bytes(frame[4:8], "little")
    offset, word = 8, present
    while word & _RT_EXT:  # further ``present`` words; the fields follow all of them
        if offset + 4 > length:
            return None
        word = int.from_bytes(frame[offset : offset + 4], "little")
        offset += 4
    flags = 0
    rssi: int | None = None
    for bit, (align, size) in enumerate(_RADIOTAP_FIELDS):
        if not present & (1 << bit):
            continue
        offset = (offset + align - 1) & ~(align - 1)  # aligned from the header's start
        if offset + size > length:
            return None
        if bit == _RT_FLAGS:
            flags = frame[offset]
        elif bit == _RT_ANTSIGNAL:
            value = frame[offset]
            rssi = value - 256 if value > 127 else value
        offset += size
    return length, rssi, flags


def parse_probe_request(frame: bytes, linktype: int) -> ProbeRequest | None:
    """The probe request in ``frame``; ``None`` for other frames, other link types or junk."""
    rssi: int | None = None
    start, end = 0, len(frame)
    if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        header = _radiotap(frame)
        if header is None:
            return None
        start, rssi, flags = header
        if flags & _RT_FLAG_BAD_FCS:
            return None  # damaged on the air: the address may be wrong
        if flags & _RT_FLAG_FCS_AT_END:
            end -= _FCS
    elif linktype != LINKTYPE_IEEE802_11:
        return None
    if end - start < _MGMT_HEADER or frame[start] & 0xFC != _FC0_PROBE_REQUEST:
        return None
    source = frame[start + 10 : start + 16].hex(":")
    seq = int.from_bytes(frame[start + 22 : start + 24], "little") >> 4
    pos = start + _MGMT_HEADER + (_HT_CONTROL if frame[start + 1] & 0x80 else 0)
    elements: list[tuple[int, bytes]] = []
    while pos + 2 <= end:
        size = frame[pos + 1]
        if pos + 2 + size > end:
            break  # truncated element: keep the complete ones
        elements.append((frame[pos], bytes(frame[pos + 2 : pos + 2 + size])))
        pos += 2 + size
    return ProbeRequest(source, seq, tuple(elements), rssi)

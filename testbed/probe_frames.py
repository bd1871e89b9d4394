"""Probe requests as a monitor-mode interface hears them, from a crowd of phones.

Why one generator: the probe-flood test, its benchmark and the gateway benchmark all feed
the gateway's live sniffer the same kind of traffic and differ only in who is probing — a
bus full of passengers with roadside devices and beacons (:data:`STREET`), or an attacker's
stream of fresh random addresses plus devices that probe over and over (:data:`FLOOD`). A
:class:`Crowd` says which; everything else (radiotap header, the information elements of a
phone model, randomised addresses, sequence numbers) is written once here.

Frames are built with scapy once per phone model, SSID and channel and then copied with the
transmitter address, sequence number, signal strength and (when every device has its own)
a vendor element patched in: tens of thousands of frames take about a second, not minutes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

#: phone models of the crowd: devices of one model send the same information elements
MODELS = 8
CHANNELS = (1, 6, 11)
SSIDS = (b"", b"", b"eduroam", b"FRITZ!Box 7590", b"KVG-Bus")
#: the vendor element whose payload a device with its own fingerprint patches
FINGERPRINT_OUI = bytes.fromhex("001018")


@dataclass(frozen=True)
class Devices:
    """A group of devices that probe alike: how many, their addresses, their signal."""

    count: int
    randomized: bool
    rssi_min: int
    rssi_max: int


@dataclass(frozen=True)
class Crowd:
    """Who probes around the gateway, and what else the monitor interface hears.

    ``groups[0]`` also describes the newcomers: devices heard once and never again.
    """

    groups: tuple[Devices, ...]
    #: chance that a randomised device takes a new address before a probe
    rotate: float = 0.0
    #: share of the frames from a device never heard before (spread evenly: 0.8 is four of
    #: every five)
    newcomers: float = 0.0
    #: every device its own information elements (else those of one of :data:`MODELS`)
    own_fingerprints: bool = False
    #: every n-th frame is a beacon, which the sniffer's BPF filter must drop (0: none)
    beacon_every: int = 0


#: a busy bus: phones on board (some rotating their address), older phones with their real
#: one, weak roadside devices; one frame in ten a beacon
STREET = Crowd(groups=(Devices(45, True, -70, -40), Devices(10, False, -92, -78),
                       Devices(5, False, -65, -45)),
               rotate=0.2, beacon_every=10)
#: a probe-request flood: four of five frames from a new device with its own fingerprint,
#: one of five from 400 fake devices that probe over and over (seen across every departure)
FLOOD = Crowd(groups=(Devices(400, True, -60, -40),), newcomers=0.8, own_fingerprints=True)


@dataclass
class _Device:
    randomized: bool
    model: int
    rssi: int
    seq: int
    mac: bytes = b""
    fingerprint: bytes | None = None


def model_elements(rng: random.Random, model: int) -> list[tuple[int, bytes]]:
    """The information elements a phone model sends (sizes as in real probe requests)."""
    ies = [
        (1, b"\x02\x04\x0b\x16\x0c\x12\x18\x24"),  # supported rates
        (50, b"\x30\x48\x60\x6c"),  # extended rates
        (45, rng.randbytes(26)),  # HT capabilities
        (127, rng.randbytes(8 + model % 3)),  # extended capabilities
    ]
    if model % 2 == 0:
        ies.append((191, rng.randbytes(12)))  # VHT capabilities
    if model % 3 == 0:
        ies.append((255, bytes([35]) + rng.randbytes(21)))  # HE capabilities
    ies.append((221, bytes.fromhex("0050f208") + rng.randbytes(3)))  # vendor specific
    ies.append((221, FINGERPRINT_OUI + rng.randbytes(6)))
    return ies


def _radiotap(rssi: int, channel_mhz: int) -> Any:
    from scapy.layers.dot11 import RadioTap  # noqa: PLC0415  (only frame builders need scapy)

    return RadioTap(present="Flags+Rate+Channel+dBm_AntSignal+Antenna", Flags=0, Rate=2,
                    ChannelFrequency=channel_mhz, ChannelFlags="2GHz+CCK",
                    dBm_AntSignal=rssi, Antenna=1)


class _Templates:
    """One scapy-built probe request per (model, SSID, channel), and where to patch it."""

    def __init__(self, models: list[list[tuple[int, bytes]]]) -> None:
        from scapy.compat import raw  # noqa: PLC0415

        self._raw = raw
        self._models = models
        self._built: dict[tuple[int, bytes, int], tuple[bytes, int]] = {}
        header = raw(_radiotap(-1, 2412))
        other = raw(_radiotap(-2, 2412))
        self.rssi_at = next(i for i, (a, b) in enumerate(zip(header, other, strict=True))
                            if a != b)
        self.mac_at = len(header) + 10
        self.seq_at = len(header) + 22

    def get(self, model: int, ssid: bytes, channel: int) -> tuple[bytes, int]:
        """The frame, and the offset of its fingerprint element's 6 patchable bytes."""
        key = (model, ssid, channel)
        if key not in self._built:
            from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq  # noqa: PLC0415

            pkt = (_radiotap(0, 2407 + 5 * channel)
                   / Dot11(type=0, subtype=4, addr1="ff:ff:ff:ff:ff:ff",
                           addr2="00:00:00:00:00:00", addr3="ff:ff:ff:ff:ff:ff", SC=0)
                   / Dot11ProbeReq()
                   / Dot11Elt(ID=0, info=ssid)
                   / Dot11Elt(ID=3, info=bytes([channel])))
            for ie_id, info in self._models[model]:
                pkt = pkt / Dot11Elt(ID=ie_id, info=info)
            frame = self._raw(pkt)
            fp_ie = next(info for ie_id, info in self._models[model]
                         if ie_id == 221 and info.startswith(FINGERPRINT_OUI))
            fp_at = frame.rindex(bytes([221, len(fp_ie)]) + fp_ie) + 2 + len(FINGERPRINT_OUI)
            self._built[key] = frame, fp_at
        return self._built[key]

    def beacon(self) -> bytes:
        from scapy.layers.dot11 import Dot11, Dot11Beacon, Dot11Elt  # noqa: PLC0415

        return bytes(self._raw(_radiotap(-60, 2437)
                               / Dot11(type=0, subtype=8, addr1="ff:ff:ff:ff:ff:ff",
                                       addr2="00:1b:63:00:00:01", addr3="00:1b:63:00:00:01")
                               / Dot11Beacon() / Dot11Elt(ID=0, info=b"KVG-Bus")))


def probe_frames(count: int, crowd: Crowd = STREET, seed: int = 4) -> list[bytes]:
    """``count`` frames (radiotap + 802.11) of ``crowd``, the same for the same seed."""
    rng = random.Random(seed)
    templates = _Templates([model_elements(rng, i) for i in range(MODELS)])

    def new_mac(randomized: bool) -> bytes:
        first = (rng.randrange(64) << 2) | (0x02 if randomized else 0x00)
        return bytes([first, *(rng.randrange(256) for _ in range(5))])

    def new_device(group: Devices) -> _Device:
        return _Device(group.randomized, rng.randrange(MODELS),
                       rng.randint(group.rssi_min, group.rssi_max), rng.randrange(4096))

    def named(d: _Device) -> _Device:
        d.mac = new_mac(d.randomized)
        if crowd.own_fingerprints:
            d.fingerprint = rng.randbytes(6)
        return d

    devices = [new_device(g) for g in crowd.groups for _ in range(g.count)]
    for d in devices:
        named(d)
    beacon = templates.beacon() if crowd.beacon_every else b""
    frames = []
    for i in range(count):
        if crowd.beacon_every and i % crowd.beacon_every == crowd.beacon_every - 1:
            frames.append(beacon)
            continue
        if int((i + 1) * crowd.newcomers) > int(i * crowd.newcomers):  # evenly spread
            d = named(new_device(crowd.groups[0]))
        else:
            d = rng.choice(devices)
            if d.randomized and rng.random() < crowd.rotate:
                d.mac = new_mac(True)  # a phone rotates its randomised address
        d.seq = (d.seq + rng.randint(1, 4)) % 4096
        channel = rng.choice(CHANNELS)
        ssid = rng.choice(SSIDS)
        template, fp_at = templates.get(d.model, ssid, channel)
        buf = bytearray(template)
        buf[templates.rssi_at] = (d.rssi + rng.randint(-3, 3)) & 0xFF
        buf[templates.mac_at:templates.mac_at + 6] = d.mac
        buf[templates.seq_at:templates.seq_at + 2] = (d.seq << 4).to_bytes(2, "little")
        if d.fingerprint is not None:
            buf[fp_at:fp_at + 6] = d.fingerprint
        frames.append(bytes(buf))
    return frames


def is_probe_request(frame: bytes) -> bool:
    """Whether a radiotap frame carries an 802.11 probe request (management, subtype 4)."""
    header = int.from_bytes(frame[2:4], "little")
    return len(frame) > header and frame[header] & 0xFC == 0x40

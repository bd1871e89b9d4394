"""Roles of the probe-flood test, each run inside the lab's gateway namespace.

``python probeflood.py inject`` creates ``mon0``, a TAP device whose link type is set to
802.11 + radiotap (``TUNSETLINK`` 803), so the gateway's live sniffer (``iface:mon0``: raw
socket, kernel BPF filter, parser) reads it exactly like a monitor-mode interface. It answers
``ready``, then on ``go RATE SECONDS`` writes probe requests at RATE frames/s on an absolute
schedule and answers ``done FRAMES SECONDS``. Frames are built once with scapy and copied with
the transmitter address, sequence number and one vendor element patched in: every churn frame
is a new device (random locally administered MAC, random sequence number, its own IE
fingerprint); one frame in five comes from one of :data:`REPEATERS` fake devices that probe
over and over, so they are seen on both sides of every departure and would count as riders.

``python probeflood.py gateway CONFIG STOPS_JSON`` runs the real :class:`BusGateway` with two
extra tasks: a 10-ms timer whose lateness is the event loop's lag, and a once-a-second JSON
line on stdout (worst lag of that second, longest garbage collection, RSS, the sniffer's and
the fusion's counters, the last published occupancy).
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bus_gateway.domain.geo import offset
from bus_gateway.domain.nmea import gga_sentence, rmc_sentence

TUNSETIFF = 0x400454CA
TUNSETLINK = 0x400454CD
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ARPHRD_IEEE80211_RADIOTAP = 803
REPEATERS = 400
MARKER = b"\xa5\x5a\xa5\x5a\xa5\x5a\xa5\x5a"


#: where the drive of :func:`drive` starts, and how far apart its stops are
ORIGIN = (51.3000, 9.4800)
STOP_EVERY_M = 150.0


def drive(start_ms: int, seconds: int) -> tuple[str, list[list[object]]]:
    """NMEA and the stops (``[id, name, lat, lon]``) of a bus that stands 4 s at a stop,
    drives 150 m in 10 s, and so on."""
    lines, t, m, stops = [], 0, 0.0, []
    n = 0
    while t < seconds:
        stops.append([f"S{n}", f"S{n}", *offset(*ORIGIN, 0.0, n * STOP_EVERY_M)])
        for _ in range(4):
            lat, lon = offset(*ORIGIN, 0.0, m)
            lines += [gga_sentence(start_ms + t * 1000, lat, lon),
                      rmc_sentence(start_ms + t * 1000, lat, lon, 0.0, 0.0)]
            t += 1
        for _ in range(10):
            m += STOP_EVERY_M / 10
            lat, lon = offset(*ORIGIN, 0.0, m)
            lines += [gga_sentence(start_ms + t * 1000, lat, lon),
                      rmc_sentence(start_ms + t * 1000, lat, lon, STOP_EVERY_M / 10, 0.0)]
            t += 1
        n += 1
    stops.append([f"S{n}", f"S{n}", *offset(*ORIGIN, 0.0, n * STOP_EVERY_M)])
    return "\n".join(lines) + "\n", stops


def _template() -> tuple[bytes, int, int, int]:
    """A probe request and the offsets of its transmitter, sequence control and marker."""
    from scapy.compat import raw  # noqa: PLC0415
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap  # noqa: PLC0415

    pkt = (RadioTap(present="Flags+Channel+dBm_AntSignal", Flags=0, ChannelFrequency=2437,
                    ChannelFlags="2GHz+CCK", dBm_AntSignal=-48)
           / Dot11(type=0, subtype=4, addr1="ff:ff:ff:ff:ff:ff", addr2="02:11:22:33:44:55",
                   addr3="ff:ff:ff:ff:ff:ff", SC=0)
           / Dot11ProbeReq()
           / Dot11Elt(ID=0, info=b"")
           / Dot11Elt(ID=1, info=b"\x02\x04\x0b\x16\x0c\x12\x18\x24")
           / Dot11Elt(ID=45, info=bytes(range(26)))
           / Dot11Elt(ID=221, info=bytes.fromhex("0050f208") + MARKER))
    frame = raw(pkt)
    rt_len = int.from_bytes(frame[2:4], "little")
    return frame, rt_len + 10, rt_len + 22, frame.index(MARKER)


def _mac(rng: random.Random) -> bytes:
    first = (rng.randrange(256) & 0xFC) | 0x02  # unicast, locally administered: randomised
    return bytes([first, *rng.randbytes(5)])


def frames(count: int, seed: int = 13) -> list[bytes]:
    """``count`` frames: four of five from new devices, one of five from a repeater."""
    template, mac_at, seq_at, marker_at = _template()
    rng = random.Random(seed)
    repeaters = [(_mac(rng), rng.randbytes(8), rng.randrange(4096)) for _ in range(REPEATERS)]
    seqs = [s for _, _, s in repeaters]
    out = []
    for i in range(count):
        buf = bytearray(template)
        if i % 5 == 4:
            k = (i // 5) % REPEATERS
            mac, fp, _ = repeaters[k]
            seqs[k] = (seqs[k] + 1) % 4096
            seq = seqs[k]
        else:
            mac, fp, seq = _mac(rng), rng.randbytes(8), rng.randrange(4096)
        buf[mac_at:mac_at + 6] = mac
        buf[seq_at:seq_at + 2] = (seq << 4).to_bytes(2, "little")
        buf[marker_at:marker_at + 8] = fp
        out.append(bytes(buf))
    return out


def role_inject(count: int) -> None:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"mon0", IFF_TAP | IFF_NO_PI))
    fcntl.ioctl(fd, TUNSETLINK, ARPHRD_IEEE80211_RADIOTAP)  # only while the device is down
    subprocess.run(["ip", "link", "set", "mon0", "up"], check=True)
    prepared = frames(count)
    print("ready", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] != "go":
            continue
        rate, seconds = float(parts[1]), float(parts[2])
        total = min(len(prepared), int(rate * seconds))
        start = time.monotonic()
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            os.write(fd, prepared[i])
        print(f"done {total} {time.monotonic() - start:.2f}", flush=True)


def role_gateway(config_path: str, stops_path: str) -> None:
    import psutil  # noqa: PLC0415

    from bus_gateway.domain.stops import RouteStop  # noqa: PLC0415
    from bus_gateway.wiring import build_gateway  # noqa: PLC0415
    from edge_agent.contract.configs import BusConfig  # noqa: PLC0415

    raw_config = json.loads(Path(config_path).read_text())
    broker = raw_config.pop("_broker")
    config = BusConfig.model_validate(raw_config)
    stops = [RouteStop(*s) for s in json.loads(Path(stops_path).read_text())]
    gateway = build_gateway(config, broker, config_dir=Path(config_path).parent, stops=stops)
    me = psutil.Process()
    worst = [0.0]
    gc_worst = [0.0]
    gc_started = [0.0]

    def gc_timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_worst[0] = max(gc_worst[0], time.perf_counter() - gc_started[0])

    gc.callbacks.append(gc_timer)

    async def lag_timer() -> None:
        period = 0.01
        while True:
            t = time.perf_counter()
            await asyncio.sleep(period)
            worst[0] = max(worst[0], time.perf_counter() - t - period)

    async def report() -> None:
        while True:
            await asyncio.sleep(1.0)
            probes = gateway._probes
            occ = gateway.state.last_occupancy
            line = {
                "t": time.time(),
                "lag_ms": round(worst[0] * 1000, 2),
                "gc_ms": round(gc_worst[0] * 1000, 2),
                "rss_mb": round(me.memory_info().rss / 2**20, 2),
                "cpu_s": round(sum(me.cpu_times()[:2]), 3),
                "frames": probes.frames if probes is not None else None,
                "dropped": getattr(probes, "dropped", None),
                "kernel_dropped": getattr(probes, "kernel_dropped", None),
                "fusion": asdict(gateway.fusion.stats),
                "passengers": occ.passengers if occ else None,
                "probe_devices": occ.probe_devices if occ else None,
            }
            worst[0] = gc_worst[0] = 0.0
            print(json.dumps(line), flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, gateway.stop)
        extra = [asyncio.create_task(lag_timer()), asyncio.create_task(report())]
        try:
            await gateway.run()
        finally:
            for task in extra:
                task.cancel()

    asyncio.run(main())


if __name__ == "__main__":
    if sys.argv[1] == "inject":
        role_inject(int(sys.argv[2]))
    else:
        role_gateway(sys.argv[2], sys.argv[3])

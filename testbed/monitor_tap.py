"""``mon0``: a TAP device that the gateway's sniffer reads like a monitor-mode WLAN interface.

Why: no lab machine has a WLAN card in monitor mode, and the sniffer path that matters (raw
socket, the kernel's BPF filter, the radiotap parser) only runs on a real interface. A TAP
whose link type is set to 802.11 + radiotap (``TUNSETLINK`` 803, allowed only while the device
is down) is one: every frame written into it is received by ``iface:mon0`` exactly as a probe
request heard over the air. The probe-flood test and both gateway benchmarks write their
frames (:mod:`testbed.probe_frames`) through :func:`inject`.

The writer talks over stdin/stdout, so a test can drive it in the gateway's namespace: it
answers ``ready`` once ``mon0`` is up and the frames are prepared; ``go RATE SECONDS`` writes
RATE frames/s for SECONDS on an absolute schedule (at most the frames prepared) and answers
``done FRAMES SECONDS PROBES`` (frames written, seconds it took, probe requests among them).
The device lives as long as the process.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from testbed.probe_frames import is_probe_request

TUNSETIFF = 0x400454CA
TUNSETLINK = 0x400454CD
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ARPHRD_IEEE80211_RADIOTAP = 803
NAME = "mon0"


def open_monitor_tap(name: str = NAME) -> int:
    """Create the TAP ``name`` with the radiotap link type, bring it up; its file descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    fcntl.ioctl(fd, TUNSETLINK, ARPHRD_IEEE80211_RADIOTAP)  # only while the device is down
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return fd


def write_paced(fd: int, frames: Sequence[bytes], rate: float, seconds: float
                ) -> tuple[int, float, int]:
    """Write ``rate`` frames/s for ``seconds`` (at most ``len(frames)``), each at its own time
    from the start; ``(frames written, seconds taken, probe requests among them)``."""
    total = min(len(frames), int(rate * seconds))
    start = time.monotonic()
    probes = 0
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        os.write(fd, frames[i])
        probes += is_probe_request(frames[i])
    return total, time.monotonic() - start, probes


def inject(frames: Sequence[bytes], commands: TextIO = sys.stdin,
           answers: TextIO = sys.stdout) -> None:
    """Create ``mon0``, answer ``ready``, then write ``frames`` on every ``go RATE SECONDS``."""
    fd = open_monitor_tap()
    print("ready", file=answers, flush=True)
    for line in commands:
        parts = line.split()
        if not parts or parts[0] != "go":
            continue
        sent, took, probes = write_paced(fd, frames, float(parts[1]), float(parts[2]))
        print(f"done {sent} {took:.3f} {probes}", file=answers, flush=True)

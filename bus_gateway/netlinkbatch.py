"""Many rtnetlink requests per system call: the re-rating of every client's HTB class.

Why not one pyroute2 call per class: when a passenger is admitted the fair share
``min(per_client_kbps, uplink / n)`` of everybody changes, so every client's class is rewritten
on both devices. Through pyroute2 each ``change-class`` costs about 0.5 ms of Python (it
computes HTB's two 256-entry rate tables, encodes the message and runs a round trip on its own
event loop): with 90 clients that is 180 messages, 45–95 ms of CPU under the GIL, and every
admission behind it (MAC lookup, HTTP parsing) waited. Here pyroute2 encodes the message *once*
per pass (all clients get the same rate, so the messages differ only in the class handle and
the sequence number); copies are patched and sent, up to :data:`CHUNK_BYTES` per ``send``
(the kernel handles every message of a datagram in turn) on one raw ``NETLINK_ROUTE`` socket,
and the acks are read back in bulk. The same 180 changes cost about 1–2 ms of Python, and the
GIL is released while the kernel works.

Only the fixed part of the ABI is touched: ``struct nlmsghdr`` (length, type, flags, seq, pid)
and the ``tcm_handle`` field of ``struct tcmsg`` that follows it.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Sequence

#: ``struct nlmsghdr``: length, type, flags, sequence number, port id
_NLMSGHDR = struct.Struct("=IHHII")
#: ``struct tcmsg``: family, 3 pad bytes, ifindex, handle, parent, info
_TCMSG_HANDLE_OFFSET = _NLMSGHDR.size + 8
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NETLINK_CAP_ACK = 10  # acks carry only the request's header, not the whole request
_SOL_NETLINK = 270
#: bytes handed to the kernel per ``send`` (below the default 208 KiB socket buffer)
CHUNK_BYTES = 64 * 1024


def with_handle(template: bytes, seq: int, handle: int) -> bytes:
    """A copy of the tc request ``template`` for another class ``handle`` and sequence number."""
    msg = bytearray(template)
    length, kind, flags, _, _ = _NLMSGHDR.unpack_from(msg)
    if length != len(msg):
        raise ValueError(f"template is {len(msg)} bytes but says {length}")
    _NLMSGHDR.pack_into(msg, 0, length, kind, flags, seq, 0)
    struct.pack_into("=I", msg, _TCMSG_HANDLE_OFFSET, handle)
    return bytes(msg)


def parse_acks(data: bytes) -> dict[int, int]:
    """Sequence number → errno (0: done) of every ``NLMSG_ERROR`` message in ``data``."""
    out: dict[int, int] = {}
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _, seq, _ = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            raise ValueError(f"netlink message of {length} bytes at {offset}")
        if kind == _NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
            out[seq] = -error
        offset += (length + 3) & ~3
    return out


def chunks(messages: Iterable[bytes], limit: int = CHUNK_BYTES) -> list[list[bytes]]:
    """``messages`` in order, grouped so that each group fits one ``send`` of ``limit`` bytes."""
    out: list[list[bytes]] = []
    size = limit
    for msg in messages:
        if size + len(msg) > limit:
            out.append([])
            size = 0
        out[-1].append(msg)
        size += len(msg)
    return out


class RtnlBatch:
    """One raw ``NETLINK_ROUTE`` socket that sends requests in bulk and collects their acks.

    Not thread-safe: the shaper uses it from its own worker thread only.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
        )
        self._sock.bind((0, 0))
        self._sock.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)
        self._seq = 0

    def next_seq(self) -> int:
        """A fresh sequence number for a request built by the caller."""
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def run(self, requests: Sequence[bytes]) -> dict[int, int]:
        """Send ``requests`` (each with ``NLM_F_ACK`` and a distinct sequence number).

        Returns sequence number → errno for every request the kernel refused (empty: all done).
        """
        failed: dict[int, int] = {}
        for group in chunks(requests):
            waiting = {_NLMSGHDR.unpack_from(msg)[3] for msg in group}
            self._sock.send(b"".join(group))
            while waiting:
                for seq, error in parse_acks(self._sock.recv(1 << 16)).items():
                    if seq in waiting:
                        waiting.discard(seq)
                        if error:
                            failed[seq] = error
        return failed

    def close(self) -> None:
        """Release the socket."""
        self._sock.close()

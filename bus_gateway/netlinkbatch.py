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

The same holds for a new client's class, leaf queue and filter (:func:`tc_request`): they are
encoded once per device (and rate) and copied with the handle, parent, filter priority, class
id and address patched in, so putting a passenger's class in place before the firewall admits
it costs one round trip instead of six pyroute2 calls.

Only fixed parts of the ABI are touched: ``struct nlmsghdr`` (length, type, flags, seq, pid),
the ``tcm_handle``/``tcm_parent``/``tcm_info`` fields of ``struct tcmsg`` that follows it, and
32-bit words whose offsets the caller located in its own template.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Sequence

#: ``struct nlmsghdr``: length, type, flags, sequence number, port id
_NLMSGHDR = struct.Struct("=IHHII")
#: ``struct tcmsg``: family, 3 pad bytes, ifindex, handle, parent, info
_TCMSG_HANDLE_OFFSET = _NLMSGHDR.size + 8
_TCMSG_PARENT_OFFSET = _NLMSGHDR.size + 12
_TCMSG_INFO_OFFSET = _NLMSGHDR.size + 16
#: ``nlmsg_flags``
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
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


def tc_request(
    template: bytes,
    seq: int,
    *,
    flags: int | None = None,
    handle: int | None = None,
    parent: int | None = None,
    info: int | None = None,
    words: Sequence[tuple[int, str, int]] = (),
) -> bytes:
    """A copy of the tc request ``template`` with another sequence number and fields.

    ``flags`` replaces ``nlmsg_flags``; ``handle``, ``parent`` and ``info`` the fields of
    ``struct tcmsg``; ``words`` are ``(offset, struct format, value)`` of 32-bit values inside
    the attributes (located by the caller in the same template).
    """
    msg = bytearray(template)
    length, kind, old_flags, _, _ = _NLMSGHDR.unpack_from(msg)
    if length != len(msg):
        raise ValueError(f"template is {len(msg)} bytes but says {length}")
    _NLMSGHDR.pack_into(msg, 0, length, kind, old_flags if flags is None else flags, seq, 0)
    for offset, value in (
        (_TCMSG_HANDLE_OFFSET, handle), (_TCMSG_PARENT_OFFSET, parent), (_TCMSG_INFO_OFFSET, info)
    ):
        if value is not None:
            struct.pack_into("=I", msg, offset, value)
    for offset, fmt, value in words:
        if not _TCMSG_INFO_OFFSET + 4 <= offset <= length - struct.calcsize(fmt):
            raise ValueError(f"word at {offset} is outside the attributes of the template")
        struct.pack_into(fmt, msg, offset, value)
    return bytes(msg)


def find_word(template: bytes, fmt: str, sentinel: int) -> int:
    """The offset of the only occurrence of ``sentinel`` packed as ``fmt`` in the attributes."""
    needle = struct.pack(fmt, sentinel)
    start = _TCMSG_INFO_OFFSET + 4
    found = template.find(needle, start)
    if found < 0 or template.find(needle, found + 1) >= 0:
        raise ValueError(f"sentinel {sentinel:#x} is not in the template exactly once")
    return found


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

"""The roadside unit output: the controller's C-ITS messages as UDP datagrams (docs/c-its.md).

Why: many roadside units broadcast over ITS-G5 whatever UPER payloads they receive on a UDP
forwarding port, so a controller beside one reaches vehicles without MQTT. The config's
``its.rsu`` names the unit and the messages it takes; each message is one datagram of the
message's bytes.

It must never hold up or break the tick: the socket is non-blocking and unconnected, the host
is resolved once when the output is opened (at the controller's start, never in the tick),
and a datagram the kernel does not take (a full buffer: EAGAIN/ENOBUFS; no route; a refusal
reported by ICMP) is counted as dropped, never raised. UDP gives no delivery report: a unit
that is down is noticed on its side (no broadcast), not here.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections import Counter
from collections.abc import Iterable

from edge_agent.contract.its_config import RsuConfig, RsuMessage

log = logging.getLogger(__name__)


class RsuOutput:
    """UDP datagrams of the selected messages to one roadside unit."""

    def __init__(self, host: str, port: int, messages: Iterable[RsuMessage], *,
                 label: str = "rsu") -> None:
        self.host = host
        self.port = port
        self.messages: frozenset[str] = frozenset(messages)
        self.label = label
        #: datagrams the kernel took, per message
        self.sent: Counter[str] = Counter()
        #: datagrams not sent, per reason (``spatem_enobufs``, ``spatem_unresolved``, ...)
        self.dropped: Counter[str] = Counter()
        self._sock: socket.socket | None = None
        self._addr: tuple[object, ...] | None = None  # getaddrinfo's sockaddr
        self._resolved = False

    @classmethod
    def from_config(cls, config: RsuConfig, label: str = "rsu") -> RsuOutput:
        """The output a config's ``its.rsu`` describes (not opened yet)."""
        return cls(config.host, config.port, config.messages, label=label)

    def wants(self, message: RsuMessage) -> bool:
        """Whether ``message`` goes to the unit (cheap: the tick asks before encoding)."""
        return message in self.messages

    def open(self) -> None:
        """Resolve the host (once) and make the socket. A host that does not resolve is
        logged and every later datagram counted as ``{message}_unresolved``: the controller
        runs on without its roadside unit."""
        if self._resolved:
            return
        self._resolved = True
        try:
            family, kind, proto, _name, addr = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_DGRAM)[0]
        except (OSError, UnicodeError) as exc:
            log.error("%s: roadside unit %s:%d does not resolve (%s): nothing is sent to it",
                      self.label, self.host, self.port, exc)
            return
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        self._sock, self._addr = sock, addr
        log.info("%s: roadside unit at %s:%d (%s), messages %s", self.label, self.host,
                 self.port, addr[0], ", ".join(sorted(self.messages)))

    def send(self, message: RsuMessage, data: bytes) -> None:
        """Send ``data`` (one message's UPER bytes) as a datagram if the unit takes
        ``message``; never blocks, never raises."""
        if message not in self.messages:
            return
        sock, addr = self._sock, self._addr
        if sock is None or addr is None:
            self.dropped[f"{message}_unresolved" if self._resolved else f"{message}_closed"] += 1
            return
        try:
            sock.sendto(data, addr)
        except OSError as exc:  # EAGAIN/ENOBUFS, unreachable, refused, too large...
            reason = f"{message}_{_reason(exc)}"
            self.dropped[reason] += 1
            if self.dropped[reason] == 1:
                log.warning("%s: roadside unit %s:%d: %s not sent (%s), counted as %s",
                            self.label, self.host, self.port, message, exc, reason)
            return
        self.sent[message] += 1

    def close(self) -> None:
        """Close the socket; later datagrams are counted as ``{message}_closed``."""
        sock, self._sock, self._addr = self._sock, None, None
        self._resolved = False
        if sock is not None:
            sock.close()

    def counters(self) -> dict[str, object]:
        """What the ``status`` command reports of the output."""
        return {"host": self.host, "port": self.port, "sent": dict(self.sent),
                "dropped": dict(self.dropped)}


def _reason(exc: OSError) -> str:
    """A short label of a send error: the errno's name in lower case (``eagain``,
    ``enobufs``, ``econnrefused``, ``ehostunreach``, ``emsgsize``...)."""
    if isinstance(exc, BlockingIOError):
        return "eagain"
    return errno.errorcode.get(exc.errno or 0, "oserror").lower()

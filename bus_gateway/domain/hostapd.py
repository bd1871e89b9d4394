"""hostapd's control-interface text: station replies, events, and the associated-station set.

Why: on a bus the passenger access point is hostapd, and hostapd knows exactly which phones
are associated — the neighbour table only knows devices that sent IP traffic recently, and
forgets them after a while. The control interface (a UNIX datagram socket per radio in
``/var/run/hostapd``) answers ``STA-FIRST`` / ``STA-NEXT <mac>`` with one station each, in
the text format of hostapd's ``hostapd_ctrl_iface_sta_mib()``::

    02:00:00:00:00:01
    flags=[AUTH][ASSOC][AUTHORIZED][WMM]
    aid=1
    capability=0x0
    ...

an empty reply when the list ends, and ``FAIL`` when the MAC asked for is gone. After
``ATTACH`` it sends events such as ``<3>AP-STA-CONNECTED 02:00:00:00:00:01`` and
``<3>AP-STA-DISCONNECTED 02:00:00:00:00:01`` (the ``<3>`` is the message level, more
``key=value`` fields may follow the MAC). This module turns that text into a set of MACs;
the socket adapter is :mod:`bus_gateway.hostapd`. MACs stay on the router: occupancy sees
them only through :class:`bus_gateway.domain.privacy.MacHasher`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bus_gateway.domain.privacy import parse_mac

_MAC = r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}"
_EVENT = re.compile(rf"^(?:<\d+>)?(AP-STA-CONNECTED|AP-STA-DISCONNECTED) ({_MAC})(?:\s|$)")
_STA_FIRST_LINE = re.compile(rf"^{_MAC}$")


def normal_mac(mac: str) -> str:
    """Lower-case colon form (as the neighbour table and the session table spell it)."""
    return ":".join(f"{b:02x}" for b in parse_mac(mac))


@dataclass(frozen=True, slots=True)
class StationReply:
    """One ``STA-FIRST``/``STA-NEXT``/``STA`` reply: the station's MAC and its flags."""

    mac: str
    flags: frozenset[str]

    @property
    def associated(self) -> bool:
        """Associated now (hostapd also lists stations that only authenticated)."""
        return "ASSOC" in self.flags


def parse_station(reply: str) -> StationReply | None:
    """A station reply, or ``None`` for the end of the list (empty) and ``FAIL``."""
    lines = reply.strip().splitlines()
    if not lines or not _STA_FIRST_LINE.match(lines[0].strip()):
        return None
    flags: frozenset[str] = frozenset()
    for line in lines[1:]:
        key, _, value = line.partition("=")
        if key == "flags":
            flags = frozenset(re.findall(r"\[([^\]]+)\]", value))
    return StationReply(normal_mac(lines[0].strip()), flags)


@dataclass(frozen=True, slots=True)
class StationEvent:
    """A station came or went."""

    kind: Literal["connected", "disconnected"]
    mac: str


def parse_event(message: str) -> StationEvent | None:
    """An ``AP-STA-CONNECTED``/``AP-STA-DISCONNECTED`` event; ``None`` for anything else."""
    m = _EVENT.match(message.strip())
    if m is None:
        return None
    kind: Literal["connected", "disconnected"] = (
        "connected" if m[1] == "AP-STA-CONNECTED" else "disconnected"
    )
    return StationEvent(kind, normal_mac(m[2]))


class StationSet:
    """The associated stations of all radios: full listings plus the events in between.

    Each radio (control socket) is tracked separately, so one radio's listing or restart does
    not touch the other's stations; a phone roaming between radios is counted once.
    """

    def __init__(self) -> None:
        self._by_radio: dict[str, set[str]] = {}

    def replace(self, radio: str, stations: list[StationReply]) -> None:
        """A complete ``STA-FIRST``/``STA-NEXT`` walk of ``radio``."""
        self._by_radio[radio] = {s.mac for s in stations if s.associated}

    def apply(self, radio: str, event: StationEvent) -> None:
        """One event of ``radio``."""
        macs = self._by_radio.setdefault(radio, set())
        if event.kind == "connected":
            macs.add(event.mac)
        else:
            macs.discard(event.mac)

    def forget(self, radio: str) -> None:
        """The radio's control socket is gone (hostapd stopped or the radio was removed)."""
        self._by_radio.pop(radio, None)

    def radios(self) -> list[str]:
        """Radios with a listing."""
        return sorted(self._by_radio)

    def macs(self) -> set[str]:
        """Every associated station."""
        return set().union(*self._by_radio.values()) if self._by_radio else set()

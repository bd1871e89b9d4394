"""Passenger sessions on the free WLAN: admission, idle and session timeouts, return.

Why a table of its own: the firewall and the shaper only know "admitted now or not"; the
rules of the portal live here. A client accepts the terms once per session
(``session_timeout_min``); if it is silent for ``idle_timeout_min`` it is removed from the
firewall set and its shaping class (the bus's uplink share goes to the others), but the
session is kept, so a phone that left the WLAN at one stop and comes back before the session
ends is re-admitted without seeing the portal again. MACs stay inside the gateway: they are
needed to program nftables and are never published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RemovalReason = Literal["idle", "session"]


@dataclass(slots=True)
class ClientSession:
    """One passenger device that accepted the terms."""

    mac: str
    ip: str
    accepted_ms: int
    last_active_ms: int
    active: bool = True
    #: last traffic counter seen (bytes), to detect activity from counters.
    last_counter: int = 0


@dataclass(frozen=True, slots=True)
class Removal:
    """A client that leaves the firewall set (and, for ``session``, the table)."""

    mac: str
    ip: str
    reason: RemovalReason


class SessionTable:
    """All sessions by MAC; times are milliseconds since the epoch."""

    def __init__(self, session_timeout_s: float, idle_timeout_s: float) -> None:
        self.session_ms = int(session_timeout_s * 1000)
        self.idle_ms = int(idle_timeout_s * 1000)
        self._by_mac: dict[str, ClientSession] = {}

    def __len__(self) -> int:
        return len(self._by_mac)

    def get(self, mac: str) -> ClientSession | None:
        """The session of ``mac`` (active or dormant), if any."""
        return self._by_mac.get(mac.lower())

    def active(self) -> list[ClientSession]:
        """The admitted clients: accepted the terms, neither timed out nor dormant.

        They are (or are about to be) in the firewall set, and they are the clients the
        uplink's fair share is divided among, busy or not.
        """
        return [s for s in self._by_mac.values() if s.active]

    def admit(self, mac: str, ip: str, now_ms: int) -> tuple[ClientSession, str | None]:
        """Accept the terms for ``mac`` at ``ip``; return the session and the old IP if any.

        Accepting again within a session keeps the session's start (no extension by clicking).
        """
        mac = mac.lower()
        old = self._by_mac.get(mac)
        if old is not None and now_ms - old.accepted_ms < self.session_ms:
            previous_ip = old.ip if old.active and old.ip != ip else None
            old.ip, old.active, old.last_active_ms = ip, True, now_ms
            return old, previous_ip
        session = ClientSession(mac, ip, now_ms, now_ms)
        self._by_mac[mac] = session
        return session, None

    def seen(self, mac: str, ip: str, now_ms: int) -> ClientSession | None:
        """The client showed up (DHCP, neighbour table); return it if it is re-admitted now.

        Returns the session when a dormant (idle-removed) client came back within its
        session, so the caller puts it back into the firewall set without the portal.
        """
        s = self._by_mac.get(mac.lower())
        if s is None or now_ms - s.accepted_ms >= self.session_ms:
            return None
        if s.active and s.ip == ip:
            return None
        s.ip, s.active, s.last_active_ms = ip, True, now_ms
        return s

    def suspend(self, mac: str, ip: str) -> None:
        """Re-admitting ``mac`` at ``ip`` failed: dormant again, so the next sighting retries."""
        s = self._by_mac.get(mac.lower())
        if s is not None and s.active and s.ip == ip:
            s.active = False

    def activity(self, mac: str, counter: int, now_ms: int) -> None:
        """Traffic counter of an active client; a change means it is not idle."""
        s = self._by_mac.get(mac.lower())
        if s is not None and counter != s.last_counter:
            s.last_counter = counter
            s.last_active_ms = now_ms

    def expire(self, now_ms: int) -> list[Removal]:
        """Remove what timed out: sessions end, idle clients become dormant."""
        out: list[Removal] = []
        for mac, s in list(self._by_mac.items()):
            if now_ms - s.accepted_ms >= self.session_ms:
                del self._by_mac[mac]
                if s.active:
                    out.append(Removal(mac, s.ip, "session"))
            elif s.active and now_ms - s.last_active_ms >= self.idle_ms:
                s.active = False
                s.last_counter = 0
                out.append(Removal(mac, s.ip, "idle"))
        return out

    def revoke(self, mac: str) -> ClientSession | None:
        """End a session at once (operator command)."""
        return self._by_mac.pop(mac.lower(), None)

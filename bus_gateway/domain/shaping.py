"""Fair sharing of the bus's uplink among admitted passengers.

Why: an LTE uplink of a few Mbit/s is shared by everyone on board; without shaping one video
stream starves the rest. Each admitted client gets ``min(per_client_kbps, uplink_kbps / n)``
in each direction, recomputed whenever a client comes or goes or the uplink's capacity
changes (measured, or the ``set_uplink_kbps`` command). The plan is computed here; the tc
adapter (:mod:`bus_gateway.shaper`) only applies the differences, changing the rate of an
existing HTB class in place so no connection is interrupted.

``n`` counts the *admitted* clients — sessions that accepted the terms and have not timed out
(idle or session timeout) — whether or not they send anything right now. A client's rate is
its class's rate *and* ceiling, so it never borrows what silent clients leave unused: the
share is reserved, every passenger gets the same figure however busy the others are, and the
figure does not move with the traffic (the alternative, sharing among the momentarily busy,
would re-rate on every burst and give a passenger who starts a download seconds later a
different rate than one who started it earlier).

Every admitted client has its class *before* the firewall lets it through:
:meth:`ShapingPlan.place` gives a newly admitted client its slot at the fair share that counts
it (the others are re-rated by the next :meth:`ShapingPlan.reconcile`), so no admitted traffic
is ever forwarded outside a class capped at a fair share.

Class ids: HTB minor numbers ``0x100 + slot``; a client keeps its slot for as long as it is
admitted, so a re-rating never has to move a filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_RATE_KBPS = 8
FIRST_CLIENT_MINOR = 0x100
MAX_CLIENTS = 0xFFFF - FIRST_CLIENT_MINOR


def placement_kbps(share_kbps: int) -> int:
    """A placed class's rate: ``share_kbps`` rounded *down* to two significant figures.

    Still capped at the fair share; and passengers boarding together (shares 219, 217, 215 …
    kbit/s) get a handful of distinct rates (210, 200), so the adapter encodes a handful of
    class messages instead of one per passenger. The next pass sets the exact share.
    """
    if share_kbps < 100:
        return share_kbps
    step: int = 10 ** (len(str(share_kbps)) - 2)
    return share_kbps - share_kbps % step


def fair_share_kbps(per_client_kbps: int, uplink_kbps: int, clients: int) -> int:
    """The rate of each client: ``min(per_client_kbps, uplink_kbps // clients)``, at least 8."""
    if clients <= 0:
        return max(MIN_RATE_KBPS, per_client_kbps)
    return max(MIN_RATE_KBPS, min(per_client_kbps, uplink_kbps // clients))


@dataclass(frozen=True, slots=True)
class ClientClass:
    """One client's HTB class: its slot (minor = 0x100 + slot), IP and rate."""

    ip: str
    slot: int
    rate_kbps: int

    @property
    def minor(self) -> int:
        """The HTB class minor number."""
        return FIRST_CLIENT_MINOR + self.slot


@dataclass(frozen=True, slots=True)
class ShapingDiff:
    """What the adapter must do to reach the plan."""

    add: tuple[ClientClass, ...]
    change: tuple[ClientClass, ...]
    remove: tuple[ClientClass, ...]

    @property
    def empty(self) -> bool:
        """Nothing to do."""
        return not (self.add or self.change or self.remove)


class ShapingPlan:
    """The desired per-client classes, kept stable across changes."""

    def __init__(self, per_client_kbps: int, uplink_kbps: int) -> None:
        self.per_client_kbps = per_client_kbps
        self.uplink_kbps = uplink_kbps
        self._classes: dict[str, ClientClass] = {}
        self._in_doubt = False

    @property
    def in_doubt(self) -> bool:
        """A request failed since the last :meth:`reconcile`: the next one re-puts everything."""
        return self._in_doubt

    @property
    def classes(self) -> dict[str, ClientClass]:
        """Current classes by IP."""
        return dict(self._classes)

    @property
    def rate_kbps(self) -> int:
        """The rate every client gets now."""
        return fair_share_kbps(self.per_client_kbps, self.uplink_kbps, len(self._classes))

    def place(self, ip: str) -> ShapingDiff:
        """A class for ``ip`` now, ahead of the next full pass; empty when it has one.

        The new class gets the fair share among the clients planned so far plus this one,
        rounded down (:func:`placement_kbps`) — possibly a little less than the next pass
        gives, never more. The others keep their rates until :meth:`reconcile` moves them all.
        """
        if ip in self._classes:
            return ShapingDiff((), (), ())
        if len(self._classes) >= MAX_CLIENTS:
            raise ValueError(f"{len(self._classes) + 1} clients exceed the {MAX_CLIENTS} HTB "
                             "classes")
        used = {c.slot for c in self._classes.values()}
        slot = next(s for s in range(MAX_CLIENTS) if s not in used)
        share = fair_share_kbps(self.per_client_kbps, self.uplink_kbps, len(self._classes) + 1)
        c = ClientClass(ip, slot, placement_kbps(share))
        self._classes[ip] = c
        return ShapingDiff((c,), (), ())

    def resync(self) -> None:
        """The kernel's classes are in doubt (a shaping request failed part-way).

        The next :meth:`reconcile` lists every wanted class under ``add`` again, in its own
        slot, so the adapter puts them all (its put is idempotent) instead of assuming they
        are there; leavers are removed as usual.
        """
        self._in_doubt = True

    def reconcile(
        self,
        ips: Iterable[str],
        *,
        uplink_kbps: int | None = None,
        per_client_kbps: int | None = None,
    ) -> ShapingDiff:
        """Move to exactly ``ips`` admitted (and new rates); return the differences."""
        if uplink_kbps is not None:
            self.uplink_kbps = uplink_kbps
        if per_client_kbps is not None:
            self.per_client_kbps = per_client_kbps
        wanted = list(dict.fromkeys(ips))
        if len(wanted) > MAX_CLIENTS:
            raise ValueError(f"{len(wanted)} clients exceed the {MAX_CLIENTS} HTB classes")
        rate = fair_share_kbps(self.per_client_kbps, self.uplink_kbps, len(wanted))
        removed = tuple(c for ip, c in self._classes.items() if ip not in wanted)
        kept = {ip: c for ip, c in self._classes.items() if ip in wanted}
        used = {c.slot for c in kept.values()}
        added: list[ClientClass] = []
        changed: list[ClientClass] = []
        free = (s for s in range(MAX_CLIENTS) if s not in used)
        new: dict[str, ClientClass] = {}
        for ip in wanted:
            old = kept.get(ip)
            if old is None:
                c = ClientClass(ip, next(free), rate)
                added.append(c)
            else:
                c = ClientClass(ip, old.slot, rate)
                if self._in_doubt:
                    added.append(c)
                elif old.rate_kbps != rate:
                    changed.append(c)
            new[ip] = c
        self._classes = new
        self._in_doubt = False
        return ShapingDiff(tuple(added), tuple(changed), removed)

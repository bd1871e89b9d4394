"""Keeps the broker's addresses out of the passengers' reach, failing closed.

Why a loop of its own: the broker is usually given by name, and the name resolves only once
the uplink (LTE) is up, which may be long after the router booted; cloud brokers also move.
The gateway used to resolve the name once at start-up and carry on with an empty
``protected`` set when that failed, so a passenger who accepted the terms could reach the
broker for the life of the process; and only the MQTT port was closed.

Now the passenger side starts closed: the firewall forwards nothing from the passengers until
the broker's addresses are known (:func:`bus_gateway.domain.firewall.render_protected`). This
loop resolves the name at once and then every :data:`RECHECK_S` (every :data:`RETRY_S` while
it never resolved) and hands the addresses to the firewall, which changes its ``protected``
set and the guard in one transaction; every port and protocol of those addresses is dropped.
An address the name stopped returning stays protected for :data:`RETAIN_S` (round-robin DNS
answers with a subset, and the gateway's own MQTT connection may still use the old one). A
failed lookup after a success keeps the last addresses.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address

log = logging.getLogger(__name__)

#: seconds between lookups once the name resolved
RECHECK_S = 15.0
#: seconds between lookups while it never did (passengers are not forwarded meanwhile)
RETRY_S = 2.0
#: an address the name no longer returns stays protected this long (s)
RETAIN_S = 600.0
#: longest a lookup may take before it counts as failed (s)
LOOKUP_TIMEOUT_S = 10.0


def protected_addresses(
    seen: dict[IPv4Address, float], answer: list[IPv4Address], now: float,
    retain_s: float = RETAIN_S,
) -> tuple[IPv4Address, ...]:
    """Record ``answer`` in ``seen`` (address → last returned) and return what to protect."""
    for addr in answer:
        seen[addr] = now
    for addr in [a for a, t in seen.items() if now - t > retain_s]:
        del seen[addr]
    return tuple(sorted(seen))


class BrokerGuard:
    """Resolves ``host`` periodically and applies its IPv4 addresses to the firewall."""

    def __init__(
        self,
        host: str,
        apply: Callable[[tuple[IPv4Address, ...]], Awaitable[None]],
        *,
        recheck_s: float = RECHECK_S,
        retry_s: float = RETRY_S,
    ) -> None:
        self.host = host
        self._apply = apply
        self.recheck_s = recheck_s
        self.retry_s = retry_s
        self._seen: dict[IPv4Address, float] = {}
        #: what the firewall holds (``None``: nothing applied yet, passengers not forwarded)
        self.applied: tuple[IPv4Address, ...] | None = None
        self.lookups = 0
        self.failures = 0

    async def resolve(self) -> list[IPv4Address]:
        """The name's IPv4 addresses now (``OSError`` when it does not resolve)."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(LOOKUP_TIMEOUT_S):
            infos = await loop.getaddrinfo(
                self.host, None, family=socket.AF_INET, type=socket.SOCK_STREAM
            )
        return sorted({IPv4Address(info[4][0]) for info in infos})

    async def check(self) -> bool:
        """One lookup; the firewall is updated when the addresses changed. Whether it resolved."""
        self.lookups += 1
        try:
            answer = await self.resolve()
        except (OSError, TimeoutError) as exc:
            self.failures += 1
            if self.applied is None:
                if self.failures == 1 or self.failures % 30 == 0:
                    log.warning("broker %s does not resolve (%s): passengers are not forwarded "
                                "until it does", self.host, exc)
            else:
                log.info("broker %s does not resolve (%s); keeping %s", self.host, exc,
                         ", ".join(map(str, self.applied)))
            return False
        wanted = protected_addresses(self._seen, answer, time.monotonic())
        if wanted != self.applied:
            await self._apply(wanted)
            log.info("passengers cannot reach the broker at %s (every port)%s",
                     ", ".join(map(str, wanted)),
                     "; forwarding open" if self.applied is None else "")
            self.applied = wanted
        return True

    async def run(self) -> None:
        """Check until cancelled; a failed firewall update is retried at the next check."""
        while True:
            try:
                ok = await self.check()
            except Exception:
                log.exception("updating the broker's addresses in the firewall failed")
                ok = False
            await asyncio.sleep(self.recheck_s if ok and self.applied is not None
                                else self.retry_s)

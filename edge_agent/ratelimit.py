"""Rate limits per client address: a token bucket per address, bounded in memory.

WHY per address, and what that is worth: the hub and the bus gateway's captive portal have
operations that anyone who reaches them may call (a Kita family registration, a family's
application writes, a guessed token, the portal's ``/accept``) and nothing else to tell one
anonymous caller from another. A bucket per address lets a household, a library PC or the
citizens' office make a few requests at once and then a steady trickle, while one machine
cannot make hundreds. An IPv6 client is counted by its /64 network, since one host may hold a
whole /64. It does not stop an attacker with many addresses (a botnet, a cloud account): that
is why whatever such a request could gain must not be taken on trust (``docs/kita.md``).

WHY in ``edge_agent``: the hub and the bus gateway share this one limiter (and
:mod:`edge_agent.http_ratelimit`, the middleware that answers 429), and the gateway must not
import the hub. Pure Python, no web framework.

The address is the one the server reports: behind a reverse proxy that is the proxy's, unless
the proxy is in uvicorn's ``FORWARDED_ALLOW_IPS`` (its default trusts ``127.0.0.1``), in which
case ``X-Forwarded-For`` names the client. Nothing here is logged: an address is personal
data.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address, ip_network


def client_key(address: str) -> str:
    """What a client is counted by: its IPv4 address, its IPv6 /64, or the text as given."""
    try:
        ip = ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``burst`` requests at once per client, then one every ``period_s`` seconds.

    At most ``max_clients`` buckets are kept, least recently used first out: a client pushed
    out starts with a full bucket again, so the table cannot grow without bound under a flood
    of addresses. Thread-safe (FastAPI runs sync endpoints in a thread pool).
    """

    def __init__(self, *, burst: int, period_s: float, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or period_s <= 0 or max_clients < 1:
            raise ValueError("burst and max_clients must be >= 1, period_s > 0")
        self.burst = burst
        self.period_s = period_s
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, address: str) -> float:
        """Without using a request: 0.0 if ``address`` may make one now, else the seconds
        until it may. An unknown address is not added to the table."""
        key = client_key(address)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            refill = (self._clock() - bucket.at) / self.period_s
            tokens = min(float(self.burst), bucket.tokens + refill)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) * self.period_s

    def take(self, address: str) -> float:
        """Use one request of ``address``: 0.0 if allowed, else the seconds until it would be."""
        key = client_key(address)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = _Bucket(float(self.burst), now)
            else:
                refill = (now - bucket.at) / self.period_s
                bucket.tokens = min(float(self.burst), bucket.tokens + refill)
                bucket.at = now
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) * self.period_s


def retry_after(seconds: float) -> int:
    """Seconds for a ``Retry-After`` header: whole, and at least 1."""
    return max(1, math.ceil(seconds))

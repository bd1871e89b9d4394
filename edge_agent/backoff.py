"""Reconnect delays: exponential backoff with jitter, capped.

Hundreds of buses lose LTE in the same tunnel and come back together; without jitter they would
all reconnect in the same instant and knock the broker over again. Pure: the random source is
injected so tests can pin it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Equal-jitter exponential backoff: delay in [base/2, base], base = min(cap, min·2^n)."""

    min_s: float = 1.0
    max_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the base up to the cap."""
        base = min(self.max_s, self.min_s * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return float(base / 2 + self.rng.uniform(0.0, base / 2))

    def reset(self) -> None:
        """Start again from the minimum (after a successful connect)."""
        self.attempt = 0

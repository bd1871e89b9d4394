"""MAC address handling that keeps passengers anonymous.

Why: counting devices needs a stable identity for a few minutes, but a MAC address is personal
data (it follows a phone for years). Every MAC is replaced at the edge of the gateway by a keyed
hash (BLAKE2b with a 32-byte salt). The salt lives only in this object's memory, is drawn from
an injected random source, and is replaced when the UTC day changes, so yesterday's hashes
cannot be linked to today's and nothing that could identify a device survives a reboot or a
day. Neither MACs nor hashes are ever published: payloads carry counts only (see
:mod:`bus_gateway.domain.occupancy`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

DAY_MS = 86_400_000


def parse_mac(mac: str) -> bytes:
    """``aa:bb:cc:dd:ee:ff`` (or with ``-``) as six bytes; ``ValueError`` when malformed."""
    parts = mac.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return bytes(int(p, 16) for p in parts)


def is_locally_administered(mac: str) -> bool:
    """Whether the U/L bit is set: randomised ("private") addresses of phones have it."""
    return bool(parse_mac(mac)[0] & 0x02)


def is_multicast(mac: str) -> bool:
    """Whether the I/G bit is set (never a device's own address)."""
    return bool(parse_mac(mac)[0] & 0x01)


class MacHasher:
    """Keyed, daily-rotating pseudonyms for MAC addresses.

    ``random_bytes`` is ``secrets.token_bytes`` in production; tests pass a deterministic
    source. ``hash(mac, now_ms)`` rotates the salt first if the UTC day changed.
    """

    def __init__(self, random_bytes: Callable[[int], bytes]) -> None:
        self._random = random_bytes
        self._salt = b""
        self._day = -1
        self.rotations = 0

    @property
    def day(self) -> int:
        """The UTC day number of the salt in use (``-1`` before the first hash)."""
        return self._day

    def rotate_if_due(self, now_ms: int) -> bool:
        """Draw a new salt when the day changed; return whether it did."""
        day = now_ms // DAY_MS
        if day == self._day:
            return False
        self._salt = self._random(32)
        if len(self._salt) != 32:
            raise ValueError("the random source must return 32 bytes")
        self._day = day
        self.rotations += 1
        return True

    def hash(self, mac: str, now_ms: int) -> str:
        """The pseudonym of ``mac`` for today: 16 hex digits."""
        self.rotate_if_due(now_ms)
        digest = hashlib.blake2b(parse_mac(mac), key=self._salt, digest_size=8)
        return digest.hexdigest()

    def __repr__(self) -> str:  # never show the salt
        return f"MacHasher(day={self._day}, rotations={self.rotations})"

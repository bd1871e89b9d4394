"""Roles and bearer tokens: public feeds are open, anything that changes state needs a role.

WHY static tokens per role instead of user accounts: the hub's operators are a handful of
traffic engineers and an admin; tokens come from ``KASSEL_HUB_ADMIN_TOKEN`` and
``KASSEL_HUB_ENGINEER_TOKEN`` (or are generated at start and written to the state directory).
Only SHA-256 digests are held in memory and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum


class Role(IntEnum):
    """Ordered roles: a higher role may do everything a lower one may."""

    PUBLIC = 0
    ENGINEER = 1
    ADMIN = 2


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenStore:
    """Maps bearer tokens to roles."""

    def __init__(self, tokens: dict[str, Role]) -> None:
        self._tokens = [(_digest(t), r) for t, r in tokens.items() if t]

    def role_of(self, token: str | None) -> Role:
        """The role a token grants (``PUBLIC`` for none or an unknown one)."""
        if not token:
            return Role.PUBLIC
        d = _digest(token)
        best = Role.PUBLIC
        for digest, role in self._tokens:
            if hmac.compare_digest(digest, d):
                best = max(best, role)
        return best

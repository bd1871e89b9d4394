"""One place that turns a bearer credential into a :class:`~central_hub.core.identity.Principal`.

WHY one resolver: every route of every service asks the same question, "who is this?", and a
second answer somewhere else (the Kita service had its own) is a second place to get it wrong.
The resolver tries, in this order:

1. the static tokens of the settings (machines, the demo): a digest compared in constant time;
2. a JWT, when OpenID Connect is configured (:mod:`central_hub.core.oidc`);
3. an issued token (``kh_...``) in the hub's database (:mod:`central_hub.core.tokens`);
4. a family's token, a pupil's membership token or a passenger's booking token, through the
   lookups services register (:meth:`add_family_lookup`, :meth:`add_pupil_lookup`,
   :meth:`add_passenger_lookup`; the Kita, learning and mobility services keep their token
   digests with their own data).

A credential that none of them accepts — unknown, expired, revoked, badly signed — resolves to
``None``, exactly like no credential: public operations stay open to it, every other one
answers 401. Nothing here logs a token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from central_hub.core.config import HubSettings
from central_hub.core.identity import (
    ADMIN_TOKEN_ROLES,
    ENGINEER_TOKEN_ROLES,
    KITA_STAFF_TOKEN_ROLES,
    Principal,
)
from central_hub.core.oidc import OidcError, OidcVerifier, looks_like_jwt
from central_hub.core.tokens import StaticTokens, TokenStore

log = logging.getLogger(__name__)

#: a service's family lookup: a bearer token -> the family's id, or ``None``.
FamilyLookup = Callable[[str], str | None]
#: a service's pupil lookup: a bearer token -> the membership's id, or ``None``.
PupilLookup = Callable[[str], str | None]
#: a service's passenger lookup: a bearer token -> the passenger's id, or ``None``.
PassengerLookup = Callable[[str], str | None]

#: longest credential looked at; anything longer is no token of ours (and not hashed).
MAX_TOKEN_LENGTH = 8192


def static_tokens(settings: HubSettings) -> StaticTokens:
    """The static tokens of the settings with their principals (roles: :mod:`identity`)."""
    return StaticTokens([
        (settings.admin_token or "", Principal.staff("admin", ADMIN_TOKEN_ROLES)),
        (settings.engineer_token or "",
         Principal.staff("engineer", ENGINEER_TOKEN_ROLES)),
        (settings.kita_staff_token or "",
         Principal.staff("kita_staff", KITA_STAFF_TOKEN_ROLES)),
    ])


class IdentityResolver:
    """Bearer token -> principal, for every HTTP route of the hub."""

    def __init__(self, static: StaticTokens, issued: TokenStore | None = None,
                 oidc: OidcVerifier | None = None) -> None:
        self.static = static
        self.issued = issued
        self.oidc = oidc
        self._families: list[FamilyLookup] = []
        self._pupils: list[PupilLookup] = []
        self._passengers: list[PassengerLookup] = []

    def add_family_lookup(self, lookup: FamilyLookup) -> None:
        """Let a service's families be resolved here (the Kita service does at start)."""
        self._families.append(lookup)

    def add_pupil_lookup(self, lookup: PupilLookup) -> None:
        """Let a service's pupils be resolved here (the learning service does at start)."""
        self._pupils.append(lookup)

    def add_passenger_lookup(self, lookup: PassengerLookup) -> None:
        """Let a service's passengers be resolved here (the mobility service does at start)."""
        self._passengers.append(lookup)

    def resolve(self, token: str | None) -> Principal | None:
        """The principal a bearer token stands for; ``None`` for none, or one not accepted."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        principal = self.static.lookup(token)
        if principal is not None:
            return principal
        if looks_like_jwt(token):
            if self.oidc is None:
                return None
            try:
                return self.oidc.verify(token)
            except OidcError as exc:
                log.info("bearer JWT refused: %s", exc)
                return None
        if self.issued is not None:
            record = self.issued.lookup(token)
            if record is not None:
                return record.principal()
        for lookup in self._families:
            family_id = lookup(token)
            if family_id is not None:
                return Principal.family(family_id)
        for pupils in self._pupils:
            member_id = pupils(token)
            if member_id is not None:
                return Principal.pupil(member_id)
        for passengers in self._passengers:
            passenger_id = passengers(token)
            if passenger_id is not None:
                return Principal.passenger(passenger_id)
        return None

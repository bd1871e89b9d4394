"""OpenID Connect bearer tokens: a JWT from the city's provider becomes a staff principal.

WHY PyJWT and its :class:`jwt.PyJWKClient`: signature checks, ``exp``/``nbf``/``iss``/``aud``
and the JWKS format are easy to get subtly wrong; a well-kept library does them, and this
module only decides *what* to accept:

* algorithms: a fixed list of asymmetric ones (:data:`ALGORITHMS`). ``none`` and every HMAC
  algorithm are refused before a key is looked up, so neither an unsigned token nor one
  "signed" with the provider's *public* key as an HMAC secret (algorithm confusion) passes;
* ``iss`` and ``aud`` must be the configured ones, and ``exp``, ``iat`` and ``sub`` must be
  present (a little leeway for clock skew);
* the key is the provider's key with the token's ``kid``; an unknown ``kid`` makes the JWKS be
  fetched again, but at most once per ``jwks_refresh_s``, so random key ids cannot turn the
  hub into a load generator against the provider;
* roles come from one claim (Keycloak: ``realm_access.roles``) through an explicit map
  (:func:`roles_from_claims`); unmapped values grant nothing.

Tokens are never logged; a refusal is logged with its reason only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from central_hub.core.config import OidcSettings
from central_hub.core.identity import CredentialSource, Principal, Role
from edge_agent.errors import KasselError

log = logging.getLogger(__name__)

#: the only signature algorithms accepted: asymmetric, so the hub holds no signing secret.
ALGORITHMS: tuple[str, ...] = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                               "ES256", "ES384", "ES512", "EdDSA")


class OidcError(KasselError):
    """A bearer JWT was refused; the message says why (never holds the token)."""


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: worth handing to :class:`OidcVerifier` (opaque tokens of the
    hub have no dot)."""
    return token.count(".") == 2


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``realm_access.roles``); ``None`` where it is missing."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def roles_from_claims(claims: Mapping[str, Any], path: str,
                      role_map: Mapping[str, Role]) -> frozenset[Role]:
    """The hub roles the claim at ``path`` grants through ``role_map``.

    The claim may be a list of strings or one string (space-separated, like ``scope``);
    anything else grants nothing.
    """
    value = claim_at(claims, path)
    if isinstance(value, str):
        values = value.split()
    elif isinstance(value, list):
        values = [v for v in value if isinstance(v, str)]
    else:
        values = []
    return frozenset(role_map[v] for v in values if v in role_map)


class OidcVerifier:
    """Checks bearer JWTs against the provider's JWKS and maps them to principals."""

    def __init__(self, settings: OidcSettings, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not settings.enabled:
            raise ValueError("OIDC is not configured (issuer, audience, jwks_url)")
        assert settings.jwks_url is not None
        self._settings = settings
        self._jwks = PyJWKClient(settings.jwks_url, cache_jwk_set=True, lifespan=300,
                                 timeout=5)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._refreshed = -settings.jwks_refresh_s

    def verify(self, token: str) -> Principal:
        """The staff principal of a valid token; :class:`OidcError` otherwise."""
        s = self._settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise OidcError(f"not a JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise OidcError(f"algorithm {str(alg)[:16]!r} is not accepted")
        key = self._key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=s.audience, issuer=s.issuer,
                leeway=s.leeway_s, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise OidcError(f"refused: {type(exc).__name__}: {exc}") from None
        roles = roles_from_claims(claims, s.roles_claim, s.role_map)
        name = str(claims.get("preferred_username") or claims["sub"])
        return Principal.staff(name[:100], roles, CredentialSource.OIDC)

    def _key(self, kid: object) -> PyJWK:
        if not isinstance(kid, str) or not kid:
            raise OidcError("the token names no key (kid)")
        try:
            keys = self._jwks.get_signing_keys()
            found = next((k for k in keys if k.key_id == kid), None)
            if found is None and self._may_refresh():
                keys = self._jwks.get_signing_keys(refresh=True)
                found = next((k for k in keys if k.key_id == kid), None)
        except jwt.PyJWKClientError as exc:
            raise OidcError(f"the provider's keys are not available: {exc}") from None
        if found is None:
            raise OidcError("unknown key id")
        return found

    def _may_refresh(self) -> bool:
        with self._lock:
            now = self._monotonic()
            if now - self._refreshed < self._settings.jwks_refresh_s:
                return False
            self._refreshed = now
            return True

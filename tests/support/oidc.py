"""A stand-in OpenID Connect provider for tests: an RSA key, its JWKS over real HTTP, tokens.

The hub fetches the JWKS from this server with PyJWT's ``PyJWKClient`` exactly as it would
from Keycloak; tokens are signed with the generated key, or forged in the ways attackers try
(``alg: none``, HS256 keyed with the public key, an unknown key id).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://login.kassel.example/realms/city"
AUDIENCE = "kassel-hub"
KID = "city-key-1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestProvider:
    """Serves ``/certs`` (the JWKS) on 127.0.0.1 and mints tokens; counts JWKS fetches."""

    __test__ = False  # not a test class for pytest

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
        self.jwks = json.dumps({"keys": [jwk]}).encode()
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/certs":
                    self.send_error(404)
                    return
                provider.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(provider.jwks)))
                self.end_headers()
                self.wfile.write(provider.jwks)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/certs"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def claims(self, roles: list[str], **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": "u-4711", "iat": now, "exp": now + 300,
            "preferred_username": "frau.schmidt", "realm_access": {"roles": roles}}
        claims.update(changes)
        return claims

    def token(self, claims: dict[str, Any], *, kid: str = KID, other_key: bool = False) -> str:
        key = self.other_key if other_key else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def unsigned(self, claims: dict[str, Any]) -> str:
        """``alg: none``, no signature."""
        head = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
        return f"{head}.{_b64(json.dumps(claims).encode())}."

    def hs256_with_public_key(self, claims: dict[str, Any]) -> str:
        """Algorithm confusion: HMAC-SHA256 keyed with the provider's public key (PEM)."""
        pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
        signing_input = f"{head}.{_b64(json.dumps(claims).encode())}"
        sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(sig)}"

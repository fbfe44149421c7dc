"""Cognito's `/oauth2/token` for the client-credentials grant, which moto does not serve.

The app clients themselves live in moto (the API creates them with CreateUserPoolClient); this module checks
a client's id, secret and allowed scopes against moto and mints a Cognito-shaped access token with the
pool's issuer, signed with a key generated at start-up and published in the stack's JWKS beside moto's
keys, so the real token authorizer verifies it as in AWS.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_ID = "local-machine-key"
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}

ClientLookup = Callable[[str], Mapping[str, Any] | None]


@dataclass
class TokenError(Exception):
    """An OAuth error response (RFC 6749 section 5.2)."""

    status: int
    error: str

    def body(self) -> dict[str, str]:
        return {"error": self.error}


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, separator, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (unquote(client_id), unquote(secret)) if separator else None


def _access_token_lifetime(client: Mapping[str, Any]) -> int:
    """The client's AccessTokenValidity in seconds (Cognito's default unit is hours, default 1 hour)."""
    validity = client.get("AccessTokenValidity")
    if not validity:
        return DEFAULT_TOKEN_LIFETIME_SECONDS
    unit = (client.get("TokenValidityUnits") or {}).get("AccessToken", "hours")
    return int(validity) * _UNIT_SECONDS.get(unit, 3600)


class MachineTokenIssuer:
    def __init__(self, issuer: str, lookup_client: ClientLookup, key_id: str = KEY_ID) -> None:
        self.issuer = issuer
        self.key_id = key_id
        self._lookup_client = lookup_client
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self._private_key.public_key()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key))
        return {"keys": [{**jwk, "kid": self.key_id, "alg": "RS256", "use": "sig"}]}

    def mint(self, client_id: str, scopes: list[str], lifetime: int = DEFAULT_TOKEN_LIFETIME_SECONDS) -> str:
        # Real time, as Cognito's clock: the functions' movable clock does not age tokens.
        now = int(time.time())
        claims = {
            "sub": client_id,
            "token_use": "access",
            "scope": " ".join(scopes),
            "auth_time": now,
            "iss": self.issuer,
            "exp": now + lifetime,
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
        return jwt.encode(claims, self._private_key, algorithm="RS256", headers={"kid": self.key_id})

    def exchange(self, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        """Answer a token request as Cognito does, or raise TokenError."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise TokenError(400, "invalid_request")
        if grant_type != "client_credentials":
            raise TokenError(400, "unsupported_grant_type")
        credentials = _basic_credentials(authorization) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        client_id, secret = credentials
        client = self._lookup_client(client_id) if client_id else None
        expected = str(client.get("ClientSecret", "")) if client else ""
        if client is None or not expected or not hmac.compare_digest(expected.encode(), secret.encode()):
            raise TokenError(401, "invalid_client")
        if "client_credentials" not in client.get("AllowedOAuthFlows", []) or not client.get(
            "AllowedOAuthFlowsUserPoolClient"
        ):
            raise TokenError(400, "unauthorized_client")
        allowed = [str(s) for s in client.get("AllowedOAuthScopes", [])]
        requested = form.get("scope", "").split()
        if any(scope not in allowed for scope in requested):
            raise TokenError(400, "invalid_scope")
        granted = requested or allowed
        lifetime = _access_token_lifetime(client)
        return {
            "access_token": self.mint(client_id, granted, lifetime),
            "expires_in": lifetime,
            "token_type": "Bearer",
        }

"""Verification of partner companies' client-credentials access tokens (RS256, Cognito-issued)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jwt


class InvalidToken(Exception):
    pass


@lru_cache(maxsize=4)
def _keys(jwks_url: str) -> jwt.PyJWKClient:
    # Keys are cached between invocations; an unknown kid triggers one refetch (key rotation).
    return jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)


def verify(token: str, *, issuer: str, jwks_url: str, required_scope: str) -> dict[str, Any]:
    try:
        signing_key = _keys(jwks_url).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(type(error).__name__) from error
    if claims.get("token_use") != "access" or not claims.get("client_id"):
        raise InvalidToken("not an access token")
    if required_scope not in str(claims.get("scope", "")).split():
        raise InvalidToken("missing scope")
    return claims

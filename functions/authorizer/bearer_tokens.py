"""Verification of the bearer tokens our Cognito pool issues: portal users' tokens and partner companies'
client-credentials tokens (RS256). Used by the token authorizer in front of every route."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import jwt


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Identity:
    kind: Literal["user", "machine"]
    subject: str
    client_id: str
    scope: str
    # A user's Cognito groups, space-separated (group names hold no whitespace); empty for machines.
    groups: str = ""
    # When the sign-in the token comes from began (epoch seconds): `auth_time`, which a refreshed token
    # keeps, else `iat`. A revocation refuses the tokens of sign-ins that began before it.
    authenticated_at: int = 0


@lru_cache(maxsize=4)
def _keys(jwks_url: str) -> jwt.PyJWKClient:
    # Keys are cached between invocations; an unknown kid triggers one refetch (key rotation).
    return jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)


def verify(token: str, *, issuer: str, jwks_url: str, portal_clients: frozenset[str], intake_scope: str) -> Identity:
    """Who the token speaks for. A user token must come from one of the portal's app clients; a token
    without a user (client credentials) must carry the lead-intake scope, the only one machines get."""
    try:
        signing_key = _keys(jwks_url).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss", "token_use"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(type(error).__name__) from error
    use, scope = claims["token_use"], str(claims.get("scope", ""))
    if use == "id":
        if claims.get("aud") not in portal_clients:
            raise InvalidToken("id token of another app client")
        return Identity("user", str(claims["sub"]), str(claims["aud"]), "", _groups(claims), _began(claims))
    if use != "access" or not claims.get("client_id"):
        raise InvalidToken("not an access token")
    client_id = str(claims["client_id"])
    if claims.get("username"):
        if client_id not in portal_clients:
            raise InvalidToken("user token of another app client")
        return Identity("user", str(claims["sub"]), client_id, scope, _groups(claims), _began(claims))
    if intake_scope not in scope.split():
        raise InvalidToken("client token without the lead-intake scope")
    return Identity("machine", str(claims["sub"]), client_id, scope)


def _began(claims: dict[str, Any]) -> int:
    """When the token's sign-in began: Cognito's `auth_time` (access and id tokens), else its `iat`."""
    began = claims.get("auth_time", claims["iat"])
    if isinstance(began, bool) or not isinstance(began, int | float):
        raise InvalidToken("no sign-in time")
    return int(began)


def _groups(claims: dict[str, Any]) -> str:
    """Cognito puts a user's groups in both their access and id tokens as a list (absent: no group)."""
    groups = claims.get("cognito:groups")
    if not isinstance(groups, list):
        return ""
    names = {g for g in groups if isinstance(g, str) and g.split() == [g]}  # Cognito's names hold no whitespace
    return " ".join(sorted(names))

"""Bearer tokens for posts to a receiver that asks for them: the OAuth 2.0 client-credentials grant (RFC 6749,
section 4.4) at the receiver's token URL, with the client id and secret the receiver issued for us.

The token request goes through the one outbound engine (`outbound.send`: the same URL policy, pinned address,
time limit and no redirects as the post itself), the client authenticated with HTTP Basic (section 2.3.1; what
Cognito's token endpoint, this product's own, accepts), the scope asked for when the credentials name one. A
token is kept in this execution environment (module memory, never the table or a log) until EXPIRY_MARGIN
before the `expires_in` it came with (DEFAULT_LIFETIME when the answer names none), measured on the monotonic
clock: a token's lifetime is the issuer's real time, not the functions' movable clock. A receiver that
answers a post 401 has its token dropped (`forget`), so the next attempt asks for a new one.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from common.integrations import outbound
from common.integrations.outbound import Attempt, OutboundRequest
from common.platform import urls

EXPIRY_MARGIN = 60.0  # seconds: a token this close to its end is not used for a new post
DEFAULT_LIFETIME = 300.0  # seconds, for an answer without expires_in
MAX_CACHED = 200  # tokens kept per execution environment; the oldest go first
MAX_TOKEN_CHARS = 8192
MAX_ERROR_CHARS = 100  # of a token URL's `error`, in the delivery's log
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Credentials:
    """The client the receiver issued for us (its secret read when a token is needed)."""

    token_url: str
    client_id: str
    scope: str | None = None


class NoToken(Exception):
    """The token URL gave no token: why, in words for the delivery's log (never the secret)."""


_cache: dict[tuple[str, ...], tuple[str, float]] = {}


def _key(owner: str, credentials: Credentials) -> tuple[str, ...]:
    return (owner, credentials.token_url, credentials.client_id, credentials.scope or "")


def forget(owner: str, credentials: Credentials) -> None:
    _cache.pop(_key(owner, credentials), None)


def token(
    owner: str,
    credentials: Credentials,
    secret: Any,
    policy: urls.OutboundPolicy,
    *,
    monotonic: Any = time.monotonic,
) -> str:
    """A bearer token for `owner`'s posts (e.g. a company's side): the one kept, or a new one. `secret` is a
    function returning the client secret, called only when a new token is asked for. Raises NoToken."""
    key = _key(owner, credentials)
    kept = _cache.get(key)
    now = monotonic()
    if kept is not None and kept[1] - EXPIRY_MARGIN > now:
        return kept[0]
    client_secret = secret()
    if not client_secret:
        raise NoToken("the receiver's client secret is not set")
    attempt = outbound.send(_request(credentials, str(client_secret)), policy)
    access_token, lifetime = _granted(attempt)
    if len(_cache) >= MAX_CACHED:
        del _cache[min(_cache, key=lambda k: _cache[k][1])]
    _cache[key] = (access_token, now + lifetime)
    return access_token


def _request(credentials: Credentials, client_secret: str) -> OutboundRequest:
    # RFC 6749 2.3.1: client id and secret form-encoded, then joined with a colon, base64 in Basic.
    basic = base64.b64encode(f"{quote(credentials.client_id, safe='')}:{quote(client_secret, safe='')}".encode())
    form = {"grant_type": "client_credentials"}
    if credentials.scope:
        form["scope"] = credentials.scope
    headers = {"Authorization": f"Basic {basic.decode()}", "Accept": "application/json"}
    return OutboundRequest(credentials.token_url, headers, urlencode(form), content_type=FORM)


def _granted(attempt: Attempt) -> tuple[str, float]:
    """The token and its lifetime in seconds from the token URL's answer, or NoToken saying why."""
    if not attempt.succeeded:
        if attempt.status_code is None:
            raise NoToken(f"the token URL did not answer: {attempt.error}")
        error = _field(attempt.body, "error")  # RFC 6749 5.2: a short ASCII code
        shown = f" ({error[:MAX_ERROR_CHARS]})" if error and error.isprintable() else ""
        raise NoToken(f"the token URL answered {attempt.status_code}{shown}")
    access_token = _field(attempt.body, "access_token")
    if not access_token or len(access_token) > MAX_TOKEN_CHARS or not access_token.isprintable():
        raise NoToken("the token URL's answer holds no access_token")
    expires_in = _field(attempt.body, "expires_in")
    try:
        lifetime = float(expires_in) if expires_in is not None else DEFAULT_LIFETIME
    except ValueError:
        lifetime = DEFAULT_LIFETIME
    return access_token, max(0.0, lifetime)


def _field(body: str | None, name: str) -> str | None:
    try:
        answer = json.loads(body or "")
    except ValueError:
        return None
    value = answer.get(name) if isinstance(answer, Mapping) else None
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None

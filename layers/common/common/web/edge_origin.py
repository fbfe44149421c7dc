"""Requests reach the API through CloudFront only, on stages with edge protection (infra/edge.py).

CloudFront adds ORIGIN_HEADER to every request it forwards, with the value of a Secrets Manager secret. The
token authorizer and every API function refuse a request that lacks it: one sent straight to the API's
regional domain, past AWS WAF. The API resolver (common.web.resolver) checks before it routes, the SMS
webhook before it reads the body, the authorizer before it verifies the token.

The secret is read from Secrets Manager, not given in the environment, so rotating it needs no deployment of
the functions: its current and its previous version are both accepted, which keeps requests flowing while
CloudFront changes over to a new value (docs/deploy.md, "Edge protection"). A value that matches neither
makes the function read the secret again, at most every REREAD_EVERY, so junk headers cannot turn into a
stream of reads. The value never appears in logs or answers.

Without the setting (dev stages, the local stack) nothing is checked.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import boto3

from common.platform import clock
from common.platform.errors import Forbidden, InternalError, problem_answer, request_path
from common.platform.observability import logger
from common.platform.settings import EdgeOrigin, get_settings

# Lower case: API Gateway's payload 2.0 gives header names in lower case.
ORIGIN_HEADER = "x-origin-verify"
REREAD_EVERY = timedelta(minutes=1)
# The versions accepted: the one CloudFront was given last, and the one before it (a rotation under way).
ACCEPTED_STAGES = ("AWSCURRENT", "AWSPREVIOUS")


class OriginSecretUnavailable(Exception):
    """Secrets Manager could not be read: whether the request came through CloudFront cannot be told."""


class _AcceptedValues:
    """The secret's accepted values, kept for the container's life and read again when a value misses."""

    def __init__(self) -> None:
        self.values: tuple[str, ...] = ()
        self.read_at: datetime | None = None
        # As lru_cache names it: tests start afresh (tests/unit/conftest.py clears every cache it finds).
        self.cache_clear = self.forget

    def forget(self) -> None:
        self.values, self.read_at = (), None

    def due(self, now: datetime) -> bool:
        return self.read_at is None or now - self.read_at >= REREAD_EVERY


_accepted = _AcceptedValues()


@lru_cache(maxsize=1)
def _secrets_manager() -> Any:
    return boto3.client("secretsmanager")


def _read(secret_arn: str, client: Any) -> tuple[str, ...]:
    values = []
    for stage in ACCEPTED_STAGES:
        try:
            values.append(str(client.get_secret_value(SecretId=secret_arn, VersionStage=stage)["SecretString"]))
        except Exception as error:  # any failure to read means the same: it cannot be told
            if stage != ACCEPTED_STAGES[0] and isinstance(error, client.exceptions.ResourceNotFoundException):
                continue  # no previous version until the first rotation
            raise OriginSecretUnavailable(type(error).__name__) from None
    return tuple(values)


def _presented(event: Mapping[str, Any]) -> str:
    headers = event.get("headers") or {}
    return str(next((value for name, value in headers.items() if name.lower() == ORIGIN_HEADER), ""))


def _matches(presented: str, values: tuple[str, ...]) -> bool:
    # Compared in constant time: the answer's timing says nothing about how much of a guess was right.
    return any(hmac.compare_digest(presented.encode(), value.encode()) for value in values)


def came_through_edge(event: Mapping[str, Any], *, client: Any = None) -> bool:
    """Whether the request carries the origin secret (always true where none is set). Raises
    OriginSecretUnavailable when the secret must be read and cannot be."""
    secret_arn = get_settings(EdgeOrigin).origin_secret_arn
    if not secret_arn:
        return True
    presented = _presented(event)
    if not presented:
        return False
    if _matches(presented, _accepted.values):
        return True
    now = clock.now()
    if not _accepted.due(now):
        return False
    _accepted.values = _read(secret_arn, client or _secrets_manager())
    _accepted.read_at = now
    return _matches(presented, _accepted.values)


def refusal(event: Mapping[str, Any], *, client: Any = None) -> dict[str, Any] | None:
    """The answer (payload 2.0) to a request that did not come through CloudFront, or None to serve it: 403,
    or 500 when the secret cannot be read."""
    try:
        if came_through_edge(event, client=client):
            return None
        logger.info("request refused", extra={"problem": Forbidden.code, "reason": "not through the edge"})
        refused: Forbidden | InternalError = Forbidden("this API is served at its public address only")
    except OriginSecretUnavailable as error:
        logger.error("origin secret unreadable", extra={"error_type": str(error)})
        refused = InternalError()
    return problem_answer(refused.problem(request_path(event)))

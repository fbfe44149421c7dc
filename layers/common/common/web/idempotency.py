"""Retries of POST requests with an `Idempotency-Key` header get the first answer, not a second effect.

Where no natural key makes a command idempotent (a claim, a hand-entered lead, a new company, new
credentials), a client that did not hear the answer can retry with the same key and gets the same
response; the same key with a different body is refused. Built on Powertools idempotency, with records
in our table that expire after a day (TTL)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from common.platform import db
from common.platform.errors import (
    Conflict,
    DomainError,
    FieldError,
    InternalError,
    InvalidInput,
    problem_answer,
    request_path,
)
from common.platform.observability import logger
from common.platform.settings import Deployment, get_settings

HEADER = "idempotency-key"
# The problem codes this layer answers with, besides the resolver's own.
KEY_REUSED, IN_PROGRESS = "idempotency-key-reused", "idempotency-in-progress"


class KeyReused(InvalidInput):
    code = KEY_REUSED


class KeyInProgress(Conflict):
    code = IN_PROGRESS


RECORDS_EXPIRE_SECONDS = 24 * 3600
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class _NotToKeep(Exception):
    """An answer that must not be remembered: raising discards the record, so a retry decides afresh.
    Server errors, and conflicts (they describe a moment's state and often say "retry")."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("server error")
        self.response = response


# Answers that must never be stored: issued credentials carry a secret that is shown once and kept nowhere.
_NEVER_STORED_SUFFIXES = ("/credentials",)


def _caller(event: dict[str, Any]) -> dict[str, Any]:
    return ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}


def wants_idempotency(event: dict[str, Any]) -> bool:
    """Only callers with a token: anonymous requests (registration, confirmation) would share one key
    space, and what they do is made idempotent by their single-use tokens and unique e-mail addresses."""
    headers = event.get("headers") or {}
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
    path = str(event.get("rawPath", ""))
    if not _caller(event).get("sub"):
        return False
    return method == "POST" and bool(headers.get(HEADER)) and not path.endswith(_NEVER_STORED_SUFFIXES)


def _key(event: dict[str, Any]) -> str:
    return str((event.get("headers") or {}).get(HEADER))


def _request_of(event: dict[str, Any]) -> dict[str, Any]:
    """What identifies the request (who, where, which key) and what must match on a retry (the body)."""
    return {
        "key": [_caller(event).get("sub"), event.get("rawPath"), _key(event)],
        "body": event.get("body"),
    }


@lru_cache(maxsize=4)
def _once(name: str, handler: Handler) -> tuple[Callable[..., dict[str, Any]], IdempotencyConfig]:
    # Built on first use, not at import: the persistence layer creates a DynamoDB client.
    store = DynamoDBPersistenceLayer(
        table_name=get_settings(Deployment).table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=f"IDEMPOTENCY#{name}",
        boto3_client=db.default_client(),
    )
    config = IdempotencyConfig(
        event_key_jmespath="key", payload_validation_jmespath="body", expires_after_seconds=RECORDS_EXPIRE_SECONDS
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)
    def run(request: dict[str, Any], event: dict[str, Any], context: Any) -> dict[str, Any]:
        response = handler(event, context)
        status = int(response.get("statusCode", 200))
        if status >= 500 or status == 409:
            raise _NotToKeep(response)
        return response

    return run, config


def respond_once(name: str, handler: Handler, event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not wants_idempotency(event):
        return handler(event, context)
    run, config = _once(name, handler)
    # An unfinished first attempt blocks its key only until that invocation's timeout, not for a day.
    config.register_lambda_context(context)
    try:
        return run(request=_request_of(event), event=event, context=context)
    except _NotToKeep as error:
        return error.response
    except IdempotencyValidationError:
        refusal: DomainError = KeyReused(
            "this Idempotency-Key was used for a different request",
            errors=[FieldError(f"header.{HEADER}", "already used with another body")],
            conflicting_ids=[_key(event)],
        )
    except IdempotencyAlreadyInProgressError:
        refusal = KeyInProgress(
            "the first request with this Idempotency-Key is still in progress; retry shortly",
            conflicting_ids=[_key(event)],
        )
    except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as error:
        logger.error("idempotency store failed", extra={"error_type": type(error).__name__})
        refusal = InternalError()
    return problem_answer(refusal.problem(request_path(event)))

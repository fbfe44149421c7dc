"""Table access: plain functions over one cached low-level client (injectable for tests). Listings (queries
and their pages) are in common.platform.listings.

Commands are single conditional writes or one transaction; a failed condition becomes the domain error
the caller names, never a 500. Values are plain Python (str, int, bool, list, dict, None).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from common.platform.errors import DomainError
from common.platform.settings import Deployment, get_settings

Item = dict[str, Any]
Key = dict[str, str]
T = TypeVar("T")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@lru_cache(maxsize=1)
def default_client() -> Any:
    # Short timeouts and standard retries: a slow call should fail fast and be retried, not hang a request.
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
    return boto3.client("dynamodb", config=config)


def table_name() -> str:
    return get_settings(Deployment).table_name


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def deserialize(item: Mapping[str, Any]) -> Item:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def stream_images(change: Mapping[str, Any]) -> tuple[Item | None, Item | None]:
    """The old and new item of a stream record's `dynamodb` part (None where the change has none)."""
    old, new = change.get("OldImage"), change.get("NewImage")
    return (deserialize(old) if old else None), (deserialize(new) if new else None)


def serialize_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in (values or {}).items()}


def _expression_args(
    condition: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None
) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if condition:
        args["ConditionExpression"] = condition
    if names:
        args["ExpressionAttributeNames"] = dict(names)
    if values:
        args["ExpressionAttributeValues"] = serialize_values(values)
    return args


def _is_condition_failure(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# A write that meets another transaction in flight on the same item fails with a conflict that botocore
# does not retry. The other writer usually finishes within milliseconds; then the write is decided again,
# by its own condition.
CONFLICT_ATTEMPTS = 4
_CONFLICT_BACKOFF_SECONDS = 0.01


def _is_conflict(error: ClientError) -> bool:
    if error_code(error) == "TransactionConflictException":
        return True
    reasons = (
        error.response.get("CancellationReasons", []) if error_code(error) == "TransactionCanceledException" else []
    )
    codes = {r.get("Code") for r in reasons}
    return "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes


def _retrying(call: Callable[[], T]) -> T:
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            return call()
        except ClientError as error:
            if not _is_conflict(error) or attempt == CONFLICT_ATTEMPTS - 1:
                raise
            time.sleep(_CONFLICT_BACKOFF_SECONDS * (2**attempt) * (1 + random.random()))
    raise AssertionError("unreachable")


def get(key: Key, *, consistent: bool = False, client: Any = None) -> Item | None:
    response = (client or default_client()).get_item(
        TableName=table_name(), Key=serialize(key), ConsistentRead=consistent
    )
    return deserialize(response["Item"]) if "Item" in response else None


def batch_get(keys: Sequence[Key], *, consistent: bool = False, client: Any = None) -> list[Item]:
    """Fetch up to 100 items by key; unprocessed keys are retried until none remain."""
    client = client or default_client()
    found: list[Item] = []
    pending: list[dict[str, Any]] = [serialize(k) for k in keys]
    while pending:
        request = {table_name(): {"Keys": pending[:100], "ConsistentRead": consistent}}
        pending = pending[100:]
        response = client.batch_get_item(RequestItems=request)
        found += [deserialize(i) for i in response["Responses"].get(table_name(), [])]
        pending += response.get("UnprocessedKeys", {}).get(table_name(), {}).get("Keys", [])
    return found


def put(
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    on_conflict: DomainError | None = None,
    client: Any = None,
) -> None:
    """PutItem. A failed condition is `on_conflict`, unless the item there is exactly this one: then it is
    our own write, applied by an attempt whose answer was lost (botocore retries timeouts), not a conflict."""
    client = client or default_client()
    try:
        _retrying(
            lambda: client.put_item(
                TableName=table_name(),
                Item=serialize(item),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **_expression_args(condition, names, values),
            )
        )
    except ClientError as error:
        if on_conflict is None or not _is_condition_failure(error):
            raise
        current: Any = error.response.get("Item")
        if current and deserialize(current) == deserialize(serialize(item)):
            return
        raise on_conflict from error


def delete(
    key: Key,
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    on_conflict: DomainError | None = None,
    client: Any = None,
) -> None:
    client = client or default_client()
    try:
        _retrying(
            lambda: client.delete_item(
                TableName=table_name(), Key=serialize(key), **_expression_args(condition, names, values)
            )
        )
    except ClientError as error:
        if on_conflict is not None and _is_condition_failure(error):
            raise on_conflict from error
        raise


def update(
    key: Key,
    *,
    expression: str,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    on_conflict: DomainError | Callable[[Item | None], DomainError | None] | None = None,
    returning: Literal["ALL_NEW", "ALL_OLD"] = "ALL_NEW",
    client: Any = None,
) -> Item:
    """UpdateItem returning the new image (or the old one). `on_conflict` may be a function of the current
    item (returned by DynamoDB with the failure, no extra read) to tell apart *why* the condition failed;
    when it returns None the current item shows this very update applied (by an attempt whose answer was
    lost), and that item is returned."""
    client = client or default_client()
    try:
        response = _retrying(
            lambda: client.update_item(
                TableName=table_name(),
                Key=serialize(key),
                UpdateExpression=expression,
                ReturnValues=returning,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **_expression_args(condition, names, values),
            )
        )
    except ClientError as error:
        if on_conflict is not None and _is_condition_failure(error):
            if isinstance(on_conflict, DomainError):
                raise on_conflict from error
            current: Any = error.response.get("Item")
            image = deserialize(current) if current else None
            refusal = on_conflict(image)
            if refusal is None and image is not None:
                return image
            raise (refusal or DomainError("conflicting write")) from error
        raise
    return deserialize(response.get("Attributes", {}))


def _transaction_item(
    kind: str,
    condition: str | None,
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
    **request: Any,
) -> dict[str, Any]:
    """One item of a TransactWriteItems: a refused condition hands back the item's current image."""
    return {
        kind: {
            "TableName": table_name(),
            **request,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **_expression_args(condition, names, values),
        }
    }


def tx_put(
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return _transaction_item("Put", condition, names, values, Item=serialize(item))


def tx_update(
    key: Key,
    *,
    expression: str,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return _transaction_item("Update", condition, names, values, Key=serialize(key), UpdateExpression=expression)


def tx_delete(
    key: Key,
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return _transaction_item("Delete", condition, names, values, Key=serialize(key))


def tx_check(
    key: Key,
    *,
    condition: str,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A transaction item that writes nothing: it only holds the transaction to a condition on another item."""
    return _transaction_item("ConditionCheck", condition, names, values, Key=serialize(key))


# Called with one entry per transaction item: None when that item passed, else its current image ({} if
# absent). Returns the domain error to raise.
CancelHandler = Callable[[list[Item | None]], DomainError]


def transact(actions: Sequence[dict[str, Any]], *, on_cancel: CancelHandler, client: Any = None) -> None:
    client = client or default_client()
    try:
        _retrying(lambda: client.transact_write_items(TransactItems=list(actions)))
    except ClientError as error:
        reasons = error.response.get("CancellationReasons", [])
        if error_code(error) != "TransactionCanceledException" or not any(
            r.get("Code") == "ConditionalCheckFailed" for r in reasons
        ):
            raise
        failed = [
            (deserialize(r["Item"]) if r.get("Item") else {}) if r.get("Code") == "ConditionalCheckFailed" else None
            for r in reasons
        ]
        raise on_cancel(failed) from error

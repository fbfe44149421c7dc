"""Table access: plain functions over one cached low-level client (injectable for tests).

Commands are single conditional writes or one transaction; a failed condition becomes the domain error
the caller names, never a 500. Values are plain Python (str, int, bool, list, dict, None).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from common.platform.cursors import encode_cursor, place, start_key
from common.platform.errors import DomainError, invalid
from common.platform.settings import Deployment, get_settings
from common.platform.table_schema import ENTITY_ATTRIBUTE, INDEX_BY_NAME, key_attributes

Item = dict[str, Any]
Key = dict[str, str]
T = TypeVar("T")

# Key and index attributes: storage detail that API responses never show.
STORAGE_ATTRIBUTES = frozenset({*key_attributes(), ENTITY_ATTRIBUTE})

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@lru_cache(maxsize=1)
def default_client() -> Any:
    # Short timeouts and standard retries: a slow call should fail fast and be retried, not hang a request.
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
    return boto3.client("dynamodb", config=config)


def _table() -> str:
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


def without_storage(item: Mapping[str, Any], *also_hidden: str) -> Item:
    return {k: v for k, v in item.items() if k not in STORAGE_ATTRIBUTES and k not in also_hidden}


def answer_of(item: Mapping[str, Any], fields: Iterable[str], *also_hidden: str) -> Item:
    """The item as the API answers it: `fields` always there, null when unset (a write keeps no nulls, so
    a read would not find the attribute the written item had as None), storage attributes never."""
    return {**dict.fromkeys(fields), **without_storage(item, *also_hidden)}


def _values(values: Mapping[str, Any] | None) -> dict[str, Any]:
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
        args["ExpressionAttributeValues"] = _values(values)
    return args


def _is_condition_failure(error: ClientError) -> bool:
    return _code(error) == "ConditionalCheckFailedException"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# A write that meets another transaction in flight on the same item fails with a conflict that botocore
# does not retry. The other writer usually finishes within milliseconds; then the write is decided again,
# by its own condition.
CONFLICT_ATTEMPTS = 4
_CONFLICT_BACKOFF_SECONDS = 0.01


def _is_conflict(error: ClientError) -> bool:
    if _code(error) == "TransactionConflictException":
        return True
    reasons = error.response.get("CancellationReasons", []) if _code(error) == "TransactionCanceledException" else []
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
    response = (client or default_client()).get_item(TableName=_table(), Key=serialize(key), ConsistentRead=consistent)
    return deserialize(response["Item"]) if "Item" in response else None


def batch_get(keys: Sequence[Key], *, consistent: bool = False, client: Any = None) -> list[Item]:
    """Fetch up to 100 items by key; unprocessed keys are retried until none remain."""
    client = client or default_client()
    found: list[Item] = []
    pending: list[dict[str, Any]] = [serialize(k) for k in keys]
    while pending:
        request = {_table(): {"Keys": pending[:100], "ConsistentRead": consistent}}
        pending = pending[100:]
        response = client.batch_get_item(RequestItems=request)
        found += [deserialize(i) for i in response["Responses"].get(_table(), [])]
        pending += response.get("UnprocessedKeys", {}).get(_table(), {}).get("Keys", [])
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
                TableName=_table(),
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
                TableName=_table(), Key=serialize(key), **_expression_args(condition, names, values)
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
                TableName=_table(),
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


def tx_put(
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": _table(),
            "Item": serialize(item),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **_expression_args(condition, names, values),
        }
    }


def tx_update(
    key: Key,
    *,
    expression: str,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": _table(),
            "Key": serialize(key),
            "UpdateExpression": expression,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **_expression_args(condition, names, values),
        }
    }


def tx_delete(
    key: Key,
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "Delete": {
            "TableName": _table(),
            "Key": serialize(key),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **_expression_args(condition, names, values),
        }
    }


def tx_check(
    key: Key,
    *,
    condition: str,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A transaction item that writes nothing: it only holds the transaction to a condition on another item."""
    return {
        "ConditionCheck": {
            "TableName": _table(),
            "Key": serialize(key),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **_expression_args(condition, names, values),
        }
    }


# Called with one entry per transaction item: None when that item passed, else its current image ({} if
# absent). Returns the domain error to raise.
CancelHandler = Callable[[list[Item | None]], DomainError]


def transact(actions: Sequence[dict[str, Any]], *, on_cancel: CancelHandler, client: Any = None) -> None:
    client = client or default_client()
    try:
        _retrying(lambda: client.transact_write_items(TransactItems=list(actions)))
    except ClientError as error:
        reasons = error.response.get("CancellationReasons", [])
        if _code(error) != "TransactionCanceledException" or not any(
            r.get("Code") == "ConditionalCheckFailed" for r in reasons
        ):
            raise
        failed = [
            (deserialize(r["Item"]) if r.get("Item") else {}) if r.get("Code") == "ConditionalCheckFailed" else None
            for r in reasons
        ]
        raise on_cancel(failed) from error


def _read(client: Any, args: Mapping[str, Any], *, from_cursor: bool) -> tuple[list[Item], dict[str, Any] | None]:
    """One round trip: the items DynamoDB returned and its LastEvaluatedKey."""
    try:
        response = client.query(**args)
    except ClientError as error:
        if from_cursor and _code(error) == "ValidationException":
            raise invalid("query.cursor", "does not belong to this listing") from error
        raise
    return [deserialize(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")


def query(
    *,
    key_condition: str,
    values: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    index: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    cursor: str | None = None,
    filter_expression: str | None = None,
    consistent: bool = False,
    one_read: bool = False,
    client: Any = None,
) -> tuple[list[Item], str | None]:
    """One page of a listing: `limit` items, or fewer on the last page, with the cursor of the next page,
    which is None exactly when nothing follows (so no page after a cursor is empty). DynamoDB stops at a
    full page even when nothing follows, and a filter can leave its pages short or empty: this reads one
    item past the page (across as many round trips as a filter needs) and ends the page at its last item's
    key. Without a limit, a page is what one round trip of up to 1 MB holds (skipping round trips a filter
    left empty). `one_read` makes it one round trip as DynamoDB answers it, for readers that bound their
    cost per round trip (never a listing). A cursor that does not belong to this query (tampered, or from
    another listing) is rejected as invalid input."""
    client = client or default_client()
    args: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": _values(values),
        "ScanIndexForward": not newest_first,
    }
    if names:
        args["ExpressionAttributeNames"] = dict(names)
    if index:
        args["IndexName"] = index
    elif consistent:
        args["ConsistentRead"] = True
    if filter_expression:
        args["FilterExpression"] = filter_expression
    if cursor:
        args["ExclusiveStartKey"] = start_key(cursor, key_condition, values)
    items: list[Item] = []
    from_cursor = bool(cursor)
    while True:
        if limit:
            # Unfiltered, DynamoDB returns as many as asked for; a filter may drop any of them.
            args["Limit"] = limit if one_read else limit + 1 - (0 if filter_expression else len(items))
        found, last = _read(client, args, from_cursor=from_cursor)
        items, from_cursor = items + found, False
        if one_read or last is None or (len(items) > limit if limit else bool(items)):
            break
        args["ExclusiveStartKey"] = last
    if one_read or not limit:
        return items, (encode_cursor(deserialize(last)) if last else None)
    if len(items) <= limit:
        return items, None
    return items[:limit], encode_cursor(place(items[limit - 1], index))


def pages(**arguments: Any) -> Iterator[list[Item]]:
    """Every page of a query (the arguments of `query`, without a cursor): one list per round trip, so a
    caller can stop early, count what it read, or act page by page."""
    cursor: str | None = None
    while True:
        items, cursor = query(cursor=cursor, one_read=True, **arguments)
        yield items
        if cursor is None:
            return


@dataclass(frozen=True)
class IndexKey:
    """One partition of a global index, with at most one condition on its sort key: the key condition
    of a listing the index holds (`query_index`, `index_pages`)."""

    index: str
    partition: str
    sort_prefix: str | None = None
    sort_below: str | None = None
    sort_at_most: str | None = None
    sort_between: tuple[str, str] | None = None

    def condition(self, filter_values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        keys = INDEX_BY_NAME[self.index]
        condition = f"{keys.partition_key} = :pk"
        values: dict[str, Any] = {":pk": self.partition, **(filter_values or {})}
        if self.sort_prefix is not None:
            condition += f" AND begins_with({keys.sort_key}, :sort)"
            values[":sort"] = self.sort_prefix
        elif self.sort_below is not None:
            condition += f" AND {keys.sort_key} < :sort"
            values[":sort"] = self.sort_below
        elif self.sort_at_most is not None:
            condition += f" AND {keys.sort_key} <= :sort"
            values[":sort"] = self.sort_at_most
        elif self.sort_between is not None:
            condition += f" AND {keys.sort_key} BETWEEN :sort AND :sort_last"
            values[":sort"], values[":sort_last"] = self.sort_between
        return {"index": self.index, "key_condition": condition, "values": values}


def query_index(
    key: IndexKey,
    *,
    filter_expression: str | None = None,
    filter_values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    cursor: str | None = None,
    one_read: bool = False,
    client: Any = None,
) -> tuple[list[Item], str | None]:
    """One page of a listing a global index holds: `query` with the key's condition (`filter_values` are
    the values `filter_expression` names)."""
    return query(
        **key.condition(filter_values),
        filter_expression=filter_expression,
        names=names,
        limit=limit,
        newest_first=newest_first,
        cursor=cursor,
        one_read=one_read,
        client=client,
    )


def index_pages(
    key: IndexKey,
    *,
    filter_expression: str | None = None,
    filter_values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    client: Any = None,
) -> Iterator[list[Item]]:
    """Every page of a listing a global index holds, one list per round trip (see `pages`)."""
    return pages(
        **key.condition(filter_values),
        filter_expression=filter_expression,
        names=names,
        limit=limit,
        newest_first=newest_first,
        client=client,
    )


def query_prefix(
    partition: str, prefix: str, *, cursor: str | None = None, limit: int = 100, client: Any = None
) -> tuple[list[Item], str | None]:
    """Items of one partition whose sort key starts with `prefix` (e.g. an organisation's members)."""
    return query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": partition, ":prefix": prefix},
        cursor=cursor,
        limit=limit,
        client=client,
    )


def all_with_prefix(partition: str, prefix: str, *, consistent: bool = False, client: Any = None) -> list[Item]:
    """Every item of one partition whose sort key starts with `prefix`, however many pages that takes."""
    every_page = pages(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": partition, ":prefix": prefix},
        consistent=consistent,
        client=client,
    )
    return [item for page in every_page for item in page]

"""Listings: pages of a partition or of a global index, read with one query shape and one page rule (a
page that has a cursor is never followed by an empty one), and the cursors that continue them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from common.platform import db
from common.platform.cursors import encode_cursor, place, start_key
from common.platform.errors import invalid
from common.platform.table_schema import INDEX_BY_NAME


def _read(client: Any, args: Mapping[str, Any], *, from_cursor: bool) -> tuple[list[db.Item], dict[str, Any] | None]:
    """One round trip: the items DynamoDB returned and its LastEvaluatedKey."""
    try:
        response = client.query(**args)
    except ClientError as error:
        if from_cursor and db.error_code(error) == "ValidationException":
            raise invalid("query.cursor", "does not belong to this listing") from error
        raise
    return [db.deserialize(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")


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
) -> tuple[list[db.Item], str | None]:
    """One page of a listing: `limit` items, or fewer on the last page, with the cursor of the next page,
    which is None exactly when nothing follows (so no page after a cursor is empty). DynamoDB stops at a
    full page even when nothing follows, and a filter can leave its pages short or empty: this reads one
    item past the page (across as many round trips as a filter needs) and ends the page at its last item's
    key. Without a limit, a page is what one round trip of up to 1 MB holds (skipping round trips a filter
    left empty). `one_read` makes it one round trip as DynamoDB answers it, for readers that bound their
    cost per round trip (never a listing). A cursor that does not belong to this query (tampered, or from
    another listing) is rejected as invalid input."""
    client = client or db.default_client()
    args: dict[str, Any] = {
        "TableName": db.table_name(),
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": db.serialize_values(values),
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
    items: list[db.Item] = []
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
        return items, (encode_cursor(db.deserialize(last)) if last else None)
    if len(items) <= limit:
        return items, None
    return items[:limit], encode_cursor(place(items[limit - 1], index))


def pages(**arguments: Any) -> Iterator[list[db.Item]]:
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
) -> tuple[list[db.Item], str | None]:
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
) -> Iterator[list[db.Item]]:
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
    partition: str,
    prefix: str,
    *,
    cursor: str | None = None,
    limit: int = 100,
    newest_first: bool = False,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """Items of one partition whose sort key starts with `prefix` (e.g. an organisation's members)."""
    return query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": partition, ":prefix": prefix},
        newest_first=newest_first,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def all_with_prefix(partition: str, prefix: str, *, consistent: bool = False, client: Any = None) -> list[db.Item]:
    """Every item of one partition whose sort key starts with `prefix`, however many pages that takes."""
    every_page = pages(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": partition, ":prefix": prefix},
        consistent=consistent,
        client=client,
    )
    return [item for page in every_page for item in page]

"""The shared query helper's pages (over the moto table): every item exactly once, a page with a cursor
always followed by a non-empty one, the last page's cursor None, also when a page is exactly full, when a
filter leaves DynamoDB's pages short or empty, and when reading an index."""

from __future__ import annotations

from typing import Any

import pytest
from common.platform import db, listings
from common.platform.cursors import cursor_fields
from common.platform.errors import InvalidInput

from tests.unit.conftest import TABLE

PARTITION = "ORG#01PAGESAAAAAAAAAAAAAAAAA"


class FullPagesNameTheirEnd:
    """The table client, answering as DynamoDB does where moto does not: a round trip that read as many
    items as its Limit names its last one as LastEvaluatedKey, though nothing follows."""

    def __init__(self) -> None:
        self.real = db.default_client()

    def query(self, **args: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.query(**args)
        if args.get("Limit") == response["ScannedCount"] == response["Count"] and "LastEvaluatedKey" not in response:
            names = ["pk", "sk"] + ([f"{args['IndexName']}pk", f"{args['IndexName']}sk"] if "IndexName" in args else [])
            response["LastEvaluatedKey"] = {n: response["Items"][-1][n] for n in names}
        return response


ODD_ONES = {":pk": PARTITION, ":prefix": "ITEM#", ":odd": "odd"}


def put_items(count: int, *, kind: Any = None) -> list[str]:
    keys = []
    for n in range(count):
        sk = f"ITEM#{n:04d}"
        db.put(
            {
                "pk": PARTITION,
                "sk": sk,
                "gsi1pk": f"{PARTITION}#BY_NAME",
                "gsi1sk": f"name-{count - n:04d}",
                "parity": kind(n) if kind else ("odd" if n % 2 else "even"),
            }
        )
        keys.append(sk)
    return keys


def walk(limit: int, **arguments: Any) -> list[list[db.Item]]:
    """Every page of a listing, checking the cursor rules on the way."""
    pages: list[list[db.Item]] = []
    cursor: str | None = None
    client = FullPagesNameTheirEnd()
    while True:
        items, cursor = listings.query(cursor=cursor, limit=limit, client=client, **arguments)
        assert len(items) <= limit
        if cursor is not None:
            assert len(items) == limit, "a page before the last is full"
        if pages:
            assert items, "a page after a cursor is never empty"
        pages.append(items)
        if cursor is None:
            return pages
        assert len(pages) < 100


TABLE_LISTING: dict[str, Any] = {
    "key_condition": "pk = :pk AND begins_with(sk, :prefix)",
    "values": {":pk": PARTITION, ":prefix": "ITEM#"},
}


@pytest.mark.parametrize(("count", "limit"), [(6, 3), (6, 4), (6, 6), (6, 7), (1, 1), (5, 1)])
def test_pages_hold_every_item_once_and_end_with_no_cursor(count: int, limit: int) -> None:
    keys = put_items(count)
    pages = walk(limit, **TABLE_LISTING)
    assert [i["sk"] for page in pages for i in page] == keys
    assert len(pages) == -(-count // limit)


def test_an_exactly_full_last_page_has_no_cursor() -> None:
    put_items(4)
    client = FullPagesNameTheirEnd()
    assert client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=db.serialize({":pk": PARTITION}),
        Limit=4,
    ).get("LastEvaluatedKey")
    items, cursor = listings.query(**TABLE_LISTING, limit=4, client=client)
    assert len(items) == 4
    assert cursor is None


def test_an_empty_listing_is_one_empty_page() -> None:
    assert listings.query(**TABLE_LISTING, limit=5) == ([], None)


def test_newest_first_pages_run_backwards() -> None:
    keys = put_items(5)
    pages = walk(2, **TABLE_LISTING, newest_first=True)
    assert [i["sk"] for page in pages for i in page] == keys[::-1]


def test_a_filter_fills_pages_across_round_trips() -> None:
    keys = put_items(9)
    odd = [k for n, k in enumerate(keys) if n % 2]
    listing: dict[str, Any] = {**TABLE_LISTING, "values": ODD_ONES, "filter_expression": "parity = :odd"}
    for limit in (1, 2, 4, 5):
        pages = walk(limit, **listing)
        assert [i["sk"] for page in pages for i in page] == odd


def test_a_filter_that_leaves_whole_round_trips_empty_still_gives_full_pages() -> None:
    # Only the last two of 30 items match: a DynamoDB page of limit + 1 evaluated items finds none.
    keys = put_items(30, kind=lambda n: "odd" if n >= 28 else "even")
    pages = walk(1, **{**TABLE_LISTING, "values": ODD_ONES}, filter_expression="parity = :odd")
    assert [[i["sk"] for i in page] for page in pages] == [[keys[28]], [keys[29]]]


def test_a_filter_matching_nothing_is_one_empty_page_without_cursor() -> None:
    put_items(7, kind=lambda n: "even")
    listing: dict[str, Any] = {**TABLE_LISTING, "values": ODD_ONES, "filter_expression": "parity = :odd"}
    assert listings.query(**listing, limit=3) == ([], None)


def test_an_index_cursor_names_the_last_item_by_its_table_and_index_keys() -> None:
    keys = put_items(5)
    listing: dict[str, Any] = {
        "index": "gsi1",
        "key_condition": "gsi1pk = :pk",
        "values": {":pk": f"{PARTITION}#BY_NAME"},
    }
    items, cursor = listings.query(**listing, limit=2)
    assert cursor is not None
    assert cursor_fields(cursor) == {k: items[-1][k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")}
    pages = walk(2, **listing)
    assert [i["sk"] for page in pages for i in page] == keys[::-1]


def test_a_cursor_of_another_partition_is_invalid_input() -> None:
    put_items(3)
    _, cursor = listings.query(**TABLE_LISTING, limit=1)
    assert cursor is not None
    with pytest.raises(InvalidInput) as refused:
        listings.query(key_condition="pk = :pk", values={":pk": "ORG#01OTHERAAAAAAAAAAAAAAAAA"}, cursor=cursor, limit=1)
    assert refused.value.errors[0].field == "query.cursor"


def test_one_read_is_one_round_trip_as_dynamodb_answers_it() -> None:
    put_items(4, kind=lambda n: "odd" if n >= 2 else "even")
    listing: dict[str, Any] = {**TABLE_LISTING, "values": ODD_ONES, "filter_expression": "parity = :odd"}
    # The filter drops both items the round trip evaluated: an empty page, and yet a cursor.
    items, cursor = listings.query(**listing, limit=2, one_read=True)
    assert items == []
    assert cursor is not None
    assert [i["sk"] for i in listings.query(**listing, limit=2, cursor=cursor, one_read=True)[0]] == [
        "ITEM#0002",
        "ITEM#0003",
    ]


def test_pages_of_round_trips_read_everything() -> None:
    keys = put_items(7)
    assert [i["sk"] for page in listings.pages(**TABLE_LISTING, limit=3) for i in page] == keys

"""The one form of a page cursor, whatever a listing pages by (a table or index key, a position in a
history): its fields as URL-safe base64 of JSON, opaque to callers. A page's cursor names its last item,
and the next page starts after it."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from common.platform.errors import invalid
from common.platform.table_schema import INDEXES, PARTITION_KEY, SORT_KEY

# The key attributes of an item's place in the table and in each index (None: the table itself).
PLACES: dict[str | None, tuple[str, ...]] = {None: (PARTITION_KEY, SORT_KEY)} | {
    index.name: (PARTITION_KEY, SORT_KEY, index.partition_key, index.sort_key) for index in INDEXES
}
_PARTITION_CONDITION = re.compile(r"^\s*(#?\w+)\s*=\s*(:\w+)")
_serializer = TypeSerializer()


def encode_cursor(fields: Mapping[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(dict(fields), separators=(",", ":")).encode()).decode().rstrip("=")


def cursor_fields(cursor: str) -> dict[str, str]:
    """The fields of a cursor `encode_cursor` made; anything else is invalid input naming query.cursor."""
    try:
        plain = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        if not isinstance(plain, dict) or not plain or not all(isinstance(v, str) for v in plain.values()):
            raise ValueError("not a cursor")
    except ValueError as error:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        raise invalid("query.cursor", "is not a valid page cursor") from error
    return plain


_COUNT = re.compile(r"^[0-9]{1,12}$")


def cursor_count(fields: Mapping[str, str], name: str) -> int:
    """A count or position a cursor carries: ASCII digits only (str.isdigit also takes "²", which int()
    refuses), anything else is invalid input naming query.cursor."""
    value = fields.get(name, "")
    if not _COUNT.match(value):
        raise invalid("query.cursor", "is not a valid page cursor")
    return int(value)


def place(item: Mapping[str, Any], index: str | None) -> dict[str, str]:
    """The item's key attributes in the table, and in `index` when a query reads one."""
    return {name: item[name] for name in PLACES[index]}


def start_key(cursor: str, key_condition: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The (serialized) start key of the page after the cursor's item; it must lie in the partition the
    query reads, so a cursor can never move a listing into another partition (another organisation's)."""
    fields = cursor_fields(cursor)
    match = _PARTITION_CONDITION.match(key_condition)
    if match is None or fields.get(match.group(1)) != values.get(match.group(2)):
        raise invalid("query.cursor", "does not belong to this listing")
    return {k: _serializer.serialize(v) for k, v in fields.items()}

"""The one table definition. CDK (infra/) and the local stack both build the table from this module,
so the cloud and local tables cannot drift. Access patterns per key are listed in docs/data-model.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARTITION_KEY = "pk"
SORT_KEY = "sk"
STREAM_VIEW = "NEW_AND_OLD_IMAGES"
# Items that carry an epoch-seconds `expiration` are deleted by DynamoDB after it (idempotency records).
TTL_ATTRIBUTE = "expiration"
# Every item names its kind here; stream consumers filter on it.
ENTITY_ATTRIBUTE = "entity"


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str


# Overloaded, sparse global indexes (all projections ALL): an item appears in an index only while it
# carries that index's key attributes, so each index holds exactly the items of one listing.
INDEXES: tuple[Index, ...] = (
    Index("gsi1", "gsi1pk", "gsi1sk"),  # listings by state: leads by status, companies by name
    Index("gsi2", "gsi2pk", "gsi2sk"),  # listings by owner: leads by assignee, a user's memberships
    Index("gsi3", "gsi3pk", "gsi3sk"),  # work queues: queued leads by priority, then readiness
)
INDEX_BY_NAME = {index.name: index for index in INDEXES}


def key_attributes() -> list[str]:
    names = [PARTITION_KEY, SORT_KEY]
    for index in INDEXES:
        names += [index.partition_key, index.sort_key]
    return names


def create_table_request(table_name: str) -> dict[str, Any]:
    """Arguments for boto3 `create_table` (local stack and tests); mirrors infra/table.py."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in key_attributes()],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in INDEXES
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW},
    }

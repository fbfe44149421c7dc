"""The stack's table on DynamoDB Local: created from the same definition CDK uses, or the one kept from an
earlier run (make dev --keep-data)."""

from __future__ import annotations

from typing import Any

from common.platform.table_schema import create_table_request


def create_table(dynamodb: Any, table_name: str, *, may_be_kept: bool) -> tuple[str, bool]:
    """The table's stream, and whether the table was kept from an earlier run (only when `may_be_kept`)."""
    try:
        table = dynamodb.create_table(**create_table_request(table_name))["TableDescription"]
    except dynamodb.exceptions.ResourceInUseException:
        if not may_be_kept:
            raise
        return str(dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]), True
    return str(table["LatestStreamArn"]), False

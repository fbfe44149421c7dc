"""The stack's table on DynamoDB Local: created from the same definition CDK uses, or the one kept from an
earlier run (make dev --keep-data); and its stream's ARN as Lambda events name it."""

from __future__ import annotations

from typing import Any

from common.platform.table_schema import create_table_request

from local.invoker import ACCOUNT_ID


def create_table(dynamodb: Any, table_name: str, *, may_be_kept: bool) -> tuple[str, bool]:
    """The table's stream, and whether the table was kept from an earlier run (only when `may_be_kept`)."""
    try:
        table = dynamodb.create_table(**create_table_request(table_name))["TableDescription"]
    except dynamodb.exceptions.ResourceInUseException:
        if not may_be_kept:
            raise
        return str(dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]), True
    return str(table["LatestStreamArn"]), False


def aws_shaped_arn(arn: str, region: str) -> str:
    """DynamoDB Local names its streams in region "ddblocal", account 000000000000; Lambda events carry
    the real region and account."""
    parts = arn.split(":", 5)
    return ":".join([*parts[:3], region, ACCOUNT_ID, parts[5]]) if len(parts) == 6 else arn

"""The single table, built from common.table_schema (the local stack builds its table from it too)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from common import table_schema
from constructs import Construct


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Table(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, protected: bool) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string_key(table_schema.PARTITION_KEY),
            sort_key=_string_key(table_schema.SORT_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType(table_schema.STREAM_VIEW),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=table_schema.TTL_ATTRIBUTE,
            deletion_protection=protected,
            removal_policy=RemovalPolicy.RETAIN if protected else RemovalPolicy.DESTROY,
        )
        for index in table_schema.INDEXES:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_key(index.partition_key),
                sort_key=_string_key(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )

    def index_arns(self) -> list[str]:
        """One ARN per index, named: a query grant then covers exactly the indexes that exist."""
        return [self.index_arn(index.name) for index in table_schema.INDEXES]

    def index_arn(self, name: str) -> str:
        """The ARN of one index, for a function that queries that index only."""
        if name not in {index.name for index in table_schema.INDEXES}:
            raise ValueError(f"the table has no index named {name}")
        return f"{self.table.table_arn}/index/{name}"

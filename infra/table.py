"""The single table, built from common.platform.table_schema (the local stack builds its table from it too), and
how it is recovered: point-in-time recovery on every stage (any second of the last 35 days), and on
protected stages also AWS Backup's daily and monthly copies, kept in a vault that outlives the stack."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Names, RemovalPolicy, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from common.platform import table_schema
from constructs import Construct

DAILY_BACKUP_RETENTION = Duration.days(35)
MONTHLY_BACKUP_RETENTION = Duration.days(365)


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
        # Dev stages are disposable: a vault holding recovery points could not be deleted with the stack.
        self.backups = TableBackups(self, "Backups", table=self.table) if protected else None

    def index_arns(self) -> list[str]:
        """One ARN per index, named: a query grant then covers exactly the indexes that exist."""
        return [self.index_arn(index.name) for index in table_schema.INDEXES]

    def index_arn(self, name: str) -> str:
        """The ARN of one index, for a function that queries that index only."""
        if name not in {index.name for index in table_schema.INDEXES}:
            raise ValueError(f"the table has no index named {name}")
        return f"{self.table.table_arn}/index/{name}"


class TableBackups(Construct):
    """Daily copies kept 35 days and monthly ones kept a year, in a vault that the stack leaves behind when
    it is deleted. They survive what point-in-time recovery does not: the table and its recovery window
    being deleted, and mistakes found after 35 days."""

    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.ITable) -> None:
        super().__init__(scope, construct_id)
        self.vault = backup.BackupVault(self, "Vault", removal_policy=RemovalPolicy.RETAIN)
        # Full backups of DynamoDB need no cold-storage tier (that takes AWS Backup's advanced features).
        self.plan = backup.BackupPlan(
            self,
            "Plan",
            # Plan names are unique in an account: the stage's stack name keeps two stages apart.
            backup_plan_name=Names.unique_resource_name(self, max_length=50, separator="-"),
            backup_vault=self.vault,
            backup_plan_rules=[
                backup.BackupPlanRule(
                    rule_name="Daily",
                    schedule_expression=events.Schedule.cron(hour="2", minute="0"),
                    delete_after=DAILY_BACKUP_RETENTION,
                ),
                backup.BackupPlanRule(
                    rule_name="Monthly",
                    schedule_expression=events.Schedule.cron(day="1", hour="2", minute="30"),
                    delete_after=MONTHLY_BACKUP_RETENTION,
                ),
            ],
        )
        selection = self.plan.add_selection("Table", resources=[backup.BackupResource.from_dynamo_db_table(table)])
        Validations.of(selection).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSBackupServiceRolePolicyForBackup]",
                reason="AWS Backup's own service-role policy, which AWS keeps current with what taking a backup "
                "of each resource type needs; the selection names the table alone.",
            )
        )

"""The single table, built from common.platform.table_schema (the local stack builds its table from it too), and
how it is recovered: point-in-time recovery on every stage (any second of the last 35 days), and on
protected stages also AWS Backup's daily and monthly copies, kept in a vault that outlives the stack.

Both are kept by the stage's removal policy (DeploymentConfig.removal_policy) and have no fixed name, so a
stage deployed again after its stack was deleted, or a first deployment retried, never meets a name taken
by what an earlier stack left behind."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, Fn, Names, RemovalPolicy, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from common.platform import table_schema
from constructs import Construct

DAILY_BACKUP_RETENTION = Duration.days(35)
MONTHLY_BACKUP_RETENTION = Duration.days(365)


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def name_of_this_stack_creation() -> str:
    """A name unique to this creation of the stack: its name and the start of the UUID CloudFormation gives
    each stack it creates (the stack id's last part). It stays the same across updates, and a stack created
    again after a deletion gets another, beside whatever the deleted one left behind. At most 46 characters
    (a stack name of up to 37, a hyphen and 8 hexadecimal digits)."""
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return f"{Aws.STACK_NAME}-{Fn.select(0, Fn.split('-', stack_uuid))}"


class Table(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
        backups: bool,
    ) -> None:
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
            # No table name: CloudFormation generates one, so a table left behind never blocks a new one.
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        for index in table_schema.INDEXES:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_key(index.partition_key),
                sort_key=_string_key(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        # Dev stages are disposable: a vault holding recovery points could not be deleted with the stack.
        self.backups = (
            TableBackups(self, "Backups", table=self.table, removal_policy=removal_policy) if backups else None
        )

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

    def __init__(
        self, scope: Construct, construct_id: str, *, table: dynamodb.ITable, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudFormation requires a vault name, unique in the account and region: one of this stack's
        # creation, never the name of a vault an earlier stack of the stage left behind (output BackupVaultName).
        self.vault = backup.BackupVault(
            self, "Vault", backup_vault_name=name_of_this_stack_creation(), removal_policy=removal_policy
        )
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

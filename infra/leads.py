"""The leads domain: the LeadsApi function behind the HTTP API and the LeadsEvents stream consumer,
each with exactly the permissions its code uses."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import manifest
from infra.functions import FunctionDefaults, LambdaFunction
from infra.table import Table

# Reads, conditional writes and transactions (TransactWriteItems has no IAM action of its own: each of
# its items is authorised as the Put, Update or Delete it is; no transaction uses a ConditionCheck).
# DeleteItem: removing a staff member deletes the membership item.
API_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]
# Partner-company machine credentials are Cognito app clients created and revoked at run time.
API_COGNITO_ACTIONS = ["cognito-idp:CreateUserPoolClient", "cognito-idp:DeleteUserPoolClient"]
EVENTS_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


class Leads(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        user_pool: cognito.IUserPool,
        email_identity_arn: str,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        table_arn = table.table.table_arn

        self.api = LambdaFunction(self, manifest.LEADS_API.name, spec=manifest.LEADS_API, defaults=defaults)
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_ITEM_ACTIONS, resources=[table_arn]))
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table_arn, *table.index_arns()])
        )
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=API_COGNITO_ACTIONS, resources=[user_pool.user_pool_arn])
        )

        self.events = LambdaFunction(self, manifest.LEADS_EVENTS.name, spec=manifest.LEADS_EVENTS, defaults=defaults)
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        self.events.role.add_to_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=[email_identity_arn]))

        # Where a batch goes once bisecting and retries are exhausted: the message points at the
        # stream records (shard and sequence numbers), which stay readable for the stream's 24 hours.
        self.failures = sqs.Queue(
            self,
            "LeadsEventsFailures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Validations.of(self.failures).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself the on-failure destination of the LeadsEvents stream mapping; "
                "nothing consumes it automatically, so it needs no dead-letter queue of its own.",
            )
        )
        spec = manifest.LEADS_EVENTS
        self.events.function.add_event_source(
            event_sources.DynamoEventSource(
                table.table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=spec.stream_batch_size,
                max_batching_window=Duration.seconds(5),
                bisect_batch_on_error=spec.stream_bisect_on_error,
                retry_attempts=spec.stream_retry_attempts,
                max_record_age=Duration.hours(spec.stream_max_record_age_hours),
                report_batch_item_failures=True,
                # One FilterCriteria holding every pattern: Lambda delivers a record that matches any.
                filters=[lambda_.FilterCriteria.filter(pattern) for pattern in spec.stream_filters],
                on_failure=event_sources.SqsDlq(self.failures),
            )
        )
        Validations.of(self.events.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Besides the X-Ray actions of active tracing, the stream mapping needs "
                "dynamodb:ListStreams, which does not support resource-level permissions; reading "
                "the stream itself is granted on the table's stream ARN only.",
            )
        )

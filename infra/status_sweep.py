"""The StatusSweep function and the EventBridge Scheduler schedule that runs it (the expression is in
infra/manifest.py SCHEDULES, which the local stack's on-demand firing follows too).

The sweep is idempotent (running it twice changes nothing more), so every retry below is safe.

A run that never happens lands in one failure queue, whichever side gave up: Scheduler's dead-letter
event when it could not invoke the function, Lambda's invocation record when the function kept failing.
Both say when and why; the remedy is the same (invoke the sweep again), so one queue and one alarm serve.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra import manifest
from infra.functions import FunctionDefaults, LambdaFunction, dead_letter_queue
from infra.table import Table

# The index of ACTIVE partners by last-lead date (common.partners.partner_records: LAPSE#<shard> / <lastLeadAt>#...):
# the sweep reads only the range that is due and updates each due partner's node.
LAPSE_INDEX = "gsi3"
# Scheduler invokes the function asynchronously: its retry policy covers delivering the invocation
# (throttling, service errors), Lambda's own retries cover the function failing.
DELIVERY_RETRY_ATTEMPTS = 5
DELIVERY_MAX_EVENT_AGE = Duration.hours(6)
FUNCTION_RETRY_ATTEMPTS = 2
FUNCTION_MAX_EVENT_AGE = Duration.hours(6)


class StatusSweep(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, table: Table, schedule_name: str, defaults: FunctionDefaults
    ) -> None:
        super().__init__(scope, construct_id)
        spec = manifest.STATUS_SWEEP
        self.sweep = LambdaFunction(self, spec.name, spec=spec, defaults=defaults)
        self.sweep.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table.index_arn(LAPSE_INDEX)])
        )
        self.sweep.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[table.table.table_arn])
        )
        self.failures = dead_letter_queue(
            self, "Failures", holds=f"the {spec.name} schedule's undelivered runs and the function's failed ones"
        )
        self.sweep.live.configure_async_invoke(
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=FUNCTION_MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.failures),
        )

        # The schedule's own role, allowed to invoke this function only. The source-account condition
        # keeps another account's schedule from using it (confused deputy).
        self.invoke_role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"EventBridge Scheduler invokes the {spec.name} function",
        )
        invoke_policy = iam.Policy(
            self,
            "ScheduleRolePolicy",
            roles=[self.invoke_role],
            statements=[
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.sweep.live.function_arn]),
                # Scheduler writes its dead-letter events with the schedule's role.
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.failures.queue_arn]),
            ],
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            name=schedule_name,
            description=f"Runs the {spec.name} function daily",
            schedule_expression=manifest.SCHEDULES[spec.name],
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.sweep.live.function_arn,
                role_arn=self.invoke_role.role_arn,
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                    maximum_event_age_in_seconds=int(DELIVERY_MAX_EVENT_AGE.to_seconds()),
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.failures.queue_arn),
            ),
        )
        # The first run must find the role's policy in place.
        self.schedule.node.add_dependency(invoke_policy)

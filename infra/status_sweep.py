"""The daily sweep: the StatusSweep function, the EventBridge Scheduler schedule that runs it (the expression
is in infra/manifest.py SCHEDULES, which the local stack's on-demand firing follows too), its work queue and
the StatusSweepWork function that reads it.

The sweep only reads (the sparse indexes of what is due) and hands each page of due work on to its queue;
the work function lapses partners, reminds team members and leaders (texts and e-mails) and expires
referral requests, a message at a time with partial batch failures, so a backlog of thousands is spread over
many short invocations instead of outliving one. Everything is idempotent (running the sweep twice, or a
message delivered twice, changes nothing more), so every retry below is safe.

A run that never happens lands in one failure queue, whichever side gave up: Scheduler's dead-letter
event when it could not invoke the function, Lambda's invocation record when the function kept failing.
Both say when and why; the remedy is the same (invoke the sweep again), so one queue and one alarm serve.
Work that keeps failing moves to the work queue's dead-letter queue (infra/watched.py alarms on both).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from common.platform.settings import env_name
from constructs import Construct

from infra import manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction, dead_letter_queue
from infra.sender import EmailSender
from infra.table import Table

# The index of what is due (sparse): ACTIVE partners by last-lead date (common.partners.partner_records:
# LAPSE#<shard> / <lastLeadAt>#...), each organisation's open customers by the date their update is due and
# its open referral requests by expiry. The sweep reads only the ranges that are due; the table holds the
# organisations with teams (one partition it queries).
DUE_INDEX = "gsi3"
# The organisations' team listings (ORG#<org>#TEAMS / <name>#<team>): the standards job's pages of teams.
TEAMS_INDEX = "gsi1"
# The work: the items of a page read again (BatchGetItem), each lapse or expiry one conditional UpdateItem
# (a TransactWriteItems when a history pages out, authorised as the Update and Put it holds), one notice per
# reminder, digest and channel per day (claimed, read, finished, released when sending fails).
WORK_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]
# Scheduler invokes the function asynchronously: its retry policy covers delivering the invocation
# (throttling, service errors), Lambda's own retries cover the function failing.
DELIVERY_RETRY_ATTEMPTS = 5
DELIVERY_MAX_EVENT_AGE = Duration.hours(6)
FUNCTION_RETRY_ATTEMPTS = 2
FUNCTION_MAX_EVENT_AGE = Duration.hours(6)


class StatusSweep(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        sender: EmailSender,
        schedule_name: str,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        spec = manifest.STATUS_SWEEP
        self.sweep = LambdaFunction(self, spec.name, spec=spec, defaults=defaults)
        self.sweep.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[table.table.table_arn, table.index_arn(DUE_INDEX), table.index_arn(TEAMS_INDEX)],
            )
        )
        self.failures = dead_letter_queue(
            self, "Failures", holds=f"the {spec.name} schedule's undelivered runs and the function's failed ones"
        )
        self.sweep.live.configure_async_invoke(
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=FUNCTION_MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.failures),
        )

        # The work: a function and a queue (with its dead-letter queue) of its own, read with partial batch
        # failures. The sweep may send to that queue only.
        work = manifest.STATUS_SWEEP_WORK
        self.work = LambdaFunction(self, work.name, spec=work, defaults=defaults)
        self.work.role.add_to_policy(iam.PolicyStatement(actions=WORK_ITEM_ACTIONS, resources=[table.table.table_arn]))
        # The standards job reads a team's day counts (the table) and an organisation's open customers (gsi3).
        self.work.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[table.table.table_arn, table.index_arn(DUE_INDEX)]
            )
        )
        sender.grant_send(self.work.role)
        self.work_queue = ChangeQueue(self, "Work", consumer=self.work)
        self.sweep.function.add_environment(env_name("sweep_work_queue_url"), self.work_queue.queue.queue_url)
        self.sweep.role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.work_queue.queue.queue_arn])
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
        # A group of its own (named by CloudFormation): Scheduler's metrics are per group, so the stage's alarms
        # on failed and dropped runs count this schedule only. Scheduler cannot move a schedule to another
        # group, so the schedule has a new construct id: a new resource, created in the group, replaces the
        # one a stage deployed before in the default group.
        self.group = scheduler.CfnScheduleGroup(self, "ScheduleGroup")
        self.schedule = scheduler.CfnSchedule(
            self,
            "DailySchedule",
            name=schedule_name,
            group_name=self.group.ref,
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

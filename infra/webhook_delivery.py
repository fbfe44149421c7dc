"""The one outbound delivery engine's resources: the WebhookDelivery function, the queue it reads (with its
dead-letter queue) and what it may do; its producers are given the queue by `grant_send`.

The queue carries the retry schedule in its messages' delays (at most 15 minutes each; a longer wait is a
message sent again, delayed again), so nothing else schedules anything. The function reads it one message
at a time (manifest.WEBHOOK_DELIVERY: why in functions/integrations/delivery.py). Its age alarm is the alarm on
the oldest waiting delivery (infra/watched.py makes it, as for every work queue): a message is never delayed
more than 15 minutes, so one older than the threshold waited that long after it was due. The dead-letter
queue holds what the engine itself could not handle, alarmed like every other (infra/watched.py); the
failure rate's alarm is `watch_deliveries`, in the monitoring stack.
"""

from __future__ import annotations

import cdk_monitoring_constructs as cmc
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from common.integrations.delivery_attempts import (
    ATTEMPT_DURATION_METRIC,
    ATTEMPTS_METRIC,
    DELIVERED_METRIC,
    FAILED_ATTEMPTS_METRIC,
    FAILED_DELIVERIES_METRIC,
)
from common.platform.observability import METRICS_NAMESPACE, STAGE_DIMENSION
from common.platform.settings import environment
from constructs import Construct

from infra import manifest
from infra.custom_alarms import PERIOD, alarmed, spoken
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction
from infra.sender import EmailSender
from infra.table import Table

# The delivery, its endpoint's attempt slots and its event are read (GetItem); a restarted delivery may be
# created (PutItem); leases, slots, attempts and the endpoint's health are conditional updates (UpdateItem);
# the admins' e-mail is claimed by a notice (PutItem, UpdateItem when sent, DeleteItem when sending failed).
ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
# The organisation's members are one partition of the table (the admins to tell): no index is read.
QUERY_ACTIONS = ["dynamodb:Query"]
# The admins' addresses are their sign-ins'.
COGNITO_ACTIONS = ["cognito-idp:AdminGetUser"]
# The failure rate's alarm: more than this share of at least MIN_ATTEMPTS attempts in FAILURE_PERIOD failed.
FAILURE_PERCENT = 50
MIN_ATTEMPTS = 20
FAILURE_PERIOD = Duration.minutes(15)


class WebhookDelivery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        sender: EmailSender,
        user_pool: cognito.IUserPool,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        spec = manifest.WEBHOOK_DELIVERY
        self.function = LambdaFunction(self, spec.name, spec=spec, defaults=defaults)
        role = self.function.role
        role.add_to_policy(iam.PolicyStatement(actions=ITEM_ACTIONS, resources=[table.table.table_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=QUERY_ACTIONS, resources=[table.table.table_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=COGNITO_ACTIONS, resources=[user_pool.user_pool_arn]))
        sender.grant_send(role)
        self.queue = ChangeQueue(self, "Deliveries", consumer=self.function)
        # It sends on what is not due yet, to its own queue.
        self.grant_send(self.function)

    def grant_send(self, producer: LambdaFunction) -> None:
        """A function that hands deliveries on: the queue's URL in its settings, and sqs:SendMessage on it
        (which also authorises SendMessageBatch)."""
        for variable, value in environment(webhook_queue_url=self.queue.queue.queue_url).items():
            producer.function.add_environment(variable, value)
        producer.role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue.queue_arn])
        )


def watch_deliveries(facade: cmc.MonitoringFacade, stage: str) -> None:
    """The deliveries' metrics on the dashboard, and the alarm on their failure rate."""

    def metric(name: str, statistic: str, period: Duration = PERIOD) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={STAGE_DIMENSION: stage, "service": manifest.WEBHOOK_DELIVERY.folder},
            statistic=statistic,
            period=period,
        )

    rate = cloudwatch.MathExpression(
        # No data point unless enough attempts were made: one endpoint's few failures do not alarm.
        expression=f"IF(attempts >= {MIN_ATTEMPTS}, 100 * failures / attempts)",
        using_metrics={
            "failures": metric(FAILED_ATTEMPTS_METRIC, "Sum", FAILURE_PERIOD),
            "attempts": metric(ATTEMPTS_METRIC, "Sum", FAILURE_PERIOD),
        },
        label="failed attempts (% of attempts)",
        period=FAILURE_PERIOD,
    )
    facade.monitor_custom(
        alarm_friendly_name="WebhookDeliveries",
        human_readable_name="Webhook deliveries",
        metric_groups=[
            cmc.CustomMetricGroup(
                title="Attempts and their failures",
                metrics=[
                    alarmed(
                        rate,
                        "FailureRate",
                        FAILURE_PERCENT,
                        f"More than {FAILURE_PERCENT}% of at least {MIN_ATTEMPTS} webhook delivery attempts in "
                        f"{spoken(FAILURE_PERIOD)} failed: the stage cannot reach the internet (NAT, DNS), a "
                        "release broke the signing or sending, or many receivers are down at once. The "
                        "WebhookDelivery log says each attempt's error by endpoint id.",
                        period=FAILURE_PERIOD,
                    )
                ],
            ),
            cmc.CustomMetricGroup(
                title="Deliveries",
                metrics=[metric(DELIVERED_METRIC, "Sum"), metric(FAILED_DELIVERIES_METRIC, "Sum")],
            ),
            cmc.CustomMetricGroup(
                title="Attempt duration (ms)",
                metrics=[metric(ATTEMPT_DURATION_METRIC, "p50"), metric(ATTEMPT_DURATION_METRIC, "p99")],
            ),
        ],
    )

"""The SNS topic every alarm of a stage notifies, and who may publish to it.

A topic policy replaces SNS's default one, which let the account's principals publish: without a statement
of its own for CloudWatch, every alarm's action fails with "not authorized to perform: SNS:Publish" in the
alarm's history and nobody is told. The topic is encrypted with a key of its own (CloudWatch cannot publish
to a topic under the AWS managed SNS key), so that key must let CloudWatch use it too. Both grants hold for
CloudWatch acting for an alarm of this account whose name starts with the stage's alarm prefix
(aws:SourceAccount, aws:SourceArn), and nothing else: another account's alarms cannot use the topic
(confused deputy), and the account's other alarms do not reach the stage's operators.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

CLOUDWATCH = "cloudwatch.amazonaws.com"


def alarm_arn_pattern(scope: Construct, alarm_name_prefix: str) -> str:
    """The ARN of every alarm of this account and region whose name starts with `alarm_name_prefix` and the
    "-" that cdk-monitoring-constructs puts after it."""
    return Stack.of(scope).format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=f"{alarm_name_prefix}-*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def alarms_of(scope: Construct, alarm_name_prefix: str) -> dict[str, dict[str, str]]:
    """The conditions under which the CloudWatch service principal acts for those alarms only."""
    return {
        "StringEquals": {"aws:SourceAccount": Stack.of(scope).account},
        "ArnLike": {"aws:SourceArn": alarm_arn_pattern(scope, alarm_name_prefix)},
    }


def alarm_topic(
    scope: Construct,
    *,
    display_name: str,
    key_description: str,
    alarm_name_prefix: str,
    email: str | None,
    removal_policy: RemovalPolicy,
) -> sns.Topic:
    """The encrypted, TLS-only topic that the alarms named `<alarm_name_prefix>-...` publish to, e-mailing
    `email` when one is given."""
    conditions = alarms_of(scope, alarm_name_prefix)
    key = kms.Key(
        scope, "AlarmTopicKey", description=key_description, enable_key_rotation=True, removal_policy=removal_policy
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AlarmsOfThisStageEncrypt",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" is this key
            conditions=conditions,
        )
    )
    topic = sns.Topic(scope, "AlarmTopic", display_name=display_name, master_key=key, enforce_ssl=True)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AlarmsOfThisStagePublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=conditions,
        )
    )
    if email:
        topic.add_subscription(subscriptions.EmailSubscription(email))
    return topic

"""Safe releases: every function runs behind its `live` alias (infra/functions.py), and the functions that
answer callers (the API functions, Twilio's webhook, the token authorizer) move that alias by canary through
CodeDeploy: 10% of the traffic for five minutes, then the rest, rolled back automatically when the alias's
errors alarm goes off meanwhile (or a deployment fails or is stopped). The queue consumers, the stream reader
and the sweep move at once: their work is retried from queues, and a bad release of theirs shows as dead letters
and alarms, not as answers to a caller.

The alarms a release watches live with the other alarms (infra/monitoring.py, a nested stack) and notify the
alarm topic like them: an automatic rollback is something the operators hear of."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.functions import LambdaFunction
from infra.manifest import Function

# How a new version reaches callers: a tenth of them for five minutes, then all.
CANARY = codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES
ROLLBACK_PERIOD = Duration.minutes(1)
# The functions whose answers a caller waits for; the others are retried from queues and streams.
CANARY_KINDS = ("api", "authorizer")


def released_by_canary(spec: Function) -> bool:
    return spec.kind in CANARY_KINDS


def release_alarm(
    scope: Construct, function: LambdaFunction, *, alarm_name_prefix: str, topic: sns.ITopic
) -> cloudwatch.Alarm:
    """The alarm a release of `function` watches: any error of its live alias within a minute. Made in the
    monitoring's scope, named like the other alarms (the topic's policy admits those names only)."""
    name = function.spec.name
    alarm = cloudwatch.Alarm(
        scope,
        f"{name}ReleaseErrors",
        alarm_name=f"{alarm_name_prefix}-{name}-Release-Errors",
        metric=function.live.metric_errors(period=ROLLBACK_PERIOD, statistic="Sum"),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        actions_enabled=True,
        alarm_description=f"{name}'s live alias answered with an error: during a release CodeDeploy rolls the "
        "release back (see the deployment's history); outside one, see the function's Errors alarm.",
    )
    action = cloudwatch_actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
    return alarm


class Releases(Construct):
    """The CodeDeploy application of the stack's functions and the role it shifts aliases with."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.application = codedeploy.LambdaApplication(self, "Application")
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("codedeploy.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSCodeDeployRoleForLambdaLimited")
            ],
            description="CodeDeploy moves the functions' live aliases during a release",
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSCodeDeployRoleForLambdaLimited]",
                reason="AWS's own policy for CodeDeploy on Lambda, limited to functions and aliases and the "
                "alarms a deployment watches; writing it by hand would only copy it.",
            )
        )

    def by_canary(self, function: LambdaFunction, errors: cloudwatch.IAlarm) -> codedeploy.LambdaDeploymentGroup:
        """Releases of `function` go by canary, rolled back when `errors` (its release_alarm) goes off."""
        return codedeploy.LambdaDeploymentGroup(
            function,
            "Release",
            application=self.application,
            alias=function.live,
            deployment_config=CANARY,
            alarms=[errors],
            role=self.role,
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )

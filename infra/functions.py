"""One Lambda function of the manifest: its code asset, its own role, its log group, the shared layer, and its
`live` alias, which everything that invokes it invokes (a release publishes a version and moves the alias:
infra/releases.py); and, for a stream consumer, its event source mapping with an on-failure queue.

Each role starts with nothing but writing to its own log group and sending traces; the domain
constructs add exactly the table, Cognito and SES actions that function needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from aws_cdk import Acknowledgment, Duration, IgnoreMode, RemovalPolicy, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from common.platform.change_fanout import MAX_MESSAGE_BYTES as MAX_CHANGE_MESSAGE_BYTES
from common.platform.settings import environment
from constructs import Construct

from infra import constants, manifest

# Failures wait this long for an operator (SQS's longest retention).
DEAD_LETTER_RETENTION = Duration.days(14)
# Everything invokes a function through this alias (the API, the queues, the stream, the schedule).
LIVE_ALIAS = "live"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


def function_code(folder: str) -> lambda_.Code:
    """functions/ as the asset root, holding only this function's folder, so the manifest's handler
    (`<folder>.<module>.<attribute>`) imports as written."""
    return lambda_.Code.from_asset(
        str(constants.FUNCTIONS_DIR),
        ignore_mode=IgnoreMode.GIT,
        exclude=["/*", f"!/{folder}", "__pycache__", "*.pyc"],
    )


def common_layer(scope: Construct) -> lambda_.LayerVersion:
    if not (constants.LAYER_DIR / "python" / "common").is_dir():
        raise FileNotFoundError(f"the common layer has not been built ({constants.LAYER_DIR}); run `make layer` first")
    return lambda_.LayerVersion(
        scope,
        "CommonLayer",
        # With its bytecode: Lambda mounts layers read-only, so without it every cold start compiles every module.
        code=lambda_.Code.from_asset(str(constants.LAYER_DIR)),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="Run-time dependencies and the common domain package",
    )


@dataclass(frozen=True)
class FunctionDefaults:
    """What every function of the stack shares."""

    layer: lambda_.ILayerVersion
    environment: dict[str, str]
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy


class LambdaFunction(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, spec: manifest.Function, defaults: FunctionDefaults
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.log_group = logs.LogGroup(
            self, "Logs", retention=defaults.log_retention, removal_policy=defaults.removal_policy
        )
        # A role of its own with no managed policy: AWSLambdaBasicExecutionRole would allow writing to
        # every log group in the account.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of the {spec.name} function",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"{spec.name} ({spec.kind})",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=function_code(spec.folder),
            layers=[defaults.layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            environment={
                **defaults.environment,
                **environment(powertools_service_name=spec.folder),
                **constants.TRACER_ENVIRONMENT,  # last: nothing in the defaults can turn it off
            },
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
        )
        # CDK makes the function depend on the whole role construct so that it waits for the role's
        # inline policy; the DependsOn therefore also names the role, which the Role GetAtt already
        # implies (cfn-lint W3005). Harmless, and the policy dependency must stay.
        # A version is published whenever the code or the configuration changes; the alias points at it.
        self.live = lambda_.Alias(self, "Live", alias_name=LIVE_ALIAS, version=self.function.current_version)
        cfn_function = cast(lambda_.CfnFunction, self.function.node.default_child)
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which do "
                "not support resource-level permissions; every other statement names its resources.",
            )
        )


def dead_letter_queue(scope: Construct, construct_id: str, *, holds: str) -> sqs.Queue:
    """A queue where failures wait for an operator (14 days, encrypted, TLS only); `holds` says whose, for
    cdk-nag's acknowledgment that such a queue needs no dead-letter queue of its own."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason=f"This queue is itself a dead-letter destination ({holds}); nothing consumes it "
            "automatically, so it needs no dead-letter queue of its own.",
        )
    )
    return queue


def read_stream(scope: Construct, reader: LambdaFunction, *, table: dynamodb.ITable) -> sqs.Queue:
    """Feed the table's stream to its one reader (kind == "stream") with the manifest's filters, batch size,
    retries and record age (the local stream poller follows the same settings), reporting partial batch
    failures. Returns the on-failure queue `<name>Failures`, created in `scope`."""
    spec = reader.spec
    if spec.kind != "stream":
        raise ValueError(f"{spec.name} is not the stream reader")
    # Where a batch goes once bisecting and retries are exhausted (SQS unreachable for hours): the message
    # points at the stream records (shard and sequence numbers), which stay readable for 24 hours.
    failures = dead_letter_queue(scope, f"{spec.name}Failures", holds=f"the {spec.name} stream mapping's failures")
    reader.live.add_event_source(
        event_sources.DynamoEventSource(
            table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=spec.stream_batch_size,
            max_batching_window=Duration.seconds(1),
            bisect_batch_on_error=spec.stream_bisect_on_error,
            retry_attempts=spec.stream_retry_attempts,
            max_record_age=Duration.hours(spec.stream_max_record_age_hours),
            report_batch_item_failures=True,
            # One FilterCriteria holding every pattern: Lambda delivers a record that matches any.
            filters=[lambda_.FilterCriteria.filter(pattern) for pattern in spec.stream_filters],
            on_failure=event_sources.SqsDlq(failures),
        )
    )
    Validations.of(reader.role).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="Besides the X-Ray actions of active tracing, the stream mapping needs "
            "dynamodb:ListStreams, which does not support resource-level permissions; reading "
            "the stream itself is granted on the table's stream ARN only.",
        )
    )
    return failures


class ChangeQueue(Construct):
    """A consumer's queue of table changes (filled by the stream reader) and its dead-letter queue, read by
    the consumer (kind == "queue") in batches with partial batch failures. A change that failed
    `queue_max_receive_count` times moves, whole, to the dead-letter queue, kept 14 days for a redrive.
    A work queue (kind == "work": filled by a scheduled function with its due work) is built the same way."""

    def __init__(self, scope: Construct, construct_id: str, *, consumer: LambdaFunction) -> None:
        super().__init__(scope, construct_id)
        spec = consumer.spec
        if spec.kind not in ("queue", "work"):
            raise ValueError(f"{spec.name} does not read a queue")
        remedy = "which an operator redrives with make redrive" if spec.kind == "queue" else "kept for an operator"
        self.dead_letters = dead_letter_queue(self, "DeadLetters", holds=f"the {spec.name} queue's, {remedy}")
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # Shorter than the dead-letter queue's: SQS keeps a message's first enqueue time when it moves,
            # so a longer retention here would let it expire in the dead letters before its time.
            retention_period=Duration.days(4),
            max_message_size_bytes=MAX_CHANGE_MESSAGE_BYTES,
            # AWS's advice for a Lambda-read queue: six times the function's timeout, so a message is not
            # received again while a slow invocation (with its own retries) still holds it.
            visibility_timeout=Duration.seconds(6 * spec.timeout_s),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=spec.queue_max_receive_count, queue=self.dead_letters
            ),
        )
        consumer.live.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=spec.queue_batch_size,
                report_batch_item_failures=True,
                max_concurrency=spec.queue_max_concurrency,
            )
        )

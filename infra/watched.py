"""What the stack holds that can fail, found in its construct tree, so a new function or queue is watched
without editing the monitoring (infra/monitoring.py).

Silent failures: a function with an on-failure destination (an asynchronous invocation's or an event
source mapping's) loses a failure when Lambda cannot deliver its record there; a schedule (in a schedule
group of its own, whose metrics are the stage's alone) can fail to invoke its target or give up; a backup
vault's plan can fail a job. Each is watched too.

Dead-letter queues: a queue is one when it holds what failed for good, that is when another queue's redrive
policy or a failure destination names it (an event source mapping's or an asynchronous invocation's
on-failure destination, a function's dead-letter queue, a schedule target's or an SNS subscription's or an
EventBridge target's dead-letter queue), or when it has no redrive policy and nothing reads it. Every other
queue is a work queue, and must have a redrive policy (a test checks it).

References between resources are read from their resolved properties, so they hold whichever construct
(L1 or L2) made them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

# A dead-letter queue's message is redriven before it expires: alarm at this share of the retention.
DEAD_LETTER_AGE_SHARE = 0.75
SQS_DEFAULT_RETENTION_S = 4 * 24 * 3600
SQS_DEFAULT_VISIBILITY_S = 30
# Construct ids that say nothing about what they are: left out of alarm names.
GENERIC_IDS = ("Resource", "Default", "Function", "Queue")


@dataclass(frozen=True)
class WatchedFunction:
    name: str
    function: lambda_.Function
    reads_stream: bool  # a DynamoDB or Kinesis stream's event source mapping invokes it
    scheduled: bool  # an EventBridge Scheduler schedule invokes it
    delivers_failures: bool  # an on-failure destination receives its failed invocations or batches


@dataclass(frozen=True)
class WatchedQueue:
    name: str
    queue: sqs.Queue
    dead_letters: bool
    # Its oldest message alarms past this: a dead-letter queue's before it expires, a work queue's once it
    # has waited longer than retries explain.
    max_age: Duration


@dataclass(frozen=True)
class WatchedTable:
    name: str
    table: dynamodb.Table
    indexes: tuple[str, ...]


@dataclass(frozen=True)
class WatchedApi:
    name: str
    api: apigwv2.HttpApi
    stages: tuple[str, ...]  # the names of its stages


@dataclass(frozen=True)
class WatchedSchedule:
    name: str
    group_name: str  # its schedule group: the dimension of its AWS/Scheduler metrics


@dataclass(frozen=True)
class WatchedBackupVault:
    name: str
    vault_name: str


@dataclass(frozen=True)
class Watched:
    functions: tuple[WatchedFunction, ...]
    queues: tuple[WatchedQueue, ...]
    tables: tuple[WatchedTable, ...]
    apis: tuple[WatchedApi, ...]
    schedules: tuple[WatchedSchedule, ...]
    backup_vaults: tuple[WatchedBackupVault, ...]
    sends_email: bool


def discover(stack: Stack) -> Watched:
    """What the stack holds that can fail, from its construct tree (nested stacks left out)."""
    own = [c for c in stack.node.find_all() if Stack.of(c) is stack]
    refs = _References(stack, own)
    names: dict[str, str] = {}

    def name(construct: IConstruct) -> str:
        found = readable_name(stack, construct)
        if names.setdefault(found, construct.node.path) != construct.node.path:
            raise ValueError(f"two watched resources would share the alarm name {found!r}")
        return found

    functions = tuple(
        WatchedFunction(name(f), f, refs.reads_stream(f), refs.scheduled(f), refs.delivers_failures(f))
        for f in own
        if isinstance(f, lambda_.Function)
    )
    queues = tuple(_watched_queue(name(q), q, refs) for q in own if isinstance(q, sqs.Queue))
    tables = tuple(WatchedTable(name(t), t, _index_names(stack, t)) for t in own if isinstance(t, dynamodb.Table))
    apis = tuple(
        WatchedApi(
            name(a),
            a,
            tuple(s.stage_name for s in own if isinstance(s, apigwv2.HttpStage) and s.api.node.path == a.node.path),
        )
        for a in own
        if isinstance(a, apigwv2.HttpApi)
    )
    schedules = tuple(_watched_schedule(name(s), s) for s in own if isinstance(s, scheduler.CfnSchedule))
    backup_vaults = tuple(
        WatchedBackupVault(name(v), v.attr_backup_vault_name) for v in own if isinstance(v, backup.CfnBackupVault)
    )
    sends_email = any(isinstance(c, (ses.CfnEmailIdentity, ses.CfnConfigurationSet)) for c in own)
    return Watched(functions, queues, tables, apis, schedules, backup_vaults, sends_email)


class _References:
    """Which resources of the stack name which: read from their resolved properties, so it holds whichever
    construct (L1 or L2) made them."""

    def __init__(self, stack: Stack, own: list[IConstruct]) -> None:
        self._stack = stack
        self.failure_destinations: list[Any] = []
        self.redrive_policies: dict[str, Any] = {}
        self.readers: list[tuple[Any, Any, bool]] = []  # (source, function, is a stream)
        self.schedule_targets: list[tuple[Any, str]] = []  # (target ARN, expression)
        self.failing_to_destinations: list[Any] = []  # functions whose failures go to an on-failure destination
        self.aliases: list[lambda_.Alias] = []  # what invokes a function may invoke it through an alias
        resolve = stack.resolve
        for c in own:
            if isinstance(c, lambda_.Alias):
                self.aliases.append(c)
            if isinstance(c, lambda_.CfnEventSourceMapping):
                on_failure = (resolve(c.destination_config) or {}).get("onFailure")
                self.failure_destinations.append(on_failure)
                self.readers.append(
                    (resolve(c.event_source_arn), resolve(c.function_name), c.starting_position is not None)
                )
                if on_failure:
                    self.failing_to_destinations.append(resolve(c.function_name))
            elif isinstance(c, lambda_.CfnEventInvokeConfig):
                on_failure = (resolve(c.destination_config) or {}).get("onFailure")
                self.failure_destinations.append(on_failure)
                if on_failure:
                    self.failing_to_destinations.append(resolve(c.function_name))
            elif isinstance(c, lambda_.CfnFunction):
                self.failure_destinations.append(resolve(c.dead_letter_config))
            elif isinstance(c, scheduler.CfnSchedule):
                target = resolve(c.target)
                self.failure_destinations.append(target.get("deadLetterConfig"))
                self.schedule_targets.append((target["arn"], str(c.schedule_expression)))
            elif isinstance(c, sns.CfnSubscription):
                self.failure_destinations.append(resolve(c.redrive_policy))
            elif isinstance(c, events.CfnRule):
                self.failure_destinations.extend(t.get("deadLetterConfig") for t in resolve(c.targets) or [])
            elif isinstance(c, sqs.CfnQueue):
                self.failure_destinations.append(resolve(c.redrive_policy))
                self.redrive_policies[c.node.path] = resolve(c.redrive_policy)

    def names(self, value: Any, token: str) -> bool:
        """Whether a resolved property holds the (resolved) token anywhere inside."""
        wanted = self._stack.resolve(token)

        def holds(v: Any) -> bool:
            if v == wanted:
                return True
            if isinstance(v, dict):
                return any(holds(x) for x in v.values())
            return isinstance(v, list) and any(holds(x) for x in v)

        return holds(value)

    def is_failure_destination(self, queue: sqs.Queue) -> bool:
        return any(self.names(d, queue.queue_arn) for d in self.failure_destinations if d)

    def is_read(self, queue: sqs.Queue) -> bool:
        return any(self.names(source, queue.queue_arn) for source, _, _ in self.readers)

    def invokes(self, value: Any, function: lambda_.Function) -> bool:
        """Whether a resolved property names the function, itself or through one of its aliases."""
        aliases = [a for a in self.aliases if a.version.lambda_ is function]
        return any(
            self.names(value, token)
            for target in (function, *aliases)
            for token in (target.function_name, target.function_arn)
        )

    def reads_stream(self, function: lambda_.Function) -> bool:
        return any(stream and self.invokes(f, function) for _, f, stream in self.readers)

    def delivers_failures(self, function: lambda_.Function) -> bool:
        return any(self.invokes(f, function) for f in self.failing_to_destinations)

    def scheduled(self, function: lambda_.Function) -> bool:
        expressions = [e for arn, e in self.schedule_targets if self.invokes(arn, function)]
        for expression in expressions:
            if not runs_daily(expression):
                raise ValueError(
                    f"{function.node.path}: the not-run alarm allows a day between runs; schedule {expression!r}"
                )
        return bool(expressions)


def _watched_queue(name: str, queue: sqs.Queue, refs: _References) -> WatchedQueue:
    cfn = queue.node.default_child
    assert isinstance(cfn, sqs.CfnQueue)
    redrive = refs.redrive_policies.get(cfn.node.path)
    dead_letters = refs.is_failure_destination(queue) or (redrive is None and not refs.is_read(queue))
    if dead_letters or redrive is None:
        retention = cfn.message_retention_period or SQS_DEFAULT_RETENTION_S
        max_age = Duration.seconds(int(retention * DEAD_LETTER_AGE_SHARE))
    else:
        # Twice as long as a failing message is retried before it moves on: older means nobody reads it.
        visibility = cfn.visibility_timeout or SQS_DEFAULT_VISIBILITY_S
        max_age = Duration.seconds(2 * int(redrive["maxReceiveCount"]) * int(visibility))
    return WatchedQueue(name, queue, dead_letters, max_age)


def _watched_schedule(name: str, schedule: scheduler.CfnSchedule) -> WatchedSchedule:
    if schedule.group_name is None:
        # Scheduler's metrics have no dimension finer than the group: in the default group, the alarms would
        # count every other schedule of the account and region (other stages' too).
        raise ValueError(f"{schedule.node.path}: put the schedule in a schedule group of its own")
    return WatchedSchedule(name, schedule.group_name)


def _index_names(stack: Stack, table: dynamodb.Table) -> tuple[str, ...]:
    cfn = table.node.default_child
    assert isinstance(cfn, dynamodb.CfnTable)
    return tuple(index["indexName"] for index in stack.resolve(cfn.global_secondary_indexes) or [])


def readable_name(stack: Stack, construct: IConstruct) -> str:
    """The construct's path in the stack without generic ids, a segment dropped where the next repeats it
    (Leads/LeadsEvents/Function: LeadsEvents)."""
    parts = [p for p in construct.node.path.removeprefix(f"{stack.node.path}/").split("/") if p not in GENERIC_IDS]
    kept = [p for p, after in zip(parts, [*parts[1:], ""], strict=True) if not after.startswith(p)]
    return "-".join(kept)


def runs_daily(expression: str) -> bool:
    """A cron or rate expression that fires at least once every day, so never more than a day apart (a daily
    cron fires at the same times every day)."""
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if rate:
        return int(rate.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[rate.group(2)] <= 86400
    cron = re.fullmatch(r"cron\(\S+ \S+ (\S+) (\S+) (\S+) \S+\)", expression)
    if cron is None:
        return False
    day_of_month, month, day_of_week = cron.groups()
    return day_of_month in ("*", "?") and month == "*" and day_of_week in ("*", "?")

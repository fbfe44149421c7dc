"""The table stream's one reader: the StreamDispatcher function, which sends each change, whole, to the
queue of every consumer that wants it (common.platform.change_fanout). AWS rates a stream shard for two readers at
most; one reader and a queue per consumer keep that whatever the number of consumers, and each queue's
dead-letter queue keeps the failed change itself for an operator to look at and redrive."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from common.integrations import endpoint_counts
from common.platform.settings import env_name
from constructs import Construct

from infra import manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction, read_stream
from infra.table import Table


class StreamDispatcher(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        queues: Mapping[str, ChangeQueue],
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        consumers = {f.name for f in manifest.FUNCTIONS if f.kind == "queue"}
        if set(queues) != consumers:
            raise ValueError(f"every queue consumer needs its queue: {sorted(consumers)} vs {sorted(queues)}")
        spec = manifest.STREAM_DISPATCHER
        self.dispatcher = LambdaFunction(self, spec.name, spec=spec, defaults=defaults)
        urls = {name: queue.queue.queue_url for name, queue in queues.items()}
        self.dispatcher.function.add_environment(env_name("consumer_queue_urls"), Stack.of(self).to_json_string(urls))
        self.dispatcher.role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[q.queue.queue_arn for q in queues.values()])
        )
        # The events' consumer's gate: the organisations' webhook endpoint counts, and nothing else of the table.
        self.dispatcher.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:BatchGetItem"],
                resources=[table.table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [endpoint_counts.PARTITIONS_PATTERN]}},
            )
        )
        self.failures = read_stream(self, self.dispatcher, table=table.table)

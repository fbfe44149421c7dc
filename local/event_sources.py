"""Lambda's event source mappings on the local stack, as deployed: the table's stream read for each stream
function (the dispatcher, and any a test adds), each queue consumer's queue and dead-letter queue in moto's
SQS with the poller that feeds it (the change consumers', and the work queue a scheduled function fills),
and the dispatcher's failure queue (its stream mapping's on-failure destination); what failed for good in
them; and waiting until every change and every piece of work has gone through."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from infra.manifest import STREAM_DISPATCHER, Function
from local import failures
from local.invoker import ACCOUNT_ID
from local.queue_poller import Invoke, QueuePoller, create_queues
from local.stream_poller import StartingPosition, StreamPoller

Poller = TypeVar("Poller", StreamPoller, QueuePoller)


class EventSources:
    def __init__(self, sqs: Any, table_name: str, functions: Iterable[Function]) -> None:
        """The queues are created at once: the functions' environment names them before the functions start."""
        self._sqs = sqs  # one client for the poller threads (a client is thread-safe, creating one is not)
        functions = list(functions)
        self.change_queues = {f.name: create_queues(sqs, table_name, f) for f in functions if f.kind == "queue"}
        self.work_queues = {f.name: create_queues(sqs, table_name, f) for f in functions if f.kind == "work"}
        # Where the dispatcher's stream mapping reports the records it gave up on (its on-failure destination).
        self.stream_failures_url: str = sqs.create_queue(QueueName=f"{table_name}-{STREAM_DISPATCHER.name}Failures")[
            "QueueUrl"
        ]
        self._stream: StreamPoller | None = None
        self._queues: QueuePoller | None = None

    def start(
        self,
        streams: Any,
        stream_arn: str,
        invoke: Invoke,
        functions: Iterable[Function],
        *,
        region: str,
        clock: Callable[[], datetime],
        from_latest: bool,
    ) -> None:
        """`stream_arn`: DynamoDB Local's own; `from_latest`: the stream functions read only what comes next
        (a kept table's stream still holds what earlier runs handled)."""
        stream = self._stream = StreamPoller(
            streams,
            stream_arn,
            invoke,
            event_source_arn=aws_shaped_arn(stream_arn, region),
            region=region,
            clock=clock,
            on_dead_letter=partial(
                failures.report_stream_failure,
                self._sqs,
                queue_url=self.stream_failures_url,
                stream_arn=stream_arn,
                region=region,
            ),
        )
        queues = self._queues = QueuePoller(self._sqs, invoke, region=region)
        for function in functions:
            if function.kind == "stream":
                stream.add(function, "LATEST" if from_latest else "TRIM_HORIZON")
            elif function.kind == "queue":
                queues.add(function, self.change_queues[function.name])
            elif function.kind == "work":
                queues.add(function, self.work_queues[function.name])

    def add_stream_function(self, function: Function, starting_position: StartingPosition) -> None:
        self._running(self._stream).add(function, starting_position)

    def remove_stream_function(self, function_name: str) -> None:
        self._running(self._stream).remove(function_name)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Each consumer's dead-letter queue (the whole change or piece of work, as SQS keeps it), and the
        stream readers' failed batches."""
        stream = self._running(self._stream)
        queues = {**self.change_queues, **self.work_queues}
        return failures.consumer_dead_letters(self._sqs, queues) + stream.dead_letters()

    def wait(self, timeout: float) -> None:
        """Return once every change written so far has gone through the stream, the queues and the consumers
        (and so has every change the consumers wrote meanwhile), and all work queued has been done, or each
        reached a dead-letter queue."""
        stream, queues = self._running(self._stream), self._running(self._queues)
        deadline = time.monotonic() + timeout
        while True:
            activity = (stream.activity, queues.activity)
            stream.wait_until_idle(max(0.1, deadline - time.monotonic()))
            queues.wait_until_empty(deadline)
            if (stream.activity, queues.activity) == activity:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"changes still flowing after {timeout} s")

    def stop(self) -> None:
        stream, queues = self._stream, self._queues
        self._stream = self._queues = None
        try:
            if stream is not None:
                stream.stop()
        finally:
            if queues is not None:
                queues.stop()

    @staticmethod
    def _running(poller: Poller | None) -> Poller:
        if poller is None:
            raise RuntimeError("the local stack is not running")
        return poller


def aws_shaped_arn(arn: str, region: str) -> str:
    """DynamoDB Local names its streams in region "ddblocal", account 000000000000; Lambda events carry
    the real region and account."""
    parts = arn.split(":", 5)
    return ":".join([*parts[:3], region, ACCOUNT_ID, parts[5]]) if len(parts) == 6 else arn

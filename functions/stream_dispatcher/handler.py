"""Entry point of the stream dispatcher, the table stream's one reader: each change record goes, whole, to the
queue of every consumer that wants it (common.platform.change_fanout).

A record that did not reach all of its queues is reported in batchItemFailures, so the stream mapping
retries from it. The events' consumer is gated: it gets the changes of organisations with a webhook endpoint
only (one consistent BatchGetItem of their endpoint counts per batch), so the organisations that never
subscribe cost it nothing. A failed read sends everything (the consumer checks again), so the only failure
is still SQS refusing or being unreachable."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.integrations import endpoint_counts
from common.platform import change_fanout
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import ConsumerQueues, Deployment, get_settings, validate_settings

validate_settings(Deployment, ConsumerQueues)
QUEUE_URLS = get_settings(ConsumerQueues).consumer_queue_urls
GATES: dict[str, change_fanout.Gate] = {change_fanout.INTEGRATIONS_EVENTS: endpoint_counts.orgs_with_endpoints}


@lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    outcome = change_fanout.dispatch(records, QUEUE_URLS, change_fanout.sqs_sender(_sqs()), gates=GATES)
    for consumer, sent in outcome.sent.items():
        if sent:
            metrics.add_metric(name=f"ChangesTo{consumer}", unit=MetricUnit.Count, value=sent)
    if outcome.gate_errors:
        logger.warning("a consumer's gate failed: its changes were all sent", extra={"count": outcome.gate_errors})
    if outcome.oversized:
        logger.warning("changes sent without their old image", extra={"count": outcome.oversized})
    if outcome.failed:
        logger.error("changes not dispatched", extra={"sequence_numbers": outcome.failed})
        metrics.add_metric(name="UndispatchedChanges", unit=MetricUnit.Count, value=len(outcome.failed))
    return {"batchItemFailures": [{"itemIdentifier": number} for number in outcome.failed]}

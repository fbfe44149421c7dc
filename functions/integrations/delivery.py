"""Entry point of WebhookDelivery: it reads the delivery queue, one message per invocation, and makes at most
one attempt of one delivery of any kind, a webhook's or a sale's post (common.integrations.delivery_attempts).
Resolves the event only.

One message per invocation (batch size 1): an attempt can take the whole 15 seconds an endpoint is allowed,
and in a batch the messages after a slow one would wait for it, share its time-out, and fail with it; alone,
each message succeeds or is retried on its own, and the function's concurrency is the number of attempts in
flight. A message whose handling fails (DynamoDB or SQS unreachable, a defect) is reported in
batchItemFailures, received again after the queue's visibility timeout, and after five receives moves to the
dead-letter queue: a failed attempt of the endpoint's is not such a failure (it is recorded and retried on
the schedule).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.integrations import delivery_attempts
from common.integrations.deliveries import DeliveryStatus
from common.integrations.outbound import Attempt
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import (
    CompanySecrets,
    Deployment,
    SesConfiguration,
    UserPool,
    WebhookQueue,
    Webhooks,
    validate_settings,
)

# Validated at cold start: a misconfigured function fails before it runs.
validate_settings(Deployment, Webhooks, WebhookQueue, UserPool, SesConfiguration, CompanySecrets)

FAILED_MESSAGES_METRIC = "WebhookMessagesFailed"

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_handle, processor=processor, context=context)


@tracer.capture_method(capture_response=False, capture_error=False)
def _handle(record: SQSRecord) -> None:
    # Ids only: never the target's URL (it may hold a token), the event's data, the record or the answer.
    ids: dict[str, Any] = {
        "message_id": record.message_id,
        "receive_count": record.attributes.approximate_receive_count,
    }
    try:
        message = json.loads(record.body)
        ids |= {k: message.get(k) for k in ("org_id", "endpoint_id", "event_id", "round", "attempt", "restart")}
        ids |= {k: message[k] for k in ("kind", "company_id", "sale_id") if k in message}  # a sale's post
        handled = delivery_attempts.handle(message, record.message_id)
    except Exception as error:
        metrics.add_metric(name=FAILED_MESSAGES_METRIC, unit=MetricUnit.Count, value=1)
        logger.error("delivery message failed", extra={**ids, "error_type": type(error).__name__})
        raise
    attempt = handled.attempt
    details: dict[str, Any] = {"outcome": handled.outcome, "status": handled.status}
    if attempt is not None:
        details |= {
            "status_code": attempt.status_code,
            "duration_ms": attempt.duration_ms,
            "failure": _failure(attempt),
        }
        metrics.add_metric(name=delivery_attempts.ATTEMPTS_METRIC, unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name=delivery_attempts.FAILED_ATTEMPTS_METRIC, unit=MetricUnit.Count, value=int(not attempt.succeeded)
        )
        metrics.add_metric(
            name=delivery_attempts.ATTEMPT_DURATION_METRIC, unit=MetricUnit.Milliseconds, value=attempt.duration_ms
        )
    if handled.late_by is not None:
        details["late_s"] = round(handled.late_by.total_seconds(), 3)  # after its time, by this much
    if handled.status == DeliveryStatus.SUCCEEDED and attempt is not None:
        metrics.add_metric(name=delivery_attempts.DELIVERED_METRIC, unit=MetricUnit.Count, value=1)
    if handled.status == DeliveryStatus.FAILED and handled.outcome in ("attempted", "not_sent"):
        metrics.add_metric(name=delivery_attempts.FAILED_DELIVERIES_METRIC, unit=MetricUnit.Count, value=1)
    logger.info("delivery message handled", extra={**ids, **details})


def _failure(attempt: Attempt) -> str | None:
    """What kind of failure an attempt met, for the log: its error's text names the host, which the log keeps
    out (the delivery log in the table has it, for the organisation's admins)."""
    if attempt.succeeded:
        return None
    error = attempt.error or ""
    for start, kind in (
        ("not sent", "refused"),
        ("no complete answer", "timeout"),
        ("TLS", "tls"),
        ("redirects", "redirect"),
        ("the connection", "connection"),
        ("no token", "token"),
    ):
        if error.startswith(start):
            return kind
    return "status" if attempt.status_code is not None else "other"

"""A consumer's side of the fan-out (common.platform.change_fanout): each SQS message is one stream record, handed to
the consumer's reactions as (old image, new image), and whole to those that need the record itself (its id or
its time: `record_reactions`).

Queues and redrives deliver in any order and more than once; every reaction decides from the item's version
or current state and writes with conditions, so that is safe. A change that fails is logged at ERROR with
its ids only (images hold personal data) and counted, then re-raised for BatchProcessor to report it in
batchItemFailures: SQS makes it visible again and, after the queue's receive limit, moves it whole to the
dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.platform import db
from common.platform.change_fanout import OLD_IMAGE_OMITTED
from common.platform.observability import logger, metrics, tracer

Reaction = Callable[[db.Item | None, db.Item | None], None]
RecordReaction = Callable[[dict[str, Any]], None]  # the stream record, whole, as the dispatcher sent it
FAILED_CHANGES_METRIC = "FailedChanges"


def change_of(record: SQSRecord) -> dict[str, Any]:
    change = json.loads(record.body)
    if not isinstance(change, dict) or not isinstance(change.get("dynamodb"), dict):
        raise ValueError("the message is not a stream record")
    return change


def images(change: dict[str, Any]) -> tuple[db.Item | None, db.Item | None]:
    return db.stream_images(change["dynamodb"])


def _ids(record: SQSRecord, change: dict[str, Any] | None) -> dict[str, Any]:
    """What identifies a failed change in the logs: message, stream record, entity and receive count."""
    ids: dict[str, Any] = {
        "message_id": record.message_id,
        "receive_count": record.attributes.approximate_receive_count,
    }
    if change is not None:
        new_image = change["dynamodb"].get("NewImage") or change["dynamodb"].get("OldImage") or {}
        ids.update(
            event_id=change.get("eventID"),
            event_name=change.get("eventName"),
            sequence_number=change["dynamodb"].get("SequenceNumber"),
            entity=(new_image.get("entity") or {}).get("S"),
            old_image_omitted=bool(change["dynamodb"].get(OLD_IMAGE_OMITTED)),
        )
    return ids


def record_handler(
    reactions: Sequence[Reaction], record_reactions: Sequence[RecordReaction] = ()
) -> Callable[[SQSRecord], None]:
    """The BatchProcessor record handler that runs every reaction on the message's change."""

    def handle(record: SQSRecord) -> None:
        change: dict[str, Any] | None = None
        try:
            change = change_of(record)
            old, new = images(change)
            for react in reactions:
                react(old, new)
            for react_to_record in record_reactions:
                react_to_record(change)
        except Exception as error:
            logger.error("change failed", extra={**_ids(record, change), "error_type": type(error).__name__})
            metrics.add_metric(name=FAILED_CHANGES_METRIC, unit=MetricUnit.Count, value=1)
            raise

    return handle


ConsumerHandler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


def consumer(reactions: Sequence[Reaction], record_reactions: Sequence[RecordReaction] = ()) -> ConsumerHandler:
    """The Lambda handler of a change consumer: each message of the batch runs every reaction, on its own,
    and each one that failed is reported in batchItemFailures (even when all did), so retries are per
    message and redo nothing that succeeded."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    handle = tracer.capture_method(capture_response=False, capture_error=False)(
        record_handler(reactions, record_reactions)
    )

    @logger.inject_lambda_context
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)

    return lambda_handler

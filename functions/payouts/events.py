"""Entry point of the payouts stream consumer: the commission cascade of deal stage changes, and the e-mail
a partner gets when their payout request is settled.

Records arrive filtered (see infra/manifest.py). Each record is handled on its own; a failing record is
reported in batchItemFailures and retried without redoing the others. Every reaction is safe to repeat:
commission entries have deterministic ids and conditional writes, e-mails go out once through notices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from common import commissions, db, payout_mail
from common.observability import logger, metrics, tracer
from common.settings import get_settings

get_settings()

# Report every failure in batchItemFailures, even when all records fail, so retries are per record.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)

Reaction = Callable[[db.Item | None, db.Item | None], None]
REACTIONS: tuple[Reaction, ...] = (commissions.on_change, payout_mail.on_change)


@tracer.capture_method(capture_response=False, capture_error=False)
def handle_record(record: DynamoDBRecord) -> None:
    old, new = db.stream_images(record.raw_event["dynamodb"])
    for react in REACTIONS:
        react(old, new)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)

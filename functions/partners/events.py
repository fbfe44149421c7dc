"""Entry point of the partners stream consumer: the e-mails and follow-ups of partner changes.

Records arrive filtered to the entities below (see infra/manifest.py). Each record is handled on its own;
a failing record is reported in batchItemFailures and retried without redoing the others, and notices make
a redelivered record send nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from common import db, deal_mail, partner_mail, programme_mail
from common.observability import logger, metrics, tracer
from common.settings import get_settings

get_settings().require("portal_url")

# Report every failure in batchItemFailures, even when all records fail, so retries are per record.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)

# Each module reacts to the changes of its own entities: (old image or None, new image or None).
Reaction = Callable[[db.Item | None, db.Item | None], None]
REACTIONS: tuple[Reaction, ...] = (partner_mail.on_change, programme_mail.on_change, deal_mail.on_change)


@tracer.capture_method(capture_response=False, capture_error=False)
def handle_record(record: DynamoDBRecord) -> None:
    change = record.raw_event["dynamodb"]
    old, new = db.stream_images(change)
    for react in REACTIONS:
        react(old, new)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)

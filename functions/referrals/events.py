"""Entry point of the referrals stream consumer: a new referral request is texted to its team.

Records arrive filtered to INSERTs of referral requests (see infra/manifest.py). Each record is handled on
its own; a record whose texts could not all go out (Twilio unreachable) is reported in batchItemFailures
and retried, and the per-member notices make the retry text only those not texted yet."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from common import db, referral_offers
from common.observability import logger, metrics, tracer
from common.settings import get_settings

get_settings().require("twilio_account_sid", "twilio_from_number", "twilio_auth_token_parameter")

# Report every failure in batchItemFailures, even when all records fail, so retries are per record.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


@tracer.capture_method(capture_response=False, capture_error=False)
def handle_record(record: DynamoDBRecord) -> None:
    change = record.raw_event["dynamodb"]
    _, new = db.stream_images(change)
    if record.raw_event.get("eventName") != "INSERT" or not new or new.get("entity") != "referral_request":
        return
    texted = referral_offers.offer_request(new)
    logger.info("referral offered", extra={"request_id": new["request_id"], "texted": texted})
    metrics.add_metric(name="ReferralTextsSent", unit=MetricUnit.Count, value=texted)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)

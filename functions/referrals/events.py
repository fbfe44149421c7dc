"""Entry point of the referrals consumer: a new referral request is texted to its team.

Its queue receives the insertions of referral requests (common.platform.change_fanout), one stream record per
message. Each message is handled on its own; a change whose texts could not all go out (Twilio unreachable)
is reported in batchItemFailures and retried, and the per-member notices make the retry text only those not
texted yet."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.platform import db, queued_changes
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, TwilioAuthToken, TwilioSender, validate_settings
from common.teams import referral_offers

validate_settings(Deployment, TwilioAuthToken, TwilioSender)

# Report every failure in batchItemFailures, even when all records fail, so retries are per record.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """A request just created (no old image) is offered to its team."""
    if old is not None or not new or new.get("entity") != "referral_request":
        return
    texted = referral_offers.offer_request(new)
    logger.info("referral offered", extra={"request_id": new["request_id"], "texted": texted})
    metrics.add_metric(name="ReferralTextsSent", unit=MetricUnit.Count, value=texted)


handle_record = tracer.capture_method(capture_response=False, capture_error=False)(
    queued_changes.record_handler((on_change,))
)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)

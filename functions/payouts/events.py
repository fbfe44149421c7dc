"""Entry point of the payouts consumer: the commission cascade of deal stage changes, and the e-mail a partner
gets when their payout request is settled.

Its queue receives only those changes (common.platform.change_fanout), one stream record per message. Each message is
handled on its own; a failing one is reported in batchItemFailures and retried without redoing the others.
Every reaction is safe to repeat and to receive out of order: commission entries have deterministic ids and
conditional writes, e-mails go out once through notices."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.money import commissions, payout_mail
from common.platform import queued_changes
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import get_settings

get_settings()

# Report every failure in batchItemFailures, even when all records fail, so retries are per record.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

REACTIONS: tuple[queued_changes.Reaction, ...] = (commissions.on_change, payout_mail.on_change)

handle_record = tracer.capture_method(capture_response=False, capture_error=False)(
    queued_changes.record_handler(REACTIONS)
)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)

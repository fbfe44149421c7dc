"""Entry point of the partners consumer: the e-mails and follow-ups of partner changes.

Its queue receives the changes of the entities its reactions handle (common.platform.change_fanout), one stream
record per message. Each message is handled on its own; a failing one is reported in batchItemFailures and
retried without redoing the others, and notices make a redelivered change send nothing twice."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.deals import mail
from common.partners import mail as partner_mail
from common.platform import queued_changes
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import get_settings
from common.programme import mail as programme_mail
from common.programme import registration_attempts

get_settings().require("portal_url")

# Report every failure in batchItemFailures, even when all records fail, so retries are per record.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# Each module reacts to the changes of its own entities: (old image or None, new image or None).
REACTIONS: tuple[queued_changes.Reaction, ...] = (
    partner_mail.on_change,
    programme_mail.on_change,
    mail.on_change,
    registration_attempts.on_change,
)

handle_record = tracer.capture_method(capture_response=False, capture_error=False)(
    queued_changes.record_handler(REACTIONS)
)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)

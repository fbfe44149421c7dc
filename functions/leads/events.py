"""Entry point of the leads consumer: the e-mails that follow lead changes.

Its queue receives lead changes only (common.platform.change_fanout), one stream record per message. Each message is
handled on its own; a failing one is reported in batchItemFailures and retried without redoing the others,
and the notices make a redelivered change send nothing twice."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.leads import mail
from common.platform import db, queued_changes
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, SesConfiguration, validate_settings

validate_settings(Deployment, SesConfiguration)

# Report every failure in batchItemFailures, even when all records fail, so retries are per record.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    if new is None or new.get("entity") != "lead":
        return
    if mail.purchase_due(old, new):
        mail.send_purchase_notification(new)
    if mail.return_due(old, new):
        mail.send_return_notification(new)


handle_record = tracer.capture_method(capture_response=False, capture_error=False)(
    queued_changes.record_handler((on_change,))
)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)

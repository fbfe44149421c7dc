"""Entry point of the sweep's work function: it reads the queue the daily sweep (status_sweep.handler) fills
with its due work, a page per message, and does it: lapses partners, reminds team members, sends leaders
their digests, expires referral requests, reminds teams of their referral fees, charges late fees and counts
the pause, samples and judges the partner teams' standards (common.partners.lapse_sweep,
common.teams.reminder_work, common.teams.referral_expiry, common.teams.fee_lateness,
common.teams.standards_sweep). Resolves the event only.

Each message is handled on its own and reported in batchItemFailures when it is not finished: a send that
failed (it is tried again with the message; what was done is not done again: lapses and expiries are
conditional writes, every text and e-mail a notice of its day), or the time running out. The function stops
starting work when less than RESERVE_MS is left, so no send is cut off by the timeout; the message is
received again after the queue's visibility timeout and continues where it stopped. A message that keeps
failing moves to the queue's dead-letter queue after its receive limit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.partners import lapse_sweep
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, SesConfiguration, validate_settings
from common.teams import fee_lateness, referral_expiry, reminder_work, reminders, standards_sweep

# Validated at cold start: a misconfigured function fails before it runs. Like the sweep before it, it
# validates no Twilio group: texts that cannot go out fail their message, which is retried and alarmed.
validate_settings(Deployment, SesConfiguration)

# Time kept when deciding to start one more item: the slowest item (a text, whose client gives up after
# 10 seconds, and an e-mail) ends before the function's timeout.
RESERVE_MS = 20_000


class Counts(Protocol):
    @property
    def unfinished(self) -> bool: ...

    def as_dict(self) -> dict[str, int]: ...


Job = Callable[..., Counts]
JOBS: dict[str, Job] = {
    lapse_sweep.JOB: lapse_sweep.work,
    reminders.REMIND_JOB: reminder_work.remind,
    reminders.DIGEST_JOB: reminder_work.digest,
    referral_expiry.JOB: referral_expiry.work,
    fee_lateness.JOB: fee_lateness.work,
    standards_sweep.SAMPLE_JOB: standards_sweep.sample,
    standards_sweep.RATES_JOB: standards_sweep.rates,
}
# The metrics each job's counts feed (summed over a batch): the sweep's counts before the work moved here.
METRICS: dict[str, dict[str, str]] = {
    lapse_sweep.JOB: {"lapsed": "PartnersLapsed"},
    reminders.REMIND_JOB: {
        "reminded": "TeamRemindersSent",
        "failed": "TeamReminderFailures",
        "refused": "TeamReminderTextsRefused",
    },
    reminders.DIGEST_JOB: {
        "digests": "TeamDigestsSent",
        "failed": "TeamReminderFailures",
        "refused": "TeamReminderTextsRefused",
    },
    referral_expiry.JOB: {"expired": "ReferralRequestsExpired"},
    fee_lateness.JOB: {
        "reminded": "TeamFeeRemindersSent",
        "late_fees": "TeamLateFeesCharged",
        "paused": "TeamFeesPastPause",
        "failed": "TeamFeeReminderFailures",
    },
    standards_sweep.SAMPLE_JOB: {"sampled": "StandardsSamplesWritten"},
    standards_sweep.RATES_JOB: {"flagged": "TeamsBelowStandard"},
}
UNFINISHED_METRIC = "SweepWorkUnfinished"
FAILED_METRIC = "SweepWorkFailed"


class WorkUnfinished(Exception):
    """Part of a message's work is left for its next delivery (a send failed, or the time ran out)."""


processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    totals: Counter[str] = Counter()

    def in_time() -> bool:
        return context.get_remaining_time_in_millis() > RESERVE_MS

    @tracer.capture_method(capture_response=False, capture_error=False)
    def handle(record: SQSRecord) -> None:
        # .get: a record without its attributes is still handled and logged, never failed unseen.
        ids: dict[str, Any] = {
            "message_id": record.message_id,
            "receive_count": record.raw_event.get("attributes", {}).get("ApproximateReceiveCount"),
        }
        try:
            if not in_time():
                raise WorkUnfinished("no time left for this message")
            message = json.loads(record.body)
            ids["job"] = job = message["job"]
            counts = JOBS[job](message, in_time=in_time)
        except WorkUnfinished:
            totals[UNFINISHED_METRIC] += 1
            logger.info("sweep work left for its next delivery", extra=ids)
            raise
        except Exception as error:
            totals[FAILED_METRIC] += 1
            logger.error("sweep work failed", extra={**ids, "error_type": type(error).__name__})
            raise
        done = counts.as_dict()
        for field, metric in METRICS[job].items():
            totals[metric] += done[field]
        if counts.unfinished:
            totals[UNFINISHED_METRIC] += 1
            logger.warning("sweep work unfinished", extra={**ids, **done})
            raise WorkUnfinished(job)
        logger.info("sweep work done", extra={**ids, **done})

    try:
        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    finally:
        for metric, value in totals.items():
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)

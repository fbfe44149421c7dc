"""Entry point of the daily sweep (EventBridge Scheduler): it reads what is due and hands it on, a page per
message, to its work queue, which the StatusSweepWork function (status_sweep.work) reads: partners whose last
lead is over 30 days old (to lapse), customers not updated for 7 days (their assignees to remind, their
leaders to digest), referral requests nobody accepted in time (to expire), partner teams' referral fees
needing a reminder, a late fee or the pause (common.teams.fee_lateness) and the partner teams whose
standards are to be sampled and judged (common.teams.standards_sweep). It reads sparse indexes only
and sends nothing itself, so it finishes in seconds however much is due. Resolves the event only; the reads
are common.partners.lapse_sweep, common.teams.reminders and common.teams.referral_expiry."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.partners import lapse_sweep
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, SweepWork, get_settings, validate_settings
from common.teams import fee_lateness, referral_expiry, standards_sweep
from common.teams import reminders as team_reminders

from status_sweep.work_queue import WorkQueue

# Validated at cold start: a misconfigured function fails before it runs.
validate_settings(Deployment, SweepWork)


@lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    queue = WorkQueue(_sqs(), get_settings(SweepWork).sweep_work_queue_url)
    scheduled = {"schedule_time": event.get("time")}
    lapse = lapse_sweep.hand_on(queue.send).as_dict()
    logger.info("lapse sweep", extra={**scheduled, **lapse})
    metrics.add_metric(name="PartnersDue", unit=MetricUnit.Count, value=lapse["due"])
    metrics.add_metric(name="LapseSweepItemsRead", unit=MetricUnit.Count, value=lapse["items_read"])
    reminders = team_reminders.hand_on(queue.send).as_dict()
    logger.info("team reminder sweep", extra={**scheduled, **reminders})
    metrics.add_metric(name="TeamCustomersDue", unit=MetricUnit.Count, value=reminders["due"])
    metrics.add_metric(name="ReminderSweepItemsRead", unit=MetricUnit.Count, value=reminders["items_read"])
    expiring = referral_expiry.hand_on(queue.send).as_dict()
    logger.info("referral expiry sweep", extra={**scheduled, **expiring})
    metrics.add_metric(name="ReferralRequestsDue", unit=MetricUnit.Count, value=expiring["due"])
    fees = fee_lateness.hand_on(queue.send).as_dict()
    logger.info("referral fee sweep", extra={**scheduled, **fees})
    metrics.add_metric(name="TeamFeesDue", unit=MetricUnit.Count, value=fees["due"])
    metrics.add_metric(name="FeeSweepItemsRead", unit=MetricUnit.Count, value=fees["items_read"])
    standards = standards_sweep.hand_on(queue.send).as_dict()
    logger.info("team standards sweep", extra={**scheduled, **standards})
    metrics.add_metric(name="StandardsSweepItemsRead", unit=MetricUnit.Count, value=standards["items_read"])
    queue.flush()
    metrics.add_metric(name="SweepWorkHandedOn", unit=MetricUnit.Count, value=queue.sent)
    # The lapse counts stay at the top level, as before the reminders; the other sweeps' counts nest.
    return {**lapse, "reminders": reminders, "referrals": expiring, "fees": fees, "standards": standards}

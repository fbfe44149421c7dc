"""Entry point of the daily sweep (EventBridge Scheduler): partners whose last lead is over 30 days old
lapse, team members are reminded of customers not updated for 7 days (their leaders get a digest), and
referral requests nobody accepted in time are marked expired. Resolves the event only; the work is
common.partners.lapse_sweep, common.teams.reminders and common.teams.referral_expiry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.partners import lapse_sweep
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, SesConfiguration, validate_settings
from common.teams import referral_expiry
from common.teams import reminders as team_reminders

# Validated at cold start: a misconfigured function fails before it runs.
validate_settings(Deployment, SesConfiguration)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    lapse = lapse_sweep.sweep().as_dict()
    logger.info("lapse sweep", extra={"schedule_time": event.get("time"), **lapse})
    metrics.add_metric(name="PartnersLapsed", unit=MetricUnit.Count, value=lapse["lapsed"])
    metrics.add_metric(name="LapseSweepItemsRead", unit=MetricUnit.Count, value=lapse["items_read"])
    reminders = team_reminders.sweep().as_dict()
    logger.info("team reminder sweep", extra={"schedule_time": event.get("time"), **reminders})
    metrics.add_metric(name="TeamCustomersDue", unit=MetricUnit.Count, value=reminders["due"])
    metrics.add_metric(name="TeamRemindersSent", unit=MetricUnit.Count, value=reminders["reminded"])
    metrics.add_metric(name="TeamDigestsSent", unit=MetricUnit.Count, value=reminders["digests"])
    metrics.add_metric(name="TeamReminderFailures", unit=MetricUnit.Count, value=reminders["failed"])
    metrics.add_metric(name="ReminderSweepItemsRead", unit=MetricUnit.Count, value=reminders["items_read"])
    expired = referral_expiry.expire_due().as_dict()
    logger.info("referral expiry sweep", extra={"schedule_time": event.get("time"), **expired})
    metrics.add_metric(name="ReferralRequestsExpired", unit=MetricUnit.Count, value=expired["expired"])
    # The lapse counts stay at the top level, as before the reminders; the other sweeps' counts nest.
    return {**lapse, "reminders": reminders, "referrals": expired}

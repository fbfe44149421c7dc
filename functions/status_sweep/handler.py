"""Entry point of the daily sweep (EventBridge Scheduler): partners whose last lead is over 30 days old
lapse. Resolves the event only; the work is common.lapse_sweep."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from common import lapse_sweep
from common.observability import logger, metrics, tracer
from common.settings import get_settings

# Validated at cold start: a misconfigured function fails before it runs.
get_settings()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    counts = lapse_sweep.sweep().as_dict()
    logger.info("lapse sweep", extra={"schedule_time": event.get("time"), **counts})
    metrics.add_metric(name="PartnersLapsed", unit=MetricUnit.Count, value=counts["lapsed"])
    metrics.add_metric(name="LapseSweepItemsRead", unit=MetricUnit.Count, value=counts["items_read"])
    return counts

"""The alarms that cdk-monitoring-constructs has no ready kind for: one metric (or expression) and one alarm
on it, shown on the dashboard with the facade's custom monitoring."""

from __future__ import annotations

import cdk_monitoring_constructs as cmc
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

PERIOD = Duration.minutes(5)
MISSING_IS_FINE = cloudwatch.TreatMissingData.NOT_BREACHING


def alarmed(
    metric: cloudwatch.Metric | cloudwatch.MathExpression,
    name: str,
    threshold: float,
    why: str,
    *,
    period: Duration = PERIOD,
) -> cmc.CustomMetricWithAlarm:
    """A custom metric with one alarm: above the threshold, no data being fine."""
    return cmc.CustomMetricWithAlarm(
        metric=metric,
        alarm_friendly_name=name,
        add_alarm={
            "High": cmc.CustomThreshold(
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data_override=MISSING_IS_FINE,
                period=period,
                alarm_description_override=why,
            )
        },
    )


def count(namespace: str, name: str, dimensions: dict[str, str], *, period: Duration = PERIOD) -> cloudwatch.Metric:
    """A metric that counts events, summed over the period."""
    return cloudwatch.Metric(
        namespace=namespace, metric_name=name, dimensions_map=dimensions, statistic="Sum", period=period
    )


def spoken(duration: Duration) -> str:
    """A duration as an alarm description says it: "10 minutes", "10.5 days"."""
    seconds = duration.to_seconds()
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} seconds"

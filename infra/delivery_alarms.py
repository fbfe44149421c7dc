"""Alarms on failures that nothing else reports: a failure record Lambda could not deliver to its on-failure
destination, a schedule that could not invoke its target or gave up, a backup job that failed. Each failure
here is otherwise lost or silent: the dead-letter queues stay empty and no function reports an error.

Metric names and dimensions as AWS documents them: Lambda's `DestinationDeliveryFailures` per FunctionName;
EventBridge Scheduler's AWS/Scheduler metrics per ScheduleGroup (none finer, so each schedule has a group of
its own); AWS Backup's AWS/Backup `NumberOfBackupJobsFailed`, queried with CloudWatch Metrics Insights on its
BackupVaultName dimension, which matches whichever dimension sets AWS Backup publishes it with.
"""

from __future__ import annotations

import cdk_monitoring_constructs as cmc
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from infra.custom_alarms import alarmed, count
from infra.watched import WatchedBackupVault, WatchedFunction, WatchedSchedule

# Metrics Insights alarms query the last three hours at most: one hour holds a failed job's data point
# however late AWS Backup publishes it, and the alarm is back to OK an hour later.
BACKUP_PERIOD = Duration.hours(1)


def watch_destination_deliveries(facade: cmc.MonitoringFacade, watched: WatchedFunction) -> None:
    """A function whose failures go to an on-failure destination: alarm when Lambda could not deliver one."""
    name = watched.name
    metric = count("AWS/Lambda", "DestinationDeliveryFailures", {"FunctionName": watched.function.function_name})
    facade.monitor_custom(
        alarm_friendly_name=name,
        human_readable_name=f"{name} failures not delivered to their destination",
        metric_groups=[
            cmc.CustomMetricGroup(
                title="Failure records Lambda could not deliver",
                metrics=[
                    alarmed(
                        metric,
                        "DestinationDeliveryFailures",
                        0,
                        f"Lambda could not deliver the record of a failed {name} invocation or batch to its "
                        "on-failure destination (the queue's permissions, the queue deleted, or a record over "
                        "its size limit): that failure is recorded nowhere else. Find it in the function's "
                        "log group, fix the destination, and redo what failed by hand.",
                    )
                ],
            )
        ],
    )


def watch_schedule(facade: cmc.MonitoringFacade, watched: WatchedSchedule) -> None:
    """A schedule in a group of its own: alarm when Scheduler could not invoke its target, gave up on a run,
    or could not even write the run it gave up on to its dead-letter queue."""
    name = watched.name

    def scheduler(metric: str) -> cloudwatch.Metric:
        return count("AWS/Scheduler", metric, {"ScheduleGroup": watched.group_name})

    facade.monitor_custom(
        alarm_friendly_name=name,
        human_readable_name=f"{name} deliveries (EventBridge Scheduler)",
        metric_groups=[
            cmc.CustomMetricGroup(
                title="Invocations that failed or were dropped",
                metrics=[
                    alarmed(
                        scheduler("TargetErrorCount"),
                        "TargetErrors",
                        0,
                        f"EventBridge Scheduler could not invoke the target of {name} (the schedule's role may "
                        "not invoke it, the function or its alias is gone, or Lambda refused the call). "
                        "Scheduler retries within its retry policy; check the schedule's role and target.",
                    ),
                    alarmed(
                        scheduler("InvocationDroppedCount"),
                        "Dropped",
                        0,
                        f"EventBridge Scheduler gave up on a run of {name} after its retries: that run did not "
                        "happen. Its dead-letter queue holds the event with the reason; fix the cause, then "
                        "run it by hand (docs/deploy.md, Operating notes) and delete the message.",
                    ),
                    alarmed(
                        scheduler("InvocationsFailedToBeSentToDeadLetterCount"),
                        "DeadLetterFailures",
                        0,
                        f"EventBridge Scheduler gave up on a run of {name} and could not write it to its "
                        "dead-letter queue either (the schedule's role may not send to it, or it is gone): "
                        "the missed run is recorded nowhere. Fix the role or the queue and run it by hand.",
                    ),
                ],
            )
        ],
    )


def watch_backups(facade: cmc.MonitoringFacade, watched: WatchedBackupVault) -> None:
    """A backup vault: alarm when a backup job into it failed."""
    failed = cloudwatch.MathExpression(
        # A Metrics Insights query (not SQL sent anywhere); the vault's name is CloudFormation's.
        expression='SELECT SUM(NumberOfBackupJobsFailed) FROM "AWS/Backup" '  # noqa: S608
        f"WHERE BackupVaultName = '{watched.vault_name}'",
        using_metrics={},
        label="NumberOfBackupJobsFailed",
        period=BACKUP_PERIOD,
    )
    facade.monitor_custom(
        alarm_friendly_name=watched.name,
        human_readable_name=f"{watched.name} backup jobs (AWS Backup)",
        metric_groups=[
            cmc.CustomMetricGroup(
                title="Failed backup jobs",
                metrics=[
                    alarmed(
                        failed,
                        "FailedBackupJobs",
                        0,
                        f"An AWS Backup job into {watched.name} failed: a scheduled backup (the table's daily "
                        "or monthly copy) was not made. The job's status message says why (AWS Backup console, "
                        "Jobs, or aws backup list-backup-jobs --by-state FAILED); once fixed, start an "
                        "on-demand backup. Point-in-time recovery still covers the last 35 days.",
                        period=BACKUP_PERIOD,
                    )
                ],
            )
        ],
    )

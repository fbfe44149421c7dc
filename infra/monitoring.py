"""Every failure is seen: alarms on every function, queue, HTTP API, table, schedule and backup vault of the
stack (found by infra/watched.py), all sent to one SNS topic (infra/alarm_topic.py), on alarm and back to OK,
and one dashboard for the stage, built with cdk-monitoring-constructs. The alarms on failures nothing else
reports (undelivered failure records, dropped schedule runs, failed backups) are in infra/delivery_alarms.py.

It all lives in a nested stack of its own: CloudFormation counts a nested stack's resources apart from its
parent's, and the parent is near its limit (mostly API routes). The stack makes it last, once everything it
watches exists.
"""

from __future__ import annotations

from collections.abc import Sequence

import cdk_monitoring_constructs as cmc
from aws_cdk import Aws, CfnOutput, Duration, NestedStack, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from common.platform.observability import METRICS_NAMESPACE, STAGE_DIMENSION
from common.platform.queued_changes import FAILED_CHANGES_METRIC
from common.web.resolver import INVALID_ANSWERS_METRIC

from infra import constants, manifest
from infra.alarm_topic import alarm_topic
from infra.config import DeploymentConfig
from infra.custom_alarms import MISSING_IS_FINE, PERIOD, alarmed, spoken
from infra.delivery_alarms import watch_backups, watch_destination_deliveries, watch_schedule
from infra.functions import LambdaFunction
from infra.releases import release_alarm
from infra.watched import WatchedApi, WatchedFunction, WatchedQueue, WatchedTable, discover
from infra.webhook_delivery import watch_deliveries

# Far below the point where the stream reader gives records up (hours) and the stream's 24 hours.
ITERATOR_AGE_LIMIT = Duration.minutes(10)
# Any 5xx is a defect; 4xx are mostly callers' mistakes, so only a large share of a busy API's answers.
API_5XX_PERCENT = 1
API_4XX_PERCENT = 25
API_4XX_PERIOD = Duration.minutes(15)
API_4XX_MIN_REQUESTS = 50
# SES puts an account under review at these rates (account-wide metrics, so every stage of the account sees
# them); the alarms warn at half of them, while there is time to find the bad addresses.
SES_REVIEW_BOUNCE_RATE = 0.05
SES_REVIEW_COMPLAINT_RATE = 0.001
SES_BOUNCE_RATE = SES_REVIEW_BOUNCE_RATE / 2
SES_COMPLAINT_RATE = SES_REVIEW_COMPLAINT_RATE / 2
SES_PERIOD = Duration.hours(1)
# "A daily schedule did not run": Lambda publishes Invocations only for periods with an invocation, so an hour
# without one is missing data, treated as breaching, and the alarm needs every hour of the window breaching.
# A schedule that runs daily fires at the same time each day (watched.runs_daily), never more than a day
# apart, so a window of a day and two hours always holds the last run on a normal day, even one a little
# late; a run missed altogether alarms about two hours after its time.
NOT_RUN_PERIOD = Duration.hours(1)
NOT_RUN_WINDOW = Duration.hours(26)


class Monitoring(NestedStack):
    """The alarm topic, the alarms and the dashboard of the stack it is made in."""

    def __init__(
        self, scope: Stack, construct_id: str, *, config: DeploymentConfig, released: Sequence[LambdaFunction] = ()
    ) -> None:
        watched = discover(scope)  # before this stack's own constructs exist
        super().__init__(scope, construct_id, description=f"Alarms and dashboard of {scope.stack_name}")
        prefix = config.resource_name  # every alarm's name starts with it, which the topic's policy relies on
        self.topic = alarm_topic(
            self,
            display_name=f"Partner programme alarms ({config.stage})",
            key_description=f"Encrypts the alarm topic of {constants.stack_name(config.stage)}",
            alarm_name_prefix=prefix,
            email=config.alarm_email,
            removal_policy=config.removal_policy,
        )
        # Dashboard names are global to the account: the region keeps two regions' stages apart.
        self.dashboard_name = f"{prefix}-{Aws.REGION}"
        action = cmc.SnsAlarmActionStrategy(on_alarm_topic=self.topic, on_ok_topic=self.topic)
        self.facade = cmc.MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=cmc.AlarmFactoryDefaults(
                alarm_name_prefix=prefix, actions_enabled=True, action=action, datapoints_to_alarm=1
            ),
            metric_factory_defaults=cmc.MetricFactoryDefaults(period=PERIOD),
            dashboard_factory=cmc.DefaultDashboardFactory(
                self, "Dashboards", dashboard_name_prefix=self.dashboard_name, create_dashboard=True
            ),
        )
        for api in watched.apis:
            self._watch_api(api)
        for function in watched.functions:
            self._watch_function(function)
        for queue in watched.queues:
            self._watch_queue(queue)
        for table in watched.tables:
            self._watch_table(table)
        for function in watched.functions:
            if function.delivers_failures:
                watch_destination_deliveries(self.facade, function)
        for schedule in watched.schedules:
            watch_schedule(self.facade, schedule)
        for vault in watched.backup_vaults:
            watch_backups(self.facade, vault)
        if watched.sends_email:
            self._watch_email()
        self._show_failed_changes(config.stage)
        self._watch_answers(config.stage)
        watch_deliveries(self.facade, config.stage)
        # The alarms CodeDeploy watches while it releases a function by canary (infra/releases.py).
        self.release_alarms = {
            function.spec.name: release_alarm(self, function, alarm_name_prefix=prefix, topic=self.topic)
            for function in released
        }
        CfnOutput(scope, "AlarmTopicArn", value=self.topic.topic_arn, description="Where every alarm is sent")
        CfnOutput(scope, "DashboardName", value=self.dashboard_name)

    def _watch_api(self, watched: WatchedApi) -> None:
        for stage in watched.stages:  # the library's graphs (requests, latency, errors) per stage
            self.facade.monitor_api_gateway_v2_http_api(
                api=watched.api, api_stage=stage, human_readable_name=f"{watched.name} ({stage})"
            )
        # The alarms count every stage of the API (its ApiId alone).
        dimensions = {"ApiId": watched.api.api_id}

        def api_metric(name: str, period: Duration) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway", metric_name=name, dimensions_map=dimensions, statistic="Sum", period=period
            )

        def share(errors: str, period: Duration, min_requests: int) -> cloudwatch.MathExpression:
            # No data point unless enough requests came: a quiet API does not alarm on one bad call. Ids are
            # per expression: graphs and alarms refuse one id for two metrics.
            e, r = f"errors{errors}", f"requests{errors}"
            return cloudwatch.MathExpression(
                expression=f"IF({r} >= {min_requests}, 100 * {e} / {r})",
                using_metrics={e: api_metric(errors, period), r: api_metric("Count", period)},
                label=f"{errors} (% of requests)",
                period=period,
            )

        self.facade.monitor_custom(
            alarm_friendly_name=watched.name,
            human_readable_name=f"{watched.name} error rates",
            metric_groups=[
                cmc.CustomMetricGroup(
                    title="Share of requests answered with an error (%)",
                    metrics=[
                        alarmed(
                            share("5xx", PERIOD, 1),
                            "5xxRate",
                            API_5XX_PERCENT,
                            f"More than {API_5XX_PERCENT}% of the API's answers were 5xx (a defect or an outage): "
                            "see the functions' errors and the API's access logs.",
                        ),
                        alarmed(
                            share("4xx", API_4XX_PERIOD, API_4XX_MIN_REQUESTS),
                            "4xxRate",
                            API_4XX_PERCENT,
                            f"More than {API_4XX_PERCENT}% of at least {API_4XX_MIN_REQUESTS} requests in "
                            f"{spoken(API_4XX_PERIOD)} were refused (4xx): a client broken by a "
                            "change, expired credentials, or someone probing the API.",
                            period=API_4XX_PERIOD,
                        ),
                    ],
                )
            ],
        )

    def _watch_function(self, watched: WatchedFunction) -> None:
        name = watched.name
        iterator_age = cmc.MaxAgeThreshold(
            max_age_in_millis=ITERATOR_AGE_LIMIT.to_milliseconds(),
            treat_missing_data_override=MISSING_IS_FINE,  # no records, no age
            alarm_description_override=f"{name} reads stream records more than "
            f"{spoken(ITERATOR_AGE_LIMIT)} after they were written: it fails or cannot keep up, "
            "and everything the stream drives (e-mails, texts, commissions) lags.",
        )
        hours = int(NOT_RUN_WINDOW.to_seconds() // NOT_RUN_PERIOD.to_seconds())
        not_run = cmc.MinUsageCountThreshold(
            min_count=1,
            period=NOT_RUN_PERIOD,
            evaluation_periods=hours,
            datapoints_to_alarm=hours,
            treat_missing_data_override=cloudwatch.TreatMissingData.BREACHING,
            alarm_description_override=f"{name} was not invoked for {spoken(NOT_RUN_WINDOW)} although a "
            "schedule runs it daily: the schedule is disabled, deleted or cannot invoke it (its Scheduler "
            "alarms and dead-letter queue say which). Run it by hand once the cause is fixed.",
        )
        self.facade.monitor_lambda_function(
            lambda_function=watched.function,
            alarm_friendly_name=name,
            human_readable_name=name,
            add_fault_count_alarm={
                "Errors": cmc.ErrorCountThreshold(
                    max_error_count=0,
                    alarm_description_override=f"{name} failed (an unhandled error or a time-out): its log "
                    "group and traces say which request.",
                )
            },
            add_throttles_count_alarm={
                "Throttles": cmc.ErrorCountThreshold(
                    max_error_count=0,
                    alarm_description_override=f"{name} was throttled: the account's or the function's "
                    "concurrency is used up, so requests were refused or delayed.",
                )
            },
            add_max_iterator_age_alarm={"IteratorAge": iterator_age} if watched.reads_stream else None,
            add_min_invocations_count_alarm={"NotRun": not_run} if watched.scheduled else None,
        )

    def _watch_queue(self, watched: WatchedQueue) -> None:
        name, waited = watched.name, spoken(watched.max_age)
        age = cmc.MaxMessageAgeThreshold(
            max_age_in_seconds=watched.max_age.to_seconds(),
            treat_missing_data_override=MISSING_IS_FINE,  # SQS stops reporting an idle, empty queue
            alarm_description_override=(
                f"A message has waited in {name} for more than {waited}: redrive it before it expires."
                if watched.dead_letters
                else f"A message has waited in {name} for more than {waited}: its consumer is not "
                "reading (disabled, failing or throttled)."
            ),
        )
        not_empty = cmc.MaxMessageCountThreshold(
            max_message_count=0,
            treat_missing_data_override=MISSING_IS_FINE,
            alarm_description_override=f"{name} holds what failed for good: look at the message, fix the "
            "cause and redrive it (docs/deploy.md, Monitoring).",
        )
        self.facade.monitor_sqs_queue(
            queue=watched.queue,
            alarm_friendly_name=name,
            human_readable_name=name,
            add_queue_max_message_age_alarm={"Age": age},
            add_queue_max_size_alarm={"NotEmpty": not_empty} if watched.dead_letters else None,
        )

    def _watch_table(self, watched: WatchedTable) -> None:
        def throttled(what: str) -> dict[str, cmc.ThrottledEventsThreshold]:
            return {
                "Throttled": cmc.ThrottledEventsThreshold(
                    max_throttled_events_threshold=0,
                    alarm_description_override=f"DynamoDB throttled {what}: requests failed or were retried "
                    "(a hot partition, or the table's or account's throughput limit).",
                )
            }

        self.facade.monitor_dynamo_table(
            table=watched.table,
            alarm_friendly_name=watched.name,
            human_readable_name=watched.name,
            add_read_throttled_events_count_alarm=throttled(f"reads of {watched.name}"),
            add_write_throttled_events_count_alarm=throttled(f"writes to {watched.name}"),
        )
        for index in watched.indexes:
            self.facade.monitor_dynamo_table_global_secondary_index(
                table=watched.table,
                global_secondary_index_name=index,
                alarm_friendly_name=f"{watched.name}-{index}",
                human_readable_name=f"{watched.name} {index}",
                add_read_throttled_events_count_alarm=throttled(f"reads of the index {index}"),
                add_write_throttled_events_count_alarm=throttled(f"writes to the index {index}"),
            )

    def _watch_email(self) -> None:
        def reputation(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/SES", metric_name=name, statistic="Maximum", period=SES_PERIOD)

        self.facade.monitor_custom(
            alarm_friendly_name="Ses",
            human_readable_name="E-mail reputation (SES, whole account)",
            metric_groups=[
                cmc.CustomMetricGroup(
                    title="Bounce and complaint rates",
                    metrics=[
                        alarmed(
                            reputation("Reputation.BounceRate"),
                            "BounceRate",
                            SES_BOUNCE_RATE,
                            f"More than {SES_BOUNCE_RATE:.1%} of the account's e-mails bounce; SES reviews the "
                            f"account at {SES_REVIEW_BOUNCE_RATE:.0%} and may then pause its sending. Look for bad "
                            "addresses now (imports, typos).",
                            period=SES_PERIOD,
                        ),
                        alarmed(
                            reputation("Reputation.ComplaintRate"),
                            "ComplaintRate",
                            SES_COMPLAINT_RATE,
                            f"More than {SES_COMPLAINT_RATE:.2%} of the account's e-mails were marked as spam; "
                            f"SES reviews the account at {SES_REVIEW_COMPLAINT_RATE:.1%} and may then pause its "
                            "sending. Find which messages recipients did not expect.",
                            period=SES_PERIOD,
                        ),
                    ],
                )
            ],
        )

    def _show_failed_changes(self, stage: str) -> None:
        """The changes consumers failed on (retried, so no alarm: the dead-letter queues say when one fails
        for good), one line per service that counts them."""
        self.facade.monitor_custom(
            human_readable_name="Failed changes (retried)",
            alarm_friendly_name="FailedChanges",
            metric_groups=[
                cmc.CustomMetricGroup(
                    title=f"{FAILED_CHANGES_METRIC} per service",
                    metrics=[
                        cmc.CustomMetricSearch(
                            namespace=METRICS_NAMESPACE,
                            search_query=f'MetricName="{FAILED_CHANGES_METRIC}"',
                            dimensions_map={STAGE_DIMENSION: stage, "service": "*"},
                            statistic=cmc.MetricStatistic.SUM,
                            label="${PROP('Dim.service')}",
                        )
                    ],
                )
            ],
        )

    def _watch_answers(self, stage: str) -> None:
        """Answers that did not fit their route's type: each was a 500 and a defect, so any one alarms."""
        services = sorted({function.folder for function in manifest.FUNCTIONS if function.kind == "api"})
        metrics = {
            f"answers{index}": cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=INVALID_ANSWERS_METRIC,
                dimensions_map={STAGE_DIMENSION: stage, "service": service},
                statistic="Sum",
                period=PERIOD,
            )
            for index, service in enumerate(services)
        }
        total = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({name}, 0)" for name in metrics),
            using_metrics=metrics,
            label=f"{INVALID_ANSWERS_METRIC} ({', '.join(services)})",
            period=PERIOD,
        )
        self.facade.monitor_custom(
            alarm_friendly_name="Api",
            human_readable_name="Answers that did not fit their type",
            metric_groups=[
                cmc.CustomMetricGroup(
                    title="Answers refused by response validation (500)",
                    metrics=[
                        alarmed(
                            total,
                            INVALID_ANSWERS_METRIC,
                            0,
                            "An API function answered 500 because an answer did not fit the type its route "
                            "declares (a defect): its log has 'answer does not fit its type' with the route "
                            "and the fields.",
                        )
                    ],
                )
            ],
        )

"""Alarms that mean what they say: the sweep's not-run alarm is quiet on a normal day and goes off soon after
a missed run, SES's warn before SES reviews the account; and traces are sampled by Lambda's own fixed rate,
with no X-Ray sampling rule (Lambda does not read them)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.watched import runs_daily
from tests.infra.conftest import Synth
from tests.infra.test_monitoring import STAGES, alarms_on, metrics_of

pytestmark = pytest.mark.infra


@pytest.fixture(params=STAGES)
def synth(request: pytest.FixtureRequest) -> Synth:
    found: Synth = request.getfixturevalue(request.param)
    return found


@pytest.mark.parametrize(
    ("metric", "threshold", "review"),
    [("Reputation.BounceRate", 0.025, "5%"), ("Reputation.ComplaintRate", 0.0005, "0.1%")],
)
def test_ses_reputation_alarms_warn_before_ses_reviews_the_account(
    synth: Synth, metric: str, threshold: float, review: str
) -> None:
    (alarm,) = alarms_on(synth, "AWS/SES", metric)
    ((_, _, dimensions, _, _),) = metrics_of(alarm)

    assert dimensions == {}  # the account's
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", threshold)
    # SES reviews an account at 5% bounces and 0.1% complaints: the alarm goes off at half of that.
    assert f"reviews the account at {review}" in alarm["AlarmDescription"]


def not_run_alarm(synth: Synth) -> tuple[dict[str, Any], str]:
    """The sweep's not-run alarm and its schedule's expression."""
    (_, schedule) = synth.only("AWS::Scheduler::Schedule")
    sweep_id = synth.invoked(schedule["Properties"]["Target"]["Arn"])
    (alarm,) = alarms_on(synth, "AWS/Lambda", "Invocations", FunctionName=(sweep_id, "Ref"))
    return alarm, schedule["Properties"]["ScheduleExpression"]


def test_the_sweep_alarms_when_no_run_fell_in_a_window_longer_than_a_day(synth: Synth) -> None:
    alarm, expression = not_run_alarm(synth)
    ((_, _, _, period, stat),) = metrics_of(alarm)
    window = period * alarm["EvaluationPeriods"]

    assert runs_daily(expression)  # never more than a day between two runs
    assert (period, stat) == (3600, "Sum")
    assert 86400 < window <= 86400 + 3 * 3600  # a day and a little more, so the last run is always in it
    assert window <= 7 * 86400  # CloudWatch's longest evaluation range for periods of an hour or more
    # Every hour of the window without an invocation: Lambda publishes no Invocations for an hour without one,
    # and missing hours count as breaching, so the alarm means "no run in the whole window".
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert alarm["TreatMissingData"] == "breaching"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)


def hours_without_a_run(runs: list[int], now: int, period: int, periods: int) -> bool:
    """Whether the alarm's window at minute `now` (its periods of `period` minutes, the last one the period
    `now` falls in) holds none of the runs: what the alarm goes off on."""
    last = now - now % period
    return not any(last - (periods - 1) * period <= run - run % period <= last for run in runs)


def test_the_not_run_alarm_is_quiet_on_normal_days_and_goes_off_soon_after_a_missed_run(synth: Synth) -> None:
    alarm, expression = not_run_alarm(synth)
    ((_, _, _, period_s, _),) = metrics_of(alarm)
    period, periods = period_s // 60, alarm["EvaluationPeriods"]
    minute, hour = (int(field) for field in expression.removeprefix("cron(").split()[:2])
    day = 24 * 60
    runs = [d * day + hour * 60 + minute for d in range(7)]  # a week of daily runs, in minutes
    missed = runs[3]

    # Every minute after the first run, the window holds a run, also when every other run comes an hour late
    # (Scheduler's and Lambda's retries): a gap of 25 hours between two runs.
    late = [run + 60 * (d % 2) for d, run in enumerate(runs)]
    for now in range(runs[0], runs[-1] + day):
        assert not hours_without_a_run(runs, now, period, periods), now
        assert not hours_without_a_run(late, now, period, periods), now
    # Without the fourth day's run, it goes off within three hours of when the run was due.
    silent = [run for run in runs if run != missed]
    first_alarm = next(now for now in range(missed, missed + day) if hours_without_a_run(silent, now, period, periods))
    assert first_alarm - missed <= 3 * 60


def test_traces_use_lambdas_fixed_sampling_and_no_sampling_rule(synth: Synth) -> None:
    # Lambda samples actively traced invocations at 1 a second and 5% beyond, a rate that cannot be
    # configured; X-Ray sampling rules are read by the SDKs and by services that start traces (API Gateway
    # REST APIs, AppSync, Step Functions), none of which fronts these functions (docs/decisions.md).
    functions = synth.resources("AWS::Lambda::Function").values()

    assert all(f["Properties"]["TracingConfig"] == {"Mode": "Active"} for f in functions)
    assert not synth.resources("AWS::XRay::SamplingRule")

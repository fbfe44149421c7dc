"""Alarms reach people, and failures that nothing else reports alarm: every topic an alarm notifies lets
CloudWatch publish for the stage's alarms only (its topic policy and its key's policy); functions with an
on-failure destination, the schedule and the backup vault alarm when a failure would otherwise be lost."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from infra import constants
from tests.infra import realistic
from tests.infra.conftest import Synth
from tests.infra.test_monitoring import STAGES, alarms, alarms_on, arn_of, metrics_of, passed_in, target

pytestmark = pytest.mark.infra

CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}
DEPLOY_GUIDE = constants.REPO_ROOT / "docs" / "deploy.md"
Template = dict[str, Any]


@pytest.fixture(params=STAGES)
def synth(request: pytest.FixtureRequest) -> Synth:
    found: Synth = request.getfixturevalue(request.param)
    return found


def templates(synth: Synth) -> dict[str, Template]:
    return {"parent": synth.template, **synth.nested_templates()}


def resolved(value: Any, template: Template) -> str:
    """A policy value with the account, region and partition filled in."""
    return str(realistic.Resolver(template, "stack").resolve(value))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def stage_of(synth: Synth) -> str:
    return synth.stack.stack_name.removeprefix(f"{constants.APP_NAME}-")


def notified_topics(synth: Synth) -> dict[tuple[str, str], list[str]]:
    """(template, topic id) -> the names of the alarms that notify it, in every stack."""
    found: dict[tuple[str, str], list[str]] = {}
    for name, template in templates(synth).items():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::CloudWatch::Alarm":
                continue
            properties = resource["Properties"]
            for action in ("AlarmActions", "OKActions", "InsufficientDataActions"):
                for topic in properties.get(action, []):
                    assert set(topic) == {"Ref"} and topic["Ref"] in template["Resources"], topic
                    assert template["Resources"][topic["Ref"]]["Type"] == "AWS::SNS::Topic"
                    found.setdefault((name, topic["Ref"]), []).append(properties["AlarmName"])
    return found


def statements(template: Template, resource_type: str, document: str, covers: str | None = None) -> list[Any]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == resource_type
        and (covers is None or {"Ref": covers} in resource["Properties"].get("Topics", []))
        for statement in resource["Properties"][document]["Statement"]
    ]


def test_every_topic_an_alarm_notifies_lets_only_the_stages_alarms_publish(synth: Synth) -> None:
    topics = notified_topics(synth)
    prefix = f"{constants.RESOURCE_PREFIX}-{stage_of(synth)}-"

    assert topics  # every alarm notifies one (tests/infra/test_monitoring.py)
    for (name, topic_id), alarm_names in topics.items():
        template = templates(synth)[name]
        account = resolved(synth.stack.resolve(synth.stack.account), template)
        region = resolved(synth.stack.resolve(synth.stack.region), template)
        alarm_arn = f"arn:aws:cloudwatch:{region}:{account}:alarm:"
        policy = statements(template, "AWS::SNS::TopicPolicy", "PolicyDocument", covers=topic_id)
        allowed = [s for s in policy if s["Effect"] == "Allow"]
        (publish,) = allowed  # CloudWatch's, and nobody else's
        condition = publish["Condition"]
        pattern = resolved(condition["ArnLike"]["aws:SourceArn"], template)

        assert publish["Principal"] == CLOUDWATCH
        assert as_list(publish["Action"]) == ["sns:Publish"]
        assert publish["Resource"] == {"Ref": topic_id}
        assert resolved(condition["StringEquals"]["aws:SourceAccount"], template) == account
        assert pattern == f"{alarm_arn}{prefix}*"
        assert all(fnmatchcase(f"{alarm_arn}{alarm}", pattern) for alarm in alarm_names)
        assert not fnmatchcase(f"{alarm_arn}{constants.RESOURCE_PREFIX}-other-Api-High", pattern)
        assert not fnmatchcase(f"{alarm_arn.replace(account, '210987654321')}{prefix}Api-High", pattern)
        # Publishing without TLS stays refused.
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
        )

        # The topic's key lets CloudWatch encrypt for the same alarms, under the same conditions.
        key_id = arn_of(template["Resources"][topic_id]["Properties"]["KmsMasterKeyId"])
        assert key_id is not None
        key_statements = [
            s
            for s in template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
            if s.get("Principal") == CLOUDWATCH
        ]
        (encrypt,) = key_statements
        assert sorted(as_list(encrypt["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert encrypt["Condition"] == condition


def on_failure_functions(synth: Synth) -> set[str]:
    """The functions (logical ids) whose failed invocations or batches go to an on-failure destination."""
    found = set()
    for kind in ("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping"):
        for resource in synth.resources(kind).values():
            properties = resource["Properties"]
            if properties.get("DestinationConfig", {}).get("OnFailure"):
                found.add(synth.invoked(properties["FunctionName"]))
    return found


def test_every_function_with_an_on_failure_destination_alarms_when_lambda_cannot_deliver_there(
    synth: Synth,
) -> None:
    functions = on_failure_functions(synth)

    # The sweep's asynchronous invocations and the stream dispatcher's batches.
    assert functions == {synth.function("StatusSweep")[0], synth.function("StreamDispatcher")[0]}
    for function_id in functions:
        (alarm,) = alarms_on(synth, "AWS/Lambda", "DestinationDeliveryFailures", FunctionName=(function_id, "Ref"))
        ((_, _, _, _, stat),) = metrics_of(alarm)

        assert stat == "Sum"
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["TreatMissingData"] == "notBreaching"
    assert len(alarms_on(synth, "AWS/Lambda", "DestinationDeliveryFailures")) == len(functions)


@pytest.mark.parametrize(
    "metric", ["TargetErrorCount", "InvocationDroppedCount", "InvocationsFailedToBeSentToDeadLetterCount"]
)
def test_the_schedule_alarms_on_failed_dropped_and_lost_runs(synth: Synth, metric: str) -> None:
    (_, schedule) = synth.only("AWS::Scheduler::Schedule")
    (group_id, _) = synth.only("AWS::Scheduler::ScheduleGroup")

    # A group of its own: Scheduler's metrics are per group, and the default group holds the whole account's.
    assert schedule["Properties"]["GroupName"] == {"Ref": group_id}
    (alarm,) = alarms_on(synth, "AWS/Scheduler", metric, ScheduleGroup=(group_id, "Ref"))
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"


def backup_alarms(synth: Synth) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in alarms(synth).values()
        for query in alarm.get("Metrics", [])
        if "NumberOfBackupJobsFailed" in str(query.get("Expression"))
    ]


def test_the_backup_vault_alarms_on_failed_backup_jobs(dev: Synth, prod: Synth) -> None:
    (vault_id, _) = prod.only("AWS::Backup::BackupVault")
    (alarm,) = backup_alarms(prod)
    (query,) = alarm["Metrics"]
    before, vault_name, after = query["Expression"]["Fn::Join"][1]

    # Metrics Insights, on the vault's name: it matches whichever dimension sets AWS Backup publishes.
    assert before == 'SELECT SUM(NumberOfBackupJobsFailed) FROM "AWS/Backup" WHERE BackupVaultName = \''
    assert after == "'"
    assert target(prod, vault_name) == (vault_id, "BackupVaultName")
    assert query["Period"] * alarm["EvaluationPeriods"] <= 3 * 3600  # Metrics Insights alarms see three hours
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"
    # Dev stages keep no backups.
    assert not dev.resources("AWS::Backup::BackupVault") and not backup_alarms(dev)
    assert "BackupVaultName" in str(passed_in(prod))


def alarm_table_patterns(guide: Path) -> list[re.Pattern[str]]:
    """The alarm names of docs/deploy.md's alarm table, `<placeholders>` and `…` matching any text."""
    section = guide.read_text().split("\n## Monitoring\n", 1)[1].split("\n## ", 1)[0]
    patterns = []
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        for name in re.findall(r"`([^`]+)`", row.split("|")[1]):
            pattern = re.escape(name).replace("…", ".*")
            patterns.append(re.compile(re.sub(r"<[^>]+>", ".+", pattern.replace(r"\<", "<").replace(r"\>", ">"))))
    return patterns


def test_every_alarm_appears_in_the_guides_alarm_table(synth: Synth) -> None:
    patterns = alarm_table_patterns(DEPLOY_GUIDE)
    prefix = f"{constants.RESOURCE_PREFIX}-{stage_of(synth)}-"

    for alarm in alarms(synth).values():
        name = alarm["AlarmName"].removeprefix(prefix)
        assert any(p.fullmatch(name) for p in patterns), name

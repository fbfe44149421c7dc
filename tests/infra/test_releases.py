"""Safe releases: every function runs behind its `live` alias, which is what everything invokes; the functions
that answer callers move that alias by canary through CodeDeploy, rolled back by an alarm that also tells the
operators."""

from __future__ import annotations

from typing import Any

import pytest

from infra import manifest
from infra.functions import LIVE_ALIAS
from infra.releases import CANARY_KINDS, released_by_canary
from tests.infra.conftest import Synth
from tests.infra.test_monitoring import alarms, nested, of_type, target

pytestmark = pytest.mark.infra


@pytest.fixture(params=["dev", "prod"])
def synth(request: pytest.FixtureRequest) -> Synth:
    found: Synth = request.getfixturevalue(request.param)
    return found


def test_every_function_has_a_live_alias_on_its_current_version(synth: Synth) -> None:
    aliases = synth.resources("AWS::Lambda::Alias")
    versions = synth.resources("AWS::Lambda::Version")

    for spec in manifest.FUNCTIONS:
        (function_id, _) = synth.function(spec.name)
        (alias,) = [
            a["Properties"] for a in aliases.values() if synth.invoked(a["Properties"]["FunctionName"]) == function_id
        ]
        assert alias["Name"] == LIVE_ALIAS
        version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert synth.invoked(versions[version_id]["Properties"]["FunctionName"]) == function_id


def invokers(synth: Synth) -> list[tuple[str, Any]]:
    """Every reference by which something invokes a function: event source mappings, asynchronous-invocation
    settings, API integrations, the authorizer, the schedule, and resource-based permissions."""
    found: list[tuple[str, Any]] = []
    for kind, field in (
        ("AWS::Lambda::EventSourceMapping", "FunctionName"),
        ("AWS::Lambda::EventInvokeConfig", "FunctionName"),
    ):
        found += [(kind, r["Properties"][field]) for r in synth.resources(kind).values()]
    found += [
        ("integration", r["Properties"]["IntegrationUri"])
        for r in synth.everywhere("AWS::ApiGatewayV2::Integration").values()
    ]
    found += [
        ("authorizer", r["Properties"]["AuthorizerUri"])
        for r in synth.everywhere("AWS::ApiGatewayV2::Authorizer").values()
    ]
    found += [
        ("schedule", r["Properties"]["Target"]["Arn"]) for r in synth.resources("AWS::Scheduler::Schedule").values()
    ]
    return found


def test_everything_that_invokes_a_function_invokes_its_live_alias(synth: Synth) -> None:
    aliases = synth.resources("AWS::Lambda::Alias")
    found = invokers(synth)

    assert {kind for kind, _ in found} >= {"AWS::Lambda::EventSourceMapping", "integration", "authorizer", "schedule"}
    for kind, reference in found:
        text = str(reference)
        through_alias = any(alias_id in text for alias_id in aliases) or f":{LIVE_ALIAS}" in text
        # An asynchronous-invocation config names the function and qualifies it with the alias.
        assert through_alias or kind == "AWS::Lambda::EventInvokeConfig", (kind, reference)
    for config in synth.resources("AWS::Lambda::EventInvokeConfig").values():
        # The alias's name, taken from its ARN.
        assert any(f"'{alias_id}'" in str(config["Properties"]["Qualifier"]) for alias_id in aliases)


def test_the_functions_that_answer_callers_release_by_canary_and_roll_back_on_their_release_alarm(
    synth: Synth,
) -> None:
    groups = synth.resources("AWS::CodeDeploy::DeploymentGroup")
    release_alarms = {a["AlarmName"]: a for a in alarms(synth).values() if a["AlarmName"].endswith("-Release-Errors")}
    canaried = [spec for spec in manifest.FUNCTIONS if released_by_canary(spec)]

    assert {spec.kind for spec in canaried} == set(CANARY_KINDS)
    assert len(groups) == len(canaried) == len(release_alarms)
    prefix = f"partner-programme-{synth.stack.stack_name.removeprefix('PartnerProgramme-')}-"
    for spec in canaried:
        (function_id, _) = synth.function(spec.name)
        (group,) = [
            g["Properties"]
            for g in groups.values()
            if g["Metadata"]["aws:cdk:path"].endswith(f"/{spec.name}/Release/Resource")
        ]
        assert group["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        assert set(group["AutoRollbackConfiguration"]["Events"]) == {
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_REQUEST",
            "DEPLOYMENT_STOP_ON_ALARM",
        }
        assert group["AlarmConfiguration"]["Enabled"] is True
        alarm = release_alarms[f"{prefix}{spec.name}-Release-Errors"]
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert target(synth, dimensions["Resource"]) == (function_id, LIVE_ALIAS)
        assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Errors",
            0,
            "GreaterThanThreshold",
        )
        # The group watches that alarm: its name reaches the parent from the monitoring stack.
        (watched,) = group["AlarmConfiguration"]["Alarms"]
        assert "Monitoring" in str(watched["Name"])


def test_the_queue_consumers_stream_reader_and_sweep_move_at_once(synth: Synth) -> None:
    released = {
        g["Metadata"]["aws:cdk:path"].split("/")[-3]
        for g in synth.resources("AWS::CodeDeploy::DeploymentGroup").values()
    }
    for spec in manifest.FUNCTIONS:
        assert (spec.name in released) is released_by_canary(spec), spec.name


def test_release_alarms_notify_the_alarm_topic(synth: Synth) -> None:
    ((topic_id, _),) = of_type(nested(synth), "AWS::SNS::Topic").items()
    for alarm in alarms(synth).values():
        if alarm["AlarmName"].endswith("-Release-Errors"):
            assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic_id}]

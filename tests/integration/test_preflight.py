"""`make preflight`: the checks before a deploy, run against the local stack's moto endpoints (the AWS
stand-ins a deployed stage's account would answer for). moto serves CloudFormation, SSM and SES identities;
it has no SES GetAccount nor Lambda GetAccountSettings, whose answers the in-process runs give as AWS
documents them (a before-call hook on the same clients)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra import constants
from local.stack import LocalStack
from ops import preflight

STAGE = "dev"
PARAMETER = constants.twilio_auth_token_parameter(STAGE)
BOOTSTRAP_TEMPLATE = '{"Resources": {"Marker": {"Type": "AWS::SNS::Topic"}}}'


def answering(client: Any, operation: str, answer: dict[str, Any]) -> Any:
    """The client, answering `operation` with `answer` instead of calling its endpoint."""
    service = client.meta.service_model.service_name.replace("-", "")
    http = type("Http", (), {"status_code": 200, "headers": {}})()
    client.meta.events.register(f"before-call.{service}.{operation}", lambda **_: (http, answer))
    return client


@pytest.fixture
def account(stack: LocalStack) -> Iterator[dict[str, Any]]:
    """A bootstrapped account with the stage's Twilio parameter, out of SES's sandbox, concurrency 1000."""
    ssm, cloudformation = boto3.client("ssm"), boto3.client("cloudformation")
    cloudformation.create_stack(StackName=preflight.BOOTSTRAP_STACK, TemplateBody=BOOTSTRAP_TEMPLATE)
    ssm.put_parameter(Name=f"/cdk-bootstrap/{preflight.BOOTSTRAP_QUALIFIER}/version", Value="27", Type="String")
    ssm.put_parameter(Name=PARAMETER, Value="token", Type="SecureString", Overwrite=True)
    answers = {
        "sesv2": ("GetAccount", {"ProductionAccessEnabled": True, "SendingEnabled": True}),
        "lambda": ("GetAccountSettings", {"AccountLimit": {"ConcurrentExecutions": 1000}}),
    }
    yield answers
    cloudformation.delete_stack(StackName=preflight.BOOTSTRAP_STACK)
    ssm.delete_parameter(Name=f"/cdk-bootstrap/{preflight.BOOTSTRAP_QUALIFIER}/version")
    ssm.delete_parameters(Names=[PARAMETER])


def clients(answers: dict[str, tuple[str, dict[str, Any]]]) -> preflight.Clients:
    def client(service: str) -> Any:
        made = boto3.client(service)  # the local stack's moto endpoint (the stack's environment)
        return answering(made, *answers[service]) if service in answers else made

    return client


def test_a_ready_account_passes_every_check(account: dict[str, Any]) -> None:
    findings = preflight.run_checks(preflight.stage_config(STAGE), clients(account))

    assert [(f.check, f.ok) for f in findings] == [
        ("CDK bootstrap", True),
        ("Twilio auth token", True),
        ("SES account", True),
        ("Sender identity", True),
        ("Lambda concurrency", True),
    ]


def test_each_problem_says_what_to_do(account: dict[str, Any]) -> None:
    boto3.client("ssm").delete_parameter(Name=PARAMETER)
    account["sesv2"] = ("GetAccount", {"ProductionAccessEnabled": False, "SendingEnabled": True})
    account["lambda"] = ("GetAccountSettings", {"AccountLimit": {"ConcurrentExecutions": 10}})
    config = preflight.stage_config(STAGE)

    findings = {f.check: f for f in preflight.run_checks(config, clients(account))}
    protected = preflight.ses_account(clients(account)("sesv2"), protected=True)

    assert not findings["Twilio auth token"].ok and "aws ssm put-parameter" in findings["Twilio auth token"].detail
    assert findings["SES account"].ok and "sandbox" in findings["SES account"].detail  # a dev stage may
    assert not protected.ok and "production access" in protected.detail  # a protected stage may not
    assert not findings["Lambda concurrency"].ok and "Service Quotas" in findings["Lambda concurrency"].detail
    assert "FIX  Twilio auth token" in preflight.report(list(findings.values()))


def test_make_preflight_runs_against_the_stand_ins(stack: LocalStack, account: dict[str, Any]) -> None:
    # Out of process, as `make preflight STAGE=dev` runs; moto answers what it serves, and says so of the rest.
    run = subprocess.run(  # noqa: S603 - this interpreter running the project's own module
        [sys.executable, "-m", "ops.preflight", "--stage", STAGE],
        cwd=constants.REPO_ROOT,
        env=os.environ | {"AWS_ENDPOINT_URL": stack.moto_endpoint},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1, run.stderr  # moto cannot tell the SES account nor the Lambda concurrency
    lines = run.stdout.splitlines()
    assert any(line.startswith("ok ") and "CDK bootstrap" in line for line in lines), run.stdout
    assert any(line.startswith("ok ") and "Twilio auth token" in line for line in lines), run.stdout
    assert any(line.startswith("FIX") and "SES account" in line for line in lines), run.stdout

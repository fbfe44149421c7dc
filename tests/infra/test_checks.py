"""cdk-nag (AWS Solutions) and cfn-lint pass on the synthesized templates; every acknowledgment of a
cdk-nag rule is listed here with a written reason."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import aws_sqs as sqs
from cfnlint.api import lint_file
from cfnlint.config import ManualArgs

from infra import constants, manifest
from infra.stack import register_checks
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

EXPECTED_ACKNOWLEDGMENTS = {
    ("Auth/UserPool", "AwsSolutions-COG2"),
    ("Auth/UserPool", "AwsSolutions-COG8"),
    ("Leads/LeadsApi/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Leads/LeadsEvents/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Partners/PartnersApi/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Partners/PartnersEvents/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Payouts/PayoutsApi/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Payouts/PayoutsEvents/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Referrals/ReferralsApi/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Integrations/IntegrationsApi/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Referrals/ReferralsEvents/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Integrations/IntegrationsEvents/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Referrals/SmsWebhook/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("StatusSweep/StatusSweep/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("StatusSweep/StatusSweepWork/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("TokenAuthorizer/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Changes/StreamDispatcher/Role", "AwsSolutions-IAM5[Resource::*]"),
    # Dead-letter destinations themselves: the stream mapping's failure queue, each consumer's dead letters.
    ("Changes/StreamDispatcherFailures", "AwsSolutions-SQS3"),
    ("Leads/LeadsEventsChanges/DeadLetters", "AwsSolutions-SQS3"),
    ("Partners/PartnersEventsChanges/DeadLetters", "AwsSolutions-SQS3"),
    ("Referrals/ReferralsEventsChanges/DeadLetters", "AwsSolutions-SQS3"),
    ("Payouts/PayoutsEventsChanges/DeadLetters", "AwsSolutions-SQS3"),
    ("Integrations/IntegrationsEventsChanges/DeadLetters", "AwsSolutions-SQS3"),
    ("Files/Bucket", "AwsSolutions-S1"),
    # AWS's own policy for CodeDeploy moving the functions' aliases.
    (
        "Releases/Role",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]",
    ),
    ("StatusSweep/Failures", "AwsSolutions-SQS3"),
    ("StatusSweep/Work/DeadLetters", "AwsSolutions-SQS3"),
    ("Integrations/Webhooks/WebhookDelivery/Role", "AwsSolutions-IAM5[Resource::*]"),
    ("Integrations/Webhooks/Deliveries/DeadLetters", "AwsSolutions-SQS3"),
    # Every route the gateway has without an authorizer (the manifest's and the preflight twins).
    *(
        (f"Api/Routes/{route.method}{route.path.replace('/', '--')}", "AwsSolutions-APIG4")
        for route in manifest.gateway_routes()
        if route.auth == "none"
    ),
}


# Edge protection (protected stages): the origin secret is rotated by hand, the distribution has no geographic
# restriction and no access logs (client addresses), and on CloudFront's own name the TLS floor is CloudFront's.
EDGE_ACKNOWLEDGMENTS = {
    ("Edge/OriginSecret", "AwsSolutions-SMG4"),
    ("Edge/Distribution", "AwsSolutions-CFR1"),
    ("Edge/Distribution", "AwsSolutions-CFR3"),
    ("Edge/Distribution", "AwsSolutions-CFR4"),
}

BACKUP_ROLE_POLICY = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]"
)


def expected_acknowledgments(synth: Synth) -> set[tuple[str, str]]:
    """The reviewed list, with the one finding whose id names a logical id (objects under the files
    prefix, which PartnersApi reads and writes) and the one of protected stages."""
    (bucket_id, _) = synth.only("AWS::S3::Bucket")
    files_prefix = f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{constants.FILES_KEY_PREFIX}*]"
    expected = {*EXPECTED_ACKNOWLEDGMENTS, ("Partners/PartnersApi/Role", files_prefix)}
    # Partner companies' receiver secrets: parameters under the stage's path, which LeadsApi keeps and the
    # delivery engine reads.
    stage = synth.stack.node.try_get_context(constants.CONTEXT_STAGE) or constants.DEFAULT_STAGE
    secrets = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:"
        f"parameter{constants.company_secret_prefix(stage)}/*]"
    )
    expected |= {("Leads/LeadsApi/Role", secrets), ("Integrations/Webhooks/WebhookDelivery/Role", secrets)}
    if synth.resources("AWS::Backup::BackupPlan"):  # protected stages only: AWS Backup's service role
        expected.add(("Data/Backups/Plan/Table", BACKUP_ROLE_POLICY))
    if "Edge" in synth.nested_templates():
        expected |= EDGE_ACKNOWLEDGMENTS
    return expected


def acknowledgments(synth: Synth) -> dict[tuple[str, str], list[str]]:
    """(construct path, rule id) -> reasons, as recorded by Validations.of(...).acknowledge()."""
    found: dict[tuple[str, str], list[str]] = {}
    for construct in synth.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                path = construct.node.path.removeprefix(f"{synth.stack.node.path}/")
                for rule_id, reason in dict(entry.data).items():
                    # CDK files ids without a plugin prefix under "Annotation::"; cdk-nag strips it too.
                    rule = re.sub(r"^annotation::", "", rule_id, flags=re.IGNORECASE)
                    found.setdefault((path, rule), []).append(reason)
    return found


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_aws_solutions_checks_find_nothing_unacknowledged(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    report = cdk_nag.AwsSolutionsChecks().validate_scope(synth.app)
    findings = [
        f"{violation.rule_name}: {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]

    assert findings == []
    assert synth.error is None


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_acknowledgments_are_the_reviewed_ones_and_give_reasons(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    found = acknowledgments(synth)

    assert set(found) == expected_acknowledgments(synth)
    for key, reasons in found.items():
        assert all(len(reason) > 60 for reason in reasons), f"{key}: a reason must say why, specifically"


def test_synthesis_fails_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    sqs.Queue(stack, "PlainQueue")  # neither SSL-only nor a dead-letter queue
    register_checks(app)

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert "AwsSolutions-SQS4" in (tmp_path / "validation-report.json").read_text()


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_finds_no_errors_or_warnings(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    matches = lint_file(synth.template_path, config=ManualArgs(regions=["us-east-1", "eu-central-1"]))

    assert [str(match) for match in matches] == []

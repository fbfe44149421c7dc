"""Before deploying a stage, check what CloudFormation cannot create and a deploy would fail or run badly without
(`make preflight STAGE=<stage>`): read-only, with the admin's own credentials, and saying what to do for each
problem.

    python -m ops.preflight --stage prod [--region R] [--profile P]

The stage's settings are cdk.json's (`stages.<stage>`, as `make deploy` reads them). Checked:
- the CDK bootstrap of the account and region (CDKToolkit stack, bootstrap version),
- the Twilio auth token parameter the functions read (SSM, a SecureString),
- SES: the account out of the sandbox (production access) and sending enabled,
- the sender identity the stage uses, verified for sending (or created by the stage: then nothing to check),
- the account's Lambda concurrency, which the stage's queues and API need.
Exit status 0 when every check passed, 1 when one did not, 2 when the settings are unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra import constants, manifest
from infra.config import DeploymentConfig, StageSettingsError

# CDK's default bootstrap qualifier, and the oldest bootstrap the synthesized templates accept (their
# CheckBootstrapVersion rule refuses versions 1 to 5).
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_STACK = "CDKToolkit"
MIN_BOOTSTRAP_VERSION = 6
# New accounts start with a concurrency of 10, which Lambda keeps entirely unreserved: the stage's queue
# consumers alone may run this many at once, and the API needs room beside them.
API_HEADROOM = 50


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str  # what was found, or what to do


def bootstrap(cloudformation: Any, ssm: Any) -> Finding:
    name = "CDK bootstrap"
    try:
        cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)
        value = ssm.get_parameter(Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version")["Parameter"]["Value"]
    except ClientError:
        return Finding(name, False, "not bootstrapped: run `npx cdk bootstrap aws://<account>/<region>` once")
    if not value.isdigit() or int(value) < MIN_BOOTSTRAP_VERSION:
        return Finding(name, False, f"version {value} is too old: run `npx cdk bootstrap` again to upgrade it")
    return Finding(name, True, f"{BOOTSTRAP_STACK}, version {value}")


def twilio_parameter(ssm: Any, parameter: str) -> Finding:
    name = "Twilio auth token"
    try:
        found = ssm.get_parameter(Name=parameter, WithDecryption=False)["Parameter"]
    except ClientError:
        return Finding(
            name,
            False,
            f"no parameter {parameter}: `aws ssm put-parameter --name {parameter} --type SecureString "
            "--value <the account's auth token>` (docs/deploy.md, Twilio)",
        )
    if found.get("Type") != "SecureString":
        return Finding(name, False, f"{parameter} is a {found.get('Type')}: store the token as a SecureString")
    return Finding(name, True, f"{parameter} (SecureString)")


def ses_account(sesv2: Any, *, protected: bool) -> Finding:
    name = "SES account"
    try:
        account = sesv2.get_account()
    except ClientError as error:
        return Finding(name, False, f"cannot read the SES account: {error.response['Error'].get('Code')}")
    if not account.get("SendingEnabled", True):
        return Finding(name, False, "sending is disabled for the account: see the SES console's account dashboard")
    if not account.get("ProductionAccessEnabled"):
        sandbox = "in the sandbox: it sends only to verified addresses; request production access in the SES console"
        return Finding(name, not protected, sandbox if protected else f"{sandbox} (fine for a dev stage)")
    return Finding(name, True, "production access, sending enabled")


def sender_identity(sesv2: Any, config: DeploymentConfig) -> Finding:
    name = "Sender identity"
    if not config.ses_identity:
        return Finding(name, True, f"{config.email_domain} is created by the stage: publish its DKIM records after")
    try:
        identity = sesv2.get_email_identity(EmailIdentity=config.ses_identity)
    except ClientError:
        return Finding(name, False, f"no SES identity {config.ses_identity} in this account and region")
    if not identity.get("VerifiedForSendingStatus"):
        return Finding(name, False, f"{config.ses_identity} is not verified yet: publish its DNS records and wait")
    return Finding(name, True, f"{config.ses_identity}, verified")


def needed_concurrency() -> int:
    # Every function an SQS queue drives (change consumers and work queues) up to its mapping's maximum.
    consumers = sum(f.queue_max_concurrency for f in manifest.FUNCTIONS if f.kind in ("queue", "work"))
    return consumers + API_HEADROOM


def lambda_concurrency(lambda_: Any) -> Finding:
    name = "Lambda concurrency"
    try:
        limit = lambda_.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    except ClientError as error:
        return Finding(name, False, f"cannot read the account's settings: {error.response['Error'].get('Code')}")
    needed = needed_concurrency()
    if limit < needed:
        return Finding(
            name,
            False,
            f"the account allows {limit} concurrent executions; the stage needs about {needed}: request more "
            "(Service Quotas, AWS Lambda, Concurrent executions)",
        )
    return Finding(name, True, f"{limit} concurrent executions (the stage needs about {needed})")


Clients = Callable[[str], Any]


def run_checks(config: DeploymentConfig, client: Clients) -> list[Finding]:
    checks: list[Callable[[], Finding]] = [
        lambda: bootstrap(client("cloudformation"), client("ssm")),
        lambda: twilio_parameter(client("ssm"), config.twilio_auth_token_parameter),
        lambda: ses_account(client("sesv2"), protected=config.protected),
        lambda: sender_identity(client("sesv2"), config),
        lambda: lambda_concurrency(client("lambda")),
    ]
    return [check() for check in checks]


def stage_config(stage: str, cdk_json: dict[str, Any] | None = None) -> DeploymentConfig:
    """The stage's settings as `make deploy` reads them: cdk.json's context with the stage named."""
    context = dict((cdk_json or json.loads((constants.REPO_ROOT / "cdk.json").read_text())).get("context", {}))
    return DeploymentConfig.from_context(cdk.App(context={**context, constants.CONTEXT_STAGE: stage}))


def report(findings: Sequence[Finding]) -> str:
    width = max(len(f.check) for f in findings)
    return "\n".join(f"{'ok ' if f.ok else 'FIX'}  {f.check:{width}}  {f.detail}" for f in findings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.preflight", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", required=True, help="the stage to deploy (its block in cdk.json)")
    parser.add_argument("--region", help="the stage's region (default: its setting, else your AWS configuration's)")
    parser.add_argument("--profile", help="the AWS profile to use (default: your AWS configuration's)")
    args = parser.parse_args(argv)
    try:
        config = stage_config(args.stage)
    except StageSettingsError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region or config.region)
        findings = run_checks(config, lambda service: session.client(service))  # type: ignore[call-overload]
    except (BotoCoreError, ClientError) as error:
        print(f"cannot reach the account: {error}", file=sys.stderr)
        return 2
    print(report(findings))
    return 0 if all(f.ok for f in findings) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Context values become the deployment's configuration, or a clear error before anything is built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from common.platform.settings import env_name

from infra import constants
from infra.config import DeploymentConfig, StageSettingsError
from infra.stack import add_stack
from tests.infra.conftest import CDK_JSON

pytestmark = pytest.mark.infra


TWILIO = {"twilioAccountSid": "AC" + "0123456789abcdef" * 2, "twilioFromNumber": "+15005550006"}


def edge(region: str = "eu-central-1") -> dict[str, str]:
    """Edge protection's settings, with the API's certificate in `region` (tests/infra/test_edge.py)."""
    return {
        "apiDomainName": "api-origin.example.com",
        "apiCertificateArn": f"arn:aws:acm:{region}:123456789012:certificate/0b6e8ad4-3f0c-4a3e-9a55-2f1d3c4b5a69",
    }


def config(**context: Any) -> DeploymentConfig:
    """The configuration of these context values, with a sender address (whose identity the stage owns
    unless it names one), Twilio's account and number, who gets the alarms and, on protected stages, edge
    protection."""
    owner = {} if "sesIdentity" in context else {"sesIdentityOwner": True}
    protected = not constants.is_dev_stage(str(context.get("stage", constants.DEFAULT_STAGE)))
    region = str(context.get("region") or "eu-central-1")
    defaults = {
        "emailFrom": "no-reply@example.com",
        "alarmEmail": "ops@example.com",
        **owner,
        **TWILIO,
        **(edge(region) if protected else {}),
    }
    return DeploymentConfig.from_context(cdk.App(context={**defaults, **context}))


def bare_config(**context: Any) -> DeploymentConfig:
    return DeploymentConfig.from_context(cdk.App(context={"emailFrom": "no-reply@example.com", **context}))


def test_defaults_to_the_dev_stage() -> None:
    dev = config()

    assert dev.stage == "dev"
    assert dev.protected is False
    assert dev.portal_callback_urls == ()


def test_stages_other_than_dev_are_protected() -> None:
    assert config(stage="prod", portalUrl="https://partners.example.com").protected is True
    assert config(stage="dev-alice").protected is False


def test_portal_url_defaults_to_the_first_callback_origin_or_the_dev_portal() -> None:
    callbacks = "https://partners.example.com/callback,https://other.example.com/callback"

    assert config(stage="prod", portalCallbackUrls=callbacks).portal_url == "https://partners.example.com"
    assert config().portal_url == constants.DEV_PORTAL_ORIGIN
    assert config(stage="dev-alice", portalCallbackUrls=callbacks).portal_url == "https://partners.example.com"


def test_a_given_portal_url_wins_and_its_origin_is_allowed() -> None:
    prod = config(
        stage="prod", portalUrl="https://portal.example.com/app/", portalCallbackUrls="https://x.example.com/cb"
    )
    dev = config(portalUrl="http://127.0.0.1:8080")

    assert prod.portal_url == "https://portal.example.com/app"
    assert prod.portal_origins == ["https://portal.example.com", "https://x.example.com"]
    assert dev.portal_url == "http://127.0.0.1:8080"
    assert dev.portal_origins == ["http://127.0.0.1:8080", constants.DEV_PORTAL_ORIGIN]


def test_a_protected_stage_needs_an_https_portal_address() -> None:
    with pytest.raises(ValueError, match="portalUrl"):
        config(stage="prod")
    with pytest.raises(ValueError, match="https"):
        config(stage="prod", portalUrl="http://partners.example.com")
    with pytest.raises(ValueError, match="https"):
        config(stage="prod", portalCallbackUrls="http://partners.example.com/callback")


def test_callback_urls_from_a_comma_separated_string_or_a_list() -> None:
    urls = "https://partners.example.com/callback, https://partners.example.com/"
    from_string = config(stage="prod", portalCallbackUrls=urls)
    from_list = config(stage="prod", portalCallbackUrls=[u.strip() for u in urls.split(",")])

    assert from_string == from_list
    assert from_string.portal_origins == ["https://partners.example.com"]


@pytest.mark.parametrize(
    "context",
    [
        {"stage": "Prod"},
        {"stage": "prod_eu"},
        {"emailFrom": "not-an-address"},
        {"emailFrom": ""},
        {"portalCallbackUrls": "partners.example.com/callback"},
        {"portalUrl": "partners.example.com"},
        {"portalUrl": "ftp://partners.example.com"},
        {"portalUrl": "https://partners.example.com/?ref=1"},
        {"portalUrl": "https://partners.example.com/#/home"},
    ],
)
def test_rejects_bad_context(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        config(**context)


def test_twilio_settings_and_the_auth_token_parameter() -> None:
    prod = config(stage="prod", portalUrl="https://partners.example.com")
    named = config(twilioAuthTokenParameter="/shared/twilio/token")

    assert (prod.twilio_account_sid, prod.twilio_from_number) == (TWILIO["twilioAccountSid"], "+15005550006")
    assert prod.twilio_auth_token_parameter == "/partner-programme/prod/twilio-auth-token"
    assert named.twilio_auth_token_parameter == "/shared/twilio/token"
    assert config(twilioAuthTokenParameter="twilio-token").twilio_auth_token_parameter == "twilio-token"


def test_a_dev_stage_may_leave_twilio_out_but_a_protected_one_may_not() -> None:
    dev = bare_config()

    assert (dev.twilio_account_sid, dev.twilio_from_number) == ("", "")
    assert dev.twilio_auth_token_parameter == "/partner-programme/dev/twilio-auth-token"
    with pytest.raises(ValueError, match="twilioAccountSid"):
        bare_config(stage="prod", portalUrl="https://partners.example.com")
    with pytest.raises(ValueError, match="twilioAccountSid"):
        bare_config(stage="prod", portalUrl="https://partners.example.com", twilioAccountSid=TWILIO["twilioAccountSid"])


def test_public_api_url_for_a_custom_domain() -> None:
    assert config().public_api_url is None
    assert config(publicApiUrl="https://api.example.com/").public_api_url == "https://api.example.com"
    with pytest.raises(ValueError, match="https"):
        config(stage="prod", portalUrl="https://partners.example.com", publicApiUrl="http://api.example.com")


@pytest.mark.parametrize(
    "context",
    [
        {"twilioAccountSid": "AC123"},
        {"twilioAccountSid": "SK" + "0" * 32},
        {"twilioAccountSid": "AC" + "0123456789ABCDEF" * 2},
        {"twilioFromNumber": "5005550006"},
        {"twilioFromNumber": "+1 500 555 0006"},
        {"twilioAuthTokenParameter": "partner-programme/dev/token"},
        {"twilioAuthTokenParameter": "/with space"},
        {"twilioAuthTokenParameter": "/trailing/"},
        {"publicApiUrl": "api.example.com"},
        {"publicApiUrl": "https://api.example.com/?x=1"},
    ],
)
def test_rejects_bad_twilio_context(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        config(**context)


def test_alarm_email_is_optional_on_dev_and_required_on_protected_stages() -> None:
    assert bare_config().alarm_email is None
    assert config(stage="prod", portalUrl="https://partners.example.com").alarm_email == "ops@example.com"
    with pytest.raises(ValueError, match="alarmEmail"):
        bare_config(stage="prod", portalUrl="https://partners.example.com", **TWILIO)
    with pytest.raises(ValueError, match="alarmEmail"):
        config(alarmEmail="ops-at-example.com")


PROD_STAGE = {
    "account": "123456789012",
    "region": "eu-central-1",
    "emailFrom": "no-reply@partners.example.com",
    "sesIdentityOwner": True,
    "portalUrl": "https://partners.example.com",
    "alarmEmail": "ops@partners.example.com",
    **TWILIO,
    **edge(),
}


def staged(stages: dict[str, Any], **context: Any) -> DeploymentConfig:
    """The configuration of a `stages` block (as in cdk.json) and top-level context (as from `-c`)."""
    return DeploymentConfig.from_context(cdk.App(context={"stages": stages, **context}))


def test_cdk_json_holds_the_dev_stage() -> None:
    dev = DeploymentConfig.from_context(cdk.App(context=json.loads(CDK_JSON.read_text())["context"]))

    assert (dev.stage, dev.email_from) == ("dev", "no-reply@example.com")
    assert (dev.account, dev.region) == (None, None)  # environment-agnostic: `make synth` works offline


def test_the_selected_stage_block_supplies_the_settings() -> None:
    prod = staged({"dev": {"emailFrom": "dev@example.com"}, "prod": PROD_STAGE}, stage="prod")

    assert prod.stage == "prod"
    assert (prod.account, prod.region) == ("123456789012", "eu-central-1")
    assert prod.email_from == "no-reply@partners.example.com"
    assert prod.portal_url == "https://partners.example.com"
    assert prod.twilio_account_sid == TWILIO["twilioAccountSid"]


def test_command_line_context_wins_over_the_stage_block() -> None:
    overrides = {"portalUrl": "https://portal.example.org", "region": "us-east-1", **edge("us-east-1")}
    prod = staged({"prod": PROD_STAGE}, stage="prod", **overrides)

    assert prod.portal_url == "https://portal.example.org"
    assert prod.region == "us-east-1"
    assert prod.email_from == "no-reply@partners.example.com"


def test_unknown_settings_in_any_stage_block_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"stages\.prod: unknown setting\(s\) emailFromm"):
        staged({"prod": {**PROD_STAGE, "emailFromm": "x@example.com"}}, stage="prod")
    # A typo in another stage's block fails too, before it is ever deployed.
    with pytest.raises(ValueError, match=r"stages\.staging: unknown setting\(s\) portalURL"):
        staged({"prod": PROD_STAGE, "staging": {"portalURL": "https://x.example.com"}}, stage="prod")
    with pytest.raises(ValueError, match="stages"):
        staged({"prod": "not an object"}, stage="prod")


@pytest.mark.parametrize(
    "context",
    [
        {"account": "12345678901"},
        {"account": "1234567890123"},
        {"account": "12345678901a"},
        {"region": "eu-central"},
        {"region": "EU-CENTRAL-1"},
        {"region": "eucentral1"},
    ],
)
def test_rejects_a_bad_account_or_region(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"account|region"):
        config(**context)


def test_accepts_region_names_of_every_partition() -> None:
    for region in ("eu-central-1", "ap-southeast-5", "us-gov-west-1", "cn-north-1", "il-central-1"):
        assert config(region=region).region == region


def test_an_existing_ses_identity_must_be_the_sender_or_its_domain() -> None:
    assert config(sesIdentity="example.com").ses_identity == "example.com"
    assert config(sesIdentity="no-reply@example.com").sender_verified is True
    assert config().ses_identity is None
    assert config().sender_verified is False
    for other in ("other.example.com", "alice@example.com", "mail.example.com"):
        with pytest.raises(ValueError, match="sesIdentity"):
            config(sesIdentity=other)


PROTECTED = {"stage": "prod", "portalUrl": "https://partners.example.com"}


def test_a_stage_owns_its_identity_or_names_the_one_it_sends_under() -> None:
    owner = config(**PROTECTED)
    user = config(**PROTECTED, sesIdentity="example.com")
    also_user = config(**PROTECTED, sesIdentity="example.com", sesIdentityOwner="false")

    assert (owner.owns_ses_identity, owner.ses_identity) == (True, None)
    assert (user.owns_ses_identity, user.ses_identity, user.sender_verified) == (False, "example.com", True)
    assert also_user == user
    # A dev stage that says neither owns its identity (disposable: deleted with its stack).
    assert bare_config().owns_ses_identity is True


@pytest.mark.parametrize(
    ("context", "says"),
    [
        # A protected stage must say which: owning by default is how two stages came to create one identity.
        ({}, "say who owns the SES identity of example.com"),
        # Creating an identity it also claims exists.
        ({"sesIdentityOwner": True, "sesIdentity": "example.com"}, "exclude each other"),
        ({"sesIdentityOwner": "true", "sesIdentity": "no-reply@example.com"}, "exclude each other"),
        # Neither owning nor naming one.
        ({"sesIdentityOwner": False}, "name the identity this stage sends under"),
        # Verification is the owner's to report: a named identity is verified already.
        ({"sesIdentity": "example.com", "sesIdentityVerified": True}, "remove sesIdentityVerified"),
        ({"sesIdentityOwner": "maybe"}, "sesIdentityOwner 'maybe': use true or false"),
    ],
)
def test_impossible_identity_ownership_is_refused(context: dict[str, Any], says: str) -> None:
    with pytest.raises(StageSettingsError) as refused:
        bare_config(**PROTECTED, alarmEmail="ops@example.com", **TWILIO, **context)

    assert [problem for problem in refused.value.problems if says in problem], refused.value.problems


def test_the_same_impossible_ownership_is_refused_on_dev_stages() -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        bare_config(sesIdentityOwner=True, sesIdentity="example.com")
    with pytest.raises(ValueError, match="name the identity"):
        bare_config(sesIdentityOwner=False)


STAGING_STAGE = {**PROD_STAGE, "sesIdentityOwner": False, "sesIdentity": "partners.example.com"}


def test_staging_and_prod_on_one_domain_one_owning_the_identity() -> None:
    stages = {"prod": PROD_STAGE, "staging": STAGING_STAGE}

    assert staged(stages, stage="prod").owns_ses_identity is True
    assert staged(stages, stage="staging").ses_identity == "partners.example.com"
    # In another account or region each stage owns its own.
    elsewhere = {"prod": PROD_STAGE, "staging": {**PROD_STAGE, "region": "eu-west-1", **edge("eu-west-1")}}
    assert staged(elsewhere, stage="staging").owns_ses_identity is True


def test_two_stages_owning_one_identity_in_one_account_and_region_are_refused() -> None:
    stages = {"prod": PROD_STAGE, "staging": {**PROD_STAGE, "emailFrom": "alerts@partners.example.com"}}

    both_own = r"stages '(prod|staging)' and '(prod|staging)' both own the SES identity of partners\.example\.com"
    for stage in ("prod", "staging"):
        with pytest.raises(StageSettingsError, match=both_own):
            staged(stages, stage=stage)
    # Deploying another stage is not held up by them.
    demo = {**PROD_STAGE, "region": "us-east-1", **edge("us-east-1")}
    assert staged({**stages, "demo": demo}, stage="demo").owns_ses_identity


def test_a_protected_stage_may_not_send_under_the_identity_of_a_dev_stage() -> None:
    # Deleting the dev stage would delete the identity and its DKIM keys under the protected one.
    dev = {"emailFrom": "no-reply@partners.example.com", "account": "123456789012", "region": "eu-central-1"}
    stages = {"dev": dev, "staging": STAGING_STAGE}

    for stage in ("dev", "staging"):
        with pytest.raises(StageSettingsError, match="which the disposable stage 'dev' owns"):
            staged(stages, stage=stage)


def test_deletion_protection_is_for_protected_stages_and_off_by_default() -> None:
    assert config(**PROTECTED).deletion_protection is False
    assert config(**PROTECTED, deletionProtection="true").deletion_protection is True
    assert config().deletion_protection is False
    with pytest.raises(ValueError, match="deletionProtection: a dev stage is disposable"):
        config(deletionProtection=True)


def test_protected_stages_keep_what_holds_data_unless_its_creation_is_rolled_back() -> None:
    assert config(**PROTECTED).removal_policy == cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
    assert config().removal_policy == cdk.RemovalPolicy.DESTROY


def test_the_verified_flag_takes_json_booleans_and_their_strings() -> None:
    assert config(sesIdentityVerified=True).sender_verified is True
    assert config(sesIdentityVerified="true").sender_verified is True
    assert config(sesIdentityVerified="false").sender_verified is False
    with pytest.raises(ValueError, match="sesIdentityVerified"):
        config(sesIdentityVerified="yes")


def test_money_movers_need_mfa_on_protected_stages_unless_told_otherwise() -> None:
    protected = {"stage": "prod", "portalUrl": "https://partners.example.com"}
    variable = env_name("money_mfa_required")

    assert config().money_mfa_required is False
    assert config(**protected).money_mfa_required is True
    assert config(**protected).function_environment[variable] == "true"
    assert config(**protected, moneyMfaRequired="false").function_environment[variable] == "false"
    assert config(moneyMfaRequired=True).money_mfa_required is True
    with pytest.raises(ValueError, match="moneyMfaRequired"):
        config(moneyMfaRequired="sometimes")


def test_the_stack_deploys_to_the_stage_account_and_region(layer: Path) -> None:
    stack = add_stack(cdk.App(context={"stages": {"prod": PROD_STAGE}, "stage": "prod"}))
    dev = add_stack(cdk.App(context={"emailFrom": "no-reply@example.com"}))

    assert (stack.account, stack.region) == ("123456789012", "eu-central-1")
    assert cdk.Token.is_unresolved(dev.account) and cdk.Token.is_unresolved(dev.region)


def test_every_problem_of_a_stage_is_reported_at_once() -> None:
    with pytest.raises(StageSettingsError) as refused:
        DeploymentConfig.from_context(
            cdk.App(context={"stage": "prod", "alarmEmail": "ops-at-example.com", "account": "12"})
        )

    problems = refused.value.problems
    assert len(problems) >= 4
    for setting in ("emailFrom", "alarmEmail", "account", "twilioAccountSid", "portalUrl"):  # each named
        assert any(setting in problem for problem in problems), setting
    assert str(refused.value).count("\n  - ") == len(problems)


def test_the_cdk_app_reports_the_problems_as_one_message_without_a_traceback() -> None:
    run = subprocess.run(
        [sys.executable, "app.py"],
        cwd=constants.REPO_ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps({"stage": "prod"}), "CDK_OUTDIR": tempfile.mkdtemp()},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "The settings of stage 'prod' are not usable" in run.stderr and "alarmEmail" in run.stderr

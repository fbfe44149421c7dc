"""Cognito: invitation-only pool, its operators' group, a public portal client, the lead-intake scope and a token
endpoint."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from common.orgs.access import OPERATORS_GROUP

from infra import constants, manifest
from infra.auth import Auth
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def test_user_pool_is_invitation_only_with_email_sign_in_and_strong_passwords(dev: Synth) -> None:
    (_, pool) = dev.only("AWS::Cognito::UserPool")
    properties = pool["Properties"]
    password = properties["Policies"]["PasswordPolicy"]

    assert properties["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert properties["UsernameAttributes"] == ["email"]
    assert password["MinimumLength"] >= 12
    assert all(password[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))


def test_pool_is_kept_outside_dev_except_when_its_creation_is_rolled_back(dev: Synth, prod: Synth) -> None:
    (_, dev_pool) = dev.only("AWS::Cognito::UserPool")
    (_, prod_pool) = prod.only("AWS::Cognito::UserPool")

    assert dev_pool["DeletionPolicy"] == "Delete"
    assert (prod_pool["DeletionPolicy"], prod_pool["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    # Deletion protection would refuse the delete of a rolled-back first deployment too: a setting, off by default.
    for pool in (dev_pool, prod_pool):
        assert pool["Properties"]["DeletionProtection"] == "INACTIVE"


def test_deletion_protection_when_the_stage_asks_for_it() -> None:
    stack = cdk.Stack(cdk.App())
    Auth(
        stack,
        "Auth",
        pool_name="partner-programme-prod",
        domain_prefix=None,
        callback_urls=[],
        removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        deletion_protection=True,
        email=None,
    )

    assertions.Template.from_stack(stack).has_resource_properties(
        "AWS::Cognito::UserPool", {"DeletionProtection": "ACTIVE"}
    )


def test_portal_client_has_no_secret(dev: Synth, prod: Synth) -> None:
    (_, dev_client) = dev.only("AWS::Cognito::UserPoolClient")
    (_, prod_client) = prod.only("AWS::Cognito::UserPoolClient")

    assert dev_client["Properties"]["GenerateSecret"] is False
    assert set(dev_client["Properties"]["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",  # needs AWS credentials: for administrators' shells only
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    assert dev_client["Properties"]["AllowedOAuthFlowsUserPoolClient"] is False  # no callback URLs given
    assert prod_client["Properties"]["AllowedOAuthFlows"] == ["code"]
    assert prod_client["Properties"]["CallbackURLs"] == ["https://partners.example.com/callback"]


def test_mfa_is_optional_with_authenticator_apps_and_never_sms(dev: Synth, prod: Synth) -> None:
    # Partners are not forced; staff who move money are refused those routes without it (moneyMfaRequired).
    # E-mailed codes need Cognito to send through SES (test_sender); until then authenticator apps only.
    for synth in (dev, prod):
        (_, pool) = synth.only("AWS::Cognito::UserPool")
        assert pool["Properties"]["MfaConfiguration"] == "OPTIONAL"
        assert pool["Properties"]["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_portal_tokens_are_short_lived_and_refreshable(dev: Synth) -> None:
    (_, client) = dev.only("AWS::Cognito::UserPoolClient")
    properties = client["Properties"]

    minutes = {"minutes": 1, "hours": 60, "days": 24 * 60}
    validity = {
        token: properties[f"{token}Validity"] * minutes[unit]
        for token, unit in properties["TokenValidityUnits"].items()
    }

    assert validity["AccessToken"] == validity["IdToken"] == constants.PORTAL_TOKEN_MINUTES <= 15
    assert validity["RefreshToken"] == constants.PORTAL_REFRESH_TOKEN_DAYS * 24 * 60
    assert properties["EnableTokenRevocation"] is True  # a global sign-out revokes the refresh tokens


def test_the_operators_group_is_in_the_pool(dev: Synth) -> None:
    (pool_id, _) = dev.only("AWS::Cognito::UserPool")
    (_, group) = dev.only("AWS::Cognito::UserPoolGroup")

    assert group["Properties"]["GroupName"] == OPERATORS_GROUP
    assert group["Properties"]["UserPoolId"] == {"Ref": pool_id}


def test_lead_intake_scope_and_token_endpoint(dev: Synth) -> None:
    (_, server) = dev.only("AWS::Cognito::UserPoolResourceServer")
    (domain_id, _) = dev.only("AWS::Cognito::UserPoolDomain")

    assert server["Properties"]["Identifier"] == manifest.LEAD_INTAKE_RESOURCE_SERVER
    assert [s["ScopeName"] for s in server["Properties"]["Scopes"]] == [manifest.LEAD_INTAKE_SCOPE_NAME]
    token_endpoint = dev.template["Outputs"]["TokenEndpoint"]["Value"]["Fn::Join"][1]
    assert {"Ref": domain_id} in token_endpoint
    assert token_endpoint[-1].endswith(".amazoncognito.com/oauth2/token")


# What the portal's configuration is made of, and the operators' handles; the queues' and the alarms'
# outputs are checked with their constructs.
PORTAL_OUTPUTS = {"ApiUrl", "Region", "UserPoolId", "PortalClientId", "CognitoDomain", "TokenEndpoint"}
OPERATOR_OUTPUTS = {
    "TableName",
    "FilesBucketName",
    "StatusSweepScheduleName",
    "StatusSweepFailureQueueUrl",
    "SmsWebhookUrl",
    "TwilioAuthTokenParameter",
}


def test_outputs(dev: Synth) -> None:
    outputs = dev.template["Outputs"]
    (domain_id, _) = dev.only("AWS::Cognito::UserPoolDomain")

    assert outputs.keys() >= PORTAL_OUTPUTS | OPERATOR_OUTPUTS
    assert outputs["Region"]["Value"] == {"Ref": "AWS::Region"}
    hosted_ui = outputs["CognitoDomain"]["Value"]["Fn::Join"][1]
    assert hosted_ui[:2] == ["https://", {"Ref": domain_id}]
    assert hosted_ui[-1] == ".amazoncognito.com"


def test_stack_is_named_after_the_stage(dev: Synth, prod: Synth) -> None:
    assert dev.stack.stack_name == "PartnerProgramme-dev"
    assert prod.stack.stack_name == "PartnerProgramme-prod"


def test_hosted_sign_in_tokens_may_set_up_mfa(prod: Synth) -> None:
    """Staff who move money must set up MFA on protected stages; Cognito's self-service MFA calls take the
    user's access token only if it carries aws.cognito.signin.user.admin."""
    (portal,) = [
        c["Properties"]
        for c in prod.resources("AWS::Cognito::UserPoolClient").values()
        if c["Properties"].get("AllowedOAuthFlows") == ["code"]
    ]

    assert "aws.cognito.signin.user.admin" in portal["AllowedOAuthScopes"]
    assert {"openid", "email", "profile"} <= set(portal["AllowedOAuthScopes"])

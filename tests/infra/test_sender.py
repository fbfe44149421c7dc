"""SES: the sender identity (created with Easy DKIM and kept by the stage that owns it, or named by the others:
another stage's or one verified by hand), the configuration set every message goes out with, Cognito sending
through SES once it may, and the sender domains invitations may go out from (only the invitations' function
may send from them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from common.platform.settings import env_name

from infra import constants, manifest
from tests.infra.conftest import PROD_CONTEXT, Synth, synthesize
from tests.infra.test_config import config
from tests.infra.test_iam import as_list, send_email_resources, ses_arn, system_sender_arns

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def existing_address(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """A dev stage sending under an address the account verified already."""
    return synthesize(tmp_path_factory.mktemp("cdk-ses-address"), {"sesIdentity": "no-reply@example.com"})


@pytest.fixture(scope="module")
def verified_domain(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """A protected stage whose own domain identity SES has verified."""
    return synthesize(tmp_path_factory.mktemp("cdk-ses-verified"), {**PROD_CONTEXT, "sesIdentityVerified": "true"})


@pytest.fixture(scope="module")
def staging(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """A protected stage on prod's domain, in its account and region: it sends under the identity prod owns."""
    context = {key: value for key, value in PROD_CONTEXT.items() if key != "sesIdentityOwner"}
    context |= {"stage": "staging", "sesIdentity": "partners.example.com"}
    return synthesize(tmp_path_factory.mktemp("cdk-ses-staging"), context)


@pytest.fixture(scope="module")
def sender_domains(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """A dev stage whose partners' invitations may also go out from two domains, one of them the system's."""
    context = {"senderDomains": "Partners-Own.example, example.com,inviters.example"}
    return synthesize(tmp_path_factory.mktemp("cdk-ses-sender-domains"), context)


def domain_identity_arn(domain: str) -> dict[str, Any]:
    region_and_account = ["arn:", {"Ref": "AWS::Partition"}, ":ses:", {"Ref": "AWS::Region"}, ":"]
    return {"Fn::Join": ["", [*region_and_account, {"Ref": "AWS::AccountId"}, f":identity/{domain}"]]}


def literal_tail(value: dict[str, Any]) -> str:
    return str(value["Fn::Join"][1][-1])


def test_a_domain_identity_with_easy_dkim_for_the_sender_domain(dev: Synth, prod: Synth) -> None:
    for synth, domain in ((dev, "example.com"), (prod, "partners.example.com")):
        (identity_id, identity) = synth.only("AWS::SES::EmailIdentity")
        outputs = synth.template["Outputs"]

        assert identity["Properties"]["EmailIdentity"] == domain
        assert identity["Properties"]["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}
        for number in (1, 2, 3):
            # The CNAME records the administrator publishes in the domain's DNS.
            assert outputs[f"DkimRecord{number}Name"]["Value"] == {
                "Fn::GetAtt": [identity_id, f"DkimDNSTokenName{number}"]
            }
            assert outputs[f"DkimRecord{number}Value"]["Value"] == {
                "Fn::GetAtt": [identity_id, f"DkimDNSTokenValue{number}"]
            }


def test_the_owning_stage_keeps_its_identity_unless_its_creation_is_rolled_back(dev: Synth, prod: Synth) -> None:
    # Other stages of the account and region may send under it: deleting the owner's stack must not delete it
    # and its DKIM keys under them. A failed first deployment still deletes it, so the retry can create it.
    (_, kept) = prod.only("AWS::SES::EmailIdentity")
    (_, disposable) = dev.only("AWS::SES::EmailIdentity")

    assert (kept["DeletionPolicy"], kept["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    assert disposable["DeletionPolicy"] == "Delete"


def test_a_stage_that_does_not_own_the_identity_names_it_and_has_its_own_configuration_set(staging: Synth) -> None:
    (set_id, configuration_set) = staging.only("AWS::SES::ConfigurationSet")
    (_, pool) = staging.only("AWS::Cognito::UserPool")
    email = pool["Properties"]["EmailConfiguration"]
    # Only the permissions: sending under the owner's identity, with this stage's configuration set.
    sender = [domain_identity_arn("partners.example.com"), ses_arn("configuration-set", {"Ref": set_id})]

    assert not staging.resources("AWS::SES::EmailIdentity")
    assert not any(key.startswith("Dkim") for key in staging.template["Outputs"])
    assert configuration_set["Properties"]["Name"] == f"{constants.RESOURCE_PREFIX}-staging"
    assert send_email_resources(staging, manifest.PAYOUTS_EVENTS.name) == sorted(map(str, sender))
    # The identity is verified by its owner: Cognito sends through SES, with this stage's set, from the start.
    assert (email["EmailSendingAccount"], email["ConfigurationSet"]) == ("DEVELOPER", {"Ref": set_id})
    assert literal_tail(email["SourceArn"]) == ":identity/partners.example.com"
    assert staging.error is None


def test_configuration_set_records_reputation_bounces_and_complaints(prod: Synth) -> None:
    (set_id, configuration_set) = prod.only("AWS::SES::ConfigurationSet")
    (_, destination) = prod.only("AWS::SES::ConfigurationSetEventDestination")
    properties = destination["Properties"]

    assert configuration_set["Properties"]["Name"] == f"{constants.RESOURCE_PREFIX}-prod"
    assert configuration_set["Properties"]["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    assert properties["ConfigurationSetName"] == {"Ref": set_id}
    assert properties["EventDestination"]["Enabled"] is True
    assert sorted(properties["EventDestination"]["MatchingEventTypes"]) == ["bounce", "complaint"]
    (dimension,) = properties["EventDestination"]["CloudWatchDestination"]["DimensionConfigurations"]
    assert dimension["DimensionName"] == "ses:caller-identity"
    assert dimension["DimensionValueSource"] == "messageTag"


def test_every_function_sends_with_the_configuration_set(dev: Synth) -> None:
    (set_id, _) = dev.only("AWS::SES::ConfigurationSet")

    for function in manifest.FUNCTIONS:
        variables = dev.function(function.name)[1]["Properties"]["Environment"]["Variables"]
        assert variables[env_name("ses_configuration_set")] == {"Ref": set_id}


def test_cognito_keeps_its_own_sender_until_the_identity_is_verified(dev: Synth, prod: Synth) -> None:
    # Cognito refuses an unverified identity: the first deployment (before DKIM is published) must work.
    for synth in (dev, prod):
        (_, pool) = synth.only("AWS::Cognito::UserPool")
        assert pool["Properties"].get("EmailConfiguration", {}).get("EmailSendingAccount") != "DEVELOPER"


def test_cognito_sends_through_the_verified_domain_with_the_configuration_set(verified_domain: Synth) -> None:
    (set_id, _) = verified_domain.only("AWS::SES::ConfigurationSet")
    (_, pool) = verified_domain.only("AWS::Cognito::UserPool")
    email = pool["Properties"]["EmailConfiguration"]

    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["From"] == PROD_CONTEXT["emailFrom"]
    assert email["ConfigurationSet"] == {"Ref": set_id}
    assert literal_tail(email["SourceArn"]) == ":identity/partners.example.com"
    assert verified_domain.only("AWS::SES::EmailIdentity")  # still the stack's own
    # Cognito sends through SES: e-mailed codes are offered as a second factor beside authenticator apps.
    assert set(pool["Properties"]["EnabledMfas"]) == {"SOFTWARE_TOKEN_MFA", "EMAIL_OTP"}


def test_an_existing_identity_is_referenced_not_created(existing_address: Synth) -> None:
    (_, pool) = existing_address.only("AWS::Cognito::UserPool")
    (send_email,) = [
        statement
        for statement in existing_address.policy_statements(manifest.LEADS_EVENTS.name)
        if statement["Action"] == "ses:SendEmail"
    ]
    tails = sorted(literal_tail(resource) for resource in send_email["Resource"] if "identity/" in str(resource))

    assert not existing_address.resources("AWS::SES::EmailIdentity")
    assert not any(key.startswith("Dkim") for key in existing_address.template["Outputs"])
    assert tails == [":identity/no-reply@example.com"]
    assert literal_tail(pool["Properties"]["EmailConfiguration"]["SourceArn"]) == ":identity/no-reply@example.com"
    assert existing_address.error is None


def test_sender_domains_are_domain_names_each_once_lower_cased() -> None:
    assert config().sender_domains == ()
    assert config(senderDomains=["B.example", "a.example", "b.example"]).sender_domains == ("b.example", "a.example")
    assert config(senderDomains="a.example, c.example").sender_domains == ("a.example", "c.example")
    for bad in ("no-dot", "a@b.example", "*.example", "a..example"):
        with pytest.raises(ValueError, match="senderDomains"):
            config(senderDomains=bad)


def test_only_the_invitations_function_sends_from_the_sender_domains_named_one_by_one(
    sender_domains: Synth,
) -> None:
    # example.com is the system's own domain identity: granted once, as that identity.
    domains = [domain_identity_arn("partners-own.example"), domain_identity_arn("inviters.example")]
    system = system_sender_arns(sender_domains)

    expected = sorted(map(str, [*system, *domains]))
    assert send_email_resources(sender_domains, manifest.PARTNERS_EVENTS.name) == expected
    for function in manifest.FUNCTIONS:
        statements = sender_domains.policy_statements(function.name)
        sends = [s for s in statements if "ses:SendEmail" in as_list(s["Action"])]
        for statement in sends:
            assert "*" not in str(statement["Resource"]), statement
        if sends and function.name != manifest.PARTNERS_EVENTS.name:
            assert send_email_resources(sender_domains, function.name) == sorted(map(str, system))
        variables = sender_domains.function(function.name)[1]["Properties"]["Environment"]["Variables"]
        assert variables[env_name("sender_domains")] == "partners-own.example,example.com,inviters.example"
    assert sender_domains.error is None  # no wildcard left to acknowledge

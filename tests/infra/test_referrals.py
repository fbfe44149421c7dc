"""The referrals side: Twilio's settings in every function, the URLs Twilio signs (built from the API's id,
or a custom domain's), the webhook routes on their own small function, and the texts' stream consumer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from common.platform.settings import TWILIO_API_URL

from infra import constants, manifest
from tests.infra.conftest import PROD_CONTEXT, Synth, synthesize

pytestmark = pytest.mark.infra

FUNCTION_NAMES = [function.name for function in manifest.FUNCTIONS]


def api_url(synth: Synth, path: str) -> dict[str, Any]:
    (api_id, _) = synth.only("AWS::ApiGatewayV2::Api")
    return {"Fn::Join": ["", [{"Fn::GetAtt": [api_id, "ApiEndpoint"]}, path]]}


@pytest.fixture(scope="module")
def custom_domain(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    context = {**PROD_CONTEXT, "publicApiUrl": "https://api.partners.example.com/", "twilioAuthTokenParameter": "tok"}
    return synthesize(tmp_path_factory.mktemp("cdk-custom-domain"), context)


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_function_gets_the_twilio_settings(dev: Synth, prod: Synth, name: str) -> None:
    dev_variables = dev.function(name)[1]["Properties"]["Environment"]["Variables"]
    prod_variables = prod.function(name)[1]["Properties"]["Environment"]["Variables"]

    assert dev_variables["TWILIO_AUTH_TOKEN_PARAMETER"] == "/partner-programme/dev/twilio-auth-token"
    assert dev_variables["TWILIO_API_URL"] == TWILIO_API_URL == "https://api.twilio.com"
    assert (dev_variables["TWILIO_ACCOUNT_SID"], dev_variables["TWILIO_FROM_NUMBER"]) == ("", "")
    assert prod_variables["TWILIO_ACCOUNT_SID"] == PROD_CONTEXT["twilioAccountSid"]
    assert prod_variables["TWILIO_FROM_NUMBER"] == PROD_CONTEXT["twilioFromNumber"]
    assert prod_variables["TWILIO_AUTH_TOKEN_PARAMETER"] == "/partner-programme/prod/twilio-auth-token"


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_signed_urls_are_the_api_endpoint_and_the_webhook_paths(dev: Synth, name: str) -> None:
    # The API's id, not its stage or routes: the routes' integrations depend on the functions, so naming
    # them here would be a circular dependency (CloudFormation would refuse the template).
    variables = dev.function(name)[1]["Properties"]["Environment"]["Variables"]

    assert variables["SMS_WEBHOOK_URL"] == api_url(dev, "/twilio/sms")
    assert variables["SMS_STATUS_URL"] == api_url(dev, "/twilio/status")
    assert dev.template["Outputs"]["SmsWebhookUrl"]["Value"] == api_url(dev, "/twilio/sms")


def test_a_custom_domain_is_what_twilio_signs(custom_domain: Synth) -> None:
    for name in (manifest.SMS_WEBHOOK.name, manifest.REFERRALS_EVENTS.name):
        variables = custom_domain.function(name)[1]["Properties"]["Environment"]["Variables"]

        assert variables["SMS_WEBHOOK_URL"] == "https://api.partners.example.com/twilio/sms"
        assert variables["SMS_STATUS_URL"] == "https://api.partners.example.com/twilio/status"
        assert variables["TWILIO_AUTH_TOKEN_PARAMETER"] == "tok"
    assert custom_domain.template["Outputs"]["SmsWebhookUrl"]["Value"] == "https://api.partners.example.com/twilio/sms"
    (grant,) = [
        s for s in custom_domain.policy_statements(manifest.SMS_WEBHOOK.name) if s["Action"] == "ssm:GetParameter"
    ]
    assert grant["Resource"]["Fn::Join"][1][-1] == ":parameter/tok"
    assert custom_domain.error is None


def test_twilio_routes_go_to_the_webhook_function_without_an_authorizer(dev: Synth) -> None:
    (function_id, function) = dev.function(manifest.SMS_WEBHOOK.name)
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in dev.everywhere("AWS::ApiGatewayV2::Route").values()}

    for path in (constants.SMS_WEBHOOK_PATH, constants.SMS_STATUS_PATH):
        assert dev.route_function(f"POST {path}") == function_id
        assert routes[f"POST {path}"].get("AuthorizationType", "NONE") == "NONE"
    assert not [key for key in routes if key.startswith("GET /twilio")]
    # Small and quick: a reply is answered while Twilio waits (15 s at most).
    assert function["Properties"]["MemorySize"] == 256
    assert function["Properties"]["Timeout"] <= 10


def test_referrals_events_gets_new_referral_requests_and_expired_area_requests_only(dev: Synth) -> None:
    mapping = dev.mapping_of(manifest.REFERRALS_EVENTS.name)
    queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]

    # Its queue: what the dispatcher routes to it (the filter is applied there, not on this mapping): a new
    # request's texts, and an area's request that expired unaccepted (offered on to its route's next team).
    assert manifest.REFERRALS_EVENTS.change_filters == (
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["referral_request"]}}}},
        {
            "eventName": ["MODIFY"],
            "dynamodb": {
                "NewImage": {
                    "entity": {"S": ["referral_request"]},
                    "status": {"S": ["expired"]},
                    "area": {"S": [{"exists": True}]},
                }
            },
        },
    )
    assert dev.template["Outputs"]["ReferralsEventsQueueUrl"]["Value"] == {"Ref": queue_id}
    assert "ReferralsEventsDeadLetterQueueUrl" in dev.template["Outputs"]


def test_the_auth_token_parameter_name_is_an_output(prod: Synth) -> None:
    assert prod.template["Outputs"]["TwilioAuthTokenParameter"]["Value"] == "/partner-programme/prod/twilio-auth-token"

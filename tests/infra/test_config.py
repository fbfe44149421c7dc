"""Context values become the deployment's configuration, or a clear error before anything is built."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from infra import constants
from infra.config import DeploymentConfig

pytestmark = pytest.mark.infra


TWILIO = {"twilioAccountSid": "AC" + "0123456789abcdef" * 2, "twilioFromNumber": "+15005550006"}


def config(**context: Any) -> DeploymentConfig:
    """The configuration of these context values, with a sender address and Twilio's account and number."""
    return DeploymentConfig.from_context(cdk.App(context={"emailFrom": "no-reply@example.com", **TWILIO, **context}))


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

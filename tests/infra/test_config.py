"""Context values become the deployment's configuration, or a clear error before anything is built."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from infra.stack import DeploymentConfig

pytestmark = pytest.mark.infra


def config(**context: Any) -> DeploymentConfig:
    return DeploymentConfig.from_context(cdk.App(context={"emailFrom": "no-reply@example.com", **context}))


def test_defaults_to_the_dev_stage() -> None:
    dev = config()

    assert dev.stage == "dev"
    assert dev.protected is False
    assert dev.portal_callback_urls == ()


def test_stages_other_than_dev_are_protected() -> None:
    assert config(stage="prod").protected is True
    assert config(stage="dev-alice").protected is False


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
    ],
)
def test_rejects_bad_context(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        config(**context)

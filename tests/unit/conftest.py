from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from common.platform import clock
from common.platform.table_schema import create_table_request
from moto import mock_aws

from tests.support import core_modules

TABLE = "partner-programme-unit"
SENDER = "no-reply@partners.example"
FILES_BUCKET = "partner-programme-unit-files"
PORTAL_URL = "https://portal.partners.example"
COMPANY_SECRET_PREFIX = "/partner-programme/test/company-secrets"
# Named so the functions that hand deliveries on start; no queue is behind it (the delivery tests make one, or
# fake the sending: tests/unit/integrations/delivery_fakes.py).
WEBHOOK_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/partner-programme-unit-webhooks"


def _clear_client_caches() -> None:
    """Every cached client or setting of the common layer, so each test gets fresh ones inside its mock."""
    for module in core_modules():
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


class FrozenClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


# Creating a moto user pool is the slowest part of a test's setup: only tests marked `cognito` get one;
# the others see a pool id that no call reaches.
PLACEHOLDER_POOL_ID = "us-east-1_unitpool"


@pytest.fixture(autouse=True)
def aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "STAGE": "test",
        "TABLE_NAME": TABLE,
        "POWERTOOLS_SERVICE_NAME": "partner-programme",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "PartnerProgramme",
        "EMAIL_FROM": SENDER,
        "LEAD_INTAKE_SCOPE": "leads/write",
        "FILES_BUCKET": FILES_BUCKET,
        "PORTAL_URL": PORTAL_URL,
        "WEBHOOK_QUEUE_URL": WEBHOOK_QUEUE_URL,
        "MONEY_MFA_REQUIRED": "false",
        "COMPANY_SECRET_PREFIX": COMPANY_SECRET_PREFIX,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        pool_id = PLACEHOLDER_POOL_ID
        if request.node.get_closest_marker("cognito"):
            cognito = boto3.client("cognito-idp")
            pool_id = cognito.create_user_pool(
                PoolName="unit", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"]
            )["UserPool"]["Id"]
            cognito.create_resource_server(
                UserPoolId=pool_id,
                Identifier="leads",
                Name="leads",
                Scopes=[{"ScopeName": "write", "ScopeDescription": "w"}],
            )
        monkeypatch.setenv("USER_POOL_ID", pool_id)
        _clear_client_caches()
        boto3.client("dynamodb").create_table(**create_table_request(TABLE))
        boto3.client("s3").create_bucket(Bucket=FILES_BUCKET)
        boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
        yield {"pool_id": pool_id}
        _clear_client_caches()


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock()
    clock.set_clock(frozen)
    yield frozen
    clock.reset_clock()

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from common import clock, credentials, db, email
from common.settings import get_settings
from common.table_schema import create_table_request
from moto import mock_aws

TABLE = "partner-programme-unit"
SENDER = "no-reply@partners.example"


class FrozenClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
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
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        cognito = boto3.client("cognito-idp")
        pool_id = cognito.create_user_pool(PoolName="unit")["UserPool"]["Id"]
        cognito.create_resource_server(
            UserPoolId=pool_id,
            Identifier="leads",
            Name="leads",
            Scopes=[{"ScopeName": "write", "ScopeDescription": "w"}],
        )
        monkeypatch.setenv("USER_POOL_ID", pool_id)
        for cached in (get_settings, db.default_client, email._ses, credentials._cognito):
            cached.cache_clear()
        boto3.client("dynamodb").create_table(**create_table_request(TABLE))
        boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
        yield {"pool_id": pool_id}
        for cached in (get_settings, db.default_client, email._ses, credentials._cognito):
            cached.cache_clear()


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock()
    clock.set_clock(frozen)
    yield frozen
    clock.reset_clock()

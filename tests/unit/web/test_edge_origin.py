"""The origin check of edge protection (common.web.edge_origin): behind CloudFront, a request without the origin
secret is refused (403 problem+json) by every API function before anything else runs, and by the token
authorizer; the secret's current and previous versions are accepted (rotation), read again at most every
REREAD_EVERY; without the setting (dev stages, the local stack) nothing is checked."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from common.platform.errors import PROBLEM_CONTENT_TYPE
from common.platform.settings import get_settings
from common.web import edge_origin
from common.web.edge_origin import ORIGIN_HEADER, REREAD_EVERY, came_through_edge, refusal

from tests.support import FakeContext, body_of, http_event, invoke
from tests.unit.conftest import FrozenClock

FIRST = "first-origin-secret-0123456789abcdefghijklmnopqrstuvwxyz0123456789ab"
SECOND = "second-origin-secret-0123456789abcdefghijklmnopqrstuvwxyz012345678"
THIRD = "third-origin-secret-0123456789abcdefghijklmnopqrstuvwxyz0123456789a"


class CountingSecrets:
    """Secrets Manager (moto), counting the reads."""

    def __init__(self) -> None:
        self.client = boto3.client("secretsmanager")
        self.exceptions = self.client.exceptions
        self.reads = 0

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        self.reads += 1
        return self.client.get_secret_value(**kwargs)  # type: ignore[no-any-return]


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    arn = boto3.client("secretsmanager").create_secret(Name="origin", SecretString=FIRST)["ARN"]
    monkeypatch.setenv("ORIGIN_SECRET_ARN", arn)
    get_settings.cache_clear()
    edge_origin._accepted.cache_clear()
    yield arn
    edge_origin._accepted.cache_clear()


def request(value: str | None = None, *, path: str = "/orgs", name: str = ORIGIN_HEADER) -> dict[str, Any]:
    return http_event("GET", path, user="user-1", headers={name: value} if value is not None else {})


def rotate(arn: str, value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)


def test_nothing_is_checked_without_the_setting() -> None:
    assert came_through_edge(request()) is True
    assert refusal(request()) is None


def test_a_request_without_the_secret_or_with_another_value_is_refused_with_a_problem(secret: str) -> None:
    for refused in (request(), request(""), request("guess"), request(FIRST[:-1]), request(FIRST + "x")):
        answer = refusal(refused)

        assert answer is not None
        assert answer["statusCode"] == 403
        assert answer["headers"]["Content-Type"] == PROBLEM_CONTENT_TYPE
        assert body_of(answer)["type"] == "/problems/forbidden"
        assert body_of(answer)["instance"] == "/orgs"


def test_the_secret_lets_the_request_through_whatever_the_header_name_case(secret: str) -> None:
    assert refusal(request(FIRST)) is None
    assert refusal(request(FIRST, name="X-Origin-Verify")) is None


def test_after_a_rotation_the_new_and_the_previous_value_are_accepted_then_only_those(
    secret: str, frozen_clock: FrozenClock
) -> None:
    assert came_through_edge(request(FIRST))
    rotate(secret, SECOND)

    # CloudFront still sends the old value for a while: accepted from the cache, then from AWSPREVIOUS.
    assert came_through_edge(request(FIRST))
    frozen_clock.advance(seconds=REREAD_EVERY.total_seconds())
    assert came_through_edge(request(SECOND))  # read again: the value is new
    edge_origin._accepted.cache_clear()  # a new container, after the rotation
    assert came_through_edge(request(FIRST)) and came_through_edge(request(SECOND))

    rotate(secret, THIRD)
    frozen_clock.advance(seconds=REREAD_EVERY.total_seconds())
    assert came_through_edge(request(THIRD))
    assert not came_through_edge(request(FIRST))  # two rotations ago


def test_values_that_miss_make_it_read_the_secret_again_at_most_every_minute(
    secret: str, frozen_clock: FrozenClock
) -> None:
    secrets = CountingSecrets()
    assert came_through_edge(request(FIRST), client=secrets)
    reads = secrets.reads

    for guess in ("a", "b", "c"):
        assert not came_through_edge(request(guess), client=secrets)
    assert came_through_edge(request(FIRST), client=secrets)
    assert secrets.reads == reads  # within the minute: the cache only

    rotate(secret, SECOND)
    assert not came_through_edge(request(SECOND), client=secrets)  # not read again yet
    frozen_clock.advance(seconds=REREAD_EVERY.total_seconds())
    assert came_through_edge(request(SECOND), client=secrets)
    assert secrets.reads > reads


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record with its extra fields, as the JSON log lines would carry them."""
    return json.dumps([vars(record) for record in caplog.records], default=str)


def test_an_unreadable_secret_is_a_500_problem_that_names_no_value(
    secret: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ORIGIN_SECRET_ARN", secret.replace("origin", "missing"))
    get_settings.cache_clear()

    answer = refusal(request(FIRST))

    assert answer is not None and answer["statusCode"] == 500
    assert body_of(answer)["type"] == "/problems/internal"
    assert "origin secret unreadable" in logged(caplog) and FIRST not in logged(caplog)


def test_the_secret_stays_out_of_logs_and_answers(secret: str, caplog: pytest.LogCaptureFixture) -> None:
    answers = [refusal(request(value)) for value in (None, "guess", FIRST)]

    assert "not through the edge" in logged(caplog)
    assert FIRST not in logged(caplog) and FIRST not in json.dumps(answers)


# -- through the functions -----------------------------------------------------------------------


def test_an_api_function_refuses_before_it_routes(secret: str) -> None:
    for path in ("/orgs", "/no/such/route"):
        answer = invoke("leads.api.lambda_handler", request(path=path))

        assert answer["statusCode"] == 403, path  # not 404: a direct request learns nothing of the routes
        assert body_of(answer)["type"] == "/problems/forbidden"
    served = invoke("leads.api.lambda_handler", request(FIRST, path="/no/such/route"))
    assert served["statusCode"] == 404


def test_an_unauthenticated_route_refuses_too(secret: str) -> None:
    # /public has no authorizer: the function's own check is what refuses.
    event = http_event("POST", "/public/registrations", body={"email": "someone@example.com"})

    answer = invoke("partners.api.lambda_handler", event)

    assert answer["statusCode"] == 403
    assert body_of(answer)["type"] == "/problems/forbidden"


def test_twilio_webhook_refuses_before_it_reads_the_body(secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SMS_WEBHOOK_URL": "https://x.example/twilio/sms",
        "SMS_STATUS_URL": "https://x.example/s",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_PARAMETER", "/unit/twilio")
    get_settings.cache_clear()
    event = http_event("POST", "/twilio/sms", body="not a form", headers={"content-type": "text/plain"})

    answer = invoke("referrals.webhook.lambda_handler", event)

    assert answer["statusCode"] == 403
    assert body_of(answer)["type"] == "/problems/forbidden"


def test_the_authorizer_refuses_without_the_secret_before_it_reads_the_token(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "TOKEN_ISSUER": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_unit",
        "JWKS_URL": "http://127.0.0.1:9/unreachable",  # never fetched: refused before the token is read
        "PORTAL_CLIENT_IDS": "portal",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    authorizer = importlib.reload(importlib.import_module("authorizer.handler"))
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:1:api/$default/GET/orgs",
        "headers": {"authorization": "Bearer not-even-a-token"},
    }

    answer = authorizer.lambda_handler(event, FakeContext(function_name="TokenAuthorizer"))

    assert answer == {"isAuthorized": False}

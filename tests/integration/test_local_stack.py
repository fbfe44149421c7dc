"""The local stack itself: API Gateway behaviour (routing, the token authorizer, events, responses), the token
endpoint, the table, the stream poller's retry semantics, the shared clock, the outbox and process hygiene.

Throwaway handlers defined here are registered on the running stack; the worker processes import them
from this module, as Lambda imports a handler.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from common.platform import stream_filters
from common.platform.table_schema import create_table_request
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from infra.manifest import (
    LEAD_INTAKE_SCOPE,
    LEADS_EVENTS,
    PREFLIGHT_METHOD,
    ROUTES,
    TOKEN_AUTHORIZER,
    Function,
    Route,
    gateway_routes,
)
from local.apigw_events import Api, authorizer_event
from local.dynamodb_local import DynamoDBLocal
from local.http_messages import HttpRequest
from local.invoker import DEFAULT_WORKERS
from local.routing import match_route
from local.stack import LocalStack
from local.stream_poller import EventSourceMapping
from local.worker import Invocation
from tests.integration.conftest import ApiSession, User

EVENTS = Path(__file__).parent.parent / "events"
TEST_ENTITY = "local-stack-test"
INTAKE_PATH = "/orgs/{org_id}/partner-companies/{company_id}/leads"


# -- throwaway handlers, run in the stack's workers ------------------------------------------------


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from common.platform import clock

    time.sleep(float((event.get("queryStringParameters") or {}).get("hold", 0)))
    body = {
        "event": event,
        "pid": os.getpid(),
        "now": clock.now().isoformat(),
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-echo": "yes"},
        "cookies": ["seen=1; Path=/", "theme=dark"],
        "body": json.dumps(body),
    }


def mail_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    recipient = json.loads(event["body"])["to"]
    boto3.client("sesv2").send_email(
        FromEmailAddress=os.environ["EMAIL_FROM"],
        Destination={"ToAddresses": [recipient]},
        Content={"Simple": {"Subject": {"Data": "Local hello"}, "Body": {"Text": {"Data": "Sent through SES"}}}},
    )
    return {"statusCode": 204}


def failing_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("this handler always fails")


def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(2)
    return {"statusCode": 200}


def counting_consumer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Counts each delivery in the table and reports a record as failed while its delivery count is
    within the record's `fail_times`."""
    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]

    def bump(pk: str, counter: str) -> int:
        updated = client.update_item(
            TableName=table,
            Key={"pk": {"S": pk}, "sk": {"S": "COUNT"}},
            UpdateExpression="ADD #c :one",
            ExpressionAttributeNames={"#c": counter},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(updated["Attributes"][counter]["N"])

    failures = []
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        if bump(image["pk"]["S"], "deliveries") <= int(image["fail_times"]["N"]):
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
        else:
            bump(image["pk"]["S"], "successes")
    return {"batchItemFailures": failures}


def _function(name: str, handler: str, kind: str = "api", **extra: Any) -> Function:
    return Function(name, "tests", f"{__name__}.{handler}", kind, **extra)  # type: ignore[arg-type]


ECHO = _function("TestEcho", "echo_handler")
MAILER = _function("TestMailer", "mail_handler")
FAILING = _function("TestFailing", "failing_handler")
SLOW = _function("TestSlow", "slow_handler", timeout_s=1)
TEST_ROUTES = {
    ECHO.name: [
        Route("ANY", "/_test/echo/{proxy+}", ECHO.name, "token"),
        Route("ANY", "/_test/open/{proxy+}", ECHO.name, "none"),
    ],
    MAILER.name: [Route("POST", "/_test/mail", MAILER.name, "none")],
    FAILING.name: [Route("GET", "/_test/fail", FAILING.name, "none")],
    SLOW.name: [Route("GET", "/_test/slow", SLOW.name, "none")],
}


@pytest.fixture(scope="module", autouse=True)
def test_functions(stack: LocalStack) -> Iterator[None]:
    functions = [ECHO, MAILER, FAILING, SLOW]
    for function in functions:
        stack.register_function(function, TEST_ROUTES[function.name])
    yield
    for function in functions:
        stack.unregister_function(function.name)


@pytest.fixture
def partner_client(stack: LocalStack) -> dict[str, Any]:
    return dict(
        stack.client("cognito-idp").create_user_pool_client(
            UserPoolId=stack.user_pool_id,
            ClientName=f"partner-{uuid.uuid4().hex[:8]}",
            GenerateSecret=True,
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=[LEAD_INTAKE_SCOPE],
            AllowedOAuthFlowsUserPoolClient=True,
        )["UserPoolClient"]
    )


def _echoed(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def _moto_signing_key() -> Any:
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # A zombie has exited; only its parent has not collected it yet.
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def _wait_until_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


# -- routing and authorizers -----------------------------------------------------------------------


def test_routes_match_like_api_gateway() -> None:
    routes = gateway_routes()
    intake = match_route(routes, "POST", "/orgs/o1/partner-companies/c1/leads")
    assert intake is not None and intake.route_key == "ANY /orgs/{proxy+}"
    assert intake.path_parameters == {"proxy": "o1/partner-companies/c1/leads"}
    assert intake.route.auth == "token"
    root = match_route(routes, "POST", "/orgs")
    assert root is not None and root.route_key == "ANY /orgs"
    # Without a token: the public routes (registration, invitations, confirmation), Twilio's, and the
    # preflight twins of the ANY routes.
    public = {(route.method, route.path) for route in routes if route.auth != "token"}
    assert public - {(PREFLIGHT_METHOD, route.path) for route in ROUTES if route.method == "ANY"} == {
        ("GET", "/public/{proxy+}"),
        ("POST", "/public/{proxy+}"),
        ("POST", "/twilio/sms"),
        ("POST", "/twilio/status"),
    }
    partners = match_route(routes, "GET", "/orgs/o1/partners/p1")
    assert partners is not None and partners.route_key == "ANY /orgs/{orgId}/partners/{proxy+}"
    assert partners.path_parameters == {"orgId": "o1", "proxy": "p1"}
    assert match_route(routes, "GET", "/organisations") is None
    # An OPTIONS request meets the twin, not the authorizer; a deal's commissions beat the deals prefix.
    preflight = match_route(routes, "OPTIONS", "/orgs/o1/deals/d1")
    assert preflight is not None and preflight.route_key == "OPTIONS /orgs/{orgId}/deals/{proxy+}"
    assert preflight.route.auth == "none"
    commissions = match_route(routes, "GET", "/orgs/o1/deals/d1/commissions")
    assert commissions is not None and commissions.route.function == "PayoutsApi"


def test_cors_preflight_is_answered_by_the_gateway(stack: LocalStack, http: ApiSession) -> None:
    origin = stack.cors.allowed_origins[0]
    before = stack.invocation_count("LeadsApi")
    preflight = http.options("/orgs", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    refused = http.get("/orgs", headers={"Origin": origin})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == origin
    foreign = http.get("/orgs", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in foreign.headers
    assert stack.invocation_count("LeadsApi") == before


def test_a_plain_options_request_reaches_the_function_without_a_token(stack: LocalStack, http: ApiSession) -> None:
    # The preflight twin of an ANY route has no authorizer; what is not a preflight is the function's to answer.
    origin = stack.cors.allowed_origins[0]
    before = stack.invocation_count("PartnersApi")
    preflight = http.options("/orgs/o1/deals/d1", headers={"Origin": origin, "Access-Control-Request-Method": "PUT"})
    assert preflight.status_code == 204 and stack.invocation_count("PartnersApi") == before
    plain = http.options("/orgs/o1/deals/d1")
    assert plain.status_code == 404 and plain.headers["content-type"] == "application/problem+json"
    assert stack.invocation_count("PartnersApi") == before + 1


def test_a_text_reply_is_posted_to_the_webhook_signed_as_twilio_would(stack: LocalStack, http: ApiSession) -> None:
    before = stack.invocation_count("SmsWebhook")
    reply = http.post("/_local/sms", json={"from": "+15550199", "text": "HELP"})
    assert reply.status_code == 200, reply.text  # the signature held: a forged one is 403
    assert reply.headers["content-type"].startswith("text/xml") and "<Response>" in reply.text
    assert stack.invocation_count("SmsWebhook") == before + 1
    assert http.post("/_local/sms", json={"text": "HELP"}).status_code == 400


def test_waiting_for_changes_answers_once_the_consumers_are_idle(http: ApiSession) -> None:
    assert http.post("/_local/wait").json() == {"settled": True}


def test_unknown_route_is_404(http: ApiSession) -> None:
    response = http.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_route_without_token_is_401_and_nothing_is_invoked(stack: LocalStack, http: ApiSession) -> None:
    before = stack.invocation_count("LeadsApi"), stack.invocation_count(TOKEN_AUTHORIZER.name)
    response = http.get("/orgs")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["apigw-requestid"]
    assert (stack.invocation_count("LeadsApi"), stack.invocation_count(TOKEN_AUTHORIZER.name)) == before


def _assert_refused_by_the_authorizer(stack: LocalStack, http: ApiSession, token: str) -> None:
    before = stack.invocation_count(ECHO.name), stack.invocation_count(TOKEN_AUTHORIZER.name)
    response = http.as_token(token).get("/_test/echo/x")
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert stack.invocation_count(ECHO.name) == before[0]
    assert stack.invocation_count(TOKEN_AUTHORIZER.name) == before[1] + 1


@pytest.mark.parametrize("kid", ["dummy", "unknown-key"])
def test_token_signed_by_a_foreign_key_is_403(stack: LocalStack, http: ApiSession, user: User, kid: str) -> None:
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(user.token), foreign_key, algorithm="RS256", headers={"kid": kid})
    _assert_refused_by_the_authorizer(stack, http, forged)


def test_a_malformed_token_is_403(stack: LocalStack, http: ApiSession) -> None:
    _assert_refused_by_the_authorizer(stack, http, "not-a-token")


@pytest.mark.parametrize(
    "change",
    [
        {"exp": int(time.time()) - 60},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"},
        {"token_use": "refresh"},
    ],
    ids=["expired", "other-issuer", "not-access-or-id"],
)
def test_pool_signed_token_with_bad_claims_is_403(
    stack: LocalStack, http: ApiSession, user: User, change: dict[str, Any]
) -> None:
    token = jwt.encode(
        {**_claims(user.token), **change}, _moto_signing_key(), algorithm="RS256", headers={"kid": "dummy"}
    )
    _assert_refused_by_the_authorizer(stack, http, token)


def _sign_in(stack: LocalStack, client_id: str, user: User) -> dict[str, str]:
    result = stack.client("cognito-idp").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.email, "PASSWORD": user.password},
    )
    return dict(result["AuthenticationResult"])


def test_user_tokens_of_a_foreign_app_client_are_403(stack: LocalStack, http: ApiSession, user: User) -> None:
    foreign = stack.client("cognito-idp").create_user_pool_client(
        UserPoolId=stack.user_pool_id,
        ClientName=f"other-app-{uuid.uuid4().hex[:8]}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    tokens = _sign_in(stack, foreign["ClientId"], user)
    assert _claims(tokens["AccessToken"])["client_id"] == foreign["ClientId"]
    _assert_refused_by_the_authorizer(stack, http, tokens["AccessToken"])
    _assert_refused_by_the_authorizer(stack, http, tokens["IdToken"])


def test_user_tokens_reach_the_function_as_a_user(stack: LocalStack, http: ApiSession, user: User) -> None:
    assert _claims(user.token)["iss"] == stack.issuer == stack.env["TOKEN_ISSUER"]
    context = _echoed(http.as_token(user.token).get("/_test/echo/x"))["event"]["requestContext"]["authorizer"]
    assert context == {
        "lambda": {
            "kind": "user",
            "sub": user.user_id,
            "client_id": stack.portal_client_id,
            "scope": "aws.cognito.signin.user.admin",
            "groups": "",
            "mfa": "false",  # as the user's sign-in record says (none yet: no MFA)
        }
    }
    id_token = _sign_in(stack, stack.portal_client_id, user)["IdToken"]
    by_id_token = _echoed(http.as_token(id_token).get("/_test/echo/x"))["event"]["requestContext"]["authorizer"]
    assert by_id_token["lambda"]["kind"] == "user" and by_id_token["lambda"]["sub"] == user.user_id


def test_machine_token_reaches_the_function_as_a_machine(
    stack: LocalStack, http: ApiSession, partner_client: dict[str, Any]
) -> None:
    token = stack.machine_token(partner_client["ClientId"], partner_client["ClientSecret"])
    assert _claims(token)["iss"] == stack.issuer
    event = _echoed(http.as_token(token).post("/_test/echo/a", json={"n": 1}))["event"]
    assert event["requestContext"]["authorizer"] == {
        "lambda": {
            "kind": "machine",
            "sub": partner_client["ClientId"],
            "client_id": partner_client["ClientId"],
            "scope": LEAD_INTAKE_SCOPE,
            "groups": "",
            "mfa": "false",  # a machine has no sign-in
        }
    }


def test_machine_token_without_the_intake_scope_is_403(
    stack: LocalStack, http: ApiSession, partner_client: dict[str, Any]
) -> None:
    # A client-credentials token of the pool's issuer and key, but with another scope.
    token = jwt.encode(
        {**_claims(stack.machine_token(partner_client["ClientId"], partner_client["ClientSecret"])), "scope": "x/y"},
        _moto_signing_key(),
        algorithm="RS256",
        headers={"kid": "dummy"},
    )
    _assert_refused_by_the_authorizer(stack, http, token)


def test_the_key_set_has_moto_and_stack_keys(stack: LocalStack, http: ApiSession) -> None:
    served = http.get("/.well-known/jwks.json").json()
    moto_keys = http.get(f"{stack.moto_endpoint}/{stack.user_pool_id}/.well-known/jwks.json").json()["keys"]
    kids = [key["kid"] for key in served["keys"]]
    assert len(kids) == len(set(kids))
    assert {key["kid"] for key in moto_keys} < set(kids)
    assert "local-machine-key" in kids
    assert stack.env["JWKS_URL"] == stack.jwks_url == f"{stack.url}/.well-known/jwks.json"
    assert stack.env["PORTAL_CLIENT_IDS"] == stack.portal_client_id
    assert stack.env["TOKEN_URL"] == stack.token_url


# -- events and responses --------------------------------------------------------------------------


def test_http_event_has_the_payload_2_0_shape(http: ApiSession, user: User) -> None:
    response = http.as_token(user.token).post(
        "/_test/echo/a%20b/c?x=1&x=2&y=z",
        json={"hello": "world"},
        headers={"X-Custom": "One", "Cookie": "a=1; b=2"},
    )
    event = _echoed(response)["event"]
    reference = json.loads((EVENTS / "http_api_v2_request.json").read_text())
    assert set(reference) <= set(event) <= set(reference) | {"cookies", "body"}
    assert set(reference["requestContext"]) <= set(event["requestContext"])
    assert set(reference["requestContext"]["http"]) == set(event["requestContext"]["http"])

    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "ANY /_test/echo/{proxy+}"
    assert event["rawPath"] == "/_test/echo/a%20b/c"
    assert event["rawQueryString"] == "x=1&x=2&y=z"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "z"}
    assert event["pathParameters"] == {"proxy": "a b/c"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "One"
    assert all(name == name.lower() for name in event["headers"])
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"
    assert json.loads(event["body"]) == {"hello": "world"}
    assert event["isBase64Encoded"] is False


def test_binary_body_is_base64_encoded(http: ApiSession) -> None:
    payload = bytes(range(256))
    response = http.put("/_test/open/blob", data=payload, headers={"Content-Type": "application/octet-stream"})
    event = _echoed(response)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload
    assert "authorizer" not in event["requestContext"]


def test_function_response_becomes_the_http_response(http: ApiSession) -> None:
    response = http.get("/_test/open/x")
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert response.cookies.get("seen") == "1" and response.cookies.get("theme") == "dark"
    body = response.json()
    assert body["function_name"] == ECHO.name
    assert 0 < body["remaining_ms"] <= ECHO.timeout_s * 1000


def test_failing_and_timed_out_functions_answer_like_api_gateway(stack: LocalStack, http: ApiSession) -> None:
    failed = http.get("/_test/fail")
    assert (failed.status_code, failed.json()) == (500, {"message": "Internal Server Error"})
    started = time.monotonic()
    timed_out = http.get("/_test/slow")
    assert (timed_out.status_code, timed_out.json()) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - started < 1.9  # stopped at its 1 s timeout, not after its 2 s sleep
    invocation = stack.invoke(SLOW.name, {})
    assert invocation.error["errorType"] == "Sandbox.Timedout"


def test_authorizer_event_has_the_request_authorizer_shape() -> None:
    request = HttpRequest(
        method="POST",
        path="/orgs/o1/partner-companies/c1/leads",
        query="",
        headers=[("Host", "localhost:3000"), ("Authorization", "Bearer t"), ("Content-Type", "application/json")],
        body=b"{}",
        source_ip="127.0.0.1",
    )
    match = match_route(ROUTES, request.method, request.path)
    assert match is not None
    api = Api("123456789012", "local", "us-east-1")
    event = authorizer_event(request, match, api, identity_source=["Bearer t"], now=datetime.now(UTC), request_id="r1")
    reference = json.loads((EVENTS / "http_api_v2_authorizer_request.json").read_text())
    assert set(event) == set(reference) - {"cookies", "queryStringParameters", "stageVariables"}
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123456789012:local/$default/POST" + request.path
    assert event["identitySource"] == ["Bearer t"]
    assert "body" not in event


# -- Cognito's token endpoint ----------------------------------------------------------------------


def test_token_endpoint_rejects_bad_client_credentials(http: ApiSession, partner_client: dict[str, Any]) -> None:
    grant = {"grant_type": "client_credentials"}
    wrong_secret = http.post("/oauth2/token", data=grant, auth=(partner_client["ClientId"], "wrong"))
    assert (wrong_secret.status_code, wrong_secret.json()) == (401, {"error": "invalid_client"})
    unknown = http.post("/oauth2/token", data=grant, auth=("no-such-client", "x"))
    assert (unknown.status_code, unknown.json()) == (401, {"error": "invalid_client"})
    credentials = (partner_client["ClientId"], partner_client["ClientSecret"])
    bad_grant = http.post("/oauth2/token", data={"grant_type": "password"}, auth=credentials)
    assert (bad_grant.status_code, bad_grant.json()) == (400, {"error": "unsupported_grant_type"})
    bad_scope = http.post("/oauth2/token", data={**grant, "scope": "leads/admin"}, auth=credentials)
    assert (bad_scope.status_code, bad_scope.json()) == (400, {"error": "invalid_scope"})


def test_token_endpoint_mints_cognito_shaped_access_tokens(
    stack: LocalStack, http: ApiSession, partner_client: dict[str, Any]
) -> None:
    # Credentials in the form, the other way Cognito accepts them.
    response = http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": partner_client["ClientId"],
            "client_secret": partner_client["ClientSecret"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600

    keys = jwt.PyJWKSet.from_dict(http.get("/.well-known/jwks.json").json())
    header = jwt.get_unverified_header(body["access_token"])
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    claims = jwt.decode(body["access_token"], key.key, algorithms=["RS256"], issuer=stack.issuer)
    assert claims["sub"] == claims["client_id"] == partner_client["ClientId"]
    assert claims["token_use"] == "access"
    assert claims["scope"] == LEAD_INTAKE_SCOPE
    assert claims["version"] == 2 and claims["jti"]
    assert claims["exp"] - claims["iat"] == 3600
    assert stack.env["TOKEN_ISSUER"] == stack.issuer
    assert stack.env["JWKS_URL"] == f"{stack.url}/.well-known/jwks.json"


# -- table, streams, clock, outbox -----------------------------------------------------------------


def test_table_is_created_from_the_shared_definition(stack: LocalStack) -> None:
    expected = create_table_request(stack.table_name)
    table = stack.client("dynamodb").describe_table(TableName=stack.table_name)["Table"]
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
    indexes = {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in expected["GlobalSecondaryIndexes"]}
    assert table["StreamSpecification"] == expected["StreamSpecification"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


@pytest.fixture
def counting_stream_consumer(stack: LocalStack) -> Iterator[Function]:
    consumer = _function(
        f"TestConsumer{uuid.uuid4().hex[:6]}",
        "counting_consumer",
        kind="stream",
        stream_filters=({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": [TEST_ENTITY]}}}},),
        stream_retry_attempts=2,
    )
    stack.register_function(consumer)
    yield consumer
    stack.unregister_function(consumer.name)


def _counts(pk: str) -> dict[str, int]:
    item = (
        boto3.client("dynamodb")
        .get_item(TableName=os.environ["TABLE_NAME"], Key={"pk": {"S": pk}, "sk": {"S": "COUNT"}}, ConsistentRead=True)
        .get("Item", {})
    )
    return {name: int(item[name]["N"]) if name in item else 0 for name in ("deliveries", "successes")}


def test_poller_honours_batch_item_failures(
    stack: LocalStack, http: ApiSession, counting_stream_consumer: Function
) -> None:
    run = uuid.uuid4().hex[:8]
    plan = {"first": 0, "flaky": 2, "after-flaky": 0, "poison": 1000, "after-poison": 0}
    client = boto3.client("dynamodb")
    for name, fail_times in plan.items():
        client.put_item(
            TableName=stack.table_name,
            Item={
                "pk": {"S": f"TEST#{run}#{name}"},
                "sk": {"S": "RECORD"},
                "entity": {"S": TEST_ENTITY},
                "fail_times": {"N": str(fail_times)},
            },
        )
    client.put_item(
        TableName=stack.table_name,
        Item={
            "pk": {"S": f"TEST#{run}#filtered"},
            "sk": {"S": "RECORD"},
            "entity": {"S": "other"},
            "fail_times": {"N": "0"},
        },
    )

    stack.wait_for_streams(timeout=20)

    counts = {name: _counts(f"TEST#{run}#{name}") for name in [*plan, "filtered"]}
    assert counts["first"] == {"deliveries": 1, "successes": 1}
    assert counts["flaky"] == {"deliveries": 3, "successes": 1}  # failed twice, then processed once
    assert counts["after-flaky"]["successes"] >= 1  # redelivered with the retried record: at least once
    # Its attempts as the first failed record, plus any redeliveries behind the flaky record's retries.
    attempts = counting_stream_consumer.stream_retry_attempts + 1
    assert counts["poison"]["deliveries"] >= attempts and counts["poison"]["successes"] == 0
    assert counts["after-poison"]["successes"] >= 1  # the shard moved on past the dead letter
    assert counts["filtered"] == {"deliveries": 0, "successes": 0}

    dead = [d for d in http.get("/_local/dead-letters").json() if d["function"] == counting_stream_consumer.name]
    assert [d["record"]["dynamodb"]["Keys"]["pk"]["S"] for d in dead] == [f"TEST#{run}#poison"]
    assert dead[0]["attempts"] == attempts
    record = dead[0]["record"]
    assert record["eventSource"] == "aws:dynamodb" and record["eventVersion"] == "1.1"
    assert record["eventSourceARN"].startswith(f"arn:aws:dynamodb:{stack.region}:123456789012:table/")
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)


class _OneShardStream:
    """A DynamoDB Streams client over one open shard that holds `records` and returns them in one read."""

    class exceptions:
        class ExpiredIteratorException(Exception):
            pass

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1", "SequenceNumberRange": {}}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "iterator"}

    def get_records(self, **_: Any) -> dict[str, Any]:
        records, self.records = self.records, []
        return {"Records": records, "NextShardIterator": "iterator"}


@pytest.mark.parametrize("bisect", [True, False], ids=["bisect", "no-bisect"])
def test_poller_bisects_a_batch_that_errors(bisect: bool) -> None:
    records = [
        {"eventID": f"e{n}", "eventName": "INSERT", "dynamodb": {"SequenceNumber": str(100 + n), "Keys": {"n": n}}}
        for n in range(8)
    ]
    poison = 5
    batches: list[list[int]] = []

    def invoke(function: Function, event: Any) -> Invocation:
        keys = [record["dynamodb"]["Keys"]["n"] for record in event["Records"]]
        batches.append(keys)
        return Invocation(ok=False, error={"errorType": "RuntimeError"}) if poison in keys else Invocation(ok=True)

    consumer = _function("TestBisect", "unused", kind="stream", stream_retry_attempts=2, stream_bisect_on_error=bisect)
    dead: list[dict[str, Any]] = []
    mapping = EventSourceMapping(
        consumer,
        _OneShardStream(records),
        "stream-arn",
        invoke,
        event_source_arn="stream-arn",
        region="us-east-1",
        starting_position="TRIM_HORIZON",
        dead_letter=dead.append,
    )
    mapping.sweep()

    attempts = consumer.stream_retry_attempts + 1
    if bisect:
        # Halves until the failing batch is the bad record alone; only its attempts count as retries.
        assert batches == [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], *[[5]] * attempts, [6, 7]]
        assert [(d["eventID"], d["attempts"]) for d in dead] == [("e5", attempts)]
    else:
        assert batches == [list(range(8))] * attempts
        assert [d["eventID"] for d in dead] == [f"e{n}" for n in range(8)]


def test_stream_filter_patterns_are_alternatives() -> None:
    def record(event_name: str, entity: str, status: str) -> dict[str, Any]:
        image = {"entity": {"S": entity}, "status": {"S": status}}
        return {"eventName": event_name, "dynamodb": {"NewImage": image}}

    def delivered(*args: str) -> bool:
        return stream_filters.matches_any(LEADS_EVENTS.change_filters, record(*args))

    assert delivered("INSERT", "lead", "pending")
    assert delivered("MODIFY", "lead", "returned")
    assert not delivered("MODIFY", "lead", "queued")
    assert not delivered("INSERT", "company", "active")
    assert not delivered("REMOVE", "lead", "returned")


def test_clock_offset_reaches_every_worker(stack: LocalStack, http: ApiSession) -> None:
    try:
        moved = http.post("/_local/clock", json={"offset_seconds": 86400})
        assert moved.status_code == 200 and moved.json()["offset_seconds"] == 86400
        stack.advance_clock(3600)
        expected = datetime.now(UTC) + timedelta(days=1, hours=1)
        # Twice as many slow requests in flight as there are workers: every worker answers some.
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: http.get("/_test/open/now", params={"hold": "0.3"}), range(16)))
        answers = [_echoed(response) for response in responses]
        assert len({answer["pid"] for answer in answers}) == DEFAULT_WORKERS
        for answer in answers:
            assert abs((datetime.fromisoformat(answer["now"]) - expected).total_seconds()) < 60
    finally:
        stack.set_clock_offset(0)
    assert abs((stack.now() - datetime.now(UTC)).total_seconds()) < 5


def test_mail_sent_through_sesv2_shows_in_the_outbox(stack: LocalStack, http: ApiSession) -> None:
    recipient = f"someone-{uuid.uuid4().hex[:8]}@it.example"
    assert http.post("/_test/mail", json={"to": recipient}).status_code == 204
    mails = [m for m in http.get("/_local/outbox").json() if recipient in m["to"]]
    assert len(mails) == 1
    assert mails[0]["from"] == stack.email_from
    assert (mails[0]["subject"], mails[0]["body"]) == ("Local hello", "Sent through SES")
    assert mails[0]["time"]
    assert mails == [m for m in stack.outbox() if recipient in m["to"]]


# -- documentation ---------------------------------------------------------------------------------


def test_openapi_document_and_swagger_ui(stack: LocalStack, http: ApiSession) -> None:
    document = http.get("/openapi.json").json()
    assert document["servers"][0]["url"] == stack.url
    assert "/orgs" in document["paths"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["partnerCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == stack.token_url
    # A partner company's token is documented on lead intake only, a user's everywhere else.
    operations = {(method, path): op for path, ops in document["paths"].items() for method, op in ops.items()}
    assert operations.pop(("post", INTAKE_PATH))["security"] == [{"partnerCredentials": [LEAD_INTAKE_SCOPE]}]
    # Reached without a token: public links, and Twilio's webhooks (signed by Twilio instead).
    public = {key: operations.pop(key) for key in list(operations) if key[1].startswith(("/public/", "/twilio/"))}
    assert public and all(op["security"] == [] for op in public.values())
    assert operations and all(op["security"] == [{"userToken": []}] for op in operations.values())

    page = http.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text and "swagger-ui-bundle.js" in page.text
    bundle = http.get("/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.headers["Content-Type"] == "application/javascript"
    assert http.get("/docs/package.json").status_code == 404


# -- processes -------------------------------------------------------------------------------------


def test_stopping_a_stack_leaves_no_java_process() -> None:
    with LocalStack(functions=(), routes=(), workers=1) as other:
        pid = other.dynamodb_pid
        assert pid is not None and _alive(pid)
    assert _wait_until_gone(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_a_killed_stack_process_leaves_nothing_behind() -> None:
    script = (
        "import json, time\n"
        "from local.stack import LocalStack\n"
        "stack = LocalStack(functions=(), routes=(), workers=2).start()\n"
        "print(json.dumps(stack.child_pids()), flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(  # noqa: S603 - our own interpreter running our own script
        [sys.executable, "-c", script], cwd=Path(__file__).parents[2], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        children = json.loads(parent.stdout.readline())
        assert len(children) == 3 and all(_alive(pid) for pid in children)
        parent.send_signal(signal.SIGKILL)  # no cleanup code runs in the parent
        parent.wait()
        assert all(_wait_until_gone(pid) for pid in children)
    finally:
        parent.kill()


def test_dynamodb_local_stop_ends_the_java_process() -> None:
    database = DynamoDBLocal().start()
    pid = database.pid
    assert pid is not None and _alive(pid)
    database.stop()
    assert not _alive(pid)

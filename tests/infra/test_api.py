"""The HTTP API serves every manifest route behind the authorizer the manifest names: the token authorizer
(a Lambda function) for "token" routes, none for "none" routes; there is no JWT authorizer."""

from __future__ import annotations

import pytest

from infra import constants, manifest
from infra.api import route_key
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

EXPECTED_ROUTES = {route_key(route): route for route in manifest.gateway_routes()}


def routes_by_key(synth: Synth) -> dict[str, dict]:
    """Every route of the API (they live in the Routes nested stack), by route key."""
    return {r["Properties"]["RouteKey"]: r["Properties"] for r in synth.everywhere("AWS::ApiGatewayV2::Route").values()}


def token_authorizer(synth: Synth) -> tuple[str, dict]:
    """The one authorizer of the API: (logical id, resource)."""
    return synth.only("AWS::ApiGatewayV2::Authorizer")


def test_exactly_the_manifest_routes_exist(dev: Synth) -> None:
    assert routes_by_key(dev).keys() == EXPECTED_ROUTES.keys()


def test_every_route_behind_the_authorizer_lets_cors_preflights_through(dev: Synth) -> None:
    # A preflight carries no token: on a path with an ANY route behind the authorizer, the OPTIONS twin (no
    # authorizer, more specific than ANY) takes it, and API Gateway answers it from the CORS settings.
    routes = routes_by_key(dev)
    authorized_any = {key.removeprefix("ANY ") for key, r in routes.items() if key.startswith("ANY ")}
    twins = {key.removeprefix("OPTIONS "): r for key, r in routes.items() if key.startswith("OPTIONS ")}

    assert authorized_any and authorized_any == twins.keys()
    for path in authorized_any:
        assert routes[f"ANY {path}"]["AuthorizationType"] == "CUSTOM"
        assert twins[path].get("AuthorizationType", "NONE") == "NONE"
        assert twins[path]["Target"] == routes[f"ANY {path}"]["Target"]  # the same function answers a plain OPTIONS
    assert not [key for key in routes if key.startswith("$default")]


def test_routes_grow_with_prefixes_not_operations() -> None:
    # Each function routes its own requests: the gateway holds at most a base and a {proxy+} route per
    # prefix, and a handful of exact ones.
    exact = [route for route in manifest.ROUTES if route.method != "ANY"]
    assert len(exact) <= 8, exact


@pytest.mark.parametrize("route_key", EXPECTED_ROUTES)
def test_route_uses_the_authorizer_the_manifest_names(dev: Synth, route_key: str) -> None:
    route = EXPECTED_ROUTES[route_key]
    properties = routes_by_key(dev)[route_key]

    if route.auth == "none":
        assert properties.get("AuthorizationType", "NONE") == "NONE"
        assert "AuthorizerId" not in properties
    else:
        assert route.auth == "token"
        (token_authorizer_id, _) = token_authorizer(dev)
        assert properties["AuthorizationType"] == "CUSTOM"
        assert properties["AuthorizerId"] == {"Ref": token_authorizer_id}


def test_token_authorizer_is_the_lambda_with_simple_cached_responses(dev: Synth) -> None:
    (function_id, _) = dev.function(manifest.TOKEN_AUTHORIZER.name)
    (_, authorizer) = token_authorizer(dev)
    properties = authorizer["Properties"]

    assert properties["AuthorizerType"] == "REQUEST"
    assert properties["AuthorizerPayloadFormatVersion"] == "2.0"
    assert properties["EnableSimpleResponses"] is True
    assert properties["IdentitySource"] == ["$request.header.Authorization"]
    assert properties["AuthorizerResultTtlInSeconds"] == constants.TOKEN_AUTHORIZER_CACHE_SECONDS
    # A signed-out, disabled or deleted sign-in's tokens must stop within a minute of the act.
    assert 0 < properties["AuthorizerResultTtlInSeconds"] <= 60
    assert dev.invoked(properties["AuthorizerUri"]) == function_id  # through its live alias


def test_no_jwt_authorizer(dev: Synth, prod: Synth) -> None:
    # Partner companies' app clients are created at run time: a JWT authorizer could not list them.
    for synth in (dev, prod):
        for authorizer in synth.resources("AWS::ApiGatewayV2::Authorizer").values():
            assert authorizer["Properties"]["AuthorizerType"] != "JWT"
            assert "JwtConfiguration" not in authorizer["Properties"]
        for route in routes_by_key(synth).values():
            assert route.get("AuthorizationType") != "JWT"


def test_api_gateway_may_invoke_the_token_authorizer_only(dev: Synth) -> None:
    (function_id, _) = dev.function(manifest.TOKEN_AUTHORIZER.name)
    (api_id, _) = dev.only("AWS::ApiGatewayV2::Api")
    (permission,) = [
        p["Properties"]
        for p in dev.everywhere("AWS::Lambda::Permission").values()
        if dev.invoked(p["Properties"]["FunctionName"]) == function_id
    ]

    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert {"Ref": api_id} in permission["SourceArn"]["Fn::Join"][1]


def test_stage_logs_access_and_throttles(dev: Synth) -> None:
    (_, stage) = dev.only("AWS::ApiGatewayV2::Stage")
    log_groups = dev.resources("AWS::Logs::LogGroup")
    properties = stage["Properties"]

    assert properties["StageName"] == "$default"
    assert properties["AutoDeploy"] is True
    assert properties["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0] in log_groups
    assert "$context.requestId" in properties["AccessLogSettings"]["Format"]
    assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"] == constants.API_RATE_LIMIT


def test_cors_allows_the_portal_origins(dev: Synth, prod: Synth) -> None:
    (_, dev_api) = dev.only("AWS::ApiGatewayV2::Api")
    (_, prod_api) = prod.only("AWS::ApiGatewayV2::Api")

    assert dev_api["Properties"]["CorsConfiguration"]["AllowOrigins"] == [constants.DEV_PORTAL_ORIGIN]
    assert prod_api["Properties"]["CorsConfiguration"]["AllowOrigins"] == ["https://partners.example.com"]
    assert "Authorization" in prod_api["Properties"]["CorsConfiguration"]["AllowHeaders"]


def test_routes_without_an_authorizer_are_throttled_lower(dev: Synth) -> None:
    (_, stage) = dev.only("AWS::ApiGatewayV2::Stage")
    unauthenticated = {
        key for key, route in EXPECTED_ROUTES.items() if route.auth == "none" and not manifest.is_preflight_twin(route)
    }
    twilio = {f"POST {constants.SMS_WEBHOOK_PATH}", f"POST {constants.SMS_STATUS_PATH}"}
    lower = {
        "ThrottlingRateLimit": constants.UNAUTHENTICATED_ROUTE_RATE_LIMIT,
        "ThrottlingBurstLimit": constants.UNAUTHENTICATED_ROUTE_BURST_LIMIT,
    }
    # Twilio's signed webhooks: bursts of delivery-status callbacks, still below the stage's default.
    twilio_limits = {
        "ThrottlingRateLimit": constants.TWILIO_ROUTE_RATE_LIMIT,
        "ThrottlingBurstLimit": constants.TWILIO_ROUTE_BURST_LIMIT,
    }

    assert unauthenticated, "the manifest declares public routes"
    assert twilio <= unauthenticated
    assert stage["Properties"]["RouteSettings"] == {
        key: twilio_limits if key in twilio else lower for key in unauthenticated
    }
    assert constants.UNAUTHENTICATED_ROUTE_RATE_LIMIT < constants.API_RATE_LIMIT
    assert constants.UNAUTHENTICATED_ROUTE_BURST_LIMIT < constants.API_BURST_LIMIT
    assert constants.TWILIO_ROUTE_RATE_LIMIT < constants.API_RATE_LIMIT
    assert constants.TWILIO_ROUTE_BURST_LIMIT < constants.API_BURST_LIMIT
    # Route settings may only name routes that exist when the stage is created: the stage waits for the
    # nested stack that holds them.
    (routes_stack,) = [k for k, r in dev.resources("AWS::CloudFormation::Stack").items() if "Routes" in k]
    assert routes_stack in stage["DependsOn"]

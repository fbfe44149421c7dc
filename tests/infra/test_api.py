"""The HTTP API serves every manifest route behind the authorizer the manifest names."""

from __future__ import annotations

import pytest

from infra import constants, manifest
from infra.api import route_methods
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

EXPECTED_ROUTES = {
    f"{method.value} {route.path}": route for route in manifest.ROUTES for method in route_methods(route)
}


def routes_by_key(synth: Synth) -> dict[str, dict]:
    return {r["Properties"]["RouteKey"]: r["Properties"] for r in synth.resources("AWS::ApiGatewayV2::Route").values()}


def test_exactly_the_manifest_routes_exist(dev: Synth) -> None:
    assert routes_by_key(dev).keys() == EXPECTED_ROUTES.keys()


def test_no_route_catches_cors_preflights(dev: Synth) -> None:
    # API Gateway answers OPTIONS itself only when no route matches it.
    assert not [key for key in routes_by_key(dev) if key.startswith(("OPTIONS ", "ANY ", "$default"))]


@pytest.mark.parametrize("route_key", EXPECTED_ROUTES)
def test_route_uses_the_authorizer_the_manifest_names(dev: Synth, route_key: str) -> None:
    route = EXPECTED_ROUTES[route_key]
    properties = routes_by_key(dev)[route_key]
    authorizer = dev.template["Resources"][properties["AuthorizerId"]["Ref"]]["Properties"]

    if route.auth == "jwt":
        assert properties["AuthorizationType"] == "JWT"
        assert authorizer["AuthorizerType"] == "JWT"
    else:
        assert route.auth == "machine"
        assert properties["AuthorizationType"] == "CUSTOM"
        assert authorizer["AuthorizerType"] == "REQUEST"


def test_jwt_authorizer_trusts_the_pool_for_the_portal_client(dev: Synth) -> None:
    (pool_id, _) = dev.only("AWS::Cognito::UserPool")
    (client_id, _) = dev.only("AWS::Cognito::UserPoolClient")
    (jwt,) = [
        a["Properties"]
        for a in dev.resources("AWS::ApiGatewayV2::Authorizer").values()
        if a["Properties"]["AuthorizerType"] == "JWT"
    ]

    assert jwt["IdentitySource"] == ["$request.header.Authorization"]
    assert jwt["JwtConfiguration"]["Audience"] == [{"Ref": client_id}]
    issuer = ["https://cognito-idp.", {"Ref": "AWS::Region"}, ".amazonaws.com/", {"Ref": pool_id}]
    assert jwt["JwtConfiguration"]["Issuer"] == {"Fn::Join": ["", issuer]}


def test_machine_authorizer_is_the_lambda_with_simple_cached_responses(dev: Synth) -> None:
    (function_id, _) = dev.function(manifest.MACHINE_AUTHORIZER.name)
    (lambda_authorizer,) = [
        a["Properties"]
        for a in dev.resources("AWS::ApiGatewayV2::Authorizer").values()
        if a["Properties"]["AuthorizerType"] == "REQUEST"
    ]

    assert lambda_authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert lambda_authorizer["EnableSimpleResponses"] is True
    assert lambda_authorizer["IdentitySource"] == ["$request.header.Authorization"]
    assert lambda_authorizer["AuthorizerResultTtlInSeconds"] == constants.MACHINE_AUTHORIZER_CACHE_SECONDS
    assert {"Fn::GetAtt": [function_id, "Arn"]} in lambda_authorizer["AuthorizerUri"]["Fn::Join"][1]


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

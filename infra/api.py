"""The HTTP API: the routes of the manifest, each behind the authorizer the manifest names.

- "token" routes: the token authorizer (a Lambda function) verifies the bearer token against the Cognito
  pool, a portal user's or a partner company's client-credentials token, and passes who is calling to
  the function, which decides what they may do. API Gateway's JWT authorizer is not used: partner
  companies' app clients are created at run time and cannot be listed as its audiences, and a partner
  company's token on a staff route must be refused by the function (403 with a problem body), not by
  the gateway.
- "none" routes: no authorizer; the function checks what the caller presents itself (an e-mailed
  single-use token, a referral code, Twilio's request signature). Each is throttled below the stage's
  default, so a flood of anonymous requests cannot use up the budget of signed-in callers.

A missing Authorization header is answered 401 by API Gateway without calling the authorizer; a token the
authorizer refuses is answered 403 {"message": "Forbidden"} (an HTTP API Lambda authorizer cannot make
the gateway answer 401).

Routes are coarse (an ANY route per function and path prefix, infra/manifest.py): they grow with prefixes,
not with operations, and the function answers 404/405 for what it does not serve. An ANY route behind the
authorizer would also catch the browser's CORS preflight (OPTIONS, sent without a token) and answer it
401, so each has an OPTIONS twin on its path without an authorizer (manifest.gateway_routes): API Gateway
answers a preflight from the CORS configuration; another OPTIONS request reaches the function.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import cast

import jsii
from aws_cdk import Acknowledgment, Duration, NestedStack, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants, manifest

# Ids, status and timings only: no source IP or user agent (personal data stays out of logs).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "error": "$context.error.message",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogSettings:
    """HttpStage takes its access-log settings as an interface, which Python implements as a class."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigateway.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


def _cors(allowed_origins: list[str]) -> apigwv2.CorsPreflightOptions | None:
    if not allowed_origins:
        return None  # no browser client configured: server-to-server calls need no CORS
    return apigwv2.CorsPreflightOptions(
        allow_origins=allowed_origins,
        allow_methods=[apigwv2.CorsHttpMethod(method) for method in constants.CORS_ALLOWED_METHODS],
        allow_headers=list(constants.CORS_ALLOWED_HEADERS),
        expose_headers=list(constants.CORS_EXPOSED_HEADERS),
        max_age=Duration.hours(1),
    )


def unauthenticated_throttle(route: manifest.Route) -> dict[str, int]:
    """The stage's route settings for a route without an authorizer: Twilio's signed webhooks get their
    own limits (bursts of delivery-status callbacks), every other such route the /public ones."""
    if route.path in (constants.SMS_WEBHOOK_PATH, constants.SMS_STATUS_PATH):
        return {
            "ThrottlingRateLimit": constants.TWILIO_ROUTE_RATE_LIMIT,
            "ThrottlingBurstLimit": constants.TWILIO_ROUTE_BURST_LIMIT,
        }
    return {
        "ThrottlingRateLimit": constants.UNAUTHENTICATED_ROUTE_RATE_LIMIT,
        "ThrottlingBurstLimit": constants.UNAUTHENTICATED_ROUTE_BURST_LIMIT,
    }


def route_key(route: manifest.Route) -> str:
    return f"{route.method} {route.path}"


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_name: str,
        functions: Mapping[str, lambda_.IFunction],
        allowed_origins: list[str],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        edge_origin_header: str | None = None,
    ) -> None:
        """With `edge_origin_header` (CloudFront in front, infra/edge.py) the execute-api endpoint is off and the
        authorizer's identity includes that header: a request without it is answered 401 by API Gateway."""
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=api_name,
            create_default_stage=False,  # the stage below adds access logs and throttling
            cors_preflight=_cors(allowed_origins),
            disable_execute_api_endpoint=edge_origin_header is not None,
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=constants.API_RATE_LIMIT, burst_limit=constants.API_BURST_LIMIT
            ),
            access_log_settings=AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
        )

        # The routes, their integrations and the authorizer live in a nested stack: CloudFormation counts its
        # resources apart from the main stack's, which holds the functions and grows with each capability.
        self.routes_stack = NestedStack(self, "Routes", description="The HTTP API's routes and integrations")
        route_authorizers: dict[manifest.Auth, apigwv2.IHttpRouteAuthorizer] = {
            "token": authorizers.HttpLambdaAuthorizer(
                "TokenAuthorizer",
                functions[manifest.TOKEN_AUTHORIZER.name],
                response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
                identity_source=[
                    "$request.header.Authorization",
                    *([f"$request.header.{edge_origin_header}"] if edge_origin_header else []),
                ],
                # Cached per Authorization (and origin) header, whatever the route: the decision depends on them.
                results_cache_ttl=Duration.seconds(constants.TOKEN_AUTHORIZER_CACHE_SECONDS),
            ),
            "none": apigwv2.HttpNoneAuthorizer(),
        }
        integrations_by_function: dict[str, integrations.HttpLambdaIntegration] = {}
        unauthenticated_route_settings: dict[str, dict[str, int]] = {}
        for route in manifest.gateway_routes():
            integration = integrations_by_function.setdefault(
                route.function,
                # One invoke permission per function for the whole API: one per route would grow the function's
                # resource-based policy past Lambda's 20 KB limit as routes are added.
                integrations.HttpLambdaIntegration(
                    f"{route.function}Integration", functions[route.function], scope_permission_to_route=False
                ),
            )
            added = apigwv2.HttpRoute(
                self.routes_stack,
                f"{route.method}{route.path.replace('/', '--')}",
                http_api=self.api,
                route_key=apigwv2.HttpRouteKey.with_(route.path, apigwv2.HttpMethod(route.method)),
                integration=integration,
                authorizer=route_authorizers[route.auth],
            )
            if route.auth == "none":
                self._acknowledge_no_authorizer(route, added)
                if not manifest.is_preflight_twin(route):
                    # Route settings name existing routes: the stage must be created after them.
                    unauthenticated_route_settings[route_key(route)] = unauthenticated_throttle(route)
                    self.stage.node.add_dependency(added)
        if unauthenticated_route_settings:
            cfn_stage = cast(apigwv2.CfnStage, self.stage.node.default_child)
            cfn_stage.route_settings = unauthenticated_route_settings

    @staticmethod
    def _acknowledge_no_authorizer(route: manifest.Route, added: apigwv2.HttpRoute) -> None:
        if manifest.is_preflight_twin(route):
            reason = (
                f"OPTIONS {route.path} is the CORS preflight twin of the ANY route on that path: browsers send "
                "preflights without a token, API Gateway answers them from the CORS settings, and any other "
                "OPTIONS request reaches the function, which serves nothing on OPTIONS (404)."
            )
        else:
            reason = (
                f"{route.path} is declared without an authorizer in infra/manifest.py: its callers have no "
                "token yet (registration, invitations, e-mail confirmation) or authenticate otherwise, and its "
                "function checks what they present (single-use tokens, referral codes, signatures) itself. "
                "The route is throttled lower."
            )
        Validations.of(added).acknowledge(Acknowledgment(id="AwsSolutions-APIG4", reason=reason))

    @property
    def url(self) -> str:
        return self.stage.url

    @property
    def endpoint(self) -> str:
        """The API's base URL without a trailing slash (https://<api id>.execute-api.<region>.<domain>):
        it names the API only, not its stage or routes, so the functions' environment can hold it without a
        circular dependency (the routes' integrations depend on the functions)."""
        return self.api.api_endpoint

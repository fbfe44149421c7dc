"""API Gateway in front of the functions: route, authorize, build the payload 2.0 event, invoke, answer.

Every "token" route runs the token authorizer (manifest.TOKEN_AUTHORIZER, the real function) on the
request, and the function gets the authorizer's context as `requestContext.authorizer.lambda`. Refusals
come from the gateway itself, with API Gateway's bodies, and never reach the function: no route 404, no
Authorization header 401 (the authorizer is not invoked), refused by the authorizer 403. A function that
fails (an error, or running past its own timeout) is a 500; no answer within the integration timeout of
30 s is a 503. API Gateway caches the authorizer's decision per Authorization header for a few minutes;
here the authorizer runs on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from infra.manifest import TOKEN_AUTHORIZER
from local.apigw_events import (
    Api,
    authorizer_decision,
    authorizer_event,
    http_api_event,
    http_response,
    request_id,
)
from local.cors import Cors
from local.http_messages import HttpRequest, HttpResponse, message_response
from local.invoker import WAIT_EXPIRED, Invoker
from local.routing import RouteMatch, match_route
from local.served_functions import ServedFunctions
from local.worker import Invocation

# The token authorizer's identity source ($request.header.Authorization).
IDENTITY_HEADER = "authorization"
INTEGRATION_TIMEOUT_SECONDS = 30.0


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = message_response(status, message)


def _failed(invocation: Invocation) -> HttpResponse:
    if invocation.error.get("errorType") == WAIT_EXPIRED:
        return message_response(503, "Service Unavailable")
    return message_response(500, "Internal Server Error")


def logged_path(request: HttpRequest, match: RouteMatch) -> str:
    """The path behind the authorizer (it holds ids; the credential is a header), else the route's template:
    on a public route the path itself can be the credential (an invitation token, a referral code)."""
    return request.path if match.route.auth == "token" else match.route.path


class Gateway:
    def __init__(
        self,
        *,
        served: ServedFunctions,
        invoker: Invoker,
        api: Api,
        clock: Callable[[], datetime],
        cors: Cors | None = None,
    ) -> None:
        self._served = served  # changed at run time by tests: read on every request
        self._cors = cors or Cors()
        self._invoker = invoker
        self._api = api
        self._clock = clock

    def handle(self, request: HttpRequest) -> HttpResponse:
        if self._cors.is_preflight(request):
            return self._cors.preflight(request)
        response = self._route(request)
        self._cors.decorate(request, response)
        return response

    def _route(self, request: HttpRequest) -> HttpResponse:
        match = match_route(self._served.routes, request.method, request.path)
        if match is None:
            return message_response(404, "Not Found")
        rid = request_id()
        function = self._served.functions[match.route.function]
        try:
            authorizer = self._authorize(request, match, rid)
        except Refused as refused:
            response = refused.response
        else:
            event = http_api_event(request, match, self._api, authorizer=authorizer, now=self._clock(), request_id=rid)
            invocation = self._invoker.invoke(function, event, wait=INTEGRATION_TIMEOUT_SECONDS)
            response = http_response(invocation.payload) if invocation.ok else _failed(invocation)
            response.function = function.name
        response.logged_path = logged_path(request, match)
        response.headers.append(("apigw-requestid", rid))
        return response

    def _authorize(self, request: HttpRequest, match: RouteMatch, rid: str) -> dict[str, Any] | None:
        if match.route.auth == "none":
            return None
        return {"lambda": self._token_authorizer(request, match, rid)}

    def _token_authorizer(self, request: HttpRequest, match: RouteMatch, rid: str) -> dict[str, Any]:
        identity = request.header(IDENTITY_HEADER)
        if not identity:
            raise Refused(401, "Unauthorized")
        authorizer = self._served.functions.get(TOKEN_AUTHORIZER.name)
        if authorizer is None:
            raise Refused(500, "Internal Server Error")
        event = authorizer_event(
            request, match, self._api, identity_source=[identity], now=self._clock(), request_id=rid
        )
        invocation = self._invoker.invoke(authorizer, event, wait=INTEGRATION_TIMEOUT_SECONDS)
        if not invocation.ok:
            raise Refused(500, "Internal Server Error")
        try:
            allowed, context = authorizer_decision(invocation.payload)
        except ValueError:
            raise Refused(500, "Internal Server Error") from None
        if not allowed:
            raise Refused(403, "Forbidden")
        return context

"""API Gateway HTTP API (payload format 2.0) events and responses, built from a plain HTTP request.

Shapes follow what API Gateway sends: headers lower-cased with repeats comma-joined, cookies moved out of
the headers into `cookies`, repeated query parameters comma-joined, optional members left out when empty,
and bodies base64-encoded unless they are text.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from local.http_messages import HttpRequest, HttpResponse, message_response
from local.routing import RouteMatch

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES = ("text/", "application/json", "application/problem+json", "application/xml", "+json", "+xml")
_FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Api:
    """Where the emulated API lives: used in request contexts and route ARNs."""

    account_id: str
    api_id: str
    region: str
    stage: str = "$default"
    forwarded_port: int = 80


def request_id() -> str:
    # API Gateway's request ids are short base64 strings, e.g. "C3pEwhd5joEEJSw=".
    return base64.b64encode(secrets.token_bytes(10)).decode()


def _gateway_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def _headers(request: HttpRequest, api: Api) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(api.forwarded_port)
    headers["x-forwarded-proto"] = "http"
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(datetime.now(UTC).timestamp()):08x}-{secrets.token_hex(12)}")
    return headers, cookies


def _query_parameters(raw_query: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    return parameters


def _is_text(content_type: str) -> bool:
    content_type = content_type.split(";")[0].strip().lower()
    return content_type == _FORM_TYPE or any(
        content_type.startswith(t) if t.endswith("/") else t in content_type for t in _TEXT_TYPES
    )


def _body(request: HttpRequest, headers: Mapping[str, str]) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = headers.get("content-type")
    if content_type is None or _is_text(content_type):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def _common(
    request: HttpRequest, match: RouteMatch, api: Api, now: datetime, request_id: str
) -> tuple[dict[str, Any], dict[str, str]]:
    headers, cookies = _headers(request, api)
    domain = headers.get("host", "localhost")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query := _query_parameters(request.query):
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": api.account_id,
        "apiId": api.api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": match.route_key,
        "stage": api.stage,
        "time": _gateway_time(now),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    return event, headers


def http_api_event(
    request: HttpRequest,
    match: RouteMatch,
    api: Api,
    *,
    authorizer: Mapping[str, Any] | None,
    now: datetime,
    request_id: str,
) -> dict[str, Any]:
    """The event an API Gateway HTTP API integration (payload 2.0) hands to the function."""
    event, headers = _common(request, match, api, now, request_id)
    if authorizer:
        event["requestContext"]["authorizer"] = dict(authorizer)
    body, encoded = _body(request, headers)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def route_arn(api: Api, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{api.region}:{api.account_id}:{api.api_id}/{api.stage}/{method}{path}"


def authorizer_event(
    request: HttpRequest,
    match: RouteMatch,
    api: Api,
    *,
    identity_source: list[str],
    now: datetime,
    request_id: str,
) -> dict[str, Any]:
    """The event a Lambda REQUEST authorizer (payload 2.0) receives: the request without its body."""
    event, _ = _common(request, match, api, now, request_id)
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn(api, request.method, request.path),
        "identitySource": identity_source,
        **{k: v for k, v in event.items() if k != "version"},
    }


def authorizer_decision(payload: Any) -> tuple[bool, dict[str, Any]]:
    """Read a simple ({"isAuthorized": ...}) or IAM-policy authorizer response; ValueError if neither."""
    if isinstance(payload, dict) and "isAuthorized" in payload:
        return payload["isAuthorized"] is True, dict(payload.get("context") or {})
    if isinstance(payload, dict) and isinstance(payload.get("policyDocument"), dict):
        statements = payload["policyDocument"].get("Statement") or []
        effects = {str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict)}
        return "allow" in effects and "deny" not in effects, dict(payload.get("context") or {})
    raise ValueError("the authorizer returned neither isAuthorized nor a policy document")


def http_response(payload: Any) -> HttpResponse:
    """The HTTP response API Gateway makes of a function's result (payload format 2.0)."""
    if not (isinstance(payload, dict) and "statusCode" in payload):
        # No status code: API Gateway treats the whole result as a JSON body.
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(payload).encode())
    try:
        status = int(payload["statusCode"])
        headers = [(str(k), str(v)) for k, v in (payload.get("headers") or {}).items()]
        for name, values in (payload.get("multiValueHeaders") or {}).items():
            headers += [(str(name), str(v)) for v in values]
        headers += [("Set-Cookie", str(c)) for c in payload.get("cookies") or []]
        body = payload.get("body") or ""
        raw = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
    except (TypeError, ValueError, AttributeError, binascii.Error):
        return message_response(500, "Internal Server Error")
    return HttpResponse(status, headers, raw)

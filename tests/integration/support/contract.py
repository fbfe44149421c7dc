"""Every answer the integration suite receives from the API is checked against the OpenAPI document the
running stack serves (openapi-core validates status, content type, headers and body).

The check sits under `requests` (Session.send), so a test's own calls, the actors' set-up calls and
schemathesis' calls are all checked the same way. Routes the gateway serves but the document does not
list are violations too; paths outside the API (the document itself, the token endpoint, the stack's own
`/_local` endpoints, unknown paths answered by the gateway's "Not Found") and CORS preflights are not
operations and are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from infra.manifest import Route
from local.routing import match_path, match_route

PROBLEM_JSON = "application/problem+json"


@dataclass
class ResponseContract:
    """Checks answers from `base_url` against `document`; what fails is kept in `violations`."""

    base_url: str
    document: dict[str, Any]
    routes: Iterable[Route]
    violations: list[str] = field(default_factory=list)
    checked: int = 0

    def __post_init__(self) -> None:
        self.routes = list(self.routes)
        # Problems are JSON too, CSV exports and TwiML are text, and a statement's PDF is binary; openapi-core
        # reads only the types it knows by name.
        config = Config(
            extra_media_type_deserializers={
                PROBLEM_JSON: json.loads,
                "text/csv": _text,
                "text/xml": _text,
                "application/pdf": _binary,
            }
        )
        self._openapi = OpenAPI.from_dict(self.document, config=config)

    def check(self, response: requests.Response) -> None:
        request = response.request
        url = request.url or ""
        if not url.startswith(self.base_url + "/") or request.method == "OPTIONS":
            return
        path = urlsplit(url).path
        route = match_route(self.routes, request.method or "GET", path)
        if route is None:
            return  # not a route of the API: the gateway's own "Not Found", or a local endpoint
        self.checked += 1
        if not self._documents(request.method or "GET", path):
            # A route for a whole subtree (ANY, {proxy+}) reaches the function for paths and methods it does
            # not serve: only its own "no such resource" may answer them.
            if response.status_code not in (404, 405) or response.headers.get("content-type") != PROBLEM_JSON:
                self.violations.append(_describe(request, response, LookupError("an undocumented path answered")))
            return
        try:
            self._openapi.validate_response(RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response))
        except Exception as error:  # every kind of mismatch is reported the same way
            self.violations.append(_describe(request, response, error))

    def _documents(self, method: str, path: str) -> bool:
        return any(
            method.lower() in item and match_path(template, path) is not None
            for template, item in self.document.get("paths", {}).items()
        )

    def take_violations(self) -> list[str]:
        taken, self.violations = self.violations, []
        return taken


def _binary(data: bytes | str, **parameters: str) -> str:
    # A PDF's bytes, as the string of `format: binary` (each byte one character).
    return data.decode("latin-1") if isinstance(data, bytes) else data


def _text(data: bytes | str, **parameters: str) -> str:
    return data.decode(parameters.get("charset", "utf-8")) if isinstance(data, bytes) else data


def _describe(request: requests.PreparedRequest, response: requests.Response, error: Exception) -> str:
    """The mismatch in a few lines: the innermost cause, each schema error with where it is."""
    cause: BaseException = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    details = getattr(cause, "schema_errors", None) or ()
    reasons = [f"{e.message[:200]} at {list(e.absolute_path)}" for e in details] or [f"{cause}"[:300]]
    body = response.text if len(response.text) < 400 else response.text[:400] + "..."
    return (
        f"{request.method} {urlsplit(request.url or '').path} -> {response.status_code} "
        f"{response.headers.get('content-type')}: {type(cause).__name__}\n"
        + "".join(f"    - {reason}\n" for reason in reasons)
        + f"    body: {body}"
    )


@contextmanager
def checking_every_answer(contract: ResponseContract) -> Iterator[ResponseContract]:
    """Routes every response of `requests` in this process through `contract` while the block runs."""
    original = requests.Session.send

    def send(session: requests.Session, prepared: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = original(session, prepared, **kwargs)
        if not kwargs.get("stream"):
            contract.check(response)
        return response

    requests.Session.send = send  # type: ignore[method-assign]
    try:
        yield contract
    finally:
        requests.Session.send = original  # type: ignore[method-assign]

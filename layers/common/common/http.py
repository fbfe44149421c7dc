"""The API resolver every HTTP function uses: validation on, domain errors and validation failures
rendered as RFC 9457 problem+json, and the caller's principal and org membership at hand."""

from __future__ import annotations

import json
import traceback
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from .errors import PROBLEM_CONTENT_TYPE, DomainError, FieldError, problem
from .observability import logger

API_TITLE = "Partner programme API"
API_VERSION = "1.0.0"
INTERNAL = "internal"  # the problem code of an unexpected failure


def problem_response(body: dict[str, Any]) -> Response[str]:
    return Response(status_code=int(body["status"]), content_type=PROBLEM_CONTENT_TYPE, body=json.dumps(body))


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


def validation_problem(error: RequestValidationError) -> dict[str, Any]:
    fields = [FieldError(_field_name(e.get("loc", ())), str(e.get("msg", "invalid"))) for e in error.errors()]
    names = ", ".join(sorted({f.field for f in fields}))
    return problem(
        422, "The request has invalid fields", f"invalid fields: {names}", code="invalid-input", errors=fields
    )


def _origin(error: BaseException) -> list[str]:
    return [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)[-5:]
    ]


def create_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response[str]:
        logger.info("request refused", extra={"problem": error.code, "status": error.status})
        return problem_response(error.problem(instance=app.current_event.path))

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[str]:
        body = validation_problem(error)
        logger.info("request invalid", extra={"fields": [e["field"] for e in body["errors"]]})
        return problem_response(body)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        # Type and location only: exception messages can carry request data, which stays out of logs.
        logger.error("unexpected error", extra={"error_type": type(error).__name__, "at": _origin(error)})
        return problem_response(
            problem(500, "Internal error", "the request could not be completed; it is safe to retry", code=INTERNAL)
        )

    @app.not_found
    def _no_route(_: Exception) -> Response[str]:
        return problem_response(problem(404, "Not found", "no such route", code="not-found"))

    return app

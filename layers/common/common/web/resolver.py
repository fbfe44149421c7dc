"""The API resolver every HTTP function uses: validation on, request bodies read by common.web.request_body
(what cannot be read is a 400, 415 or 422 problem, documented on every operation that takes a body), domain
errors and validation failures rendered as RFC 9457 problem+json. Behind CloudFront, a request that did not
come through it is refused before anything is routed (common.web.edge_origin)."""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError, ResponseValidationError
from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
from aws_lambda_powertools.metrics import MetricUnit

from common.platform.errors import PROBLEM_CONTENT_TYPE, DomainError, FieldError, InternalError, InvalidInput, NotFound
from common.platform.observability import logger, metrics
from common.web import edge_origin, request_body
from common.web.openapi_docs import finish_document

# Counted (and alarmed on) when a route's answer does not fit the type it declares: a defect, answered 500.
INVALID_ANSWERS_METRIC = "InvalidAnswers"
API_TITLE = "Partner programme API"
API_VERSION = "1.0.0"


def problem_response(body: dict[str, Any]) -> Response[str]:
    return Response(status_code=int(body["status"]), content_type=PROBLEM_CONTENT_TYPE, body=json.dumps(body))


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


def validation_problem(error: RequestValidationError, instance: str) -> dict[str, Any]:
    fields = [FieldError(_field_name(e.get("loc", ())), str(e.get("msg", "invalid"))) for e in error.errors()]
    names = ", ".join(sorted({f.field for f in fields}))
    return InvalidInput(f"invalid fields: {names}", errors=fields).problem(instance)


def _origin(error: BaseException) -> list[str]:
    return [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)[-5:]
    ]


class _BodyReadingValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation with bodies read by common.web.request_body. Its _get_body is called
    only for routes that take a body, so a route without one ignores whatever body came along."""

    def _get_body(self, app: Any) -> Any:
        return request_body.json_value(app.current_event.raw_event)


class _AnswerValidation(OpenAPIResponseValidationMiddleware):
    """Powertools' answer validation, but a 204 has no body to validate: a route answering 200 with T or 204
    (no content) declares Response[T]; nor does a route's CSV or PDF alternative to its JSON answer T."""

    def _handle_response(self, *, route: Any, response: Response[Any]) -> Response[Any]:
        if response.status_code == 204:
            return response
        if not response.is_json():
            # A non-JSON alternative of a JSON answer (a statement's CSV or PDF): its type documents the JSON.
            return response
        return super()._handle_response(route=route, response=response)


class ApiResolver(APIGatewayHttpResolver):
    def __init__(self) -> None:
        # Answers are validated against each route's return type too; one that does not fit is raised as a
        # ResponseValidationError (rendered below as a 500 problem), never as the caller's 422.
        super().__init__(enable_validation=True, response_validation_error_http_code=500)
        # Each route's middleware chain starts with this attribute (set by the base class when validation
        # is on); unit tests of request bodies fail if a Powertools upgrade stops using it.
        self._request_validation_middleware = _BodyReadingValidation()
        self._response_validation_middleware = _AnswerValidation(has_response_validation_error=True)

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        # Before routing: a direct request learns nothing, not even which paths exist.
        refused = edge_origin.refusal(event)
        return refused if refused is not None else super().resolve(event, context)

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> OpenAPI:
        return finish_document(super().get_openapi_schema(*args, **kwargs))

    def _to_response(self, result: Any) -> Any:
        response = super()._to_response(result)
        if isinstance(response, Response) and response.status_code == 204:  # no content, so no media type
            response.headers.pop("Content-Type", None)
        return response


def create_resolver() -> APIGatewayHttpResolver:
    app = ApiResolver()

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response[str]:
        logger.info("request refused", extra={"problem": error.code, "status": error.status})
        return problem_response(error.problem(instance=app.current_event.path))

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[str]:
        body = validation_problem(error, app.current_event.path)
        logger.info("request invalid", extra={"fields": [e["field"] for e in body["errors"]]})
        return problem_response(body)

    @app.exception_handler(ResponseValidationError)
    def _invalid_answer(error: ResponseValidationError) -> Response[str]:
        # Where the answer and its type part, never the values (they can be personal data).
        route = app.context.get("_route")
        logger.error(
            "answer does not fit its type",
            extra={
                "route": f"{route.method} {route.openapi_path}" if route else "unknown",
                "fields": [_field_name(e.get("loc", ())) for e in error.errors()],
                "errors": [e.get("type") for e in error.errors()],
            },
        )
        metrics.add_metric(name=INVALID_ANSWERS_METRIC, unit=MetricUnit.Count, value=1)
        return problem_response(InternalError().problem(app.current_event.path))

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        # Type and location only: exception messages can carry request data, which stays out of logs.
        logger.error("unexpected error", extra={"error_type": type(error).__name__, "at": _origin(error)})
        return problem_response(InternalError().problem(app.current_event.path))

    @app.not_found
    def _no_route(_: Exception) -> Response[str]:
        path = app.current_event.path
        return problem_response(NotFound("no such route").problem(path))

    return app

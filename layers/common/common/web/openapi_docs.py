"""OpenAPI documentation helpers shared by the API functions: the problem body, the standard refusals and
how a route lists its responses. A success's body is never described here: Powertools documents it from the
route's return type (the answer model it returns), so what the document says is what the route answers."""

from __future__ import annotations

import json
import re

from aws_lambda_powertools.event_handler.openapi.models import OpenAPI, Operation, PathItem
from aws_lambda_powertools.event_handler.openapi.models import Response as DocumentedResponse
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from common.orgs.access import Permission
from common.platform.errors import PROBLEM_CONTENT_TYPE

Responses = dict[int, OpenAPIResponse]


class ProblemField(BaseModel):
    model_config = ConfigDict(extra="allow")

    field: str = Field(description="location and name, e.g. body.phone or query.cursor")
    message: str


# The codes in a problem's type; the status gives the class of refusal, the code its cause.
PROBLEM_CODES = (
    "unauthorized",
    "forbidden",
    "mfa-required",
    "not-found",
    "conflict",
    "invalid-input",
    "lead-not-found",
    "lead-unavailable",
    "lead-assigned-to-another-user",
    "lead-not-returnable",
    "duplicate-lead",
    "leads-changed",
    "company-not-buying",
    "already-sold",
    "not-for-sale",
    "customer-not-found",
    "email-not-confirmed",
    "terms-not-accepted",
    "status-transition-not-allowed",
    "token-used",
    "deal-changed",
    "member-has-customers",
    "customer-changed",
    "admin-not-assignable",
    "removal-request-open",
    "removal-decided",
    "customer-finished",
    "referral-taken",
    "referral-expired",
    "referral-not-eligible",
    "team-not-offerable",
    "team-removed",
    "token-expired",
    "no-commission-plan",
    "balance-insufficient",
    "payout-request-open",
    "payout-settled",
    "closing-exists",
    "customer-closed",
    "customer-not-closed",
    "fee-settled",
    "fee-not-owed",
    "fee-ledger-busy",
    "malformed-body",
    "unsupported-media-type",
    "idempotency-key-reused",
    "idempotency-in-progress",
    "internal",
)


class Problem(BaseModel):
    """RFC 9457 problem details (other members may follow, as the RFC allows)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description=f"/problems/<code>, the code one of: {', '.join(PROBLEM_CODES)}")
    title: str
    status: int
    detail: str
    instance: str = Field(description="the request path")
    errors: list[ProblemField] | None = None
    conflicting_ids: list[str] | None = Field(
        None,
        description="on a refusal that stands on other items: their ids (a changed item's current version), "
        "e.g. the partner it already is, the customers a member holds, the open payout request",
    )
    lead_ids: list[str] | None = Field(
        None, description="duplicate-lead: the earlier leads with the same phone number or e-mail address"
    )


def ok(description: str, status: int = 200) -> Responses:
    """A JSON answer: its schema is the route's return type (`Response[T]` or `T`), filled in by Powertools."""
    return {status: {"description": description}}


def no_content(description: str) -> Responses:
    # Empty content: otherwise Powertools would describe the handler's return annotation as the body.
    return {204: {"description": description, "content": {}}}


def _problem(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"model": Problem}}}


UNAUTHORIZED = "The request reached the function without a verified caller"
STAFF_ONLY = "Only staff users may call this; machine credentials may only post leads"
INVALID = "The request has invalid fields"
NOT_A_MEMBER = "The caller is not a member of the organisation (or it does not exist)"
# Powertools lists a 422 on every operation when validation is on; it cannot be left out per route.
NO_INPUT = "Not sent by this route: it takes no query or body to validate"


def missing(permission: Permission) -> str:
    return f"Missing the {permission.value} permission (or not a staff user)"


def answers(
    *success: Responses,
    forbidden: str,
    not_found: str | None = None,
    conflict: str | None = None,
    invalid: str | None = None,
) -> Responses:
    """A route's documented responses: its successes, then its problems (401 and 403 on every route)."""
    documented: Responses = {}
    for responses in success:
        documented |= responses
    problems = {401: UNAUTHORIZED, 403: forbidden, 404: not_found, 409: conflict, 422: invalid or NO_INPUT}
    return documented | {status: _problem(text) for status, text in problems.items() if text}


# What common.web.request_body refuses, on every operation that takes a body (its 422s share the route's 422).
BODY_REFUSALS = {
    400: "The body cannot be read: not valid base64, UTF-8 or JSON, or nested too deep",
    415: "The body is not application/json",
}
_PROBLEM_REF = f"#/components/schemas/{Problem.__name__}"
# Powertools documents a failed answer validation with a schema of its own; ours is the internal-error problem.
_POWERTOOLS_ANSWER_ERROR = "ResponseValidationError"
UNEXPECTED = "An unexpected failure (or an answer that did not fit its type): nothing was changed, retry"


def _problem_ref(description: str) -> DocumentedResponse:
    return DocumentedResponse.model_validate(
        {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": _PROBLEM_REF}}}}
    )


def _operations(item: PathItem) -> list[Operation]:
    candidates = (item.get, item.put, item.post, item.delete, item.options, item.head, item.patch, item.trace)
    return [operation for operation in candidates if operation is not None]


def finish_document(document: OpenAPI) -> OpenAPI:
    """The resolver's document with BODY_REFUSALS listed on each operation that has a request body, the
    500 as the problem it is, and no empty `content` on answers without a body (no_content needs it only to
    stop Powertools from describing the handler's return annotation)."""
    for item in (document.paths or {}).values():
        for operation in _operations(item):
            responses = operation.responses = operation.responses or {}
            for response in responses.values():
                if isinstance(response, DocumentedResponse) and response.content == {}:
                    response.content = None
            responses[500] = _problem_ref(UNEXPECTED)
            if operation.requestBody is None:
                continue
            for status, description in BODY_REFUSALS.items():
                responses.setdefault(status, _problem_ref(description))
    if document.components and document.components.schemas:
        document.components.schemas.pop(_POWERTOOLS_ANSWER_ERROR, None)
    return _page_names(document)


_GENERIC_PAGE = re.compile(r"^Page_(\w+)_$")
_SCHEMA_REF = "#/components/schemas/"


def _page_names(document: OpenAPI) -> OpenAPI:
    """pydantic names Page[Lead]'s schema Page_Lead_; the document calls it LeadPage, as Page names it."""
    schemas = document.components.schemas if document.components else None
    renames = {name: f"{match[1]}Page" for name in schemas or {} if (match := _GENERIC_PAGE.match(name))}
    if not renames:
        return document
    text = document.model_dump_json(by_alias=True, exclude_none=True)
    for old, new in renames.items():
        text = text.replace(f'"{_SCHEMA_REF}{old}"', f'"{_SCHEMA_REF}{new}"')
    data = json.loads(text)
    data["components"]["schemas"] = {renames.get(k, k): v for k, v in data["components"]["schemas"].items()}
    return OpenAPI.model_validate(data)

"""Domain errors. Each carries its HTTP status and an RFC 9457 problem type; adapters render them.

Every problem body the API answers is a DomainError's `problem`: with `instance` (the request path) always,
`errors` naming each bad field, and `conflicting_ids` naming the other items a refusal stands on. A refusal
with its own problem type is a subclass with its own `code`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"
INTERNAL = "internal"  # the problem code of an unexpected failure


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self, detail: str, *, errors: list[FieldError] | None = None, conflicting_ids: Sequence[object] = ()
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        # The ids (or, for a changed item, the current version) of what the refusal stands on.
        self.conflicting_ids = [str(value) for value in conflicting_ids]

    def problem(self, instance: str) -> dict[str, Any]:
        return _problem_body(
            self.status,
            self.title,
            self.detail,
            code=self.code,
            instance=instance,
            errors=self.errors,
            conflicting_ids=self.conflicting_ids,
        )


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class MfaRequired(Forbidden):
    """A permission that moves money, held by a member whose sign-in has no second factor where the deployment
    requires one (common.orgs.access)."""

    code, title = "mfa-required", "Multi-factor authentication required"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict with the current state"


class InvalidInput(DomainError):
    status, code, title = 422, "invalid-input", "The request has invalid fields"


class InternalError(DomainError):
    """An unexpected failure, answered without its cause (which can carry request data)."""

    status, code, title = 500, INTERNAL, "Internal error"

    def __init__(self) -> None:
        super().__init__("the request could not be completed; it is safe to retry")


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[FieldError(field, message)])


def _problem_body(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    instance: str,
    errors: Sequence[FieldError] = (),
    conflicting_ids: Sequence[str] = (),
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    if conflicting_ids:
        body["conflicting_ids"] = list(conflicting_ids)
    return body


def problem_answer(body: dict[str, Any]) -> dict[str, Any]:
    """A problem as the answer (payload 2.0) of a handler that answers before or without the resolver."""
    return {"statusCode": body["status"], "headers": {"Content-Type": PROBLEM_CONTENT_TYPE}, "body": json.dumps(body)}


def request_path(event: Mapping[str, Any]) -> str:
    """The problem's instance for a payload 2.0 event."""
    return str(event.get("rawPath") or "/")

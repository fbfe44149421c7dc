"""Property-based requests generated from our own OpenAPI document (schemathesis): whatever the input,
the API answers without a server error, with a status, content type and body its document declares, and
every refusal is problem+json."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.support.actors import Organisation, new_organisation

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def schema_org(stack: Any) -> Organisation:
    return new_organisation(stack, reps=1)


def _operations(stack: Any) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_lists_the_lead_exchange(stack: Any) -> None:
    labels = {operation.label for operation in _operations(stack)}
    assert {
        "POST /orgs/{org_id}/partner-companies",
        "POST /orgs/{org_id}/partner-companies/{company_id}/leads",
        "POST /orgs/{org_id}/lead-queue/claims",
        "POST /orgs/{org_id}/lead-returns",
    } <= labels


def _fuzz(operation: Any, stack: Any, org: Organisation) -> None:
    is_intake = operation.path.endswith("/partner-companies/{company_id}/leads")
    token = org.company.token if is_intake else org.admin.token

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def check(case: Any) -> None:
        # Aim at a real organisation and company, so requests reach validation and the domain instead of
        # stopping at "no such organisation".
        for name, value in (("org_id", org.org_id), ("company_id", org.company_id)):
            if case.path_parameters and name in case.path_parameters:
                case.path_parameters[name] = value
        response = case.call(base_url=stack.url, headers={"Authorization": f"Bearer {token}"})
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            content_type = response.headers["content-type"]
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            assert content_type == "application/problem+json", (case.path, response.text)

    check()


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "GET"])
def test_no_generated_input_makes_the_api_fail(stack: Any, schema_org: Organisation, method: str) -> None:
    operations = [op for op in _operations(stack) if op.method.upper() == method]
    assert operations
    for operation in operations:
        _fuzz(operation, stack, schema_org)

"""Property-based requests generated from our own OpenAPI document (schemathesis): whatever the input,
the API answers without a server error, and every refusal is problem+json."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.integration.actors import Organisation, new_organisation

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def schema_org(stack: Any) -> Organisation:
    return new_organisation(stack, reps=1)


@pytest.fixture
def api_schema(stack: Any) -> Any:
    return schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.include(method=["POST", "PATCH", "GET"]).parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail(case: Any, schema_org: Organisation, stack: Any) -> None:
    # Aim the generated requests at a real organisation and company, so that they reach validation and the
    # domain instead of stopping at "no such organisation".
    if case.path_parameters:
        if "orgId" in case.path_parameters:
            case.path_parameters["orgId"] = schema_org.org_id
        if "companyId" in case.path_parameters:
            case.path_parameters["companyId"] = schema_org.company_id
    is_intake = case.operation.path.endswith("/partner-companies/{companyId}/leads")
    token = schema_org.company.token if is_intake else schema_org.admin.token
    response = case.call(base_url=stack.url, headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error])
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"] == "application/problem+json", response.text

"""An organisation with an admin, and the leads API called in-process (moto), for the partner companies' sides,
campaigns and sources."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import OPERATOR, Call, api_caller, body_of

ADMIN = "user-admin"
SELF = "self-generated"


@pytest.fixture
def call() -> Call:
    return api_caller("leads")


@pytest.fixture
def org_id(call: Call) -> str:
    created = call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme Security"})
    assert created["statusCode"] == 201, created
    return str(body_of(created)["org_id"])


def create_company(call: Call, org_id: str, **fields: Any) -> dict[str, Any]:
    created = call("POST", f"/orgs/{org_id}/partner-companies", user=ADMIN, body={"name": "Acme", **fields})
    assert created["statusCode"] == 201, created
    return body_of(created)  # type: ignore[no-any-return]


def fields_named(answer: dict[str, Any]) -> set[str]:
    assert answer["statusCode"] == 422, answer
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    return {error["field"] for error in body_of(answer)["errors"]}


from tests.unit.leads.sale_fixtures import sale_org  # noqa: E402, F401 - the sales tests' fixture

"""The integrations API end to end in-process (handler, resolver, domain, table in moto): webhook endpoints,
who may manage them, and the bad input each route refuses with a 422 naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from common.integrations import endpoints
from common.orgs.access import member_key
from common.platform import db

from tests.support import Call, api_caller, body_of

ORG, OTHER_ORG = "01J0RG0000000000000000000A", "01J0RG0000000000000000000B"
ADMIN, MANAGER, STAFF, OUTSIDER = "user-admin", "user-manager", "user-staff", "user-outsider"
PATH = f"/orgs/{ORG}/webhooks"
NEW = {"url": "https://crm.example.com/hooks", "event_types": ["lead.converted"], "description": "CRM"}


def member(org_id: str, user_id: str, role: str = "staff", permissions: tuple[str, ...] = ()) -> None:
    db.put(
        {**member_key(org_id, user_id), "entity": "member", "org_id": org_id, "user_id": user_id, "role": role}
        | ({"permissions": list(permissions)} if permissions else {})
    )


@pytest.fixture(autouse=True)
def org() -> None:
    member(ORG, ADMIN, "admin")
    member(ORG, MANAGER, permissions=("integrations:manage",))
    member(ORG, STAFF, permissions=("companies:manage", "members:manage"))
    member(OTHER_ORG, OUTSIDER, "admin")


@pytest.fixture
def call() -> Call:
    return api_caller("integrations", user=ADMIN)


def created(call: Call, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    response = call("POST", PATH, body=body or NEW, **kwargs)
    assert response["statusCode"] == 201, response
    return body_of(response)  # type: ignore[no-any-return]


def test_an_admin_manages_an_endpoint_and_sees_its_secret_twice_only(call: Call) -> None:
    endpoint = created(call)
    path = f"{PATH}/{endpoint['endpoint_id']}"
    assert endpoint["secret"].startswith("whsec_") and endpoint["event_types"] == ["lead.converted"]

    read = call("GET", path)
    listed = call("GET", PATH)
    assert (read["statusCode"], listed["statusCode"]) == (200, 200)
    assert "secret" not in body_of(read) and "whsec_" not in read["body"]
    assert [e["endpoint_id"] for e in body_of(listed)["items"]] == [endpoint["endpoint_id"]]
    assert "whsec_" not in listed["body"]

    changed = call("PATCH", path, body={"description": None, "event_types": ["all"]})
    assert changed["statusCode"] == 200, changed
    assert (body_of(changed)["description"], body_of(changed)["event_types"]) == (None, ["all"])

    rotated = call("POST", f"{path}/rotate-secret")
    assert rotated["statusCode"] == 200
    assert body_of(rotated)["secret"] not in (endpoint["secret"], None)
    assert body_of(rotated)["previous_secret_expires_at"] is not None
    assert "previous_secret" not in body_of(rotated)

    disabled = call("POST", f"{path}/disable")
    assert (body_of(disabled)["enabled"], body_of(disabled)["disabled_reason"]) == (False, "admin")
    enabled = call("POST", f"{path}/enable")
    assert (body_of(enabled)["enabled"], body_of(enabled)["disabled_reason"]) == (True, None)

    assert call("DELETE", path)["statusCode"] == 204
    assert call("GET", path)["statusCode"] == 404
    assert call("DELETE", path)["statusCode"] == 404


def test_a_retried_creation_with_its_idempotency_key_makes_one_endpoint(call: Call) -> None:
    key = {"idempotency-key": "create-crm-hook-1"}
    first = created(call, headers=key)
    again = created(call, headers=key)
    assert again == first
    assert len(body_of(call("GET", PATH))["items"]) == 1


ROUTES = [
    ("POST", "", NEW),
    ("GET", "", None),
    ("GET", "/{id}", None),
    ("PATCH", "/{id}", {"description": "changed"}),
    ("POST", "/{id}/rotate-secret", None),
    ("POST", "/{id}/disable", None),
    ("POST", "/{id}/enable", None),
    ("DELETE", "/{id}", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
def test_the_permission_decides_and_other_organisations_see_nothing(
    call: Call, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    endpoint_id = created(call)["endpoint_id"]
    path = PATH + suffix.format(id=endpoint_id)

    refused = call(method, path, user=STAFF, body=body)
    assert refused["statusCode"] == 403, refused
    assert "integrations:manage" in body_of(refused)["detail"]
    assert call(method, path, user=OUTSIDER, body=body)["statusCode"] == 404
    # Another organisation's admin naming this organisation's endpoint under their own organisation.
    if "{id}" in suffix:
        theirs = f"/orgs/{OTHER_ORG}/webhooks" + suffix.format(id=endpoint_id)
        assert call(method, theirs, user=OUTSIDER, body=body)["statusCode"] == 404
    allowed = call(method, path, user=MANAGER, body=body)
    assert allowed["statusCode"] in (200, 201, 204), allowed


def test_machine_credentials_are_refused(call: Call) -> None:
    assert call("GET", PATH, user=None, machine="client-1")["statusCode"] == 403


def field_refused(response: dict[str, Any]) -> list[str]:
    assert response["statusCode"] == 422, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    return [e["field"] for e in body_of(response)["errors"]]


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com/hooks",
        "https://user:password@crm.example.com/hooks",
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "https://172.16.5.4/hooks",
        "https://192.168.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://localhost/hooks",
        "https://crm.example.com/" + "a" * 2000,
        "",
    ],
)
def test_urls_outside_the_policy_are_refused_naming_the_url(call: Call, url: str) -> None:
    assert field_refused(call("POST", PATH, body={**NEW, "url": url})) == ["body.url"]
    endpoint_id = created(call)["endpoint_id"]
    assert field_refused(call("PATCH", f"{PATH}/{endpoint_id}", body={"url": url})) == ["body.url"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "event_types": ["lead.vanished"]}, "body.event_types"),
        ({**NEW, "event_types": ["all", "lead.converted"]}, "body.event_types"),
        ({**NEW, "event_types": []}, "body.event_types"),
        ({**NEW, "event_types": ["LEAD"]}, "body.event_types.0"),
        ({"url": NEW["url"]}, "body.event_types"),
        ({**NEW, "description": "d" * 501}, "body.description"),
        ({**NEW, "secret": "whsec_mine"}, "body.secret"),
    ],
)
def test_other_bad_input_is_refused_naming_the_field(call: Call, body: dict[str, Any], field: str) -> None:
    assert field_refused(call("POST", PATH, body=body)) == [field]
    assert body_of(call("GET", PATH))["items"] == []


def test_too_many_endpoints_is_refused_naming_the_url(call: Call) -> None:
    for _ in range(endpoints.MAX_ENDPOINTS_PER_ORG):
        created(call)
    refused = call("POST", PATH, body=NEW)
    assert field_refused(refused) == ["body.url"]
    assert str(endpoints.MAX_ENDPOINTS_PER_ORG) in body_of(refused)["detail"]


def test_a_malformed_endpoint_id_is_invalid_input(call: Call) -> None:
    assert field_refused(call("GET", f"{PATH}/not-an-id")) == ["path.endpoint_id"]


def test_the_document_shows_the_secret_in_the_creation_and_rotation_answers_only() -> None:
    from integrations.api import app

    document = json.loads(app.get_openapi_json_schema(title="t", version="1"))
    schemas = document["components"]["schemas"]
    with_secret = {name for name, schema in schemas.items() if "secret" in schema.get("properties", {})}
    assert with_secret == {"WebhookEndpointWithSecret"}
    answered = {
        f"{method.upper()} {path}": operation["responses"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    secret_ref = "#/components/schemas/WebhookEndpointWithSecret"
    assert sorted(op for op, responses in answered.items() if secret_ref in json.dumps(responses)) == [
        "POST /orgs/{org_id}/webhooks",
        "POST /orgs/{org_id}/webhooks/{endpoint_id}/rotate-secret",
    ]

"""Webhook endpoints over HTTP against the local stack: an admin creates, reads, changes, rotates, disables,
enables and deletes them; the secret is answered on creation and rotation only; who may manage them; the bad
input each refuses with a 422 naming the field; and the organisation's limit, also under racing creations."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from common.integrations import endpoints
from common.integrations.endpoints import MAX_ENDPOINTS_PER_ORG
from common.platform import db

from local.stack import LocalStack
from tests.integration.support.actors import Organisation, new_organisation, new_user

# Nothing listens on the discard port: were a delivery made, it would fail at once.
URL = "http://127.0.0.1:9/hooks"


def path(org: Organisation, endpoint_id: str = "", action: str = "") -> str:
    return "/".join(p for p in (f"/orgs/{org.org_id}/webhooks", endpoint_id, action) if p)


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def create(org: Organisation, **body: Any) -> dict[str, Any]:
    return ok(org.admin.post(path(org), {"url": URL, "event_types": ["all"], **body}), 201)  # type: ignore[no-any-return]


def refused_field(response: requests.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


@pytest.fixture(scope="module")
def org(stack: LocalStack) -> Organisation:
    return new_organisation(stack, reps=0)


def test_an_admin_manages_an_endpoint_and_sees_its_secret_on_creation_and_rotation_only(
    stack: LocalStack, org: Organisation
) -> None:
    admin = org.admin
    created = create(org, description="CRM sync")
    endpoint = path(org, created["endpoint_id"])
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 24
    assert (created["url"], created["event_types"], created["enabled"]) == (URL, ["all"], True)

    read = admin.get(endpoint)
    listed = admin.get(path(org))
    assert "whsec_" not in read.text and "whsec_" not in listed.text
    assert ok(read)["endpoint_id"] in [e["endpoint_id"] for e in ok(listed)["items"]]

    changed = ok(admin.patch(endpoint, {"url": "https://crm.example/in", "event_types": ["all"], "description": None}))
    assert (changed["url"], changed["event_types"], changed["description"]) == ("https://crm.example/in", ["all"], None)

    rotated = ok(admin.post(path(org, created["endpoint_id"], "rotate-secret")))
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert expires - datetime.fromisoformat(rotated["secret_created_at"]) == timedelta(hours=24)
    # Deliveries meanwhile are signed with both secrets, the new one first.
    stored = db.get(endpoints.endpoint_key(org.org_id, created["endpoint_id"]))
    assert stored is not None
    now = datetime.fromisoformat(rotated["secret_created_at"])
    assert endpoints.signing_secrets(stored, now) == [rotated["secret"], created["secret"]]
    assert endpoints.signing_secrets(stored, now + timedelta(hours=24)) == [rotated["secret"]]
    assert "whsec_" not in admin.get(endpoint).text

    disabled = ok(admin.post(path(org, created["endpoint_id"], "disable")))
    assert (disabled["enabled"], disabled["disabled_reason"]) == (False, "admin")
    enabled = ok(admin.post(path(org, created["endpoint_id"], "enable")))
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["disabled_at"]) == (True, None, None)

    assert admin.call("DELETE", endpoint).status_code == 204
    assert admin.get(endpoint).status_code == 404
    assert admin.call("DELETE", endpoint).status_code == 404
    assert created["endpoint_id"] not in [e["endpoint_id"] for e in ok(admin.get(path(org)))["items"]]


def test_the_permission_decides_and_other_organisations_see_nothing(stack: LocalStack, org: Organisation) -> None:
    endpoint_id = create(org, enabled=False)["endpoint_id"]
    staff, manager = new_user(stack, "staff"), new_user(stack, "integrator")
    ok(org.admin.put(f"/orgs/{org.org_id}/members/{staff.user_id}", {"permissions": ["companies:manage"]}))
    ok(org.admin.put(f"/orgs/{org.org_id}/members/{manager.user_id}", {"permissions": ["integrations:manage"]}))
    outsider = new_organisation(stack, reps=0)

    assert staff.get(path(org, endpoint_id)).status_code == 403
    assert staff.post(path(org), {"url": URL, "event_types": ["all"]}).status_code == 403
    assert outsider.admin.get(path(org, endpoint_id)).status_code == 404
    assert outsider.admin.get(path(outsider, endpoint_id)).status_code == 404
    assert outsider.admin.post(path(outsider, endpoint_id, "rotate-secret")).status_code == 404
    assert ok(manager.get(path(org, endpoint_id)))["endpoint_id"] == endpoint_id
    assert ok(manager.post(path(org, endpoint_id, "rotate-secret")))["secret"].startswith("whsec_")
    assert org.company.get(path(org)).status_code == 403  # machine credentials post leads only
    assert org.admin.call("DELETE", path(org, endpoint_id)).status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://crm.example/in"}, "body.url"),
        ({"url": "https://user:secret@crm.example/in"}, "body.url"),
        ({"url": "https://10.1.2.3/in"}, "body.url"),
        ({"url": "https://172.20.0.1/in"}, "body.url"),
        ({"url": "https://192.168.10.1/in"}, "body.url"),
        ({"url": "https://169.254.169.254/latest/meta-data/"}, "body.url"),
        ({"url": "https://[fd00:ec2::254]/"}, "body.url"),
        ({"url": "https://[::ffff:10.0.0.1]/in"}, "body.url"),
        ({"url": "https://crm.example/" + "a" * 1990}, "body.url"),
        ({"event_types": ["all", "lead.converted"]}, "body.event_types"),
        ({"description": "d" * 501}, "body.description"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    org: Organisation, body: dict[str, Any], field: str
) -> None:
    before = ok(org.admin.get(path(org)))["items"]
    assert refused_field(org.admin.post(path(org), {"url": URL, "event_types": ["all"], **body})) == [field]
    assert ok(org.admin.get(path(org)))["items"] == before


def test_a_change_is_checked_like_a_creation(org: Organisation) -> None:
    endpoint_id = create(org, enabled=False)["endpoint_id"]
    for body, field in (
        ({"url": "https://user@crm.example/in"}, "body.url"),
        ({"url": "https://10.0.0.8:8443/in"}, "body.url"),
        ({"url": None}, "body.url"),
    ):
        assert refused_field(org.admin.patch(path(org, endpoint_id), body)) == [field]
    assert org.admin.call("DELETE", path(org, endpoint_id)).status_code == 204


def test_event_types_come_from_the_published_catalogue(org: Organisation) -> None:
    created = create(org, event_types=["lead.converted", "lead.converted"], enabled=False)
    assert created["event_types"] == ["lead.converted"]
    for body in ({"url": URL, "event_types": ["lead.vanished"]}, {"url": URL, "event_types": ["webhook.test"]}):
        assert refused_field(org.admin.post(path(org), body)) == ["body.event_types"]
    endpoint = path(org, created["endpoint_id"])
    assert refused_field(org.admin.patch(endpoint, {"event_types": ["nothing.here"]})) == ["body.event_types"]
    assert ok(org.admin.get(endpoint))["event_types"] == ["lead.converted"]
    assert org.admin.call("DELETE", endpoint).status_code == 204


def test_racing_creations_never_pass_the_organisations_limit(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=0)
    for _ in range(MAX_ENDPOINTS_PER_ORG - 3):
        create(org, enabled=False)

    disabled = {"url": URL, "event_types": ["all"], "enabled": False}
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: org.admin.post(path(org), disabled), range(8)))

    assert sorted(a.status_code for a in answers) == [201] * 3 + [422] * 5, [a.text for a in answers]
    assert {tuple(refused_field(a)) for a in answers if a.status_code == 422} == {("body.url",)}
    listed = ok(org.admin.get(path(org), params={"limit": 100}))["items"]
    assert len(listed) == MAX_ENDPOINTS_PER_ORG

    # Deleting one makes room for exactly one more.
    assert org.admin.call("DELETE", path(org, listed[0]["endpoint_id"])).status_code == 204
    create(org, enabled=False)
    assert refused_field(org.admin.post(path(org), {"url": URL, "event_types": ["all"]})) == ["body.url"]

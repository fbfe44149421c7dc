"""The leads API's OpenAPI document: every operation declares its answers (success bodies as JSON, refusals
as RFC 9457 problems), the document is valid OpenAPI, and what the API really answers conforms to it."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
import schemathesis
from common.integrations import sale_deliveries
from common.leads.companies import company_key
from common.leads.model import lead_key
from common.platform import db
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.support import OPERATOR, api_caller, body_of, core_modules
from tests.unit.conftest import WEBHOOK_QUEUE_URL
from tests.unit.functions.leads.test_customer_intake import body as purchased_customer
from tests.unit.functions.leads.test_customer_intake import sell_customers

# These tests create users or app clients in the user pool.
pytestmark = pytest.mark.cognito

ADMIN, REP = "user-admin", "user-rep"
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations that can meet a conflict with the current state (or a generated id that collided).
WITH_CONFLICTS = {
    "POST /orgs",
    "PUT /orgs/{org_id}/members/{user_id}",
    "DELETE /orgs/{org_id}/members/{user_id}",
    "POST /orgs/{org_id}/partner-companies",
    "PATCH /orgs/{org_id}/partner-companies/{company_id}",
    "POST /orgs/{org_id}/partner-companies/{company_id}/campaigns",
    "PATCH /orgs/{org_id}/partner-companies/{company_id}/campaigns/{campaign_id}",
    "DELETE /orgs/{org_id}/partner-companies/{company_id}/campaigns/{campaign_id}",
    "POST /orgs/{org_id}/partner-companies/{company_id}/credentials",
    "POST /orgs/{org_id}/partner-companies/{company_id}/leads",
    "POST /orgs/{org_id}/partner-companies/{company_id}/customers",
    "POST /orgs/{org_id}/leads",
    "POST /orgs/{org_id}/leads/{lead_id}/keep",
    "POST /orgs/{org_id}/leads/{lead_id}/requeue",
    "POST /orgs/{org_id}/leads/{lead_id}/invalidate",
    "POST /orgs/{org_id}/leads/{lead_id}/convert",
    "POST /orgs/{org_id}/lead-returns",
    "POST /orgs/{org_id}/lead-duplicate-checks",
    "POST /orgs/{org_id}/partner-companies/{company_id}/lead-duplicate-checks",
    "POST /orgs/{org_id}/lead-sales",
    "POST /orgs/{org_id}/customer-sales",
    "POST /orgs/{org_id}/partner-companies/{company_id}/sale-posts/{sale_id}/resend",
}


@pytest.fixture
def document() -> dict[str, Any]:
    # Imported inside the test: the unit conftest has set the functions' environment (and mocked AWS) by then.
    api = importlib.import_module("leads.api")
    http = importlib.import_module("common.web.resolver")
    generated: dict[str, Any] = json.loads(
        api.app.get_openapi_json_schema(title=http.API_TITLE, version=http.API_VERSION)
    )
    return generated


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_documents_its_success_with_a_schema(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert successes, label
        for status, response in successes.items():
            if status == "204":
                assert not response.get("content"), label
            else:
                assert response["content"]["application/json"]["schema"]["$ref"].startswith("#/components/"), label


def test_every_refusal_is_documented_as_a_problem(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        refusals = {status: r for status, r in operation["responses"].items() if status.startswith("4")}
        expected = {"401", "403", "422"} | ({"404"} if "{org_id}" in label else set())
        expected |= {"409"} if label in WITH_CONFLICTS else set()
        expected |= {"400", "415"} if "requestBody" in operation else set()  # an unreadable body
        assert set(refusals) == expected, label
        for status, response in refusals.items():
            assert response["content"] == PROBLEM, (label, status)
            assert response["description"], (label, status)


def test_validation_failures_are_documented_where_there_is_input(document: dict[str, Any]) -> None:
    no_input = importlib.import_module("common.web.openapi_docs").NO_INPUT
    for label, operation in operations(document):
        has_input = "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
        assert (operation["responses"]["422"]["description"] != no_input) is has_input, label


def test_lead_intake_answers_with_the_receipt(document: dict[str, Any]) -> None:
    intake = document["paths"]["/orgs/{org_id}/partner-companies/{company_id}/leads"]["post"]["responses"]
    for status in ("201", "200"):
        assert intake[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/IntakeReceipt"}
    receipt = document["components"]["schemas"]["IntakeReceipt"]
    assert set(receipt["required"]) == {"lead_id", "external_id", "company_id", "received_at"}


def test_the_problem_lists_every_code_a_refusal_can_carry(document: dict[str, Any]) -> None:
    core_modules()
    errors = importlib.import_module("common.platform.errors")
    refusals, codes = [errors.DomainError], set()
    while refusals:
        subclasses = refusals.pop().__subclasses__()
        refusals += subclasses
        codes |= {refusal.code for refusal in subclasses}
    from common.web import idempotency

    codes |= {errors.INTERNAL, idempotency.KEY_REUSED, idempotency.IN_PROGRESS}
    assert codes == set(importlib.import_module("common.web.openapi_docs").PROBLEM_CODES)
    assert (
        "lead-assigned-to-another-user"
        in document["components"]["schemas"]["Problem"]["properties"]["type"]["description"]
    )


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    schema = schemathesis.openapi.from_dict(document)
    loaded = [result.ok() for result in schema.get_all_operations()]
    assert sorted(o.label for o in loaded) == sorted(label for label, _ in operations(document))


def signed_up(email: str) -> str:
    """A user of the pool (the unit tests' users are not), by their sub."""
    created = boto3.client("cognito-idp").admin_create_user(
        UserPoolId=os.environ["USER_POOL_ID"], Username=email, MessageAction="SUPPRESS"
    )
    return next(str(a["Value"]) for a in created["User"]["Attributes"] if a["Name"] == "sub")


class ConformingApi:
    """Calls the API in-process and checks every answer against the document, as schemathesis would."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.api = api_caller("leads")
        self.schema = schemathesis.openapi.from_dict(document)
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self.api(method, path, **kwargs)
        operation = self.schema.find_operation_by_path(method, path)
        assert operation is not None, path
        response = schemathesis.Response(
            status_code=answer["statusCode"],
            headers={name: [value] for name, value in answer.get("headers", {}).items()},
            content=(answer.get("body") or "").encode(),
            request=requests.Request(method, f"http://api.test{path}").prepare(),
            elapsed=0.0,
            verify=True,
        )
        segments = zip(operation.path.split("/"), path.split("/"), strict=True)
        path_parameters = {name[1:-1]: value for name, value in segments if name.startswith("{")}
        operation.Case(path_parameters=path_parameters).validate_response(response, checks=CHECKS)
        self.seen.add((operation.label, str(answer["statusCode"])))
        return answer

    def created(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self(method, path, **kwargs)
        assert answer["statusCode"] in (200, 201), answer
        return body_of(answer)


def test_what_the_api_answers_conforms_to_the_document(document: dict[str, Any]) -> None:
    call = ConformingApi(document)
    org_id = call.created("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme Security"})["org_id"]
    org = f"/orgs/{org_id}"
    call("GET", "/orgs", user=ADMIN)
    call("GET", org, user=ADMIN)
    call("PUT", f"{org}/members/{REP}", user=ADMIN, body={"permissions": ["leads:request"], "display_name": "Rep"})
    call("GET", f"{org}/members", user=ADMIN)
    template = {"name": "Returned", "subject": "Lead {{lead.id}}", "body": "Returned: {{comments}}"}
    template_id = call.created("POST", f"{org}/message-templates", user=ADMIN, body=template)["template_id"]
    call("GET", f"{org}/message-templates", user=ADMIN)
    call("GET", f"{org}/message-templates/{template_id}", user=ADMIN)

    seller = {"name": "Seller", "sells_leads": True, "default_lead_location": "queue", "queue_priority": "high"}
    company_id = call.created("POST", f"{org}/partner-companies", user=ADMIN, body=seller)["company_id"]
    company = f"{org}/partner-companies/{company_id}"
    call("GET", f"{org}/partner-companies", user=ADMIN)
    call("PATCH", company, user=ADMIN, body={"notes": "weekly", "auto_response_template_id": template_id})
    call("PATCH", company, user=ADMIN, body={"auto_response_template_id": None})
    client_id = call.created("POST", f"{company}/credentials", user=ADMIN)["client_id"]
    call("GET", company, user=ADMIN)
    spring = {"name": "Spring", "sender_campaign_id": "SPRING-1"}
    campaign_id = call.created("POST", f"{company}/campaigns", user=ADMIN, body=spring)["campaign_id"]
    call("PATCH", f"{company}/campaigns/{campaign_id}", user=ADMIN, body={"description": "Postcards"})
    call("GET", f"{company}/campaigns/{campaign_id}", user=ADMIN)
    call("GET", f"{company}/campaigns", user=ADMIN)
    call("GET", f"{org}/sources", user=ADMIN, query={"for": "leads"})

    def intake(external_id: str, **fields: Any) -> Any:
        lead = {"external_id": external_id, "contact_name": "Jane", "phone": "+15550100", **fields}
        return call.created("POST", f"{company}/leads", machine=client_id, body=lead)["lead_id"]

    bought = intake("A-1", address={"line1": "1 Main St", "country": "NL"}, campaign_id="SPRING-1")
    assert intake("A-1") == bought  # 200 the second time
    call("GET", f"{company}/leads/A-1/status", machine=client_id)
    sell_customers(org_id, company_id)
    for _ in range(2):  # 201, then 200
        call.created("POST", f"{company}/customers", machine=client_id, body=purchased_customer(external_id="C-1"))
    call("DELETE", f"{company}/campaigns/{campaign_id}", user=ADMIN)
    manual = {"contact_name": "Walk-in", "email": "walk@in.example", "location": "queue", "source_id": "self-generated"}
    walk_in = call.created("POST", f"{org}/leads", user=ADMIN, body=manual)["lead_id"]
    call("GET", f"{org}/leads", user=ADMIN, query={"status": "queued"})
    assert call.created("POST", f"{org}/lead-queue/claims", user=REP)["lead_id"] == bought
    call("GET", f"{org}/my-leads", user=REP)
    call("POST", f"{org}/leads/{bought}/keep", user=REP)
    customer_id = call.created("POST", f"{org}/leads/{bought}/convert", user=REP)["customer"]["customer_id"]
    call("GET", f"{org}/customers/{customer_id}", user=REP)
    call("GET", f"{org}/customers", user=REP)
    assert call.created("POST", f"{org}/lead-queue/claims", user=REP)["lead_id"] == walk_in
    call("POST", f"{org}/leads/{walk_in}/requeue", user=REP, body={"contact_not_before": "2026-11-23T09:00:00Z"})
    assert call("POST", f"{org}/lead-queue/claims", user=REP)["statusCode"] == 204
    call("GET", f"{org}/leads/{walk_in}", user=ADMIN)
    pending = intake("P-1", requested_location="pending")
    call("POST", f"{org}/leads/{pending}/invalidate", user=ADMIN, body={"reason": "duplicate"})
    returned = intake("R-1")
    call("POST", f"{org}/lead-returns", user=ADMIN, body={"lead_ids": [returned], "comments": "disconnected"})
    call("GET", f"{org}/leads/{returned}", user=ADMIN)
    call("GET", f"{org}/leads/{returned}/history", user=ADMIN)

    # Queue settings, and the duplicate check on both ways in (before the rule: nothing is a duplicate).
    call("GET", f"{org}/queue-settings", user=REP)
    rules = {
        "put_back_hold_minutes": 15,
        "queue_hours": {"from": "08:00", "until": "20:00"},
        "duplicates": {"allowed": "after_days", "days": 30},
        "fallback_time_zone": "America/Chicago",
    }
    assert call.created("PUT", f"{org}/queue-settings", user=ADMIN, body=rules)["queue_hours"]["from"] == "08:00"
    checked = {"external_id": "C-1", "contact_name": "Jane", "phone": "+15550100"}
    assert call("POST", f"{company}/lead-duplicate-checks", machine=client_id, body=checked)["statusCode"] == 204
    assert call("POST", f"{org}/lead-duplicate-checks", user=ADMIN, body=manual)["statusCode"] == 204
    first = intake("D-1", phone="+15550199")
    duplicate = call(
        "POST",
        f"{org}/leads",
        user=ADMIN,
        body={"contact_name": "Jo", "phone": "+1 555 0199", "source_id": "self-generated"},
    )
    assert (duplicate["statusCode"], body_of(duplicate)["lead_ids"]) == (409, [first])
    # Sales, to a company that buys leads by post and customers by e-mail (its sides written as kept), and the
    # log of the lead's post (handed on as the stream's consumer would, then failed) with its resend.
    buyer_id = call.created("POST", f"{org}/partner-companies", user=ADMIN, body={"name": "Buyer"})["company_id"]
    buyer = f"{org}/partner-companies/{buyer_id}"
    post = {"method": "post", "post_url": "https://buyer.example/leads", "source_id": "S-1"}
    email = {"method": "email", "email_addresses": ["buying@buyer.example"]}
    db.update(
        company_key(org_id, buyer_id),
        expression="SET buys_leads = :on, lead_sale = :post, buys_customers = :on, customer_sale = :email",
        values={":on": True, ":post": post, ":email": email},
    )
    boto3.client("sqs").create_queue(QueueName=WEBHOOK_QUEUE_URL.rsplit("/", 1)[1])
    for_sale = intake("S-1")
    sold = call.created("POST", f"{org}/lead-sales", user=ADMIN, body={"company_id": buyer_id, "lead_ids": [for_sale]})
    sale = sold["items"][0]["sale"]
    call("POST", f"{org}/customer-sales", user=ADMIN, body={"company_id": buyer_id, "customer_ids": [customer_id]})
    sale_deliveries.hand_on(db.get(lead_key(org_id, for_sale)) or {}, sale)
    key = sale_deliveries.sale_delivery_key(org_id, buyer_id, sale["sale_id"])
    db.update(key, expression="SET #s = :failed", names={"#s": "status"}, values={":failed": "failed"})
    call("GET", f"{buyer}/sale-posts", user=ADMIN)
    call("GET", f"{buyer}/sale-posts/{sale['sale_id']}", user=ADMIN)
    call("POST", f"{buyer}/sale-posts/{sale['sale_id']}/resend", user=ADMIN)
    call("POST", f"{buyer}/sale-signing-secret", user=ADMIN)

    # The sign-ins of the organisation's users: one with a sign-in in the pool, a staff member here.
    someone = signed_up("someone@acme.example")
    call("PUT", f"{org}/members/{someone}", user=ADMIN, body={"permissions": []})
    assert body_of(call("POST", f"{org}/sign-ins/{someone}/mfa-check", user=someone))["mfa"] is False
    call("POST", f"{org}/sign-ins/{someone}/sign-out", user=ADMIN)
    call("POST", f"{org}/sign-ins/{someone}/disable", user=ADMIN, groups=OPERATOR)
    assert body_of(call("DELETE", f"{org}/sign-ins/{someone}", user=ADMIN, groups=OPERATOR))["revocation"] == "delete"

    refusals = [
        call("GET", org),
        call("GET", f"{org}/leads", machine=client_id),
        call("GET", f"{org}/leads/01JD0000000000000000000000", user=ADMIN),
        call("POST", f"{org}/leads/{walk_in}/invalidate", user=ADMIN, body={"reason": "queued, not assigned"}),
        call("GET", f"{org}/partner-companies", user=ADMIN, query={"cursor": "not-a-cursor"}),
        call("DELETE", f"{org}/members/{ADMIN}", user=ADMIN),
    ]
    assert [r["statusCode"] for r in refusals] == [401, 403, 404, 409, 422, 409]
    call("DELETE", f"{org}/members/{REP}", user=ADMIN)

    documented = {
        (label, status)
        for label, operation in operations(document)
        for status in operation["responses"]
        if status.startswith("2")
    }
    assert documented <= call.seen  # every success body was checked against a real answer

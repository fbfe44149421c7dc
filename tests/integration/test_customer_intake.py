"""Customers sold to us and the status lookup, over HTTP against the local stack: a selling company's system posts
customers with its client credentials (idempotent on its external id, also when reposted concurrently), staff
with leads:manage read them, the company side's purchase addresses are told once, `customer.received` is
delivered once; and the company asks where each lead it posted stands."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from common.integrations import events
from common.leads.model import lead_key
from common.platform.db import serialize
from jsonschema import Draft202012Validator

from local import event_schemas
from local.stack import LocalStack
from tests.integration.support.actors import Actor, Organisation, lead, new_organisation
from tests.integration.support.customer_sides import OFFICE, customer, sell_customers
from tests.integration.support.webhook_receiver import listening

pytestmark = pytest.mark.integration

WAIT = 60.0


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def customers_path(org: Organisation, company_id: str | None = None) -> str:
    return f"/orgs/{org.org_id}/partner-companies/{company_id or org.company_id}/customers"


def status_path(org: Organisation, external_id: str, company_id: str | None = None) -> str:
    return f"/orgs/{org.org_id}/partner-companies/{company_id or org.company_id}/leads/{external_id}/status"


def table(stack: LocalStack) -> list[str]:
    """Every item of the table, once every change so far has reached its consumers."""
    stack.wait_for_streams(WAIT)
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.table_name, ConsistentRead=True)
    return sorted(json.dumps(item, sort_keys=True) for page in pages for item in page["Items"])


def second_company(stack: LocalStack, org: Organisation) -> tuple[str, Actor]:
    """Another company of the organisation selling leads and customers, with its own credentials."""
    body = {"name": "Other Dealer", "sells_leads": True, "default_lead_location": "queue"}
    company_id = ok(org.admin.post(f"/orgs/{org.org_id}/partner-companies", body), 201)["company_id"]
    sell_customers(stack, org.org_id, company_id)
    secret = ok(org.admin.post(f"/orgs/{org.org_id}/partner-companies/{company_id}/credentials"), 201)
    return company_id, Actor(stack.url, stack.machine_token(secret["client_id"], secret["client_secret"]))


@pytest.fixture(scope="module")
def org(stack: LocalStack) -> Organisation:
    """An organisation whose company sells it leads (into the queue) and customers."""
    made = new_organisation(stack, reps=1)
    sell_customers(stack, made.org_id, made.company_id)
    return made


# -- customers sold to us ---------------------------------------------------------------------------------


def test_a_customer_is_posted_once_and_lands_in_the_companys_office(org: Organisation) -> None:
    first = org.company.post(customers_path(org), customer("CUST-1"))
    again = org.company.post(customers_path(org), customer("CUST-1", first_name="Changed", monthly_amount=1))
    assert (first.status_code, again.status_code) == (201, 200), again.text
    receipt = first.json()
    assert again.json() == receipt
    assert (receipt["external_id"], receipt["company_id"]) == ("CUST-1", org.company_id)

    read = ok(org.admin.get(f"/orgs/{org.org_id}/customers/{receipt['customer_id']}"))
    assert (read["origin"], read["office_location"], read["owner"]) == ("purchased", OFFICE, None)
    assert read["is_partner"] is False and read["created_at"] == receipt["received_at"]
    assert read["contact"]["contact_name"] == "Jane Doe" and read["contact"]["address"]["region"] == "TX"
    assert read["account"]["first_name"] == "Jane" and read["account"]["monthly_amount"] == 4999  # the first post
    assert read["source"] == {
        "kind": "partner_company",
        "source_id": org.company_id,
        "company_id": org.company_id,
        "external_id": "CUST-1",
        "entered_by": None,
        "lead_id": None,
        "campaign_id": None,
        "campaign_name": None,
    }
    # Lead administrators see it; a rep, who owns no purchased customer, does not.
    rep = org.reps[0]
    assert rep.get(f"/orgs/{org.org_id}/customers/{receipt['customer_id']}").status_code == 403
    assert receipt["customer_id"] not in {
        c["customer_id"] for c in ok(rep.get(f"/orgs/{org.org_id}/customers"))["items"]
    }
    listed = ok(org.admin.get(f"/orgs/{org.org_id}/customers", params={"limit": 100}))["items"]
    assert receipt["customer_id"] in {c["customer_id"] for c in listed}


def test_concurrent_posts_of_one_external_id_make_one_customer(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0)
    sell_customers(stack, fresh.org_id, fresh.company_id)
    barrier = threading.Barrier(12)

    def post(_: int) -> requests.Response:
        barrier.wait()
        return fresh.company.post(customers_path(fresh), customer("RACE-1"))

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(post, range(12)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 11 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    assert len({r.json()["customer_id"] for r in responses}) == 1
    assert len(ok(fresh.admin.get(f"/orgs/{fresh.org_id}/customers"))["items"]) == 1


def test_the_purchase_notification_goes_once_per_purchase(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0)
    buyers = [f"accounts-{fresh.org_id.lower()}@buyer.example"]
    sell_customers(stack, fresh.org_id, fresh.company_id, emails=buyers)
    for external_id in ("MAIL-1", "MAIL-2", "MAIL-1", "MAIL-2", "MAIL-1"):
        assert fresh.company.post(customers_path(fresh), customer(external_id)).status_code in (200, 201)
    stack.wait_for_streams(WAIT)
    told = [m for m in stack.outbox() if m["to"] == buyers]
    assert sorted(m["subject"] for m in told) == [
        "New customer from Test Lead SELLER: MAIL-1",
        "New customer from Test Lead SELLER: MAIL-2",
    ]
    assert "Office: Austin" in told[0]["body"] and "Monthly: 49.99 USD" in told[0]["body"]


def test_a_purchased_customer_is_received_not_created_and_delivered_once(stack: LocalStack) -> None:
    with listening(stack) as receiver:
        fresh = new_organisation(stack, reps=0)
        sell_customers(stack, fresh.org_id, fresh.company_id)
        stack.wait_for_streams(WAIT)
        subscribed = {"url": receiver.url, "event_types": ["all"], "description": "CRM sync"}
        created = ok(fresh.admin.post(f"/orgs/{fresh.org_id}/webhooks", subscribed), 201)
        receiver.secrets.append(created["secret"])
        posted = [ok(fresh.company.post(customers_path(fresh), customer(f"EV-{n}")), 201) for n in range(2)]
        ok(fresh.company.post(customers_path(fresh), customer("EV-0")))
        stack.wait_for_streams(WAIT)
        recorded, _ = events.between(fresh.org_id, "2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z")
        assert Counter(e.type for e in recorded) == {"customer.received": 2}
        assert {e.data["customer_id"] for e in recorded} == {p["customer_id"] for p in posted}
        assert sorted(r["headers"]["webhook-id"] for r in receiver.requests) == sorted(e.id for e in recorded)
        schema = json.loads((event_schemas.SCHEMAS_DIR / "customer.received.v1.json").read_text())
        for request in receiver.requests:
            assert request["verified"] == [True]
            body = json.loads(request["body"])
            Draft202012Validator(schema).validate(body)
            assert body["data"]["origin"] == "purchased" and body["data"]["account"]["currency"] == "USD"


BAD_CUSTOMER = customer(
    "BAD 1",
    account_number="ACC-1",
    first_name="",
    phone="+1 512 555 0100",
    email="nope",
    address={"line1": "1 Rue", "city": "Montreal", "state": "TX", "postal_code": "H2X 1Y4", "country": "CA"},
    monthly_amount=-1,
    activation_fee=12.5,
    currency="usd",
    contract_term_months=0,
    service_flags=["Video", "video"],
    emergency_contacts=[{"name": "A", "phone": "+15125550101", "relation": "x"}] * 6,
)
BAD_FIELDS = {
    "body.external_id",
    "body.first_name",
    "body.phone",
    "body.email",
    "body.address.state",
    "body.monthly_amount",
    "body.activation_fee",
    "body.currency",
    "body.contract_term_months",
    "body.service_flags.0",
    "body.emergency_contacts",
}


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        (BAD_CUSTOMER, BAD_FIELDS),
        (customer("SRC-1", source_id="01JD0000000000000000000000"), {"body.source_id"}),
        (customer("CMP-1", campaign_id="no-such-campaign"), {"body.campaign_id"}),
        (customer("TERM-1", contract_term_months=121), {"body.contract_term_months"}),
        (
            customer(
                "STATE-1",
                address={"line1": "1 Main", "city": "X", "state": "PR", "postal_code": "00901", "country": "US"},
            ),
            {"body.address.state"},
        ),
    ],
)
def test_bad_input_names_each_field_and_writes_nothing(
    stack: LocalStack, org: Organisation, payload: dict[str, Any], fields: set[str]
) -> None:
    before = table(stack)
    refused = org.company.post(customers_path(org), payload)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in refused.json()["errors"]} == fields
    assert table(stack) == before


def test_only_a_company_selling_customers_posts_them_with_its_own_credentials(
    stack: LocalStack, org: Organisation
) -> None:
    other_id, other = second_company(stack, org)
    before = table(stack)
    assert other.post(customers_path(org), customer("OWN-1")).status_code == 404  # another company's credentials
    assert org.company.post(customers_path(org, other_id), customer("OWN-1")).status_code == 404
    assert org.admin.post(customers_path(org), customer("OWN-1")).status_code == 403  # a user is no company
    sell_customers(stack, org.org_id, other_id, sells_customers=False)
    assert other.post(customers_path(org, other_id), customer("OWN-1")).status_code == 409
    sell_customers(stack, org.org_id, other_id, active=False)
    assert other.post(customers_path(org, other_id), customer("OWN-1")).status_code == 409
    after = table(stack)
    assert len(after) == len(before)  # the company's item changed; nothing was added


# -- the status lookup ------------------------------------------------------------------------------------


def test_the_company_learns_where_each_lead_it_posted_stands(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=1)
    rep, path = fresh.reps[0], f"/orgs/{fresh.org_id}"
    ids = {}
    for name in ("assigned", "customer", "invalid", "returned"):
        ids[name] = ok(fresh.company.post(fresh.intake_path, lead(f"ST-{name}")), 201)["lead_id"]
        assert ok(rep.post(f"{path}/lead-queue/claims"))["lead_id"] == ids[name]
    ok(rep.post(f"{path}/leads/{ids['customer']}/convert"), 201)
    ok(rep.post(f"{path}/leads/{ids['invalid']}/invalidate", {"reason": "Wrong number"}))
    ok(rep.post(f"{path}/lead-returns", {"lead_ids": [ids["returned"]], "comments": "Not interested"}))
    ids["queued"] = ok(fresh.company.post(fresh.intake_path, lead("ST-queued")), 201)["lead_id"]
    ids["pending"] = ok(fresh.company.post(fresh.intake_path, lead("ST-pending", requested_location="pending")), 201)[
        "lead_id"
    ]
    ids["sold"] = ok(fresh.company.post(fresh.intake_path, lead("ST-sold")), 201)["lead_id"]
    mark_sold(stack, fresh.org_id, ids["sold"])
    expected = {
        "assigned": "assigned",
        "customer": "customer",
        "invalid": "invalid",
        "returned": "returned",
        "queued": "queued",
        "pending": "queued",
        "sold": "sold_on",
    }
    for name, status in expected.items():
        answer = ok(fresh.company.get(status_path(fresh, f"ST-{name}")))
        assert answer == {"external_id": f"ST-{name}", "lead_id": ids[name], "status": status}


def mark_sold(stack: LocalStack, org_id: str, lead_id: str) -> None:
    """A lead we sold on, as the sale leaves it (status `sold`)."""
    stack.client("dynamodb").update_item(
        TableName=stack.table_name,
        Key=serialize(lead_key(org_id, lead_id)),
        UpdateExpression="SET #s = :sold",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":sold": {"S": "sold"}},
    )


def test_another_companys_lead_and_an_unknown_one_are_not_found(stack: LocalStack, org: Organisation) -> None:
    ok(org.company.post(org.intake_path, lead("MINE-1")), 201)
    other_id, other = second_company(stack, org)
    assert ok(org.company.get(status_path(org, "MINE-1")))["status"] == "queued"
    for response in (
        org.company.get(status_path(org, "NEVER-POSTED")),
        other.get(status_path(org, "MINE-1", other_id)),  # its own path: it posted no such lead
        other.get(status_path(org, "MINE-1")),  # the first company's path: not its credentials
    ):
        assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert org.admin.get(status_path(org, "MINE-1")).status_code == 403
    assert org.company.get(status_path(org, "not valid!")).status_code == 422

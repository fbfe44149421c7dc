"""Selling leads and customers (common.leads.sales) through the leads API: one conditional write per record, a
refusal per record in a batch and as the problem for a single record, the company checked once, the lead out of
the queue and into the sold listing, its history and sale; and the events the sale means."""

from __future__ import annotations

from typing import Any

import pytest
from common.integrations.change_events import events_of
from common.leads.customers import customer_key
from common.leads.model import lead_key
from common.leads.sales import newly_sold
from common.platform import db

from tests.support import body_of, stream_record
from tests.unit.conftest import FrozenClock
from tests.unit.leads.sale_fixtures import ADMIN, REP, SELLER, SaleOrg, a_company, call, email_side, set_sides

# Members are Cognito users; credentials are app clients.
pytestmark = pytest.mark.cognito


def test_a_queued_lead_is_sold_out_of_the_queue(sale_org: SaleOrg, frozen_clock: FrozenClock) -> None:
    lead_id = sale_org.post_lead("Q-1")
    before = db.get(lead_key(sale_org.org_id, lead_id))
    assert before is not None and "gsi3pk" in before
    answer = sale_org.sell(lead_id)
    assert answer["statusCode"] == 200, answer
    result = body_of(answer)
    assert (result["sold"], result["refused"]) == (1, 0)
    [item] = result["items"]
    sale = item["sale"]
    assert item["lead_id"] == lead_id and item["sold"] is True and item["refusal"] is None
    assert sale["company_id"] == sale_org.buyer and sale["sold_by"] == SELLER and sale["method"] == "post"
    assert sale["receiver_id"] is None and sale["sold_at"] == "2026-11-22T09:00:00.000Z"

    stored = db.get(lead_key(sale_org.org_id, lead_id)) or {}
    assert stored["status"] == "sold" and "gsi3pk" not in stored and "gsi3sk" not in stored
    assert stored["gsi1pk"] == f"ORG#{sale_org.org_id}#LEADS#sold"
    lead = sale_org.lead(lead_id)
    assert lead["sale"] == sale
    assert lead["history"][-1] | {"at": None} == {
        "at": None,
        "actor": f"user:{SELLER}",
        "action": "sold",
        "company_id": sale_org.buyer,
        "sale_id": sale["sale_id"],
        "status": None,
        "location": None,
        "contact_not_before": None,
        "reason": None,
        "comments": None,
        "customer_id": None,
    }
    # Gone from the queue and the queued listing; listed as sold.
    assert call("POST", f"/orgs/{sale_org.org_id}/lead-queue/claims", user=REP)["statusCode"] == 204
    listed = body_of(call("GET", f"/orgs/{sale_org.org_id}/leads", user=ADMIN, query={"status": "sold"}))
    assert [i["lead_id"] for i in listed["items"]] == [lead_id]
    queued = body_of(call("GET", f"/orgs/{sale_org.org_id}/leads", user=ADMIN, query={"status": "queued"}))
    assert queued["items"] == []


def test_selling_the_same_lead_twice_is_refused(sale_org: SaleOrg) -> None:
    lead_id = sale_org.post_lead("TWICE")
    first = body_of(sale_org.sell(lead_id))["items"][0]["sale"]
    again = sale_org.sell(lead_id)
    assert again["statusCode"] == 409
    problem = body_of(again)
    assert problem["type"] == "/problems/already-sold" and problem["conflicting_ids"] == [first["sale_id"]]
    assert sale_org.lead(lead_id)["sale"] == first  # unchanged


def test_a_batch_answers_each_lead_and_writes_only_the_sold(sale_org: SaleOrg) -> None:
    org_id = sale_org.org_id
    queued, pending, sold = (sale_org.post_lead(ref) for ref in ("B-1", "B-2", "B-3"))
    db.update(
        lead_key(org_id, pending),
        expression="SET #s = :p REMOVE gsi3pk, gsi3sk",
        names={"#s": "status"},
        values={":p": "pending"},
    )
    assert sale_org.sell(sold)["statusCode"] == 200
    assigned = sale_org.post_lead("B-4")
    claimed = body_of(call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP))
    assert claimed["lead_id"] in (queued, assigned)
    if claimed["lead_id"] == queued:  # the claim takes the oldest: keep `queued` in the queue
        queued, assigned = assigned, queued
    missing = "01JD3M5Q7R8S9T0V1W2X3Y4Z5A"
    own = a_company(org_id, "Sells and buys", sells_leads=True, default_lead_location="queue")
    set_sides(org_id, own, buys_leads=True, lead_sale=email_side(), client_id="own-client")
    from_buyer = body_of(
        call(
            "POST",
            f"/orgs/{org_id}/partner-companies/{own}/leads",
            machine="own-client",
            body={"external_id": "OWN-1", "contact_name": "Jo", "phone": "+15550101"},
        )
    )["lead_id"]
    before = {i: db.get(lead_key(org_id, i)) for i in (assigned, sold, from_buyer)}

    answer = sale_org.sell(queued, pending, sold, assigned, missing)
    assert answer["statusCode"] == 200, answer
    result = body_of(answer)
    outcomes = {i["lead_id"]: i["refusal"]["type"] if i["refusal"] else "sold" for i in result["items"]}
    assert outcomes == {
        queued: "sold",
        pending: "sold",
        sold: "/problems/already-sold",
        assigned: "/problems/not-for-sale",
        missing: "/problems/lead-not-found",
    }
    assert [i["lead_id"] for i in result["items"]] == [queued, pending, sold, assigned, missing]
    assert (result["sold"], result["refused"]) == (2, 3)
    assert [i["refusal"]["status"] for i in result["items"] if i["refusal"]] == [409, 409, 404]
    assert "puts it back" in result["items"][3]["refusal"]["detail"]
    # A lead the buying company sold us is returned, not sold back to it.
    back = call("POST", f"/orgs/{org_id}/lead-sales", user=SELLER, body={"company_id": own, "lead_ids": [from_buyer]})
    assert back["statusCode"] == 409 and "return it instead" in body_of(back)["detail"]
    after = {i: db.get(lead_key(org_id, i)) for i in (assigned, sold, from_buyer)}
    assert after == before  # nothing written for a refused lead
    assert db.get(lead_key(org_id, missing)) is None


def test_a_single_missing_lead_is_404(sale_org: SaleOrg) -> None:
    answer = sale_org.sell("01JD3M5Q7R8S9T0V1W2X3Y4Z5A")
    assert answer["statusCode"] == 404 and body_of(answer)["type"] == "/problems/lead-not-found"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"active": False}, "inactive"),
        ({"buys_leads": False}, "does not buy leads"),
        ({"lead_sale": None}, "does not buy leads"),
    ],
)
def test_the_company_must_be_active_and_buy_leads(sale_org: SaleOrg, fields: dict[str, Any], why: str) -> None:
    lead_id = sale_org.post_lead("C-1")
    set_sides(sale_org.org_id, sale_org.buyer, **fields)
    answer = sale_org.sell(lead_id)
    assert answer["statusCode"] == 409 and body_of(answer)["type"] == "/problems/company-not-buying"
    assert why in body_of(answer)["detail"]
    assert sale_org.lead(lead_id)["status"] == "queued"


def test_bad_requests_are_422_naming_the_field(sale_org: SaleOrg) -> None:
    lead_id = sale_org.post_lead("V-1")
    org = sale_org.org_id
    for body, field in (
        ({"company_id": sale_org.buyer, "lead_ids": []}, "body.lead_ids"),
        ({"company_id": sale_org.buyer, "lead_ids": [lead_id, lead_id]}, "body.lead_ids"),
        ({"company_id": sale_org.buyer, "lead_ids": [lead_id] * 101}, "body.lead_ids"),
        ({"company_id": sale_org.buyer, "lead_ids": ["not-an-id"]}, "body.lead_ids.0"),
        ({"company_id": "01JD3M5Q7R8S9T0V1W2X3Y4Z5A", "lead_ids": [lead_id]}, "body.company_id"),
        ({"lead_ids": [lead_id]}, "body.company_id"),
        ({"company_id": sale_org.buyer, "lead_ids": [lead_id], "price": 5}, "body.price"),
    ):
        answer = call("POST", f"/orgs/{org}/lead-sales", user=SELLER, body=body)
        assert answer["statusCode"] == 422, (body, answer)
        assert field in [e["field"] for e in body_of(answer)["errors"]], (body, body_of(answer))
    assert sale_org.lead(lead_id)["status"] == "queued"


def test_selling_needs_leads_sell(sale_org: SaleOrg) -> None:
    lead_id = sale_org.post_lead("P-1")
    assert sale_org.sell(lead_id, user=REP)["statusCode"] == 403
    assert sale_org.sell(lead_id, user=ADMIN)["statusCode"] == 200  # admins hold every permission


def test_customers_are_sold_once(sale_org: SaleOrg) -> None:
    org_id = sale_org.org_id
    customers = []
    for ref in ("CU-1", "CU-2"):
        lead_id = sale_org.post_lead(ref)
        claimed = body_of(call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP))["lead_id"]
        converted = body_of(call("POST", f"/orgs/{org_id}/leads/{claimed}/convert", user=REP))
        customers.append(converted["customer"]["customer_id"])
        assert claimed == lead_id
    path = f"/orgs/{org_id}/customer-sales"
    first = call("POST", path, user=SELLER, body={"company_id": sale_org.buyer, "customer_ids": customers[:1]})
    assert first["statusCode"] == 200, first
    sale = body_of(first)["items"][0]["sale"]
    assert sale["method"] == "email" and sale["company_id"] == sale_org.buyer
    customer = body_of(call("GET", f"/orgs/{org_id}/customers/{customers[0]}", user=ADMIN))
    assert customer["sale"] == sale
    again = call("POST", path, user=SELLER, body={"company_id": sale_org.buyer, "customer_ids": customers[:1]})
    assert again["statusCode"] == 409 and body_of(again)["type"] == "/problems/already-sold"
    both = body_of(call("POST", path, user=SELLER, body={"company_id": sale_org.buyer, "customer_ids": customers}))
    assert [i["sold"] for i in both["items"]] == [False, True]
    missing = call(
        "POST", path, user=SELLER, body={"company_id": sale_org.buyer, "customer_ids": ["01JD3M5Q7R8S9T0V1W2X3Y4Z5A"]}
    )
    assert missing["statusCode"] == 404 and body_of(missing)["type"] == "/problems/customer-not-found"
    set_sides(org_id, sale_org.buyer, buys_customers=False)
    refused = call("POST", path, user=SELLER, body={"company_id": sale_org.buyer, "customer_ids": customers[1:]})
    assert refused["statusCode"] == 409 and body_of(refused)["type"] == "/problems/company-not-buying"


def test_a_sale_means_lead_sold_and_customer_sold(sale_org: SaleOrg) -> None:
    org_id = sale_org.org_id
    lead_id = sale_org.post_lead("E-1")
    old = db.get(lead_key(org_id, lead_id)) or {}
    sale_org.sell(lead_id)
    new = db.get(lead_key(org_id, lead_id)) or {}
    [event] = events_of(stream_record("MODIFY", new, old, seq=1))
    assert (
        event.type == "lead.sold"
        and event.data["sale"] == {**new["sale"], "receiver_id": None}
        and event.occurred_at == new["sale"]["sold_at"]
    )
    assert newly_sold(old, new) == new["sale"] and newly_sold(new, new) is None and newly_sold(None, new) == new["sale"]

    customer_id = "01JD3M5Q7R8S9T0V1W2X3Y4Z5C"
    customer = {
        **customer_key(org_id, customer_id),
        "entity": "customer",
        "org_id": org_id,
        "customer_id": customer_id,
        "contact": {"contact_name": "Jane Doe"},
        "source": {"kind": "manual", "lead_id": lead_id},
        "owner": REP,
        "created_by": REP,
        "created_at": "2026-11-22T08:00:00.000Z",
    }
    db.put(customer)
    answer = call(
        "POST",
        f"/orgs/{org_id}/customer-sales",
        user=SELLER,
        body={"company_id": sale_org.buyer, "customer_ids": [customer_id]},
    )
    assert answer["statusCode"] == 200, answer
    sold = db.get(customer_key(org_id, customer_id)) or {}
    [event] = events_of(stream_record("MODIFY", sold, customer, seq=2))
    assert event.type == "customer.sold" and event.data["sale"] == {**sold["sale"], "receiver_id": None}
    # Later changes of a sold record mean no second sale.
    later = {**sold, "sale": {**sold["sale"], "receiver_id": "R-1"}}
    assert events_of(stream_record("MODIFY", later, sold, seq=3)) == []
    assert newly_sold(sold, later) is None


def test_intake_takes_the_source_id_it_gave_the_sender(sale_org: SaleOrg) -> None:
    path = f"/orgs/{sale_org.org_id}/partner-companies/{sale_org.seller_company}/leads"
    posted = {"contact_name": "Jo Lead", "phone": "+15550100"}
    ours = {**posted, "external_id": "SRC-1", "source_id": sale_org.seller_company}
    assert call("POST", path, machine="seller-client", body=ours)["statusCode"] == 201
    theirs = {**posted, "external_id": "SRC-2", "source_id": sale_org.buyer}
    refused = call("POST", path, machine="seller-client", body=theirs)
    assert refused["statusCode"] == 422 and [e["field"] for e in body_of(refused)["errors"]] == ["body.source_id"]
    # Nothing was written: the external id is still free.
    assert call("POST", path, machine="seller-client", body={**posted, "external_id": "SRC-2"})["statusCode"] == 201

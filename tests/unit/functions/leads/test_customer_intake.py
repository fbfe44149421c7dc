"""Customers sold to us and the status lookup, in-process: handler, resolver, domain and table (moto). The
company's customer side is written onto its item as the partner company model will hold it
(`sells_customers`, `customer_purchase`)."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from common.leads.companies import company_key
from common.leads.customer_intake import PurchasedCustomer, campaign_ref_key
from common.leads.lead_status import REPORTED, IntakeStatus
from common.leads.model import LeadStatus, lead_key
from common.partners.partner_records import org_email_key
from common.platform import db
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.support import OPERATOR, Call, api_caller, body_of, queue_consumer, stream_record
from tests.unit.conftest import TABLE

pytestmark = pytest.mark.cognito

ADMIN, REP, MANAGER = "user-admin", "user-rep", "user-manager"
OFFICE = "Austin"
BUYERS = ["customers@acme.example"]
CAMPAIGN_ID = "01JD0000000000000000CAMPGN"

call: Call = api_caller("leads")
consume = queue_consumer("leads")


def sell_customers(org_id: str, company_id: str, *, emails: list[str] = BUYERS, **fields: Any) -> None:
    """The company's "sells customers to you" side switched on, with its office and notification addresses."""
    side = {
        "sells_customers": True,
        "customer_purchase": {"office_location": OFFICE, "purchase_notification_emails": emails},
    }
    side |= fields
    names = {f"#f{i}": name for i, name in enumerate(side)}
    values = {f":v{i}": value for i, value in enumerate(side.values())}
    expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(side)))
    db.update(company_key(org_id, company_id), expression=expression, names=names, values=values)


def new_company(org_id: str, name: str, **settings: Any) -> tuple[str, str]:
    """A company with machine credentials: its id and its client id."""
    created = call("POST", f"/orgs/{org_id}/partner-companies", user=ADMIN, body={"name": name, **settings})
    company_id = body_of(created)["company_id"]
    if not settings.get("sells_leads"):
        sell_customers(org_id, company_id)
    issued = call("POST", f"/orgs/{org_id}/partner-companies/{company_id}/credentials", user=ADMIN)
    assert issued["statusCode"] == 201, issued
    return company_id, body_of(issued)["client_id"]


@pytest.fixture
def org() -> dict[str, Any]:
    org_id = body_of(call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme Security"}))["org_id"]
    call("PUT", f"/orgs/{org_id}/members/{REP}", user=ADMIN, body={"permissions": ["leads:request", "leads:return"]})
    call("PUT", f"/orgs/{org_id}/members/{MANAGER}", user=ADMIN, body={"permissions": ["leads:manage"]})
    # Sells both: it gets credentials as a lead seller, and posts leads and customers with them.
    company_id, client_id = new_company(org_id, "Alarm Dealer", sells_leads=True, default_lead_location="queue")
    sell_customers(org_id, company_id)
    return {"org_id": org_id, "company_id": company_id, "client_id": client_id}


def body(**changes: Any) -> dict[str, Any]:
    example = copy.deepcopy(PurchasedCustomer.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    example.pop("campaign_id")
    return {**example, **changes}


def post(
    org: dict[str, Any], posted: dict[str, Any], *, company_id: str | None = None, **caller: Any
) -> dict[str, Any]:
    path = f"/orgs/{org['org_id']}/partner-companies/{company_id or org['company_id']}/customers"
    return call("POST", path, body=posted, **(caller or {"machine": org["client_id"]}))


def items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


# -- customers sold to us ---------------------------------------------------------------------------------


def test_a_posted_customer_lands_in_the_companys_office_once(org: dict[str, Any]) -> None:
    first = post(org, body(external_id="C-1"))
    again = post(org, body(external_id="C-1", first_name="Someone", monthly_amount=1))
    assert (first["statusCode"], again["statusCode"]) == (201, 200)
    receipt = body_of(first)
    assert receipt == body_of(again)
    assert set(receipt) == {"customer_id", "external_id", "company_id", "received_at"}
    assert (receipt["external_id"], receipt["company_id"]) == ("C-1", org["company_id"])

    read = call("GET", f"/orgs/{org['org_id']}/customers/{receipt['customer_id']}", user=MANAGER)
    assert read["statusCode"] == 200, read
    customer = body_of(read)
    assert customer["origin"] == "purchased" and customer["office_location"] == OFFICE
    assert customer["owner"] is None and customer["created_by"] == f"company:{org['company_id']}"
    assert customer["created_at"] == receipt["received_at"] and customer["is_partner"] is False
    assert customer["source"] == {
        "kind": "partner_company",
        "company_id": org["company_id"],
        "external_id": "C-1",
        "entered_by": None,
        "lead_id": None,
    }
    assert customer["contact"] == {
        "contact_name": "Jane Doe",
        "phone": "+15125550100",
        "email": "jane@example.org",
        "address": {
            "line1": "1 Main Street",
            "line2": None,
            "city": "Austin",
            "region": "TX",
            "postal_code": "73301",
            "country": "US",
        },
        "notes": None,
    }
    assert customer["account"] == {  # as first posted: the repost changed nothing
        "first_name": "Jane",
        "last_name": "Doe",
        "account_number": "ACC-1001",
        "monthly_amount": 4999,
        "activation_fee": 9900,
        "currency": "USD",
        "minor_units": 2,
        "contract_term_months": 36,
        "service_flags": ["monitoring", "video"],
        "emergency_contacts": [{"name": "John Doe", "phone": "+15125550101", "relation": "husband"}],
    }
    assert customer["campaign_id"] is None
    listed = body_of(call("GET", f"/orgs/{org['org_id']}/customers", user=MANAGER))["items"]
    assert [c["customer_id"] for c in listed] == [receipt["customer_id"]]


def test_a_purchased_customer_is_for_lead_administrators(org: dict[str, Any]) -> None:
    customer_id = body_of(post(org, body(external_id="C-2")))["customer_id"]
    assert call("GET", f"/orgs/{org['org_id']}/customers/{customer_id}", user=REP)["statusCode"] == 403
    assert body_of(call("GET", f"/orgs/{org['org_id']}/customers", user=REP))["items"] == []
    assert call("GET", f"/orgs/{org['org_id']}/customers/{customer_id}", user=ADMIN)["statusCode"] == 200


def test_a_customer_is_a_partner_like_any_other(org: dict[str, Any]) -> None:
    db.put({**org_email_key(org["org_id"], "jane@example.org"), "entity": "org_email", "partner_id": "p-1"})
    customer_id = body_of(post(org, body(external_id="C-3")))["customer_id"]
    read = body_of(call("GET", f"/orgs/{org['org_id']}/customers/{customer_id}", user=MANAGER))
    assert read["is_partner"] is True


def test_only_the_companys_own_credentials_post_its_customers(org: dict[str, Any]) -> None:
    other_id, other_client = new_company(org["org_id"], "Other Dealer")
    before = items()
    assert post(org, body(external_id="X-1"), company_id=other_id)["statusCode"] == 404
    assert post(org, body(external_id="X-1"), machine=other_client)["statusCode"] == 404
    assert post(org, body(external_id="X-1"), user=ADMIN)["statusCode"] == 403
    assert post(org, body(external_id="X-1"), machine=org["client_id"], scope="other/scope")["statusCode"] == 403
    assert items() == before
    assert post(org, body(external_id="X-1"), company_id=other_id, machine=other_client)["statusCode"] == 201


def test_a_company_must_sell_customers_and_be_active(org: dict[str, Any]) -> None:
    before = items()
    sell_customers(org["org_id"], org["company_id"], sells_customers=False)
    refused = post(org, body(external_id="N-1"))
    assert refused["statusCode"] == 409 and "sell customers" in body_of(refused)["detail"]
    sell_customers(org["org_id"], org["company_id"], active=False)
    assert post(org, body(external_id="N-1"))["statusCode"] == 409
    lead = {"external_id": "N-2", "contact_name": "Jo", "phone": "+15550100"}
    path = f"/orgs/{org['org_id']}/partner-companies/{org['company_id']}/leads"
    assert call("POST", path, machine=org["client_id"], body=lead)["statusCode"] == 409
    assert len(items()) == len(before)  # the company's item changed; nothing was added


def test_a_company_that_only_sells_customers_gets_credentials() -> None:
    org_id = body_of(call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Buyer"}))["org_id"]
    company_id, client_id = new_company(org_id, "Accounts Only")
    posted = post({"org_id": org_id, "company_id": company_id, "client_id": client_id}, body(external_id="A-1"))
    assert posted["statusCode"] == 201, posted
    lead = {"external_id": "A-2", "contact_name": "Jo", "phone": "+15550100"}
    path = f"/orgs/{org_id}/partner-companies/{company_id}/leads"
    assert call("POST", path, machine=client_id, body=lead)["statusCode"] == 409  # it does not sell leads


def test_bad_input_names_each_field_and_writes_nothing(org: dict[str, Any]) -> None:
    before = items()
    bad = post(
        org,
        body(
            external_id="bad id",
            phone="+1 512 555 0100",
            address={**body()["address"], "state": "QC"},
            contract_term_months=121,
            monthly_amount=-5,
            currency="usd",
            service_flags=["Video"],
            emergency_contacts=[{"name": "A", "phone": "5550101", "relation": "x"}] * 6,
        ),
    )
    assert bad["statusCode"] == 422 and bad["headers"]["Content-Type"] == "application/problem+json"
    assert {e["field"] for e in body_of(bad)["errors"]} == {
        "body.external_id",
        "body.phone",
        "body.address.state",
        "body.contract_term_months",
        "body.monthly_amount",
        "body.currency",
        "body.service_flags.0",
        "body.emergency_contacts",
    }
    wrong_source = post(org, body(external_id="S-1", source_id="01JD0000000000000000000000"))
    assert wrong_source["statusCode"] == 422
    assert [e["field"] for e in body_of(wrong_source)["errors"]] == ["body.source_id"]
    unknown_campaign = post(org, body(external_id="S-1", campaign_id="no-such-campaign"))
    assert unknown_campaign["statusCode"] == 422
    assert [e["field"] for e in body_of(unknown_campaign)["errors"]] == ["body.campaign_id"]
    assert items() == before
    assert post(org, body(external_id="S-1", source_id=org["company_id"]))["statusCode"] == 201


def test_a_customer_posted_with_a_campaign_gets_it(org: dict[str, Any]) -> None:
    other_id, other_client = new_company(org["org_id"], "Other Dealer")
    guard = campaign_ref_key(org["org_id"], org["company_id"], "spring-2027")
    db.put({**guard, "entity": "campaign_ref", "campaign_id": CAMPAIGN_ID})
    receipt = body_of(post(org, body(external_id="K-1", campaign_id="spring-2027")))
    read = body_of(call("GET", f"/orgs/{org['org_id']}/customers/{receipt['customer_id']}", user=MANAGER))
    assert read["campaign_id"] == CAMPAIGN_ID
    # Another company's campaign is none of this one's; a repost stands even once the campaign is gone.
    theirs = post(org, body(external_id="K-2", campaign_id="spring-2027"), company_id=other_id, machine=other_client)
    assert theirs["statusCode"] == 422
    db.delete(guard)
    again = post(org, body(external_id="K-1", campaign_id="spring-2027"))
    assert (again["statusCode"], body_of(again)) == (200, receipt)


def test_the_purchase_notification_goes_once_to_the_customer_side(org: dict[str, Any]) -> None:
    customer_id = body_of(post(org, body(external_id="M-1")))["customer_id"]
    (stored,) = [
        db.deserialize(i) for i in items() if i["entity"]["S"] == "customer" and i["customer_id"]["S"] == customer_id
    ]
    insert = stream_record("INSERT", stored)
    for _ in range(3):
        assert consume(insert, {**insert, "eventID": "again"}) == {"batchItemFailures": []}
    (message,) = sent()
    assert message.destinations["ToAddresses"] == BUYERS
    assert message.subject == "New customer from Alarm Dealer: M-1"
    for line in ("Account: ACC-1001", "Office: Austin", "Monthly: 49.99 USD", "Contract term: 36 months"):
        assert line in message.body


def test_no_notification_without_addresses(org: dict[str, Any]) -> None:
    sell_customers(org["org_id"], org["company_id"], emails=[])
    customer_id = body_of(post(org, body(external_id="M-2")))["customer_id"]
    (stored,) = [
        db.deserialize(i) for i in items() if i["entity"]["S"] == "customer" and i["customer_id"]["S"] == customer_id
    ]
    assert consume(stream_record("INSERT", stored)) == {"batchItemFailures": []}
    assert sent() == []


# -- the status lookup ------------------------------------------------------------------------------------


def lookup(org: dict[str, Any], external_id: str, **caller: Any) -> dict[str, Any]:
    company_id = caller.pop("company_id", org["company_id"])
    path = f"/orgs/{org['org_id']}/partner-companies/{company_id}/leads/{external_id}/status"
    return call("GET", path, **(caller or {"machine": org["client_id"]}))


def post_lead(org: dict[str, Any], external_id: str, **fields: Any) -> str:
    lead = {"external_id": external_id, "contact_name": "Jo Lead", "phone": "+15550100", **fields}
    path = f"/orgs/{org['org_id']}/partner-companies/{org['company_id']}/leads"
    return str(body_of(call("POST", path, machine=org["client_id"], body=lead))["lead_id"])


def test_every_lead_status_is_told_in_the_companys_terms() -> None:
    assert set(REPORTED) >= {status.value for status in LeadStatus}
    assert set(REPORTED.values()) == set(IntakeStatus)


def test_the_company_learns_where_each_of_its_leads_stands(org: dict[str, Any]) -> None:
    org_id, leads = org["org_id"], f"/orgs/{org['org_id']}/leads"
    told = {}
    post_lead(org, "L-pending", requested_location="pending")
    told["L-pending"] = "queued"
    for name in ("assigned", "customer", "invalid", "returned"):
        post_lead(org, f"L-{name}")
    by_external = {
        lead["external_id"]: lead["lead_id"]
        for lead in body_of(call("GET", leads, user=ADMIN, query={"status": "queued"}))["items"]
    }
    for _ in range(4):  # each of the four claimed
        assert body_of(call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP))["lead_id"]
    assert call("POST", f"{leads}/{by_external['L-customer']}/convert", user=REP)["statusCode"] == 201
    invalid = call("POST", f"{leads}/{by_external['L-invalid']}/invalidate", user=REP, body={"reason": "fake"})
    assert invalid["statusCode"] == 200
    returned = call("POST", f"/orgs/{org_id}/lead-returns", user=REP, body={"lead_ids": [by_external["L-returned"]]})
    assert returned["statusCode"] == 200, returned
    told |= {"L-assigned": "assigned", "L-customer": "customer", "L-invalid": "invalid", "L-returned": "returned"}
    post_lead(org, "L-queued")
    told["L-queued"] = "queued"
    sold_id = post_lead(org, "L-sold")
    db.update(lead_key(org_id, sold_id), expression="SET #s = :sold", names={"#s": "status"}, values={":sold": "sold"})
    told["L-sold"] = "sold_on"
    for external_id, status in told.items():
        answer = lookup(org, external_id)
        assert answer["statusCode"] == 200, answer
        assert body_of(answer)["status"] == status, external_id
        assert set(body_of(answer)) == {"external_id", "lead_id", "status"}
    assert body_of(lookup(org, "L-sold"))["lead_id"] == sold_id


def test_another_companys_lead_and_an_unknown_one_are_not_found(org: dict[str, Any]) -> None:
    post_lead(org, "L-1")
    other_id, other_client = new_company(org["org_id"], "Other Dealer", sells_leads=True)
    assert lookup(org, "L-1")["statusCode"] == 200
    assert lookup(org, "L-2")["statusCode"] == 404
    assert lookup(org, "L-1", company_id=other_id, machine=other_client)["statusCode"] == 404
    assert lookup(org, "L-1", machine=other_client)["statusCode"] == 404
    assert lookup(org, "L-1", user=ADMIN)["statusCode"] == 403
    assert lookup(org, "bad id")["statusCode"] == 422
    customer = body_of(post(org, body(external_id="L-3")))
    assert customer and lookup(org, "L-3")["statusCode"] == 404  # a customer's external id is no lead's


def test_the_lookup_reads_three_items_in_two_round_trips(org: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    post_lead(org, "L-1")
    calls: list[str] = []
    real = db.default_client()

    class Counting:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(real, name)

    monkeypatch.setattr(db, "default_client", lambda: Counting())
    assert lookup(org, "L-1")["statusCode"] == 200
    assert calls == ["batch_get_item", "get_item"]

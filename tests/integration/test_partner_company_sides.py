"""A partner company, whole, over HTTP against the local stack: its four sides (validated together, the
receivers' client secrets kept in SSM and never answered), the listing's filters, campaigns (the sender's
campaign id unique per company, also under racing requests), the campaign a posted lead is attributed to, the
sources staff pick from, and hand-entered leads that name theirs."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.integration.support.actors import Actor, Organisation, lead, new_organisation, new_user
from tests.integration.test_pagination import check_listing

SELF = "self-generated"
SECRET = "secret-the-buyer-issued-us"
# The local stack's outbound policy allows a receiver on this machine, over plain http.
SALE = {
    "method": "post",
    "post_url": "http://127.0.0.1:9/intake",
    "source_id": "SRC-1",
    "sale_notification_emails": ["sales@seller.example"],
    "receiver_credentials": {
        "token_url": "http://127.0.0.1:9/oauth2/token",
        "client_id": "us-at-the-buyer",
        "client_secret": SECRET,
        "scope": "leads/write",
    },
}
BY_EMAIL = {"method": "email", "email_addresses": ["leads@buyer.example"]}
OFFICE = {"office_location": "Springfield", "purchase_notification_emails": ["office@seller.example"]}


@pytest.fixture(scope="module")
def org(stack: LocalStack) -> Organisation:
    return new_organisation(stack, reps=1)


def fields_of(answer: requests.Response) -> set[str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return {error["field"] for error in answer.json()["errors"]}


def company(org: Organisation, status: int = 201, **fields: Any) -> Any:
    created = org.admin.post(f"/orgs/{org.org_id}/partner-companies", {"name": f"Co {uuid.uuid4().hex[:6]}", **fields})
    assert created.status_code == status, created.text
    return created.json()


def table_text(stack: LocalStack) -> str:
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.table_name)
    return json.dumps([item for page in pages for item in page["Items"]])


# -- the four sides ----------------------------------------------------------------------------------------


def test_a_company_buys_and_sells_with_each_side_and_the_receivers_secret_stays_in_ssm(
    stack: LocalStack, org: Organisation
) -> None:
    created = company(
        org,
        sells_leads=True,
        buys_leads=True,
        lead_sale=SALE,
        sells_customers=True,
        customer_purchase=OFFICE,
        buys_customers=True,
        customer_sale=BY_EMAIL,
    )
    assert created["lead_sale"]["receiver_credentials"] == {
        "token_url": "http://127.0.0.1:9/oauth2/token",
        "client_id": "us-at-the-buyer",
        "scope": "leads/write",
        "has_secret": True,
    }
    assert created["customer_purchase"] == OFFICE
    assert created["customer_sale"]["email_addresses"] == BY_EMAIL["email_addresses"]
    path = f"/orgs/{org.org_id}/partner-companies/{created['company_id']}"
    read, listed = org.admin.get(path), org.admin.get(f"/orgs/{org.org_id}/partner-companies")
    assert all(SECRET not in answer.text for answer in (read, listed))
    assert SECRET not in table_text(stack)
    name = f"/partner-programme/{stack.stage}/company-secrets/{org.org_id}/{created['company_id']}/leads"
    parameter = stack.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", SECRET)
    # Sold by e-mail from now on: the receiver's secret is forgotten.
    assert org.admin.patch(path, {"lead_sale": BY_EMAIL}).status_code == 200
    with pytest.raises(ClientError) as forgotten:
        stack.client("ssm").get_parameter(Name=name)
    assert forgotten.value.response["Error"]["Code"] == "ParameterNotFound"


def test_sides_are_validated_together_and_a_refusal_changes_nothing(org: Organisation) -> None:
    refused = org.admin.post(
        f"/orgs/{org.org_id}/partner-companies",
        {
            "name": "Half set up",
            "buys_leads": True,
            "sells_customers": True,
            "buys_customers": True,
            "customer_sale": {"method": "post", "post_url": "https://10.1.2.3/intake"},
        },
    )
    assert fields_of(refused) == {
        "body.lead_sale",
        "body.customer_purchase",
        "body.customer_sale.post_url",
        "body.customer_sale.source_id",
    }
    created = company(org, buys_leads=True, lead_sale=BY_EMAIL)
    path = f"/orgs/{org.org_id}/partner-companies/{created['company_id']}"
    patched = org.admin.patch(path, {"lead_sale": None, "buys_customers": True, "notes": "changed?"})
    assert fields_of(patched) == {"body.lead_sale", "body.customer_sale"}
    assert org.admin.get(path).json() == created  # nothing written
    no_address = org.admin.patch(path, {"lead_sale": {"method": "email"}})
    assert fields_of(no_address) == {"body.lead_sale.email_addresses"}
    switched_off = org.admin.patch(path, {"buys_leads": False, "lead_sale": None})
    assert switched_off.status_code == 200, switched_off.text
    assert (switched_off.json()["buys_leads"], switched_off.json()["lead_sale"]) == (False, None)


def test_the_company_listing_filters_on_each_side_and_activity(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0)  # its own company sells leads
    buyer = company(fresh, buys_leads=True, lead_sale=BY_EMAIL)["company_id"]
    dormant = company(fresh, sells_leads=True, active=False)["company_id"]
    customers = company(
        fresh, sells_customers=True, customer_purchase=OFFICE, buys_customers=True, customer_sale=BY_EMAIL
    )
    path = f"/orgs/{fresh.org_id}/partner-companies"

    def listed(**query: str) -> set[str]:
        answer = fresh.admin.get(path, params={**query, "limit": 100})
        assert answer.status_code == 200, answer.text
        return {c["company_id"] for c in answer.json()["items"]}

    assert listed(sells_leads="true", active="true") == {fresh.company_id}
    assert listed(sells_leads="true") == {fresh.company_id, dormant}
    assert listed(active="false") == {dormant}
    assert listed(buys_leads="true") == {buyer}
    assert listed(sells_customers="true", buys_customers="true") == {customers["company_id"]}
    assert listed(buys_leads="false", sells_customers="false") == {fresh.company_id, dormant}
    assert fields_of(fresh.admin.get(path, params={"active": "maybe"})) == {"query.active"}


def test_an_inactive_company_posts_no_lead_and_is_no_source(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=1)
    path = f"/orgs/{fresh.org_id}/partner-companies/{fresh.company_id}"
    assert fresh.admin.patch(path, {"active": False}).json()["active"] is False
    refused = fresh.company.post(fresh.intake_path, lead("INACTIVE-1"))
    assert refused.status_code == 409, refused.text
    sources = fresh.reps[0].get(f"/orgs/{fresh.org_id}/sources").json()["items"]
    assert [s["source_id"] for s in sources] == [SELF]
    entered = fresh.reps[0].post(f"/orgs/{fresh.org_id}/leads", {**manual(), "source_id": fresh.company_id})
    assert fields_of(entered) == {"body.source_id"}
    assert fresh.admin.patch(path, {"active": True}).status_code == 200
    assert fresh.company.post(fresh.intake_path, lead("INACTIVE-1")).status_code == 201


# -- campaigns ---------------------------------------------------------------------------------------------


def campaigns_of(org: Organisation, company_id: str | None = None) -> str:
    return f"/orgs/{org.org_id}/partner-companies/{company_id or org.company_id}/campaigns"


def test_campaigns_are_created_listed_changed_and_deleted(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0)
    path = campaigns_of(fresh)
    ids = []
    for n in range(6):
        body = {"name": f"Campaign {n}", "sender_campaign_id": f"C-{n}", "direction": "inbound" if n else "outbound"}
        created = fresh.admin.post(path, body)
        assert created.status_code == 201, created.text
        ids.append(created.json()["campaign_id"])
    check_listing(fresh.admin, path, "campaign_id", ids[::-1], ordered=True)  # newest first
    one = f"{path}/{ids[1]}"
    changed = fresh.admin.patch(one, {"name": "Renamed", "description": "Door to door", "sender_campaign_id": "NEW-1"})
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()[k] for k in ("name", "description", "sender_campaign_id")} == {
        "name": "Renamed",
        "description": "Door to door",
        "sender_campaign_id": "NEW-1",
    }
    assert fresh.admin.get(one).json() == changed.json()
    taken = fresh.admin.patch(one, {"sender_campaign_id": "C-2"})
    assert (taken.status_code, taken.json()["conflicting_ids"]) == (409, [ids[2]])
    assert fresh.admin.call("DELETE", one).status_code == 204
    assert fresh.admin.get(one).status_code == 404
    assert fresh.admin.post(path, {"name": "Again", "sender_campaign_id": "NEW-1"}).status_code == 201  # freed
    assert fields_of(fresh.admin.post(path, {"name": "", "direction": "sideways"})) == {"body.name", "body.direction"}
    other = new_organisation(stack, reps=0)
    assert other.admin.get(f"/orgs/{fresh.org_id}/partner-companies/{fresh.company_id}/campaigns").status_code == 404


def test_racing_campaigns_cannot_share_a_senders_campaign_id(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0)
    path = campaigns_of(fresh)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda n: fresh.admin.post(path, {"name": f"Racer {n}", "sender_campaign_id": "RACE"}), range(8))
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 7, [a.text for a in answers]
    (winner,) = [a.json()["campaign_id"] for a in answers if a.status_code == 201]
    assert all(a.json()["conflicting_ids"] == [winner] for a in answers if a.status_code == 409)
    assert [c["campaign_id"] for c in fresh.admin.get(path).json()["items"]] == [winner]


# -- attribution -------------------------------------------------------------------------------------------


def test_a_posted_lead_is_attributed_to_the_campaign_its_sender_names(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=0, default_lead_location="pending")
    spring = fresh.admin.post(campaigns_of(fresh), {"name": "Spring", "sender_campaign_id": "SPRING-26"}).json()
    outbound = {"name": "Resold", "direction": "outbound", "sender_campaign_id": "OUT-1"}
    assert fresh.admin.post(campaigns_of(fresh), outbound).status_code == 201
    other_company = company(fresh, sells_leads=True)["company_id"]
    other = {"name": "Theirs", "sender_campaign_id": "THEIRS-1"}
    assert fresh.admin.post(campaigns_of(fresh, other_company), other).status_code == 201

    posted = fresh.company.post(fresh.intake_path, lead("CAMP-1", campaign_id="SPRING-26"))
    assert posted.status_code == 201, posted.text
    source = fresh.admin.get(f"/orgs/{fresh.org_id}/leads/{posted.json()['lead_id']}").json()["source"]
    assert source == {
        "kind": "partner_company",
        "source_id": fresh.company_id,
        "company_id": fresh.company_id,
        "external_id": "CAMP-1",
        "entered_by": None,
        "campaign_id": spring["campaign_id"],
        "campaign_name": "Spring",
    }
    for n, refused_id in enumerate(("NOPE", "THEIRS-1", "OUT-1")):
        refused = fresh.company.post(fresh.intake_path, lead(f"CAMP-BAD-{n}", campaign_id=refused_id))
        assert fields_of(refused) == {"body.campaign_id"}, refused_id
    pending = fresh.admin.get(f"/orgs/{fresh.org_id}/leads", params={"status": "pending"}).json()["items"]
    assert [item["external_id"] for item in pending] == ["CAMP-1"]  # nothing written for the refused ones
    # Renamed later, the campaign keeps its id; the lead keeps the name it came in with.
    fresh.admin.patch(f"{campaigns_of(fresh)}/{spring['campaign_id']}", {"name": "Spring (renamed)"})
    again = fresh.admin.get(f"/orgs/{fresh.org_id}/leads/{posted.json()['lead_id']}").json()["source"]
    assert again["campaign_name"] == "Spring"


# -- sources and hand-entered leads --------------------------------------------------------------------------


def manual(**fields: Any) -> dict[str, Any]:
    return {"contact_name": "Walk-in", "phone": "+1 555 0142", **fields}


def test_sources_list_the_self_generated_one_then_active_sellers_in_pages(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=1, name="M seller")
    sellers = [company(fresh, name=name, sells_leads=True)["company_id"] for name in ("Z seller", "A seller")]
    company(fresh, name="B dormant", sells_leads=True, active=False)
    company(fresh, name="C buyer", buys_leads=True, lead_sale=BY_EMAIL)
    office = company(fresh, name="D office", sells_customers=True, customer_purchase=OFFICE)["company_id"]
    path = f"/orgs/{fresh.org_id}/sources"
    expected = [SELF, sellers[1], fresh.company_id, sellers[0]]  # by name after the self-generated one
    check_listing(fresh.reps[0], path, "source_id", expected, ordered=True, **{"for": "leads"})
    customer_sources = fresh.admin.get(path, params={"for": "customers"}).json()["items"]
    assert [(s["source_id"], s["kind"]) for s in customer_sources] == [
        (SELF, "self_generated"),
        (office, "partner_company"),
    ]
    assert fresh.supervisor.get(path).status_code == 403  # neither leads:create nor companies:manage
    outsider = new_user(stack, "outsider")
    assert outsider.get(path).status_code == 404


def test_a_lead_entered_by_hand_names_its_source_and_perhaps_a_campaign(stack: LocalStack) -> None:
    fresh = new_organisation(stack, reps=1)
    rep: Actor = fresh.reps[0]
    path = f"/orgs/{fresh.org_id}/leads"
    assert fields_of(rep.post(path, manual())) == {"body.source_id"}
    own = rep.post(path, manual(source_id=SELF))
    assert own.status_code == 201, own.text
    assert (own.json()["source"]["kind"], own.json()["source"]["source_id"], own.json()["company_id"]) == (
        "manual",
        SELF,
        None,
    )
    spring = fresh.admin.post(campaigns_of(fresh), {"name": "Spring"}).json()["campaign_id"]
    bought = rep.post(path, manual(source_id=fresh.company_id, campaign_id=spring))
    assert bought.status_code == 201, bought.text
    assert {
        k: bought.json()["source"][k] for k in ("kind", "source_id", "company_id", "entered_by", "campaign_name")
    } == {
        "kind": "manual",
        "source_id": fresh.company_id,
        "company_id": fresh.company_id,
        "entered_by": rep.user_id,
        "campaign_name": "Spring",
    }
    # A company's lead, entered by hand, goes back to the company like one it posted.
    returned = fresh.admin.post(f"/orgs/{fresh.org_id}/lead-returns", {"lead_ids": [bought.json()["lead_id"]]})
    assert returned.status_code == 200, returned.text
    buyer = company(fresh, buys_leads=True, lead_sale=BY_EMAIL)["company_id"]
    for body, field in (
        (manual(source_id=buyer), "body.source_id"),
        (manual(source_id="01JD0000000000000000000000"), "body.source_id"),
        (manual(source_id=SELF, campaign_id=spring), "body.campaign_id"),
        (manual(source_id=fresh.company_id, campaign_id="01JD0000000000000000000000"), "body.campaign_id"),
    ):
        assert fields_of(rep.post(path, body)) == {field}

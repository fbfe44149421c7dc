"""Sources: the organisation's own self-generated source and the active companies that sell, listed for pickers;
a lead entered by hand names its source (and a campaign of its company)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Call, body_of
from tests.unit.leads.conftest import ADMIN, SELF, create_company, fields_named

REP, NOBODY, COMPANY_MANAGER = "user-rep", "user-nobody", "user-company-manager"
SELF_SOURCE = {"source_id": SELF, "kind": "self_generated", "name": "Self-generated", "company_id": None}


@pytest.fixture
def members(call: Call, org_id: str) -> None:
    for user, permissions in ((REP, ["leads:create"]), (NOBODY, []), (COMPANY_MANAGER, ["companies:manage"])):
        answer = call("PUT", f"/orgs/{org_id}/members/{user}", user=ADMIN, body={"permissions": permissions})
        assert answer["statusCode"] == 200, answer


def every_page(call: Call, org_id: str, limit: int, **query: str) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        answer = call(
            "GET",
            f"/orgs/{org_id}/sources",
            user=ADMIN,
            query={**query, "limit": str(limit), **({"cursor": cursor} if cursor else {})},
        )
        assert answer["statusCode"] == 200, answer
        page, cursor = body_of(answer)["items"], body_of(answer)["next_cursor"]
        assert page and (cursor is None or len(page) == limit)
        pages.append(page)
        if cursor is None:
            return pages


def test_sources_are_the_self_generated_one_then_active_sellers_by_name(call: Call, org_id: str) -> None:
    zed = create_company(call, org_id, name="Zed leads", sells_leads=True)
    acme = create_company(call, org_id, name="acme leads", sells_leads=True)
    create_company(call, org_id, name="Dormant", sells_leads=True, active=False)
    create_company(
        call,
        org_id,
        name="Buyer only",
        buys_leads=True,
        lead_sale={"method": "email", "email_addresses": ["b@x.example"]},
    )
    office = {"office_location": "Springfield"}
    customers = create_company(call, org_id, name="Customer seller", sells_customers=True, customer_purchase=office)
    for limit in (1, 2, 3, 50):
        pages = every_page(call, org_id, limit, **{"for": "leads"})
        listed = [source["source_id"] for page in pages for source in page]
        assert listed == [SELF, acme["company_id"], zed["company_id"]], limit
    leads = every_page(call, org_id, 50)[0]  # leads by default
    assert leads[0] == SELF_SOURCE
    assert leads[1] == {
        "source_id": acme["company_id"],
        "kind": "partner_company",
        "name": "acme leads",
        "company_id": acme["company_id"],
    }
    for_customers = every_page(call, org_id, 1, **{"for": "customers"})
    assert [s["source_id"] for page in for_customers for s in page] == [SELF, customers["company_id"]]


def test_only_the_self_generated_source_when_no_company_sells(call: Call, org_id: str) -> None:
    for limit in (1, 50):
        assert every_page(call, org_id, limit) == [[SELF_SOURCE]]
    refused = call("GET", f"/orgs/{org_id}/sources", user=ADMIN, query={"for": "partners"})
    assert fields_named(refused) == {"query.for"}


def test_sources_are_listed_to_who_may_create_leads_or_manage_companies(call: Call, org_id: str, members: None) -> None:
    path = f"/orgs/{org_id}/sources"
    assert [call("GET", path, user=user)["statusCode"] for user in (REP, COMPANY_MANAGER, NOBODY)] == [200, 200, 403]
    assert call("GET", path, user="user-stranger")["statusCode"] == 404


def enter(call: Call, org_id: str, **fields: Any) -> dict[str, Any]:
    body = {"contact_name": "Walk-in", "phone": "+15550100", **fields}
    return call("POST", f"/orgs/{org_id}/leads", user=ADMIN, body=body)


def test_a_lead_entered_by_hand_names_its_source(call: Call, org_id: str) -> None:
    assert fields_named(enter(call, org_id)) == {"body.source_id"}
    assert fields_named(enter(call, org_id, source_id="somewhere")) == {"body.source_id"}
    own = body_of(enter(call, org_id, source_id=SELF))
    assert (own["source"]["kind"], own["source"]["source_id"], own["company_id"]) == ("manual", SELF, None)
    assert own["source"]["entered_by"] == ADMIN


def test_a_company_source_must_be_an_active_seller_of_leads(call: Call, org_id: str) -> None:
    seller = create_company(call, org_id, name="Seller", sells_leads=True)["company_id"]
    dormant = create_company(call, org_id, name="Dormant", sells_leads=True, active=False)["company_id"]
    buyer = create_company(
        call, org_id, name="Buyer", buys_leads=True, lead_sale={"method": "email", "email_addresses": ["b@x.example"]}
    )["company_id"]
    for refused in (dormant, buyer, "01JD0000000000000000000000"):
        assert fields_named(enter(call, org_id, source_id=refused)) == {"body.source_id"}
    lead = body_of(enter(call, org_id, source_id=seller))
    assert lead["source"] == {
        "kind": "manual",
        "source_id": seller,
        "company_id": seller,
        "external_id": None,
        "entered_by": ADMIN,
        "campaign_id": None,
        "campaign_name": None,
    }
    assert lead["company_id"] == seller  # the company's lead: it can be returned to it
    returned = call("POST", f"/orgs/{org_id}/lead-returns", user=ADMIN, body={"lead_ids": [lead["lead_id"]]})
    assert returned["statusCode"] == 200, returned


def test_a_lead_entered_by_hand_may_name_an_inbound_campaign_of_its_company(call: Call, org_id: str) -> None:
    seller = create_company(call, org_id, name="Seller", sells_leads=True)["company_id"]
    other = create_company(call, org_id, name="Other", sells_leads=True)["company_id"]
    campaigns = f"/orgs/{org_id}/partner-companies/{seller}/campaigns"
    spring = body_of(call("POST", campaigns, user=ADMIN, body={"name": "Spring"}))["campaign_id"]
    outbound = body_of(call("POST", campaigns, user=ADMIN, body={"name": "Out", "direction": "outbound"}))
    lead = body_of(enter(call, org_id, source_id=seller, campaign_id=spring))
    assert (lead["source"]["campaign_id"], lead["source"]["campaign_name"]) == (spring, "Spring")
    for source_id, campaign_id in ((other, spring), (seller, outbound["campaign_id"]), (SELF, spring)):
        refused = enter(call, org_id, source_id=source_id, campaign_id=campaign_id)
        assert fields_named(refused) == {"body.campaign_id"}

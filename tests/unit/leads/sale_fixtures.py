"""What the sale tests share: an organisation with a seller (leads:sell), a company that sells us leads and one
that buys them, written as the company's sides keep their fields (common.leads.company_sides), and leads in
every state a sale meets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from common.leads.companies import company_key
from common.platform import db

from tests.support import OPERATOR, api_caller, body_of

ADMIN, REP, SELLER = "user-admin", "user-rep", "user-seller"
POST_URL = (
    "https://leads.buyer.example/orgs/01JD0000000000000000000000/partner-companies/01JD0000000000000000000001/leads"
)

call = api_caller("leads")


def post_side(**more: Any) -> dict[str, Any]:
    return {
        "method": "post",
        "post_url": POST_URL,
        "source_id": "SRC-42",
        "email_addresses": [],
        "sale_notification_emails": ["sales-desk@buyer.example"],
        "receiver_credentials": None,
        **more,
    }


def email_side(**more: Any) -> dict[str, Any]:
    return {
        "method": "email",
        "post_url": None,
        "source_id": None,
        "email_addresses": ["intake@buyer.example"],
        "sale_notification_emails": ["sales-desk@buyer.example"],
        "receiver_credentials": None,
        **more,
    }


def set_sides(org_id: str, company_id: str, **fields: Any) -> None:
    """The company's fields as its sides keep them (written straight into its item)."""
    names = {f"#f{n}": name for n, name in enumerate(fields)}
    values = {f":v{n}": value for n, value in enumerate(fields.values())}
    db.update(
        company_key(org_id, company_id),
        expression="SET " + ", ".join(f"#f{n} = :v{n}" for n in range(len(fields))),
        names=names,
        values=values,
    )


@dataclass
class SaleOrg:
    org_id: str
    seller_company: str  # sells leads to us
    buyer: str  # buys leads and customers by post
    leads: dict[str, str] = field(default_factory=dict)

    def lead(self, lead_id: str) -> dict[str, Any]:
        return body_of(call("GET", f"/orgs/{self.org_id}/leads/{lead_id}", user=ADMIN))

    def post_lead(self, external_id: str, **more: Any) -> str:
        body = {"external_id": external_id, "contact_name": "Jane Doe", "phone": "+15550100", **more}
        path = f"/orgs/{self.org_id}/partner-companies/{self.seller_company}/leads"
        answer = call("POST", path, machine="seller-client", body=body)
        assert answer["statusCode"] == 201, answer
        return str(body_of(answer)["lead_id"])

    def sell(self, *lead_ids: str, company: str | None = None, user: str = SELLER) -> dict[str, Any]:
        body = {"company_id": company or self.buyer, "lead_ids": list(lead_ids)}
        return call("POST", f"/orgs/{self.org_id}/lead-sales", user=user, body=body)


def a_company(org_id: str, name: str, **settings: Any) -> str:
    created = call("POST", f"/orgs/{org_id}/partner-companies", user=ADMIN, body={"name": name, **settings})
    assert created["statusCode"] == 201, created
    return str(body_of(created)["company_id"])


@pytest.fixture
def sale_org() -> SaleOrg:
    org_id = body_of(call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme Security"}))["org_id"]
    for user, permissions in ((REP, ["leads:request"]), (SELLER, ["leads:sell"])):
        answer = call("PUT", f"/orgs/{org_id}/members/{user}", user=ADMIN, body={"permissions": permissions})
        assert answer["statusCode"] == 200, answer
    seller = a_company(org_id, "Lead Seller", sells_leads=True, default_lead_location="queue")
    db.update(company_key(org_id, seller), expression="SET client_id = :c", values={":c": "seller-client"})
    buyer = a_company(org_id, "Lead Buyer")
    set_sides(org_id, buyer, buys_leads=True, lead_sale=post_side(), buys_customers=True, customer_sale=email_side())
    return SaleOrg(org_id, seller, buyer)

"""A partner company's four sides: validated together (each problem named), the receivers' client secrets kept
in SSM Parameter Store and never on the item nor in an answer, the listing's filters."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from common.leads import company_sides
from common.leads.company_sides import Side
from common.platform import urls

from tests.support import Call, body_of
from tests.unit.conftest import COMPANY_SECRET_PREFIX, TABLE
from tests.unit.leads.conftest import ADMIN, create_company, fields_named

SECRET = "the-buyers-secret-for-us"
POSTED = {
    "method": "post",
    "post_url": "https://leads.buyer.example/intake",
    "source_id": "SRC-7",
    "sale_notification_emails": ["sales@acme.example"],
    "receiver_credentials": {
        "token_url": "https://auth.buyer.example/oauth2/token",
        "client_id": "us-at-the-buyer",
        "client_secret": SECRET,
        "scope": "leads/write",
    },
}
EMAILED = {"method": "email", "email_addresses": ["leads@buyer.example"]}


def company_path(org_id: str, company_id: str) -> str:
    return f"/orgs/{org_id}/partner-companies/{company_id}"


def table_text() -> str:
    return json.dumps(boto3.client("dynamodb").scan(TableName=TABLE)["Items"])


def test_a_side_switched_on_needs_its_settings_and_each_problem_is_named() -> None:
    sent = {
        "buys_leads": True,
        "sells_customers": True,
        "buys_customers": True,
        "customer_sale": {"method": "post", "post_url": "http://10.0.0.1/x", "receiver_credentials": None},
    }
    problems = company_sides.side_problems(sent, None, urls.DEPLOYED)
    assert {p.field for p in problems} == {
        "body.lead_sale",
        "body.customer_purchase",
        "body.customer_sale.post_url",
        "body.customer_sale.source_id",
    }
    assert [p.message for p in problems if p.field == "body.lead_sale"] == ["required while buys_leads is on"]


def test_the_method_decides_what_a_sale_side_needs() -> None:
    email_without_address = {"lead_sale": {"method": "email", "email_addresses": []}}
    assert [p.field for p in company_sides.side_problems(email_without_address, None, urls.DEPLOYED)] == [
        "body.lead_sale.email_addresses"
    ]
    credentials_by_email = {"lead_sale": {**EMAILED, "receiver_credentials": POSTED["receiver_credentials"]}}
    assert [p.field for p in company_sides.side_problems(credentials_by_email, None, urls.DEPLOYED)] == [
        "body.lead_sale.receiver_credentials"
    ]
    insecure = {"method": "post", "post_url": "http://buyer.example/x", "source_id": "S"}
    credentials = {"token_url": "https://169.254.169.254/token", "client_id": "c"}
    problems = company_sides.side_problems(
        {"lead_sale": insecure | {"receiver_credentials": credentials}}, None, urls.DEPLOYED
    )
    assert {p.field: p.message for p in problems} == {
        "body.lead_sale.post_url": "must be an https:// URL",
        "body.lead_sale.receiver_credentials.token_url": "is a cloud metadata address",
        "body.lead_sale.receiver_credentials.client_secret": "required: no secret is kept for this side",
    }
    # The local stack's policy allows a receiver on this machine.
    local = {"lead_sale": {"method": "post", "post_url": "http://127.0.0.1:8080/intake", "source_id": "S"}}
    assert company_sides.side_problems(local, None, urls.LOCAL) == []


def test_settings_kept_while_their_side_is_off_and_cleared_only_then() -> None:
    current = {"buys_leads": True, "lead_sale": EMAILED}
    assert [p.message for p in company_sides.side_problems({"lead_sale": None}, current, urls.DEPLOYED)] == [
        "cannot be cleared while buys_leads is on: switch it off first"
    ]
    assert company_sides.side_problems({"buys_leads": False, "lead_sale": None}, current, urls.DEPLOYED) == []
    assert company_sides.side_problems({"buys_leads": False}, current, urls.DEPLOYED) == []


def test_the_receivers_secret_is_kept_in_ssm_never_on_the_item_nor_answered(call: Call, org_id: str) -> None:
    company = create_company(call, org_id, buys_leads=True, lead_sale=POSTED)
    assert company["lead_sale"]["receiver_credentials"] == {
        "token_url": POSTED["receiver_credentials"]["token_url"],  # type: ignore[index]
        "client_id": "us-at-the-buyer",
        "scope": "leads/write",
        "has_secret": True,
    }
    company_id = company["company_id"]
    name = company_sides.secret_parameter_name(org_id, company_id, "leads")
    assert name == f"{COMPANY_SECRET_PREFIX}/{org_id}/{company_id}/leads"
    stored = boto3.client("ssm").get_parameter(Name=name)["Parameter"]
    assert stored["Type"] == "SecureString"
    assert company_sides.receiver_secret(org_id, company_id, "leads") == SECRET
    assert company_sides.receiver_secret(org_id, company_id, "customers") is None
    assert SECRET not in table_text()
    read = call("GET", company_path(org_id, company_id), user=ADMIN)
    listed = call("GET", f"/orgs/{org_id}/partner-companies", user=ADMIN)
    assert all(SECRET not in answer["body"] for answer in (read, listed))


def test_a_change_without_the_secret_keeps_it_and_a_new_one_replaces_it(call: Call, org_id: str) -> None:
    company_id = create_company(call, org_id, buys_leads=True, lead_sale=POSTED)["company_id"]
    path = company_path(org_id, company_id)
    credentials = {k: v for k, v in POSTED["receiver_credentials"].items() if k != "client_secret"}  # type: ignore[attr-defined]
    moved = {**POSTED, "post_url": "https://leads2.buyer.example/intake", "receiver_credentials": credentials}
    changed = call("PATCH", path, user=ADMIN, body={"lead_sale": moved})
    assert changed["statusCode"] == 200, changed
    assert body_of(changed)["lead_sale"]["post_url"] == "https://leads2.buyer.example/intake"
    assert company_sides.receiver_secret(org_id, company_id, Side.LEADS) == SECRET
    rotated = {**moved, "receiver_credentials": {**credentials, "client_secret": "rotated"}}
    assert call("PATCH", path, user=ADMIN, body={"lead_sale": rotated})["statusCode"] == 200
    assert company_sides.receiver_secret(org_id, company_id, Side.LEADS) == "rotated"
    # By e-mail the receiver needs no credentials: the secret is forgotten.
    assert call("PATCH", path, user=ADMIN, body={"lead_sale": EMAILED})["statusCode"] == 200
    assert company_sides.receiver_secret(org_id, company_id, Side.LEADS) is None
    assert body_of(call("GET", path, user=ADMIN))["lead_sale"]["receiver_credentials"] is None


def test_credentials_without_a_secret_need_one_kept(call: Call, org_id: str) -> None:
    credentials = {"token_url": "https://auth.buyer.example/token", "client_id": "c"}
    answer = call(
        "POST",
        f"/orgs/{org_id}/partner-companies",
        user=ADMIN,
        body={"name": "Buyer", "buys_leads": True, "lead_sale": {**POSTED, "receiver_credentials": credentials}},
    )
    assert fields_named(answer) == {"body.lead_sale.receiver_credentials.client_secret"}


def test_a_patch_that_leaves_the_sides_inconsistent_is_refused_naming_each_field(call: Call, org_id: str) -> None:
    company_id = create_company(call, org_id, buys_leads=True, lead_sale=EMAILED)["company_id"]
    path = company_path(org_id, company_id)
    refused = call(
        "PATCH",
        path,
        user=ADMIN,
        body={
            "lead_sale": None,
            "sells_customers": True,
            "buys_customers": True,
            "customer_sale": {"method": "post", "source_id": "S"},
        },
    )
    assert fields_named(refused) == {"body.lead_sale", "body.customer_purchase", "body.customer_sale.post_url"}
    assert body_of(call("GET", path, user=ADMIN))["lead_sale"]["method"] == "email"  # nothing written
    # Switched off, the settings may go; on again, they are needed again.
    assert call("PATCH", path, user=ADMIN, body={"buys_leads": False, "lead_sale": None})["statusCode"] == 200
    assert fields_named(call("PATCH", path, user=ADMIN, body={"buys_leads": True})) == {"body.lead_sale"}
    for field in ("active", "buys_leads"):
        assert fields_named(call("PATCH", path, user=ADMIN, body={field: None})) == {f"body.{field}"}


def test_every_side_is_answered_and_companies_kept_before_the_sides_read_as_before(call: Call, org_id: str) -> None:
    purchase = {"office_location": "Springfield", "purchase_notification_emails": ["office@acme.example"]}
    company = create_company(
        call, org_id, sells_customers=True, customer_purchase=purchase, buys_customers=True, customer_sale=EMAILED
    )
    assert company["active"] is True and company["sells_leads"] is False and company["buys_leads"] is False
    assert company["customer_purchase"] == purchase
    assert company["customer_sale"] == {
        **EMAILED,
        "post_url": None,
        "source_id": None,
        "sale_notification_emails": [],
        "receiver_credentials": None,
    }
    # An item written before the sides: no switch, no `active`.
    table = boto3.resource("dynamodb").Table(TABLE)
    key = {"pk": f"ORG#{org_id}#COMPANY#{company['company_id']}", "sk": "COMPANY"}
    table.update_item(Key=key, UpdateExpression="REMOVE active, buys_leads, sells_customers, buys_customers")
    old = body_of(call("GET", company_path(org_id, company["company_id"]), user=ADMIN))
    assert (old["active"], old["buys_customers"]) == (True, False)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["Both ways", "Inactive seller", "Lead buyer", "Lead seller", "Old seller"]),
        ({"sells_leads": "true"}, ["Both ways", "Inactive seller", "Lead seller", "Old seller"]),
        ({"sells_leads": "true", "active": "true"}, ["Both ways", "Lead seller", "Old seller"]),
        ({"active": "false"}, ["Inactive seller"]),
        ({"buys_leads": "true"}, ["Both ways", "Lead buyer"]),
        ({"buys_leads": "false", "sells_customers": "false"}, ["Inactive seller", "Lead seller", "Old seller"]),
    ],
)
def test_the_listing_filters_on_each_side_and_activity(
    call: Call, org_id: str, query: dict[str, str], expected: list[str]
) -> None:
    create_company(call, org_id, name="Lead seller", sells_leads=True)
    create_company(call, org_id, name="Lead buyer", buys_leads=True, lead_sale=EMAILED)
    create_company(call, org_id, name="Both ways", sells_leads=True, buys_leads=True, lead_sale=EMAILED)
    create_company(call, org_id, name="Inactive seller", sells_leads=True, active=False)
    old = create_company(call, org_id, name="Old seller", sells_leads=True)
    table = boto3.resource("dynamodb").Table(TABLE)
    table.update_item(
        Key={"pk": f"ORG#{org_id}#COMPANY#{old['company_id']}", "sk": "COMPANY"},
        UpdateExpression="REMOVE active, buys_leads",
    )
    for limit in ("1", "50"):
        names: list[str] = []
        cursor: Any = None
        while True:
            page = call(
                "GET",
                f"/orgs/{org_id}/partner-companies",
                user=ADMIN,
                query={**query, "limit": limit, **({"cursor": cursor} if cursor else {})},
            )
            assert page["statusCode"] == 200, page
            names += [company["name"] for company in body_of(page)["items"]]
            cursor = body_of(page)["next_cursor"]
            if cursor is None:
                break
        assert names == expected


def test_a_filter_that_is_not_a_boolean_is_refused(call: Call, org_id: str) -> None:
    answer = call("GET", f"/orgs/{org_id}/partner-companies", user=ADMIN, query={"buys_leads": "perhaps"})
    assert fields_named(answer) == {"query.buys_leads"}

"""The demo `make dev` seeds works against the running stack, through the same API the portal uses."""

from __future__ import annotations

import pytest

from local.demo import CAMPAIGN, COMMISSION_LEVELS, CURRENCY, Demo, seed
from local.stack import LocalStack
from tests.integration.support.actors import Actor


@pytest.fixture(scope="module")
def demo(stack: LocalStack) -> Demo:
    # Once: the demo users' e-mail addresses are fixed, and each exists once in the pool.
    return seed(stack)


def test_the_demo_seeds_an_organisation_with_a_working_partner_portal(stack: LocalStack, demo: Demo) -> None:
    admin = Actor(stack.url, demo.admin.token, demo.admin.user_id)
    partner = Actor(stack.url, demo.partner.token, demo.partner.user_id)
    assert admin.get(f"/orgs/{demo.org_id}").status_code == 200
    contact = {"first_name": "Casey", "last_name": "Client", "email": "casey@demo.example", "phone": "+15550100300"}
    created = partner.post(f"/orgs/{demo.org_id}/portal/deals", {"contacts": [contact]})
    assert created.status_code == 201, created.text
    listed = partner.get(f"/orgs/{demo.org_id}/portal/deals").json()["items"]
    assert [deal["deal_id"] for deal in listed] == [created.json()["deal_id"]]
    node = admin.get(f"/orgs/{demo.org_id}/partners/{demo.partner.user_id}").json()
    assert node["status"] == "ACTIVE" and node["brokers"] == [demo.admin.user_id]
    # The team: a referral request reaches the member, who accepts it.
    request = admin.post(
        f"/orgs/{demo.org_id}/referral-requests",
        {"team_id": demo.team_id, "customer": {"first_name": "Robin", "last_name": "Buyer"}, "summary": "3-bed house"},
    )
    assert request.status_code == 201, request.text
    member = Actor(stack.url, demo.reps[1].token, demo.reps[1].user_id)
    accepted = member.post(f"/orgs/{demo.org_id}/referral-requests/{request.json()['request_id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["assignee_id"] == demo.reps[1].user_id


def test_the_demo_pays_commissions_across_three_levels_when_a_deal_is_won(stack: LocalStack, demo: Demo) -> None:
    admin = Actor(stack.url, demo.admin.token, demo.admin.user_id)
    partner = Actor(stack.url, demo.partner.token, demo.partner.user_id)
    org = f"/orgs/{demo.org_id}"
    # The plan in force, and the stages that compute and reverse commission.
    plan = admin.get(f"{org}/commission-plan").json()
    assert (plan["currency"], plan["in_force"]) == (CURRENCY, 1)
    assert [level["rule"] for level in plan["versions"][0]["levels"]] == [lvl["rule"] for lvl in COMMISSION_LEVELS]
    stages = {s["name"]: s for s in admin.get(f"{org}/workflows/{demo.workflow_id}").json()["stages"]}
    assert {name: s["commission"] for name, s in stages.items()} == {
        "New": "none",
        "Contacted": "none",
        "Proposal": "none",
        "Won": "compute",
        "Lost": "reverse",
    }
    node = admin.get(f"{org}/partners/{demo.partner.user_id}").json()
    assert node["upline"] == list(demo.upline) and len(demo.upline) == 2
    # The README's walk-through: a deal of 12,000.00 credited to the partner is won.
    contact = {"first_name": "Casey", "last_name": "Client", "email": "casey@demo.example", "phone": "+15550100300"}
    deal = admin.post(
        f"{org}/deals",
        {
            "workflow_id": demo.workflow_id,
            "title": "Office fit-out",
            "contacts": [contact],
            "value": {"amount": 1_200_000, "currency": CURRENCY},
            "partner_id": demo.partner.user_id,
        },
    )
    assert deal.status_code == 201, deal.text
    deal_id = deal.json()["deal_id"]
    preview = admin.get(f"{org}/deals/{deal_id}/commission-preview").json()
    moved = admin.post(f"{org}/deals/{deal_id}/stage", {"stage_id": stages["Won"]["stage_id"]})
    assert moved.status_code == 200, moved.text
    stack.wait_for_streams()

    # 10% of the value; 5% capped at 200.00; a fixed 25.00.
    expected = {demo.partner.user_id: 120_000, demo.upline[0]: 20_000, demo.upline[1]: 2_500}
    assert [level["amount"] for level in preview["levels"]] == list(expected.values())
    for partner_id, amount in expected.items():
        wallet = admin.get(f"{org}/wallets/{partner_id}").json()
        assert (wallet["balance"], wallet["currency"]) == (amount, CURRENCY)
    own = partner.get(f"{org}/portal/wallet").json()
    assert (own["balance"], own["available"]) == (120_000, 120_000)


def test_the_demo_company_sells_leads_in_a_campaign_and_staff_pick_sources(stack: LocalStack, demo: Demo) -> None:
    # The README's walk-through: the company posts a lead in its campaign; a rep enters one from the company.
    admin = Actor(stack.url, demo.admin.token, demo.admin.user_id)
    company = Actor(stack.url, demo.machine_token)
    rep = Actor(stack.url, demo.reps[0].token, demo.reps[0].user_id)
    org = f"/orgs/{demo.org_id}"
    lead = {"external_id": "DEMO-CAMPAIGN-1", "contact_name": "Jane Doe", "phone": "+1 555 0100"}
    posted = company.post(
        f"{org}/partner-companies/{demo.company_id}/leads", {**lead, "campaign_id": CAMPAIGN["sender_campaign_id"]}
    )
    assert posted.status_code == 201, posted.text
    source = admin.get(f"{org}/leads/{posted.json()['lead_id']}").json()["source"]
    assert (source["campaign_id"], source["campaign_name"]) == (demo.campaign_id, CAMPAIGN["name"])
    sources = rep.get(f"{org}/sources", params={"for": "leads"}).json()["items"]
    assert [s["source_id"] for s in sources] == ["self-generated", demo.company_id]
    entered = rep.post(
        f"{org}/leads",
        {
            "contact_name": "John Roe",
            "phone": "+1 555 0101",
            "source_id": demo.company_id,
            "campaign_id": demo.campaign_id,
        },
    )
    assert entered.status_code == 201, entered.text
    assert entered.json()["source"]["company_id"] == demo.company_id


def test_the_demo_company_sells_a_customer_and_asks_where_its_lead_stands(stack: LocalStack, demo: Demo) -> None:
    # The README's walk-through: the customer side switched on, a customer posted twice, a lead's status.
    admin = Actor(stack.url, demo.admin.token, demo.admin.user_id)
    company = Actor(stack.url, demo.machine_token)
    path = f"/orgs/{demo.org_id}/partner-companies/{demo.company_id}"
    side = {"office_location": "Austin", "purchase_notification_emails": ["buying@demo.example"]}
    switched = admin.patch(path, {"sells_customers": True, "customer_purchase": side})
    assert switched.status_code == 200, switched.text
    customer = {
        "external_id": "DEMO-C-1001",
        "first_name": "Jane",
        "last_name": "Doe",
        "phone": "+15125550100",
        "address": {"line1": "1 Main Street", "city": "Austin", "state": "TX", "postal_code": "73301", "country": "US"},
        "account_number": "ACC-1001",
        "monthly_amount": 4999,
        "activation_fee": 9900,
        "currency": "USD",
        "contract_term_months": 36,
        "service_flags": ["monitoring"],
    }
    first = company.post(f"{path}/customers", customer)
    again = company.post(f"{path}/customers", customer)
    assert (first.status_code, again.status_code) == (201, 200), (first.text, again.text)
    assert again.json()["customer_id"] == first.json()["customer_id"]
    lead = company.post(
        f"{path}/leads", {"external_id": "DEMO-STATUS-1", "contact_name": "Ann Lee", "phone": "+1 555 0104"}
    )
    assert lead.status_code == 201, lead.text
    status = company.get(f"{path}/leads/DEMO-STATUS-1/status")
    assert status.status_code == 200, status.text
    assert status.json()["lead_id"] == lead.json()["lead_id"] and status.json()["status"] == "queued"


def test_the_demo_walks_a_referral_to_a_paid_fee_and_its_statement(stack: LocalStack, demo: Demo) -> None:
    """The README's walk-through from a referral text to a paid fee."""
    admin = Actor(stack.url, demo.admin.token, demo.admin.user_id)
    leader = Actor(stack.url, demo.reps[0].token, demo.reps[0].user_id)
    member = Actor(stack.url, demo.reps[1].token, demo.reps[1].user_id)
    org, team = f"/orgs/{demo.org_id}", f"/orgs/{demo.org_id}/teams/{demo.team_id}"
    request = admin.post(
        f"{org}/referral-requests",
        {"team_id": demo.team_id, "customer": {"first_name": "Robin", "last_name": "Seller"}, "summary": "Flat"},
    )
    assert request.status_code == 201, request.text
    customer_id = request.json()["request_id"]
    assert member.post(f"{org}/referral-requests/{customer_id}/accept").status_code == 200
    # A new agreement applies to referrals from now on, not to Robin, referred under the defaults (30%).
    terms = {"rate_bps": 2500, "minimum_fee": 100000, "currency": "USD"}
    assert admin.put(f"{org}/teams/fee-agreement", terms).status_code == 200
    today = member.get(f"{team}/customers/{customer_id}").json()["created_at"][:10]
    closing = {"close_date": today, "side": "buy", "sale_price": 45000000, "commission": 1350000, "currency": "USD"}
    closed = member.post(f"{team}/customers/{customer_id}/status", {"status": "closed", "closing": closing})
    assert closed.status_code == 200, closed.text
    fee_id = f"{customer_id}-buy-{today}"
    fee = leader.get(f"{team}/fees/{fee_id}").json()
    assert (fee["amount"], fee["outstanding"], fee["status"]) == (405000, 405000, "open")
    payment = {"fee_id": fee_id, "amount": 405000, "reference": "Wire 8812"}
    assert admin.post(f"{team}/fee-payments", payment).status_code == 201
    assert leader.get(f"{team}/fees/{fee_id}").json()["status"] == "paid"
    ledger = leader.get(f"{team}/fee-ledger").json()["items"]
    mine = [entry for entry in ledger if entry.get("fee_id") == fee_id]
    assert sorted((entry["kind"], entry["amount"]) for entry in mine) == [("fee", 405000), ("payment", -405000)]
    # The month's statement lists both entries; its totals are the ledger's.
    statement = leader.get(f"{team}/statements/{today[:7]}").json()
    usd = next(c for c in statement["currencies"] if c["currency"] == "USD")
    listed = [(e["kind"], e["amount"]) for e in usd["entries"] if e.get("fee_id") == fee_id]
    assert listed == [("fee", 405000), ("payment", -405000)]
    assert usd["closing_balance"] == usd["opening_balance"] + sum(e["amount"] for e in usd["entries"])
    pdf = leader.get(f"{team}/statements/{today[:7]}", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

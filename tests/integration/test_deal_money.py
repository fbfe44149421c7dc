"""A deal's money needs deals:money, over HTTP: a staff member without it can neither value a deal, nor credit
it to a partner, nor move it into a stage that computes or reverses commission; the refusal writes nothing
and no ledger entry follows. With the permission the same requests go through and the commission is paid
and reversed. A partner credits only themselves and moves nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from common.money import wallets
from common.partners.partner_records import node_key
from common.platform import db, listings

from tests.integration.support.actors import REP_PERMISSIONS, Actor, Organisation, new_organisation, new_user
from tests.integration.support.partners import new_partner

CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}
STAGES = [
    {"name": "New"},
    {"name": "Contacted"},
    {"name": "Won", "commission": "compute"},
    {"name": "Cancelled", "commission": "reverse"},
]
VALUE = {"amount": 1_000_000, "currency": "AUD"}
COMMISSION = 100_000  # the plan's single level: 10% of the value


@dataclass
class MoneyOrg:
    org: Organisation
    workflow: dict[str, Any]
    broker: Actor  # works deals, without deals:money
    closer: Actor  # holds deals:money
    partner: Actor

    @property
    def org_id(self) -> str:
        return self.org.org_id

    @property
    def admin(self) -> Actor:
        return self.org.admin

    def stage(self, name: str) -> str:
        return str(next(s["stage_id"] for s in self.workflow["stages"] if s["name"] == name))

    def body(self, **fields: Any) -> dict[str, Any]:
        return {"workflow_id": self.workflow["workflow_id"], "contacts": [CONTACT], **fields}

    def paying_deal(self, owner: Actor) -> dict[str, Any]:
        """A valued deal credited to the partner, owned by `owner` (the admin creates it)."""
        body = self.body(value=VALUE, partner_id=self.partner.user_id, owner_id=owner.user_id)
        created = self.admin.post(f"/orgs/{self.org_id}/deals", body)
        assert created.status_code == 201, created.text
        return dict(created.json())

    def deal_path(self, deal: dict[str, Any]) -> str:
        return f"/orgs/{self.org_id}/deals/{deal['deal_id']}"

    def stored(self, deal: dict[str, Any]) -> dict[str, Any]:
        answer = self.admin.get(self.deal_path(deal))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def all_deals(self) -> list[dict[str, Any]]:
        return list(self.admin.get(f"/orgs/{self.org_id}/deals", params={"limit": 100}).json()["items"])

    def entries(self, deal: dict[str, Any]) -> list[tuple[str, int]]:
        """The partner's ledger entries from the deal: (kind, amount)."""
        items = listings.all_with_prefix(
            wallets.wallet_pk(self.org_id, self.partner.user_id), wallets.ENTRY_PREFIX, consistent=True
        )
        return sorted((e["kind"], e["amount"]) for e in items if e["details"].get("deal_id") == deal["deal_id"])


@pytest.fixture(scope="module")
def money(stack: Any) -> MoneyOrg:
    org = new_organisation(stack, reps=1)
    closer = new_user(stack, "closer")
    granted = org.admin.put(
        f"/orgs/{org.org_id}/members/{closer.user_id}", {"permissions": [*REP_PERMISSIONS, "deals:money"]}
    )
    assert granted.status_code == 200, granted.text
    workflow = org.admin.post(f"/orgs/{org.org_id}/workflows", {"name": "Referrals", "stages": STAGES})
    assert workflow.status_code == 201, workflow.text
    levels = [{"rule": "percentage", "percent": "10"}]
    plan = org.admin.post(f"/orgs/{org.org_id}/commission-plan/versions", {"currency": "AUD", "levels": levels})
    assert plan.status_code == 201, plan.text
    partner = new_partner(stack, org.org_id, brokers=[org.reps[0].user_id, closer.user_id])
    return MoneyOrg(org, workflow.json(), org.reps[0], closer, partner)


def test_without_the_permission_a_deal_gets_no_value_and_no_partner(money: MoneyOrg) -> None:
    path = f"/orgs/{money.org_id}/deals"
    before = money.all_deals()
    node_before = db.get(node_key(money.org_id, money.partner.user_id), consistent=True)
    for fields in (
        {"value": VALUE},
        {"partner_id": money.partner.user_id},
        {"value": {"amount": 0, "currency": "AUD"}},
    ):
        refused = money.broker.post(path, money.body(**fields))
        assert refused.status_code == 403, (fields, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert "deals:money" in refused.json()["detail"]
    assert money.all_deals() == before
    # The partner was not credited with a lead (their status and leads are as they were) nor shared a deal.
    assert db.get(node_key(money.org_id, money.partner.user_id), consistent=True) == node_before
    assert money.partner.get(f"/orgs/{money.org_id}/portal/deals").json()["items"] == []
    # Without money the broker still creates deals.
    plain = money.broker.post(path, money.body())
    assert plain.status_code == 201, plain.text
    assert plain.json()["value"] is None and plain.json()["credited_partner_id"] is None


def test_with_the_permission_a_deal_is_valued_and_credited(money: MoneyOrg) -> None:
    created = money.closer.post(
        f"/orgs/{money.org_id}/deals", money.body(value=VALUE, partner_id=money.partner.user_id)
    )
    assert created.status_code == 201, created.text
    deal = created.json()
    assert (deal["value"], deal["credited_partner_id"], deal["owner_id"]) == (
        {**VALUE, "minor_units": 2},  # answered with the currency's minor units
        money.partner.user_id,
        money.closer.user_id,
    )


def test_without_the_permission_no_move_computes_or_reverses_commission(stack: Any, money: MoneyOrg) -> None:
    deal = money.paying_deal(owner=money.broker)
    path = f"{money.deal_path(deal)}/stage"
    for stage in ("Won", "Cancelled"):
        refused = money.broker.post(path, {"stage_id": money.stage(stage)})
        assert refused.status_code == 403, (stage, refused.text)
        assert "deals:money" in refused.json()["detail"]
    stack.wait_for_streams()
    assert money.stored(deal) == deal  # not moved: same stage, history and version
    assert money.entries(deal) == []
    commissions = money.admin.get(f"{money.deal_path(deal)}/commissions").json()
    assert (commissions["applied_change"], commissions["computations"]) == (0, [])
    # The stages that move no money stay the broker's to use.
    moved = money.broker.post(path, {"stage_id": money.stage("Contacted")})
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage_name"] == "Contacted"


def test_without_the_permission_a_paid_commission_is_not_reversed(stack: Any, money: MoneyOrg) -> None:
    deal = money.paying_deal(owner=money.broker)
    path = f"{money.deal_path(deal)}/stage"
    won = money.admin.post(path, {"stage_id": money.stage("Won")})
    assert won.status_code == 200, won.text
    stack.wait_for_streams()
    assert money.entries(deal) == [("commission", COMMISSION)]
    refused = money.broker.post(path, {"stage_id": money.stage("Cancelled")})
    assert refused.status_code == 403, refused.text
    stack.wait_for_streams()
    assert money.stored(deal) == won.json()
    assert money.entries(deal) == [("commission", COMMISSION)]


def test_with_the_permission_moves_pay_and_reverse(stack: Any, money: MoneyOrg) -> None:
    deal = money.paying_deal(owner=money.closer)
    path = f"{money.deal_path(deal)}/stage"
    won = money.closer.post(path, {"stage_id": money.stage("Won")})
    assert won.status_code == 200, won.text
    assert won.json()["stage_commission"] == "compute"
    stack.wait_for_streams()
    assert money.entries(deal) == [("commission", COMMISSION)]
    cancelled = money.closer.post(path, {"stage_id": money.stage("Cancelled")})
    assert cancelled.status_code == 200, cancelled.text
    stack.wait_for_streams()
    assert money.entries(deal) == sorted([("commission", COMMISSION), ("reversal", -COMMISSION)])


def test_a_partner_credits_only_themselves_and_moves_no_deal(stack: Any, money: MoneyOrg) -> None:
    settings = money.admin.put(
        f"/orgs/{money.org_id}/portal-settings", {"default_workflow_id": money.workflow["workflow_id"]}
    )
    assert settings.status_code == 200, settings.text
    portal = f"/orgs/{money.org_id}/portal/deals"
    other = new_partner(stack, money.org_id, brokers=[money.broker.user_id])
    for fields in ({"partner_id": other.user_id}, {"value": VALUE}, {"stage_id": money.stage("Won")}):
        refused = money.partner.post(portal, {"contacts": [CONTACT], **fields})
        assert refused.status_code == 422, (fields, refused.text)
    created = money.partner.post(portal, {"contacts": [CONTACT]})
    assert created.status_code == 201, created.text
    deal = created.json()
    assert deal["credited_to_you"] is True and deal["value"] is None
    assert deal["stage"]["name"] == "New"
    # The staff route that moves deals is not the partner's: they are no member of the organisation.
    moved = money.partner.post(f"/orgs/{money.org_id}/deals/{deal['deal_id']}/stage", {"stage_id": money.stage("Won")})
    assert moved.status_code == 404, moved.text
    stack.wait_for_streams()
    assert money.stored(deal)["stage_name"] == "New"
    assert money.entries(deal) == []
    assert other.get(portal).json()["items"] == []


def test_a_burst_of_deals_for_one_busy_partner_is_refused_nothing(stack: Any, money: MoneyOrg) -> None:
    # A partner company posting many deals for one partner at once: the partner's record is updated by each
    # deal's transaction (conflicts are retried), and each deal's "lead" entry joins the activity from the
    # stream, so no caller is refused and no entry is lost or doubled.
    bodies = [money.body(title=f"Burst {n}", partner_id=money.partner.user_id) for n in range(BURST)]
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(lambda body: money.admin.post(f"/orgs/{money.org_id}/deals", body), bodies))

    assert [a.status_code for a in answers] == [201] * BURST, [a.text for a in answers if a.status_code != 201]
    stack.wait_for_streams()
    activity, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = money.admin.get(f"/orgs/{money.org_id}/partners/{money.partner.user_id}/activity", params=params)
        assert page.status_code == 200, page.text
        activity += page.json()["items"]
        if (cursor := page.json()["next_cursor"]) is None:
            break
    credited = sorted(e["deal_id"] for e in activity if e["action"] == "lead" and e["deal_id"] in ids(answers))
    assert credited == sorted(ids(answers))
    node = db.get(node_key(money.org_id, money.partner.user_id), consistent=True) or {}
    assert node["status"] == "ACTIVE"


BURST = 40


def ids(answers: list[Any]) -> list[str]:
    return [a.json()["deal_id"] for a in answers]

"""Referral fees over HTTP against the local stack: a closing owes its fee once however often it is sent and
however many requests race; the daily sweep reminds the leader, charges a late fee once per period however
many sweeps run, and counts the fee towards the team's pause once it is more than 45 days overdue; paying it
in full lifts the pause; bad closings and agreements are 422 naming the field, with nothing written."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from common.platform import db
from common.teams import fee_model as fm
from common.teams.team_model import team_key

from tests.integration.support.actors import Actor, new_user
from tests.integration.test_team_reminders import sweep, texts_to
from tests.integration.test_teams import CLOSING, Team, accepted_by, new_team

DAY = 86400


@pytest.fixture
def team(stack: Any) -> Team:
    return new_team(stack)


def fees_staff(stack: Any, team: Team) -> Actor:
    staff = new_user(stack, "fees")
    assert team.owner is not None
    grant = {"permissions": ["fees:manage", "fees:write_off"]}
    assert team.owner.put(f"/orgs/{team.org_id}/members/{staff.user_id}", grant).status_code == 200
    return staff


def closing_of(customer: dict[str, Any], **figures: Any) -> dict[str, Any]:
    return {**CLOSING, "close_date": customer["created_at"][:10], **figures}


def status_path(team: Team, customer: dict[str, Any]) -> str:
    return f"{team.path}/customers/{customer['customer_id']}/status"


def fee_id(customer: dict[str, Any], closing: dict[str, Any]) -> str:
    return f"{customer['customer_id']}-{closing['side']}-{closing['close_date']}"


def ledger(team: Team, actor: Actor) -> list[dict[str, Any]]:
    answer = actor.get(f"{team.path}/fee-ledger", params={"limit": "100"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def pause_count(team: Team) -> int:
    item = db.get(team_key(team.org_id, team.team_id), consistent=True) or {}
    return int(item.get("fee_pause_count", 0))


def test_a_closing_owes_one_fee_under_redelivery_and_races(stack: Any, team: Team) -> None:
    staff = fees_staff(stack, team)
    customer = accepted_by(team, team.m1, "Ana")
    closing = closing_of(customer)
    body = {"status": "closed", "note": "Closed at last", "closing": closing}
    # The same request delivered three times, and again by eight racing threads.
    for _ in range(3):
        answer = team.m1.post(status_path(team, customer), body)
        assert answer.status_code == 200, answer.text
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: team.leader.post(status_path(team, customer), body).status_code, range(8)))
    assert statuses == [200] * 8
    fees = team.leader.get(f"{team.path}/fees").json()["items"]
    assert [(f["fee_id"], f["amount"], f["status"]) for f in fees] == [(fee_id(customer, closing), 270_000, "open")]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger(team, staff)] == [("fee", 270_000, 270_000)]
    fee = team.admin.get(f"{team.path}/fees/{fee_id(customer, closing)}").json()
    assert fee["breakdown"]["rate_bps"] == 3000 and fee["breakdown"]["base"] == 900_000
    assert fee["closing"]["side"] == "buy" and fee["due_at"].startswith(closing["close_date"])

    # The buy and the sell side racing as further closings: one fee each, the balance chained through both.
    other = accepted_by(team, team.m2, "Ben")
    assert team.leader.post(status_path(team, other), {"status": "closed", "closing": closing_of(other)}).ok
    sides = [closing_of(other, side="sell", commission=1_000_000)] * 4 + [closing_of(other, commission=900_000)] * 4
    closings = f"{team.path}/customers/{other['customer_id']}/closings"
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda c: team.m2.post(closings, c), sides))
    # The buy side was recorded by the status route: the same figures are that closing, answered again.
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers if a.status_code != 201]
    entries = ledger(team, staff)
    assert sorted(e["amount"] for e in entries if e["kind"] == "fee") == [270_000, 270_000, 300_000]
    assert max(e["balance_after"] for e in entries) == 840_000 == sum(e["amount"] for e in entries)
    # A different figure for a recorded closing is a conflict; corrections have their own route.
    changed = team.m2.post(closings, closing_of(other, side="sell", commission=1))
    assert changed.status_code == 409 and changed.json()["type"] == "/problems/closing-exists"
    # Plain members and staff without fees:manage read no fees.
    assert team.m1.get(f"{team.path}/fees").status_code == 403
    assert team.staff.get(f"{team.path}/fee-ledger").status_code == 403


def test_late_fees_once_per_period_and_the_pause_until_paid(stack: Any, team: Team) -> None:
    staff = fees_staff(stack, team)
    customer = accepted_by(team, team.m1, "Cy")
    closing = closing_of(customer)
    assert team.leader.post(status_path(team, customer), {"status": "closed", "closing": closing}).ok
    fee = fee_id(customer, closing)
    leader_phone = team.phones[team.leader.user_id]
    offset = stack.clock_offset
    try:
        stack.advance_clock(DAY)
        sweep(stack)
        sweep(stack)
        reminders = texts_to(stack, leader_phone, "Referral fee reminder: North Team")
        assert len(reminders) == 1 and "270,000" not in reminders[0] and "2,700.00 USD" in reminders[0]

        stack.advance_clock(30 * DAY)
        runs = [sweep(stack)["fees"] for _ in range(3)]
        assert all(run["due"] >= 0 for run in runs)
        late = [e for e in ledger(team, staff) if e["kind"] == "late_fee"]
        assert [(e["amount"], e["period"]) for e in late] == [(8_100, 1)]  # 3% of 270,000, once
        assert len(texts_to(stack, leader_phone, "Referral fee reminder: North Team")) == 2  # the 20-day reminder
        assert pause_count(team) == 0

        stack.advance_clock(15 * DAY)  # more than 45 days overdue
        sweep(stack)
        sweep(stack)
        assert pause_count(team) == 1
        answer = team.leader.get(f"{team.path}/fees/{fee}").json()
        assert answer["pause_counted"] is True and answer["outstanding"] == 278_100

        payments = f"{team.path}/fee-payments"
        over = staff.post(payments, {"fee_id": fee, "amount": 278_101, "reference": "Wire 1"})
        assert over.status_code == 422 and over.json()["errors"][0]["field"] == "body.amount"
        part = staff.post(payments, {"fee_id": fee, "amount": 78_100, "reference": "Wire 1"})
        assert part.status_code == 201 and part.json()["balance_after"] == 200_000
        assert pause_count(team) == 1
        rest = staff.post(payments, {"fee_id": fee, "amount": 200_000, "reference": "Wire 2"})
        assert rest.status_code == 201 and rest.json()["balance_after"] == 0
        assert pause_count(team) == 0
        paid = team.leader.get(f"{team.path}/fees/{fee}").json()
        assert (paid["status"], paid["outstanding"], paid["pause_counted"]) == ("paid", 0, False)

        stack.advance_clock(30 * DAY)
        sweep(stack)
        assert [e["kind"] for e in ledger(team, staff)].count("late_fee") == 1  # a paid fee owes nothing more
    finally:
        stack.set_clock_offset(offset)


def test_bad_closings_and_agreements_are_422_naming_the_field_and_write_nothing(stack: Any, team: Team) -> None:
    staff = fees_staff(stack, team)
    customer = accepted_by(team, team.m1, "Di")
    closing = closing_of(customer)
    without_commission = {k: v for k, v in closing.items() if k != "commission"}
    for body, field in (
        ({"status": "closed", "closing": without_commission}, "body.closing.commission"),
        ({"status": "closed", "closing": {**closing, "sale_price": -1}}, "body.closing.sale_price"),
        ({"status": "closed"}, "body.closing"),
    ):
        answer = team.m1.post(status_path(team, customer), body)
        assert answer.status_code == 422, answer.text
        assert field in [e["field"] for e in answer.json()["errors"]]
    assert team.leader.get(f"{team.path}/customers/{customer['customer_id']}").json()["status"] == "new"
    assert db.get(fm.fee_key(team.org_id, team.team_id, fee_id(customer, closing))) is None
    assert ledger(team, staff) == []
    for path in (f"/orgs/{team.org_id}/teams/fee-agreement", f"{team.path}/fee-agreement"):
        answer = staff.put(path, {"rate_bps": 10_001})
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "body.rate_bps"
        assert staff.get(path).json()["versions"] == []
    # A team's own agreement applies to its referrals from then on.
    assert staff.put(f"{team.path}/fee-agreement", {"rate_bps": 2000}).status_code == 200
    later = accepted_by(team, team.m1, "Ed")
    assert team.m1.post(status_path(team, later), {"status": "closed", "closing": closing_of(later)}).ok
    answer = team.leader.get(f"{team.path}/fees/{fee_id(later, closing_of(later))}").json()
    assert (answer["amount"], answer["breakdown"]["scope"]) == (180_000, "team")

"""Referral fees in-process (moto): closing a team customer through the referrals handler computes its fee
once from the agreement in force at the referral, the ledger chains its balance, payments and adjustments
move what a fee owes, the lateness work reminds, charges late fees once per period and counts the pause,
and a payment lifts it."""

# The team tests' fixtures (call, org, team) and the Twilio stand-in are imported, so arguments name them again.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest
from common.orgs import access, organisations
from common.platform import db
from common.teams import fee_lateness
from common.teams import fee_model as fm
from common.teams.team_model import team_key

from local.twilio_fake import FakeTwilio
from tests.support import Call, body_of
from tests.unit import sweeps
from tests.unit.conftest import FrozenClock
from tests.unit.functions.referrals.test_teams import (  # noqa: F401 (fixtures)
    ADMIN,
    LEADER,
    M1,
    M2,
    STAFF,
    add_customer,
    call,
    org,
    team,
)
from tests.unit.teams.test_reminders import mails_to, texts_to, twilio  # noqa: F401 (fixture)

FEES, WRITER = "staff-fees", "staff-writer"
CLOSING = {
    "close_date": "2026-11-22",
    "side": "buy",
    "sale_price": 45_000_000,
    "commission": 1_350_000,
    "currency": "USD",
}


@pytest.fixture
def fees_staff(org: str) -> str:
    admin = access.Member(org, ADMIN, "admin", frozenset())
    for user, permissions in ((FEES, [access.Permission.MANAGE_FEES]), (WRITER, [access.Permission.WRITE_OFF_FEES])):
        organisations.put_member(org, admin, user, organisations.MembershipChange(permissions=permissions))
    return FEES


def close(call: Call, org: str, team: str, customer: str, closing: dict[str, Any] | None = None, by: str = M1) -> Any:
    body = {"status": "closed", "note": "Keys handed over", "closing": closing or CLOSING}
    return call("POST", f"/orgs/{org}/teams/{team}/customers/{customer}/status", user=by, body=body)


def fee_id(customer: str, closing: dict[str, Any] = CLOSING) -> str:
    return f"{customer}-{closing['side']}-{closing['close_date']}"


def ledger(call: Call, org: str, team: str, user: str = LEADER) -> list[dict[str, Any]]:
    answer = call("GET", f"/orgs/{org}/teams/{team}/fee-ledger", user=user)
    assert answer["statusCode"] == 200, answer
    return list(body_of(answer)["items"])


def get_fee(call: Call, org: str, team: str, fee: str, user: str = LEADER) -> dict[str, Any]:
    answer = call("GET", f"/orgs/{org}/teams/{team}/fees/{fee}", user=user)
    assert answer["statusCode"] == 200, answer
    return dict(body_of(answer))


def test_closing_owes_one_fee_with_its_breakdown_however_often_it_is_sent(
    call: Call, org: str, team: str, fees_staff: str
) -> None:
    customer = add_customer(org, team, M1)
    for _ in range(3):
        answer = close(call, org, team, customer)
        assert answer["statusCode"] == 200, answer
        assert body_of(answer)["status"] == "closed"
    fee = get_fee(call, org, team, fee_id(customer))
    assert (fee["amount"], fee["outstanding"], fee["status"], fee["currency"]) == (405_000, 405_000, "open", "USD")
    assert fee["breakdown"] == {
        "scope": "default",
        "agreement_id": None,
        "version": None,
        "rate_bps": 3000,
        "base": 1_350_000,
        "computed": 405_000,
        "minimum_fee": None,
    }
    assert fee["due_at"] == "2026-11-22T00:00:00.000Z" and fee["closing"]["sale_price"] == 45_000_000
    entries = ledger(call, org, team)
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries] == [("fee", 405_000, 405_000)]
    other = close(call, org, team, customer, {**CLOSING, "commission": 1})
    assert other["statusCode"] == 409 and body_of(other)["type"] == "/problems/closing-exists"
    # A further closing (the sell side) has its own route and fee.
    sell = {**CLOSING, "side": "sell", "commission": 1_000_000}
    answer = call("POST", f"/orgs/{org}/teams/{team}/customers/{customer}/closings", user=M1, body=sell)
    assert answer["statusCode"] == 201, answer
    assert body_of(answer)["amount"] == 300_000
    assert [e["balance_after"] for e in ledger(call, org, team)] == [705_000, 405_000]


def test_bad_closings_are_422_naming_the_field_and_write_nothing(call: Call, org: str, team: str) -> None:
    customer = add_customer(org, team, M1)
    path = f"/orgs/{org}/teams/{team}/customers/{customer}/status"
    cases = [
        ({"status": "closed"}, "body.closing"),
        (
            {"status": "closed", "closing": {k: v for k, v in CLOSING.items() if k != "commission"}},
            "body.closing.commission",
        ),
        ({"status": "closed", "closing": {**CLOSING, "sale_price": -5}}, "body.closing.sale_price"),
        ({"status": "contacted", "closing": CLOSING}, "body.closing"),
        ({"status": "closed", "closing": {**CLOSING, "close_date": "2027-01-01"}}, "body.closing.close_date"),
    ]
    for body, field in cases:
        answer = call("POST", path, user=M1, body=body)
        assert answer["statusCode"] == 422, answer
        assert field in [e["field"] for e in body_of(answer)["errors"]], body_of(answer)
    assert db.get(fm.fee_key(org, team, fee_id(customer))) is None
    assert ledger(call, org, team) == []


def test_the_agreement_in_force_at_the_referral_applies_and_the_window_ends_fees(
    call: Call, org: str, team: str, fees_staff: str, frozen_clock: FrozenClock
) -> None:
    over = call("PUT", f"/orgs/{org}/teams/fee-agreement", user=FEES, body={"rate_bps": 10_001})
    assert over["statusCode"] == 422 and body_of(over)["errors"][0]["field"] == "body.rate_bps"
    set_ = call(
        "PUT",
        f"/orgs/{org}/teams/fee-agreement",
        user=FEES,
        body={"rate_bps": 2500, "minimum_fee": 500_000, "currency": "USD", "window_days": 30},
    )
    assert set_["statusCode"] == 200, set_
    referred = add_customer(org, team, M1)
    frozen_clock.advance(days=1)
    later = call("PUT", f"/orgs/{org}/teams/fee-agreement", user=FEES, body={"rate_bps": 5000})
    assert later["statusCode"] == 200
    frozen_clock.advance(days=2)
    closing = {**CLOSING, "close_date": "2026-11-24"}
    assert close(call, org, team, referred, closing)["statusCode"] == 200
    fee = get_fee(call, org, team, fee_id(referred, closing), user=FEES)
    # 25% of 1,350,000 is 337,500: the minimum of 500,000 applies; the later 50% version does not.
    assert (fee["amount"], fee["breakdown"]["rate_bps"], fee["breakdown"]["minimum_fee"]) == (500_000, 2500, 500_000)
    frozen_clock.advance(days=40)
    late = {**CLOSING, "side": "sell", "close_date": "2027-01-02"}
    answer = call("POST", f"/orgs/{org}/teams/{team}/customers/{referred}/closings", user=LEADER, body=late)
    assert answer["statusCode"] == 201, answer
    assert body_of(answer)["status"] == "none" and "30-day window" in body_of(answer)["reason"]
    agreement = body_of(call("GET", f"/orgs/{org}/teams/{team}/fee-agreement", user=LEADER))
    assert agreement["in_force"]["rate_bps"] == 5000 and agreement["in_force"]["scope"] == "org"
    assert agreement["versions"] == []


def test_payments_adjustments_corrections_and_who_may(
    call: Call, org: str, team: str, fees_staff: str, frozen_clock: FrozenClock
) -> None:
    customer = add_customer(org, team, M1)
    assert close(call, org, team, customer)["statusCode"] == 200
    fee = fee_id(customer)
    path = f"/orgs/{org}/teams/{team}"
    assert call("GET", f"{path}/fees", user=M1)["statusCode"] == 403
    assert call("GET", f"{path}/fees", user=STAFF)["statusCode"] == 403
    assert call("GET", f"{path}/fees", user="nobody")["statusCode"] == 404
    assert (
        call("POST", f"{path}/fee-payments", user=LEADER, body={"fee_id": fee, "amount": 1, "reference": "x"})[
            "statusCode"
        ]
        == 403
    )
    too_much = call(
        "POST", f"{path}/fee-payments", user=FEES, body={"fee_id": fee, "amount": 405_001, "reference": "w1"}
    )
    assert too_much["statusCode"] == 422 and body_of(too_much)["errors"][0]["field"] == "body.amount"
    frozen_clock.advance(seconds=1)
    paid = call("POST", f"{path}/fee-payments", user=FEES, body={"fee_id": fee, "amount": 5_000, "reference": "w1"})
    assert paid["statusCode"] == 201 and body_of(paid)["balance_after"] == 400_000
    frozen_clock.advance(seconds=1)
    corrected = call(
        "PUT",
        f"{path}/closings/{fee}",
        user=FEES,
        body={"sale_price": 45_000_000, "commission": 1_000_000, "note": "Split with co-agent"},
    )
    assert corrected["statusCode"] == 200, corrected
    assert (body_of(corrected)["amount"], body_of(corrected)["outstanding"]) == (300_000, 295_000)
    frozen_clock.advance(seconds=1)
    adjust = call(
        "POST", f"{path}/fee-adjustments", user=FEES, body={"fee_id": fee, "amount": -295_000, "note": "Waived"}
    )
    assert adjust["statusCode"] == 201
    assert get_fee(call, org, team, fee)["status"] == "paid"
    kinds = [(e["kind"], e["amount"], e["balance_after"]) for e in ledger(call, org, team)]
    assert kinds == [
        ("adjustment", -295_000, 0),
        ("adjustment", -105_000, 295_000),
        ("payment", -5_000, 400_000),
        ("fee", 405_000, 405_000),
    ]
    assert call("POST", f"{path}/fees/{fee}/write-off", user=FEES, body={"note": "x"})["statusCode"] == 403


def test_lateness_reminds_charges_once_per_period_and_pauses_until_paid(
    call: Call, org: str, team: str, fees_staff: str, frozen_clock: FrozenClock, twilio: FakeTwilio
) -> None:
    customer = add_customer(org, team, M2)
    assert close(call, org, team, customer, by=LEADER)["statusCode"] == 200
    fee = fee_id(customer)
    jobs = {fee_lateness.JOB: fee_lateness.work}

    def sweep() -> sweeps.Run:
        return sweeps.run(fee_lateness.hand_on, jobs)

    first = sweep()
    assert first.reminded == 1 and texts_to(twilio, "+15550100001")[-1].startswith("Referral fee reminder: North Team")
    assert sweep().reminded == 0 and len(mails_to("lea@team.example")) == 1
    frozen_clock.advance(days=30, hours=1)
    runs = [sweep(), sweep()]
    assert [r.late_fees for r in runs] == [1, 0] and sum(r.reminded for r in runs) == 1
    state = db.get(fm.fee_key(org, team, fee))
    assert state is not None and (state["late_fees"], state["outstanding"]) == (12_150, 417_150)
    frozen_clock.advance(days=16)
    assert sweep().paused == 1 and sweep().paused == 0
    assert db.get(team_key(org, team))["fee_pause_count"] == 1  # type: ignore[index]
    frozen_clock.advance(days=14)
    assert sweep().late_fees == 1
    state = db.get(fm.fee_key(org, team, fee))
    assert state is not None and state["late_periods"] == 2
    owed = int(state["outstanding"])
    frozen_clock.advance(seconds=1)
    path = f"/orgs/{org}/teams/{team}/fee-payments"
    assert (
        call("POST", path, user=FEES, body={"fee_id": fee, "amount": owed - 1, "reference": "a"})["statusCode"] == 201
    )
    assert db.get(team_key(org, team))["fee_pause_count"] == 1  # type: ignore[index]
    frozen_clock.advance(seconds=1)
    assert call("POST", path, user=FEES, body={"fee_id": fee, "amount": 1, "reference": "b"})["statusCode"] == 201
    assert db.get(team_key(org, team))["fee_pause_count"] == 0  # type: ignore[index]
    after = db.get(fm.fee_key(org, team, fee))
    assert after is not None and after["status"] == "paid" and "gsi3pk" not in after
    assert sweep().sweep["due"] == 0
    entries = ledger(call, org, team)
    assert entries[0]["balance_after"] == 0 and sum(e["amount"] for e in entries) == 0


def test_the_fee_audit_recomputes_balances_and_finds_a_planted_drift(
    call: Call, org: str, team: str, fees_staff: str, frozen_clock: FrozenClock
) -> None:
    import boto3

    from ops import fee_audit
    from tests.unit.conftest import TABLE

    customer = add_customer(org, team, M1)
    assert close(call, org, team, customer)["statusCode"] == 200
    frozen_clock.advance(seconds=1)
    body = {"fee_id": fee_id(customer), "amount": 5_000, "reference": "w1"}
    assert call("POST", f"/orgs/{org}/teams/{team}/fee-payments", user=FEES, body=body)["statusCode"] == 201
    client = boto3.client("dynamodb")
    clean = fee_audit.audit(client, TABLE, org_id=org)
    assert (clean["fee_balances"], clean["fee_entries"], clean["fees"], clean["drifts"]) == (1, 2, 1, [])
    db.update(fm.balance_key(org, team, "USD"), expression="ADD balance :one", values={":one": 1})
    db.update(fm.fee_key(org, team, fee_id(customer)), expression="ADD outstanding :one", values={":one": 1})
    report = fee_audit.audit(client, TABLE, org_id=org)
    assert [(d["kind"], d["expected"], d["found"]) for d in report["drifts"]] == [
        ("balance", 400_000, 400_001),
        ("fee_outstanding", 400_000, 400_001),
    ]

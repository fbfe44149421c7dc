"""The ledger audit (ops.ledger_audit): its checks as pure functions, and the audit over the (moto) table telling
drift from a Scan that caught a write half-way."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from common.money import ledger
from common.money.plans import plan_key
from common.money.wallets import EntryKind, commission_entry_id, payout_entry_id, reversal_entry_id, wallet_key
from common.orgs.access import Member
from common.partners.partner_records import PartnerStatus, node_item
from common.platform import db

from ops import ledger_audit
from ops.ledger_audit import Partner, drifts
from tests.unit.conftest import TABLE
from tests.unit.money.test_ledger import ORG, PID, entry, wallet


def request(request_id: str, status: str, amount: int) -> dict[str, Any]:
    return {"request_id": request_id, "partner_id": PID, "status": status, "amount": amount}


def kinds(partner: Partner) -> list[str]:
    return [d["kind"] for d in drifts(ORG, PID, partner)]


# -- the audit's checks ----------------------------------------------------------------------------


def test_a_wallet_that_matches_its_entries_and_requests_has_no_drift() -> None:
    paid, pending = "01PAIDAAAAAAAAAAAAAAAAAAAA", "01PENDAAAAAAAAAAAAAAAAAAAA"
    partner = Partner(
        wallet(1500, 3, open_request_id=pending, open_request_amount=400),
        [
            entry("C-1", 1000),
            entry("E-1", 1000, EntryKind.CORRECTION),
            entry(payout_entry_id(paid), -500, EntryKind.PAYOUT),
        ],
        {paid: request(paid, "paid", 500), pending: request(pending, "pending", 400), "R": request("R", "rejected", 9)},
    )
    assert drifts(ORG, PID, partner) == []
    assert drifts(ORG, PID, Partner()) == []


def test_the_audit_names_each_way_a_wallet_can_drift() -> None:
    assert drifts(ORG, PID, Partner(wallet(900, 1), [entry("C-1", 1000)])) == [
        {"org_id": ORG, "partner_id": PID, "kind": "balance", "expected": 1000, "found": 900}
    ]
    assert kinds(Partner(wallet(1000, 2), [entry("C-1", 1000)])) == ["entry_count"]
    assert kinds(Partner(None, [entry("C-1", 1000)])) == ["entry_without_wallet"]
    assert kinds(Partner(wallet(1000, 1), [entry("C-1", 1000, currency="USD")])) == ["currency"]
    assert kinds(Partner(wallet(0, 0, open_request_id="R", open_request_amount=5))) == ["open_request"]
    assert kinds(
        Partner(wallet(9, 0, open_request_id="R", open_request_amount=5), [], {"R": request("R", "pending", 6)})
    ) == ["balance", "open_request"]
    assert kinds(Partner(wallet(0, 0), [], {"R": request("R", "pending", 5)})) == ["pending_request_not_open"]
    assert kinds(Partner(wallet(0, 0), [], {"R": request("R", "paid", 5)})) == ["paid_request_without_entry"]
    payout = entry(payout_entry_id("R"), -5, EntryKind.PAYOUT)
    assert kinds(Partner(wallet(-5, 1), [payout])) == ["payout_entry_without_request"]
    assert kinds(Partner(wallet(-5, 1), [payout], {"R": request("R", "rejected", 5)})) == [
        "payout_entry_without_request"
    ]
    assert kinds(Partner(wallet(-5, 1), [payout], {"R": request("R", "paid", 6)})) == ["payout_amount"]


def test_the_audit_pairs_each_reversal_with_the_commission_it_undoes() -> None:
    paid = commission_entry_id("D1", "WON", 1, 1)
    again = commission_entry_id("D1", "WON", 3, 1)

    def commission(entry_id: str, amount: int = 100) -> dict[str, Any]:
        return entry(entry_id, amount, details={"deal_id": "D1", "level": 1})

    def undo(entry_id: str, amount: int = -100, target: str = paid) -> dict[str, Any]:
        return entry(entry_id, amount, EntryKind.REVERSAL, details={"deal_id": "D1", "reversed_entry_id": target})

    # Paid, reversed, paid again on re-entering the stage: one payment in force.
    assert kinds(Partner(wallet(100, 3), [commission(paid), undo(reversal_entry_id(paid)), commission(again)])) == []
    assert kinds(Partner(wallet(200, 2), [commission(paid), commission(again, 100)])) == ["commission_live_twice"]
    assert kinds(Partner(wallet(-100, 1), [undo(reversal_entry_id(paid))])) == ["reversal_unmatched"]
    assert kinds(Partner(wallet(0, 2), [commission(paid), undo(reversal_entry_id(paid), -90)])) == [
        "balance",
        "reversal_unmatched",
    ]
    assert kinds(Partner(wallet(0, 2), [commission(paid), undo("R-other")])) == ["reversal_unmatched"]
    twice = [commission(paid), undo(reversal_entry_id(paid)), undo(reversal_entry_id(paid))]
    assert kinds(Partner(wallet(-100, 3), twice)) == ["reversed_twice"]


# -- the audit over a table ------------------------------------------------------------------------


def _org_with_corrections(amounts: list[int]) -> None:
    db.put({**plan_key(ORG), "entity": "commission_plan", "org_id": ORG, "currency": "EUR", "versions": []})
    node = node_item(
        org_id=ORG,
        partner_id=PID,
        first_name="P",
        last_name="Q",
        email="p@q.example",
        phone=None,
        status=PartnerStatus.LIVE,
        origin="added",
        actor="system",
    )
    db.put(node)
    member = Member(ORG, "staff-1", "admin", frozenset())
    for amount in amounts:
        ledger.correct(ORG, PID, member, ledger.Correction(amount=amount, reason="test"))


def test_the_audit_reads_the_table_and_finds_a_planted_drift() -> None:
    _org_with_corrections([700, -200, 50])
    client = boto3.client("dynamodb")
    clean = ledger_audit.audit(client, TABLE)
    assert (clean["wallets"], clean["entries"], clean["drifts"]) == (1, 3, [])
    db.update(wallet_key(ORG, PID), expression="ADD balance :one", values={":one": 1})
    report = ledger_audit.audit(client, TABLE, org_id=ORG)
    assert [(d["kind"], d["expected"], d["found"]) for d in report["drifts"]] == [("balance", 550, 551)]
    assert ledger_audit.audit(client, TABLE, org_id="01OTHERAAAAAAAAAAAAAAAAAAA")["wallets"] == 0


def test_a_scan_that_caught_a_transaction_half_way_is_read_again_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    _org_with_corrections([700, 300])
    scanned = list(ledger_audit.Table(boto3.client("dynamodb"), TABLE).scan(ORG))
    # The scan saw the wallet before the last correction but both entries.
    stale = [{**i, "balance": 700, "entry_count": 1} if i["entity"] == "wallet" else i for i in scanned]
    monkeypatch.setattr(ledger_audit.Table, "scan", lambda self, org_id: iter(stale))
    assert ledger_audit.audit(boto3.client("dynamodb"), TABLE)["drifts"] == []

"""Wallets and the ledger over HTTP against the local stack: staff correct balances and read every wallet,
a partner reads and exports only their own (without who on the staff corrected or paid), bad corrections
change nothing, the CSV keeps signs and defuses formulas."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

from common.money.ledger import CSV_COLUMNS, NEXT_CURSOR_HEADER, PARTNER_CSV_COLUMNS
from common.money.plans import plan_key
from common.platform import clock, db

from local.stack import LocalStack
from tests.integration.support.actors import Actor, new_user
from tests.integration.support.partners import new_partner


@dataclass
class Programme:
    org_id: str
    admin: Actor

    def wallet(self, partner_id: str) -> str:
        return f"/orgs/{self.org_id}/wallets/{partner_id}"

    def correct(self, partner_id: str, amount: int, reason: str = "goodwill", **kwargs: Any) -> dict[str, Any]:
        answer = self.admin.post(
            f"{self.wallet(partner_id)}/corrections", {"amount": amount, "reason": reason}, **kwargs
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


def new_programme(stack: LocalStack, *, plan: bool = True) -> Programme:
    admin = new_user(stack, "admin", operator=True)
    created = admin.post("/orgs", {"name": "Ledger org"})
    assert created.status_code == 201, created.text
    org_id = created.json()["org_id"]
    if plan:
        version = {"version": 1, "effective_from": clock.now_iso(), "created_at": clock.now_iso(), "created_by": "x"}
        levels = [{"level": 1, "rule": "fixed", "amount": 1000, "cap": None}]
        db.put(
            {
                **plan_key(org_id),
                "entity": "commission_plan",
                "org_id": org_id,
                "currency": "EUR",
                "version_count": 1,
                "versions": [{**version, "levels": levels}],
            }
        )
    return Programme(org_id, admin)


def rows(answer: Any, columns: tuple[str, ...] = CSV_COLUMNS) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(answer.text)))
    assert table[0] == list(columns)
    return [dict(zip(columns, row, strict=True)) for row in table[1:]]


def test_staff_correct_a_balance_and_read_the_history_newest_first(stack: LocalStack) -> None:
    programme = new_programme(stack)
    partner = new_partner(stack, programme.org_id)
    first = programme.correct(partner.user_id, 1000, "welcome bonus")
    assert first["kind"] == "correction" and first["currency"] == "EUR"
    assert first["details"] == {"reason": "welcome bonus", "by": f"user:{programme.admin.user_id}"}
    programme.correct(partner.user_id, -300)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    last = programme.correct(partner.user_id, 50, headers=key)
    assert programme.correct(partner.user_id, 50, headers=key) == last  # a retry answers once

    wallet = programme.admin.get(programme.wallet(partner.user_id)).json()
    assert (wallet["balance"], wallet["available"], wallet["entry_count"], wallet["currency"]) == (750, 750, 3, "EUR")
    assert wallet["name"] == "Pat Partner" and wallet["open_request"] is None
    page = programme.admin.get(f"{programme.wallet(partner.user_id)}/entries", params={"limit": 2}).json()
    assert [e["amount"] for e in page["items"]] == [50, -300]
    rest = programme.admin.get(
        f"{programme.wallet(partner.user_id)}/entries", params={"cursor": page["next_cursor"]}
    ).json()
    assert ([e["entry_id"] for e in rest["items"]], rest["next_cursor"]) == ([first["entry_id"]], None)

    listed = programme.admin.get(f"/orgs/{programme.org_id}/wallets").json()
    assert [(w["partner_id"], w["balance"], w["name"]) for w in listed["items"]] == [
        (partner.user_id, 750, "Pat Partner")
    ]
    own = partner.get(f"/orgs/{programme.org_id}/portal/wallet").json()
    assert (own["balance"], own["entry_count"]) == (750, 3)
    history = partner.get(f"/orgs/{programme.org_id}/portal/wallet/entries").json()
    assert [e["amount"] for e in history["items"]] == [50, -300, 1000]

    newcomer = new_partner(stack, programme.org_id)
    empty = programme.admin.get(programme.wallet(newcomer.user_id)).json()
    assert (empty["balance"], empty["currency"], empty["entry_count"]) == (0, "EUR", 0)


def test_a_refused_correction_names_its_fields_and_writes_nothing(stack: LocalStack) -> None:
    programme = new_programme(stack)
    partner = new_partner(stack, programme.org_id)
    path = f"{programme.wallet(partner.user_id)}/corrections"
    for body, fields in (
        ({"amount": 0, "reason": "x"}, {"body.amount"}),
        ({"amount": 2.5, "reason": "x"}, {"body.amount"}),
        ({"amount": 10**12 + 1, "reason": "x"}, {"body.amount"}),
        ({"amount": 10}, {"body.reason"}),
        ({"amount": 10, "reason": ""}, {"body.reason"}),
        ({"amount": 10, "reason": "a\u0007b"}, {"body.reason"}),
        ({"amount": 0, "reason": "x" * 501}, {"body.amount", "body.reason"}),
    ):
        refused = programme.admin.post(path, body)
        assert refused.status_code == 422, body
        assert {e["field"] for e in refused.json()["errors"]} == fields

    clerk, keeper = new_user(stack, "clerk"), new_user(stack, "keeper")
    programme.admin.put(f"/orgs/{programme.org_id}/members/{clerk.user_id}", {"permissions": ["partners:manage"]})
    programme.admin.put(
        f"/orgs/{programme.org_id}/members/{keeper.user_id}", {"permissions": ["programme:manage_balances"]}
    )
    assert clerk.post(path, {"amount": 10, "reason": "x"}).status_code == 403
    assert clerk.get(programme.wallet(partner.user_id)).status_code == 403
    stranger = new_programme(stack).admin
    assert stranger.post(path, {"amount": 10, "reason": "x"}).status_code == 404
    assert partner.get(programme.wallet(partner.user_id)).status_code == 404  # a partner is not staff
    missing = programme.admin.post(f"{programme.wallet('nobody-here')}/corrections", {"amount": 1, "reason": "x"})
    assert missing.status_code == 404
    assert programme.admin.get(programme.wallet(partner.user_id)).json()["entry_count"] == 0

    assert keeper.post(path, {"amount": 10, "reason": "x"}).status_code == 201
    no_plan = new_programme(stack, plan=False)
    elsewhere = new_partner(stack, no_plan.org_id)
    conflict = no_plan.admin.post(f"{no_plan.wallet(elsewhere.user_id)}/corrections", {"amount": 1, "reason": "x"})
    assert (conflict.status_code, conflict.json()["type"]) == (409, "/problems/no-commission-plan")
    assert no_plan.admin.get(no_plan.wallet(elsewhere.user_id)).json()["currency"] is None


def test_csv_exports_of_a_partner_and_of_the_organisation(stack: LocalStack) -> None:
    programme = new_programme(stack)
    alice, bob = new_partner(stack, programme.org_id), new_partner(stack, programme.org_id)
    programme.correct(alice.user_id, 1000, '=HYPERLINK("http://x")')
    programme.correct(alice.user_id, -250, "-2+3")
    programme.correct(bob.user_id, 40, "fine")

    own = rows(alice.get(f"/orgs/{programme.org_id}/portal/wallet/export"), PARTNER_CSV_COLUMNS)
    assert [(r["partner_id"], r["kind"], r["amount"], r["currency"]) for r in own] == [
        (alice.user_id, "correction", "1000", "EUR"),
        (alice.user_id, "correction", "-250", "EUR"),
    ]
    assert [r["reason"] for r in own] == ['\'=HYPERLINK("http://x")', "'-2+3"]
    staff = rows(programme.admin.get(f"{programme.wallet(alice.user_id)}/export"))
    assert [{k: v for k, v in r.items() if k != "by"} for r in staff] == own

    export = f"/orgs/{programme.org_id}/ledger/export"
    first = programme.admin.get(export, params={"limit": 2})
    assert [r["amount"] for r in rows(first)] == ["1000", "-250"]
    second = programme.admin.get(export, params={"limit": 2, "cursor": first.headers[NEXT_CURSOR_HEADER]})
    assert [(r["partner_id"], r["amount"]) for r in rows(second)] == [(bob.user_id, "40")]
    assert NEXT_CURSOR_HEADER not in second.headers
    assert bob.get(export).status_code == 404
    assert programme.admin.get(export, params={"limit": 5001}).status_code == 422


def test_a_partner_never_sees_who_on_the_staff_corrected_or_paid_and_staff_do(stack: LocalStack) -> None:
    programme = new_programme(stack)
    partner = new_partner(stack, programme.org_id)
    programme.correct(partner.user_id, 1000, "welcome bonus")
    requested = partner.post(f"/orgs/{programme.org_id}/portal/payout-requests", {"amount": 400})
    assert requested.status_code == 201, requested.text
    paid = programme.admin.post(f"/orgs/{programme.org_id}/payout-requests/{requested.json()['request_id']}/pay")
    assert paid.status_code == 200, paid.text
    staff_id = programme.admin.user_id

    own = partner.get(f"/orgs/{programme.org_id}/portal/wallet/entries")
    assert own.status_code == 200, own.text
    assert [(e["kind"], e["amount"]) for e in own.json()["items"]] == [("payout", -400), ("correction", 1000)]
    assert [e["details"] for e in own.json()["items"]] == [
        {"request_id": requested.json()["request_id"]},
        {"reason": "welcome bonus"},
    ]
    exported = partner.get(f"/orgs/{programme.org_id}/portal/wallet/export")
    assert [r["kind"] for r in rows(exported, PARTNER_CSV_COLUMNS)] == ["correction", "payout"]
    assert staff_id not in own.text and staff_id not in exported.text

    staff = programme.admin.get(f"{programme.wallet(partner.user_id)}/entries").json()["items"]
    assert [e["details"]["by"] for e in staff] == [f"user:{staff_id}"] * 2
    staff_export = rows(programme.admin.get(f"{programme.wallet(partner.user_id)}/export"))
    assert [r["by"] for r in staff_export] == [f"user:{staff_id}"] * 2
    whole = rows(programme.admin.get(f"/orgs/{programme.org_id}/ledger/export"))
    assert [r["by"] for r in whole] == [f"user:{staff_id}"] * 2

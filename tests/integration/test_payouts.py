"""Payout requests over HTTP against the local stack: partners request, staff pay or reject, the stream
e-mails the partner; races leave one winner and the balance always equals the sum of the ledger."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from common.money.plans import plan_key
from common.money.wallets import ENTRY_PREFIX, payout_key, wallet_key, wallet_pk
from common.partners.partner_records import account_key
from common.platform import clock, db, ids, listings

from local.stack import LocalStack
from tests.integration.support.actors import Actor, new_user
from tests.integration.support.partners import new_partner
from tests.support import load_event, queued

CURRENCY = "EUR"


@dataclass
class Programme:
    org_id: str
    admin: Actor
    partner: Actor

    @property
    def requests(self) -> str:
        return f"/orgs/{self.org_id}/payout-requests"

    @property
    def portal_requests(self) -> str:
        return f"/orgs/{self.org_id}/portal/payout-requests"


def new_programme(stack: LocalStack, *, balance: int = 0) -> Programme:
    """An organisation with a commission plan in EUR and a partner holding `balance`."""
    admin = new_user(stack, "admin", operator=True)
    created = admin.post("/orgs", {"name": "Payouts org"})
    assert created.status_code == 201, created.text
    org_id = created.json()["org_id"]
    version = {"version": 1, "effective_from": clock.now_iso(), "created_at": clock.now_iso(), "created_by": "system"}
    levels = [{"level": 1, "rule": "percentage", "percent": "10", "cap": None}]
    db.put(
        {
            **plan_key(org_id),
            "entity": "commission_plan",
            "org_id": org_id,
            "currency": CURRENCY,
            "version_count": 1,
            "versions": [{**version, "levels": levels}],
        }
    )
    programme = Programme(org_id, admin, new_partner(stack, org_id))
    if balance:
        correct(programme, programme.partner.user_id, balance)
    return programme


def correct(programme: Programme, partner_id: str, amount: int) -> None:
    """A balance correction by the organisation's admin."""
    path = f"/orgs/{programme.org_id}/wallets/{partner_id}/corrections"
    corrected = programme.admin.post(path, {"amount": amount, "reason": "test"})
    assert corrected.status_code == 201, corrected.text


def wallet(programme: Programme, partner_id: str | None = None) -> dict[str, Any]:
    return db.get(wallet_key(programme.org_id, partner_id or programme.partner.user_id), consistent=True) or {}


def entries(programme: Programme, partner_id: str | None = None) -> list[dict[str, Any]]:
    pk = wallet_pk(programme.org_id, partner_id or programme.partner.user_id)
    return listings.all_with_prefix(pk, ENTRY_PREFIX, consistent=True)


def mails_to(stack: LocalStack, partner: Actor) -> list[dict[str, Any]]:
    account = db.get(account_key(partner.user_id), consistent=True)
    assert account is not None
    return [m for m in stack.outbox() if m["to"] == [account["email"]] and "payout request" in m["subject"]]


def modify_record(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    record = load_event("dynamodb_stream_lead_insert.json")["Records"][0]
    keys = {"pk": new["pk"], "sk": new["sk"]}
    images = {"Keys": db.serialize(keys), "OldImage": db.serialize(old), "NewImage": db.serialize(new)}
    return {**record, "eventName": "MODIFY", "dynamodb": {**record["dynamodb"], **images}}


def request(programme: Programme, amount: int) -> dict[str, Any]:
    created = programme.partner.post(programme.portal_requests, {"amount": amount})
    assert created.status_code == 201, created.text
    return created.json()


def test_twenty_racing_requests_leave_one_pending(stack: LocalStack) -> None:
    programme = new_programme(stack, balance=10_000)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(lambda n: programme.partner.post(programme.portal_requests, {"amount": 100 + n}), range(20))
        )

    assert sorted(a.status_code for a in answers) == [201] + [409] * 19, [a.text for a in answers]
    assert {a.json()["type"] for a in answers if a.status_code == 409} == {"/problems/payout-request-open"}
    [won] = [a.json() for a in answers if a.status_code == 201]
    assert won["status"] == "pending" and won["currency"] == CURRENCY
    own = programme.partner.get(programme.portal_requests).json()["items"]
    assert [r["request_id"] for r in own] == [won["request_id"]]
    pending = programme.admin.get(programme.requests).json()["items"]
    assert [(r["request_id"], r["partner_name"]) for r in pending] == [(won["request_id"], "Pat Partner")]
    held = wallet(programme)
    assert (held["open_request_id"], held["open_request_amount"], held["balance"]) == (
        won["request_id"],
        won["amount"],
        10_000,
    )


def test_a_request_above_the_balance_or_without_a_wallet_is_refused(stack: LocalStack) -> None:
    programme = new_programme(stack, balance=500)
    above = programme.partner.post(programme.portal_requests, {"amount": 501})
    assert above.status_code == 409 and above.json()["type"] == "/problems/balance-insufficient"
    assert "available balance is 500" in above.json()["detail"]

    penniless = new_partner(stack, programme.org_id)
    nothing = penniless.post(programme.portal_requests, {"amount": 1})
    assert nothing.status_code == 409 and "available balance is 0" in nothing.json()["detail"]

    for bad in ({"amount": 0}, {"amount": -5}, {"amount": 1.5}, {"amount": "100"}, {}):
        refused = programme.partner.post(programme.portal_requests, bad)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["body.amount"]
    assert programme.partner.get(programme.portal_requests).json()["items"] == []
    assert "open_request_id" not in wallet(programme)


def test_paying_drops_the_balance_once_and_mails_the_partner(stack: LocalStack) -> None:
    programme = new_programme(stack, balance=12_345)
    pending = request(programme, 12_000)
    pay = f"{programme.requests}/{pending['request_id']}/pay"

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: programme.admin.post(pay), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    [paid] = [a.json() for a in answers if a.status_code == 200]
    assert paid["status"] == "paid" and paid["settled_by"] == f"user:{programme.admin.user_id}"
    again = programme.admin.post(pay)
    assert again.status_code == 409 and again.json()["type"] == "/problems/payout-settled"

    held = wallet(programme)
    assert held["balance"] == 345 and "open_request_id" not in held
    payouts = [e for e in entries(programme) if e["kind"] == "payout"]
    assert [(e["amount"], e["details"]["request_id"]) for e in payouts] == [(-12_000, pending["request_id"])]
    detail = programme.admin.get(f"{programme.requests}/{pending['request_id']}").json()
    assert detail["status"] == "paid" and detail["wallet"] == {
        "balance": 345,
        "available": 345,
        "open_request_id": None,
    }
    assert programme.admin.get(programme.requests).json()["items"] == []
    assert [r["request_id"] for r in programme.admin.get(f"{programme.requests}?status=paid").json()["items"]] == [
        pending["request_id"]
    ]

    stack.wait_for_streams()
    [mail] = mails_to(stack, programme.partner)
    assert "paid" in mail["subject"] and "120.00 EUR" in mail["subject"]


def test_a_balance_corrected_below_the_request_cannot_be_paid(stack: LocalStack) -> None:
    programme = new_programme(stack, balance=1_000)
    pending = request(programme, 800)
    correct(programme, programme.partner.user_id, -300)

    refused = programme.admin.post(f"{programme.requests}/{pending['request_id']}/pay")
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/balance-insufficient"
    assert programme.admin.get(f"{programme.requests}/{pending['request_id']}").json()["status"] == "pending"
    assert wallet(programme)["balance"] == 700 and not [e for e in entries(programme) if e["kind"] == "payout"]


def test_a_rejection_mails_the_reason_and_frees_the_partner_to_request_again(stack: LocalStack) -> None:
    programme = new_programme(stack, balance=5_000)
    pending = request(programme, 4_000)
    path = f"{programme.requests}/{pending['request_id']}/reject"

    for bad in ({}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "bad\x00reason"}):
        refused = programme.admin.post(path, bad)
        assert refused.status_code == 422 and [e["field"] for e in refused.json()["errors"]] == ["body.reason"]
    rejected = programme.admin.post(path, {"reason": "Invoice missing"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected" and rejected.json()["reject_reason"] == "Invoice missing"
    assert programme.admin.post(path, {"reason": "again"}).json()["type"] == "/problems/payout-settled"
    assert programme.admin.post(f"{programme.requests}/{pending['request_id']}/pay").status_code == 409
    held = wallet(programme)
    assert held["balance"] == 5_000 and "open_request_id" not in held and held["entry_count"] == 1

    stack.wait_for_streams()
    [mail] = mails_to(stack, programme.partner)
    assert "rejected" in mail["subject"] and "Reason: Invoice missing" in mail["body"]
    settled = db.get(payout_key(programme.org_id, pending["request_id"]), consistent=True)
    assert settled is not None
    for _ in range(2):  # the stream delivers the record again: no second e-mail
        redelivered = stack.invoke("PayoutsEvents", queued(modify_record({**settled, "status": "pending"}, settled)))
        assert redelivered.ok and redelivered.payload == {"batchItemFailures": []}, redelivered
    assert len(mails_to(stack, programme.partner)) == 1
    assert request(programme, 5_000)["status"] == "pending"
    own = programme.partner.get(programme.portal_requests).json()["items"]
    assert [r["status"] for r in own] == ["pending", "rejected"] and "settled_by" not in own[1]


def test_payments_racing_corrections_keep_the_balance_equal_to_the_ledger(stack: LocalStack) -> None:
    programme = new_programme(stack)
    partner_id = programme.partner.user_id

    def round_of(n: int) -> int:
        """Top the balance up, request all of it, and pay while corrections take some away and give some
        back: the payment wins only while the balance covers it; a refused one is rejected."""
        correct(programme, partner_id, 500)
        pending = request(programme, wallet(programme)["balance"])
        one = f"{programme.requests}/{pending['request_id']}"
        with ThreadPoolExecutor(max_workers=4) as pool:
            pay = pool.submit(programme.admin.post, f"{one}/pay")
            corrections = [pool.submit(correct, programme, partner_id, amount) for amount in (-7, 3, -1 - n)]
            for done in corrections:
                done.result()
            paid = pay.result()
        if paid.status_code == 409:
            assert paid.json()["type"] == "/problems/balance-insufficient", paid.text
            assert programme.admin.post(f"{one}/reject", {"reason": "balance changed"}).status_code == 200
        return paid.status_code

    outcomes = [round_of(n) for n in range(5)]

    assert set(outcomes) <= {200, 409}
    held, ledger = wallet(programme), entries(programme)
    assert held["balance"] == sum(e["amount"] for e in ledger) and held["entry_count"] == len(ledger)
    assert len([e for e in ledger if e["kind"] == "payout"]) == outcomes.count(200)
    assert "open_request_id" not in held


def test_requests_are_only_for_their_partner_and_the_programme_staff(stack: LocalStack) -> None:
    programme = new_programme(stack, balance=1_000)
    mine = request(programme, 100)
    other = new_partner(stack, programme.org_id)
    correct(programme, other.user_id, 300)
    request(Programme(programme.org_id, programme.admin, other), 300)
    one = f"{programme.requests}/{mine['request_id']}"

    assert [r["request_id"] for r in programme.partner.get(programme.portal_requests).json()["items"]] == [
        mine["request_id"]
    ]
    # A partner is no staff member of the organisation: its staff routes do not exist for them.
    for call in (lambda a: a.get(programme.requests), lambda a: a.get(one), lambda a: a.post(f"{one}/pay")):
        assert call(programme.partner).status_code == 404
    clerk = new_user(stack, "clerk")
    joined = programme.admin.put(f"/orgs/{programme.org_id}/members/{clerk.user_id}", {"permissions": ["deals:manage"]})
    assert joined.status_code == 200, joined.text
    assert clerk.get(programme.requests).status_code == 403
    assert clerk.get(one).status_code == 403
    assert clerk.post(f"{one}/pay").status_code == 403
    assert clerk.post(f"{one}/reject", {"reason": "no"}).status_code == 403

    elsewhere = new_programme(stack)
    assert elsewhere.admin.get(f"/orgs/{programme.org_id}/payout-requests").status_code == 404
    assert elsewhere.admin.post(f"/orgs/{programme.org_id}/payout-requests/{mine['request_id']}/pay").status_code == 404
    assert elsewhere.admin.get(f"{elsewhere.requests}/{mine['request_id']}").status_code == 404
    assert programme.partner.get(elsewhere.portal_requests).status_code == 404
    assert programme.admin.get(f"{programme.requests}/{ids.new_id()}").status_code == 404
    assert programme.admin.get(f"{programme.requests}?status=settled").status_code == 422


def test_a_partner_pages_through_their_requests_newest_first(stack: LocalStack) -> None:
    programme = new_programme(stack, balance=10)
    made = []
    for _ in range(3):
        made.append(request(programme, 1)["request_id"])
        rejected = programme.admin.post(f"{programme.requests}/{made[-1]}/reject", {"reason": "not yet"})
        assert rejected.status_code == 200, rejected.text
    first = programme.partner.get(f"{programme.portal_requests}?limit=2").json()
    rest = programme.partner.get(f"{programme.portal_requests}?limit=2&cursor={first['next_cursor']}").json()
    assert [r["request_id"] for r in first["items"] + rest["items"]] == made[::-1]

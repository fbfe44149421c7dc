"""Commission plans and the commission cascade over HTTP and the table's stream: a five-level structure paid
by percentage, fixed and capped levels with the preview foretelling it; stream records delivered again,
batches re-processed, a poisoned record set aside; deals moving back and forth; reversals; a plan version
added between a change and its processing."""

from __future__ import annotations

import copy
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from common.deals import deal_records
from common.money import commissions, wallets
from common.partners.partner_records import PartnerStatus, node_item
from common.platform import clock, db, listings
from common.platform.errors import DomainError

from local.stream_poller import lambda_record
from ops import ledger_audit
from tests.integration.support.actors import Actor, Organisation, new_organisation, new_user
from tests.support import queued

CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}
STAGES = [
    {"name": "New"},
    {"name": "Won", "commission": "compute"},
    {"name": "Signed", "commission": "compute"},
    {"name": "Cancelled", "commission": "reverse"},
    {"name": "Lost", "commission": "reverse"},
]
LEVELS = [
    {"rule": "percentage", "percent": "10"},
    {"rule": "percentage", "percent": 5, "cap": 500_000},
    {"rule": "fixed", "amount": 5_000},
    {"rule": "fixed", "amount": 20_000, "cap": 15_000},
    {"rule": "percentage", "percent": "2.5"},
]
VALUE = {"amount": 12_345_678, "currency": "AUD"}
# Level 5 is ENDED: it earns nothing.
EXPECTED = [1_234_567, 500_000, 5_000, 15_000, 0]


@dataclass
class Programme:
    org: Organisation
    workflow: dict[str, Any]
    partners: list[str]  # level 1 (credited) first, up to the root

    @property
    def org_id(self) -> str:
        return self.org.org_id

    @property
    def admin(self) -> Actor:
        return self.org.admin

    def stage(self, name: str) -> str:
        return str(next(s["stage_id"] for s in self.workflow["stages"] if s["name"] == name))

    def deal(self, value: dict[str, Any] | None = VALUE) -> dict[str, Any]:
        body = {"workflow_id": self.workflow["workflow_id"], "contacts": [CONTACT], "partner_id": self.partners[0]}
        created = self.admin.post(f"/orgs/{self.org_id}/deals", body | ({"value": value} if value else {}))
        assert created.status_code == 201, created.text
        return dict(created.json())

    def move(self, deal: dict[str, Any], stage: str) -> dict[str, Any]:
        path = f"/orgs/{self.org_id}/deals/{deal['deal_id']}/stage"
        moved = self.admin.post(path, {"stage_id": self.stage(stage)})
        assert moved.status_code == 200, moved.text
        return dict(moved.json())

    def paid(self, deal: dict[str, Any]) -> list[int]:
        """What each level's partner got from the deal, in entries of any kind."""
        return [
            sum(e["amount"] for e in entries(self.org_id, p) if e["details"].get("deal_id") == deal["deal_id"])
            for p in self.partners
        ]

    def record(self, deal: dict[str, Any]) -> dict[str, Any]:
        answer = self.admin.get(f"/orgs/{self.org_id}/deals/{deal['deal_id']}/commissions")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def entries(org_id: str, partner_id: str) -> list[db.Item]:
    return listings.all_with_prefix(wallets.wallet_pk(org_id, partner_id), wallets.ENTRY_PREFIX, consistent=True)


def balance(org_id: str, partner_id: str) -> int:
    wallet = db.get(wallets.wallet_key(org_id, partner_id), consistent=True)
    total = sum(e["amount"] for e in entries(org_id, partner_id))
    assert (wallet or {}).get("balance", 0) == total  # the balance is the sum of the entries, always
    return total


def new_programme(stack: Any, levels: list[dict[str, Any]] = LEVELS) -> Programme:
    org = new_organisation(stack, reps=1)
    created = org.admin.post(f"/orgs/{org.org_id}/workflows", {"name": "Referrals", "stages": STAGES})
    assert created.status_code == 201, created.text
    plan = org.admin.post(f"/orgs/{org.org_id}/commission-plan/versions", {"currency": "AUD", "levels": levels})
    assert plan.status_code == 201, plan.text
    # The structure, root first: the root is ENDED; nobody signs in, so the nodes are written directly.
    partners: list[str] = []
    for level in range(5):
        partner_id = f"it-partner-{uuid.uuid4().hex[:12]}"
        status = PartnerStatus.ENDED if level == 0 else PartnerStatus.LIVE
        node = node_item(
            org_id=org.org_id,
            partner_id=partner_id,
            first_name="Level",
            last_name=str(5 - level),
            email=f"{partner_id}@it.example",
            phone=None,
            status=status,
            origin="added",
            actor="system",
            upline=list(reversed(partners)),
        )
        db.put(node)
        partners.append(partner_id)
    return Programme(org, created.json(), list(reversed(partners)))


@pytest.fixture(scope="module")
def programme(stack: Any) -> Programme:
    return new_programme(stack)


class StreamTap:
    """Reads the table's stream from now on, as Lambda's poller would (GetRecords), to replay real records."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.streams = stack.client("dynamodbstreams")
        table = stack.client("dynamodb").describe_table(TableName=stack.table_name)["Table"]
        self.arn = table["LatestStreamArn"]
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self.iterators = [
            self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=s["ShardId"], ShardIteratorType="LATEST")[
                "ShardIterator"
            ]
            for s in shards
            if "EndingSequenceNumber" not in s["SequenceNumberRange"]
        ]

    def deal_changes(self, deal: dict[str, Any], count: int) -> list[dict[str, Any]]:
        """The deal's next `count` stage-change records, oldest first, in the shape Lambda delivers them."""
        pk = deal_records.deal_pk(deal["org_id"], deal["deal_id"])
        found: list[dict[str, Any]] = []
        for _ in range(20):
            for i, iterator in enumerate(self.iterators):
                answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                self.iterators[i] = answer.get("NextShardIterator") or iterator
                found += [
                    lambda_record(raw, self.arn, self.stack.region)
                    for raw in answer["Records"]
                    if raw["eventName"] == "MODIFY"
                    and raw["dynamodb"]["Keys"]["pk"]["S"] == pk
                    and raw["dynamodb"]["Keys"]["sk"]["S"] == "DEAL"
                    and len(raw["dynamodb"]["NewImage"]["stage_history"]["L"])
                    > len(raw["dynamodb"]["OldImage"]["stage_history"]["L"])
                ]
            if len(found) >= count:
                return found[:count]
        raise AssertionError(f"fewer than {count} stream records of deal {deal['deal_id']} changing stage")

    def deal_change(self, deal: dict[str, Any], stage_id: str) -> dict[str, Any]:
        """The MODIFY record of the deal moving to the stage, in the shape Lambda delivers it."""
        pk = deal_records.deal_pk(deal["org_id"], deal["deal_id"])
        for _ in range(20):
            for i, iterator in enumerate(self.iterators):
                answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                self.iterators[i] = answer.get("NextShardIterator") or iterator
                for raw in answer["Records"]:
                    change = raw["dynamodb"]
                    if (
                        raw["eventName"] == "MODIFY"
                        and change["Keys"]["pk"]["S"] == pk
                        and change["Keys"]["sk"]["S"] == "DEAL"
                        and change["NewImage"]["stage_id"]["S"] == stage_id
                    ):
                        return lambda_record(raw, self.arn, self.stack.region)
        raise AssertionError(f"no stream record of deal {deal['deal_id']} moving to {stage_id}")


def deliver(stack: Any, *records: dict[str, Any]) -> list[str]:
    """Invoke the consumer with a batch; returns the sequence numbers it reported as failed."""
    invocation = stack.invoke("PayoutsEvents", queued(*records))
    assert invocation.ok, invocation.error
    return [f["itemIdentifier"] for f in invocation.payload["batchItemFailures"]]


# -- the structure, the preview and the payment ----------------------------------------------------


def test_five_levels_pay_percentage_fixed_and_capped_amounts_as_the_preview_foretold(
    stack: Any, programme: Programme
) -> None:
    deal = programme.deal()
    preview_path = f"/orgs/{programme.org_id}/deals/{deal['deal_id']}/commission-preview"
    forecast = programme.admin.get(preview_path)
    assert forecast.status_code == 200, forecast.text
    preview = forecast.json()
    assert (preview["plan_version"], preview["currency"], preview["already_paid"]) == (1, "AUD", False)
    assert [r["amount"] for r in preview["levels"]] == EXPECTED and preview["total"] == sum(EXPECTED)
    assert [r["partner_id"] for r in preview["levels"]] == programme.partners
    assert [r["partner_name"] for r in preview["levels"]] == [f"Level {n}" for n in range(1, 6)]
    assert [r["capped"] for r in preview["levels"]] == [False, True, False, True, False]
    assert [r["skipped_reason"] for r in preview["levels"]] == [None] * 4 + ["partner is ENDED"]
    assert preview["levels"][1] | {"partner_name": None} == {
        "level": 2,
        "partner_id": programme.partners[1],
        "partner_name": None,
        "rule": "percentage",
        "base": VALUE["amount"],
        "percent": "5",
        "fixed": None,
        "cap": 500_000,
        "capped": True,
        "amount": 500_000,
        "plan_version": 1,
        "skipped_reason": None,
    }

    moved = programme.move(deal, "Won")
    stack.wait_for_streams()
    assert programme.paid(deal) == EXPECTED
    assert [balance(programme.org_id, p) for p in programme.partners] == EXPECTED
    first = next(e for e in entries(programme.org_id, programme.partners[0]) if e["kind"] == "commission")
    # The entry carries the moment of the change and what explains it.
    assert first["at"] == moved["stage_history"][-1]["at"]
    assert first["entry_id"] == wallets.commission_entry_id(deal["deal_id"], programme.stage("Won"), 1, 1)
    assert (first["details"]["percent"], first["details"]["base"], first["details"]["plan_version"]) == (
        "10",
        VALUE["amount"],
        1,
    )

    record = programme.record(deal)
    assert (record["live"], record["live_stage"], record["paid_stages"]) == (
        True,
        programme.stage("Won"),
        [programme.stage("Won")],
    )
    [computation] = record["computations"]
    assert (computation["action"], computation["plan_version"], computation["total"]) == ("paid", 1, sum(EXPECTED))
    assert computation["changed_at"] == moved["stage_history"][-1]["at"]
    # The preview runs the computation the cascade paid with; names are in the preview only.
    assert computation["levels"] == [{k: v for k, v in r.items() if k != "partner_name"} for r in preview["levels"]]
    assert programme.admin.get(preview_path).json()["already_paid"] is True


def test_previews_and_records_need_the_permission_and_stay_in_their_organisation(
    stack: Any, programme: Programme
) -> None:
    deal = programme.deal()
    rep = programme.org.reps[0]  # a member without programme:manage_balances
    for path in (
        f"/orgs/{programme.org_id}/deals/{deal['deal_id']}/commission-preview",
        f"/orgs/{programme.org_id}/deals/{deal['deal_id']}/commissions",
        f"/orgs/{programme.org_id}/commission-plan",
    ):
        assert rep.get(path).status_code == 403, path
    assert (
        rep.post(
            f"/orgs/{programme.org_id}/commission-plan/versions", {"currency": "AUD", "levels": LEVELS}
        ).status_code
        == 403
    )
    outsider = new_user(stack, "other-admin", operator=True)
    other = outsider.post("/orgs", {"name": "Other org"})
    assert other.status_code == 201, other.text
    other_id = other.json()["org_id"]
    assert outsider.get(f"/orgs/{other_id}/deals/{deal['deal_id']}/commission-preview").status_code == 404
    assert outsider.get(f"/orgs/{programme.org_id}/deals/{deal['deal_id']}/commission-preview").status_code == 404
    assert outsider.get(f"/orgs/{other_id}/commission-plan").status_code == 404  # no plan yet
    # Nothing recorded yet: an empty record, not a 404.
    assert programme.record(deal) | {"deal_id": None} == {
        "deal_id": None,
        "currency": None,
        "minor_units": None,
        "applied_change": 0,
        "paid_stages": [],
        "live": False,
        "live_stage": None,
        "live_change": None,
        "live_entries": [],
        "computations": [],
    }


def test_a_change_that_pays_nothing_records_why(stack: Any, programme: Programme) -> None:
    deal = programme.deal({"amount": 1_000_000, "currency": "EUR"})  # the plan pays in AUD
    programme.move(deal, "Won")
    stack.wait_for_streams()
    assert programme.paid(deal) == [0] * 5
    record = programme.record(deal)
    assert (record["live"], record["paid_stages"]) == (False, [])
    [decision] = record["computations"]
    assert (decision["action"], decision["reason"], decision["total"]) == (
        "nothing-to-pay",
        "every level was skipped",
        0,
    )
    reasons = [level["skipped_reason"] for level in decision["levels"]]
    assert reasons == ["the deal's currency (EUR) is not the plan's (AUD)"] * 4 + ["partner is ENDED"]


# -- at most once ----------------------------------------------------------------------------------


def test_the_same_stream_record_delivered_three_times_pays_once(stack: Any, programme: Programme) -> None:
    deal = programme.deal()
    tap = StreamTap(stack)
    programme.move(deal, "Won")
    record = tap.deal_change(deal, programme.stage("Won"))
    for _ in range(3):
        assert deliver(stack, record) == []
    stack.wait_for_streams()  # the poller delivered it too
    assert programme.paid(deal) == EXPECTED
    assert len(programme.record(deal)["computations"]) == 1


def test_a_batch_processed_again_after_a_partial_failure_pays_once(stack: Any, programme: Programme) -> None:
    deal = programme.deal()
    tap = StreamTap(stack)
    programme.move(deal, "Won")
    good = tap.deal_change(deal, programme.stage("Won"))
    poisoned = copy.deepcopy(good)
    del poisoned["dynamodb"]["NewImage"]["stage_history"]
    poisoned["eventID"], poisoned["dynamodb"]["SequenceNumber"] = "poisoned", "9" * 21
    for _ in range(2):
        assert deliver(stack, good, poisoned) == ["9" * 21]
    stack.wait_for_streams()
    assert programme.paid(deal) == EXPECTED
    assert [c["action"] for c in programme.record(deal)["computations"]] == ["paid"]


def test_a_poisoned_record_goes_to_the_dead_letters_and_the_others_are_paid(stack: Any, programme: Programme) -> None:
    # A deal item the cascade cannot read (its history is missing), moved to a compute stage.
    poisoned_id = str(uuid.uuid4().int)[:26].rjust(26, "0")
    broken = {
        **deal_records.deal_key(programme.org_id, poisoned_id),
        "entity": "deal",
        "org_id": programme.org_id,
        "deal_id": poisoned_id,
        "stage_id": programme.stage("New"),
        "stage_name": "New",
        "stage_commission": "none",
        "version": 1,
        "credited_partner_id": programme.partners[0],
    }
    db.put(broken)
    db.update(
        deal_records.deal_key(programme.org_id, poisoned_id),
        expression="SET stage_id = :s, stage_name = :n, stage_commission = :c, version = :v",
        values={":s": programme.stage("Won"), ":n": "Won", ":c": "compute", ":v": 2},
    )
    deal = programme.deal()
    programme.move(deal, "Won")
    stack.wait_for_streams(timeout=30)
    assert programme.paid(deal) == EXPECTED
    letters = [d for d in stack.dead_letters() if d["function"] == "PayoutsEvents"]
    assert [d["record"]["dynamodb"]["Keys"]["pk"]["S"] for d in letters] == [
        deal_records.deal_pk(programme.org_id, poisoned_id)
    ]


def test_one_payment_in_force_a_reversal_undoes_it_and_re_entering_a_stage_pays_again(
    stack: Any, programme: Programme
) -> None:
    deal = programme.deal()
    credited = programme.partners[0]
    for stage in ("Won", "New", "Won", "Signed"):  # Won and Signed compute too, but the first Won's payment is live
        programme.move(deal, stage)
    stack.wait_for_streams()
    assert programme.paid(deal) == EXPECTED

    # The credited partner spends their balance; the reversal takes it below zero.
    before = balance(programme.org_id, credited)
    spent = wallets.Entry(
        org_id=programme.org_id,
        partner_id=credited,
        entry_id=f"T-{uuid.uuid4().hex}",
        kind=wallets.EntryKind.CORRECTION,
        amount=-before,
        currency="AUD",
        at=clock.now_iso(),
        description="test: balance spent",
        details={"reason": "test"},
    )
    db.transact(wallets.entry_actions(spent), on_cancel=lambda failed: DomainError(f"refused: {failed}"))
    moved = programme.move(deal, "Cancelled")
    stack.wait_for_streams()
    assert programme.paid(deal) == [0] * 5
    assert balance(programme.org_id, credited) == -EXPECTED[0]
    reversal = next(
        e
        for e in entries(programme.org_id, credited)
        if e["kind"] == "reversal" and e["details"]["deal_id"] == deal["deal_id"]
    )
    won = programme.stage("Won")
    paid_first = wallets.commission_entry_id(deal["deal_id"], won, 1, 1)
    assert reversal["entry_id"] == wallets.reversal_entry_id(paid_first)
    assert reversal["details"]["reversed_entry_id"] == paid_first
    assert reversal["at"] == moved["stage_history"][-1]["at"]

    # Reversing again does nothing; coming back to Won pays again (seed 004: commission is computed at the
    # moment the deal's stage changes to a computing one); Signed then finds that payment live.
    for stage in ("Lost", "Won", "Signed"):
        programme.move(deal, stage)
    stack.wait_for_streams()
    assert programme.paid(deal) == EXPECTED
    record = programme.record(deal)
    assert [(c["change"], c["action"]) for c in record["computations"]] == [(1, "paid"), (5, "reversed"), (7, "paid")]
    assert record["paid_stages"] == [won, won]
    assert (record["live_stage"], record["live_change"], record["applied_change"]) == (won, 7, 7)
    assert ledger_audit.audit(db.default_client(), stack.table_name, org_id=programme.org_id)["drifts"] == []


def test_changes_delivered_late_and_again_while_the_stream_delivers_them_too_pay_once(
    stack: Any, programme: Programme
) -> None:
    deal = programme.deal()
    tap = StreamTap(stack)
    for stage in ("Won", "Cancelled", "Won"):
        programme.move(deal, stage)
    changes = [db.stream_images(r["dynamodb"]) for r in tap.deal_changes(deal, 3)]
    for _ in range(3):  # newest first, racing the stack's own consumer, which has them in order
        for old, new in reversed(changes):
            commissions.on_change(old, new)
    stack.wait_for_streams()
    assert programme.paid(deal) == EXPECTED
    kinds = sorted(
        e["kind"]
        for e in entries(programme.org_id, programme.partners[0])
        if e["details"].get("deal_id") == deal["deal_id"]
    )
    assert kinds == ["commission", "commission", "reversal"]
    assert programme.record(deal)["applied_change"] == 3


# -- the plan in force at the moment of the change -------------------------------------------------


def test_a_version_added_after_the_change_does_not_change_its_amounts(stack: Any) -> None:
    programme = new_programme(stack)
    deal = programme.deal()
    changed_at = stack.now()
    stack.advance_clock(60)
    doubled = [{"rule": "percentage", "percent": "20"}, *LEVELS[1:]]
    added = programme.admin.post(
        f"/orgs/{programme.org_id}/commission-plan/versions", {"currency": "AUD", "levels": doubled}
    )
    assert added.status_code == 201, added.text
    assert added.json()["in_force"] == 2

    # The record of a move made before version 2, processed after it: built as the stream builds it.
    old = db.get(deal_records.deal_key(programme.org_id, deal["deal_id"]), consistent=True)
    assert old is not None
    won = programme.stage("Won")
    entry = {
        "at": clock.iso(changed_at),
        "by": "user:it",
        "stage_id": won,
        "stage_name": "Won",
        "commission": "compute",
    }
    new = old | {"stage_id": won, "stage_name": "Won", "stage_commission": "compute", "version": 2}
    new["stage_history"] = [*old["stage_history"], entry]
    record = {
        "eventID": uuid.uuid4().hex,
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "awsRegion": stack.region,
        "dynamodb": {
            "Keys": db.serialize(deal_records.deal_key(programme.org_id, deal["deal_id"])),
            "OldImage": db.serialize(old),
            "NewImage": db.serialize(new),
            "SequenceNumber": "1" * 21,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    assert deliver(stack, record) == []
    assert programme.paid(deal) == EXPECTED  # version 1's amounts
    assert programme.record(deal)["computations"][0]["plan_version"] == 1
    preview = programme.admin.get(f"/orgs/{programme.org_id}/deals/{deal['deal_id']}/commission-preview").json()
    assert (preview["plan_version"], preview["levels"][0]["amount"]) == (2, 2_469_135)


def test_plan_versions_are_checked_appended_and_listed_newest_first(stack: Any) -> None:
    org = new_organisation(stack, reps=0)
    path = f"/orgs/{org.org_id}/commission-plan"
    assert org.admin.get(path).status_code == 404
    bad = org.admin.post(
        f"{path}/versions",
        {
            "currency": "AUD",
            "effective_from": "2020-01-01T00:00:00Z",
            "levels": [
                {"rule": "percentage", "percent": "10"},
                {"rule": "fixed", "percent": "5"},
                {"rule": "percentage", "percent": "1.23456"},
            ],
        },
    )
    assert bad.status_code == 422, bad.text
    assert {e["field"] for e in bad.json()["errors"]} == {
        "body.levels.1.percent",
        "body.levels.1.amount",
        "body.levels.2.percent",
    }
    past = org.admin.post(
        f"{path}/versions", {"currency": "AUD", "effective_from": "2020-01-01T00:00:00Z", "levels": LEVELS}
    )
    assert [e["field"] for e in past.json()["errors"]] == ["body.effective_from"]
    assert org.admin.get(path).status_code == 404  # nothing was written

    def add(n: int) -> int:
        return org.admin.post(
            f"{path}/versions", {"currency": "AUD", "levels": [{"rule": "fixed", "amount": 100 + n}]}
        ).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(add, range(4)))
    assert set(statuses) <= {201, 409} and 201 in statuses
    later = (stack.now() + timedelta(days=30)).isoformat()
    future = org.admin.post(f"{path}/versions", {"currency": "AUD", "effective_from": later, "levels": LEVELS})
    assert future.status_code == 201, future.text
    other_currency = org.admin.post(f"{path}/versions", {"currency": "EUR", "levels": LEVELS})
    assert [e["field"] for e in other_currency.json()["errors"]] == ["body.currency"]

    plan = org.admin.get(path).json()
    count = statuses.count(201) + 1
    assert plan["currency"] == "AUD" and plan["version_count"] == count
    assert [v["version"] for v in plan["versions"]] == list(range(count, 0, -1))
    assert plan["in_force"] == count - 1  # the newest takes effect in 30 days
    assert plan["versions"][0]["levels"][1] == {
        "level": 2,
        "rule": "percentage",
        "percent": "5",
        "amount": None,
        "cap": 500_000,
    }

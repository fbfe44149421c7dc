"""The commission cascade under the delivery queues give: a deal's changes arrive in any order and more than
once. Each test moves a real deal (moto) and hands the (old, new) images of its writes to the cascade the
way the payouts consumer does; the ledger must end as the deal's changes applied in order, once."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from common.deals import deal_records, staff_deals
from common.money import cascade, commission_views, commissions, plans, wallets
from common.orgs import access, organisations, workflows
from common.partners.partner_records import PartnerStatus, node_item
from common.platform import db, listings

from tests.unit.conftest import FrozenClock

ADMIN = "user-admin"
STAGES = [("New", "none"), ("Won", "compute"), ("Signed", "compute"), ("Cancelled", "reverse"), ("Open", "none")]
LEVELS = [
    {"rule": "percentage", "percent": "10"},
    {"rule": "fixed", "amount": 5_000},
    {"rule": "percentage", "percent": 1},
]
VALUE = deal_records.DealValue(amount=1_000_000, currency="AUD")
PAID = [100_000, 5_000, 10_000]  # what one payment gives levels 1, 2 and 3
Images = tuple[db.Item | None, db.Item]


class Programme:
    """An organisation with a workflow, a plan and a three-level structure (credited partner first)."""

    def __init__(self) -> None:
        self.org_id: str = organisations.create_organisation(organisations.NewOrganisation(name="Acme"), ADMIN)[
            "org_id"
        ]
        self.admin = access.Member(self.org_id, ADMIN, "admin", frozenset())
        stages = [workflows.NewStage(name=n, commission=workflows.StageCommission(c)) for n, c in STAGES]
        self.workflow = workflows.create_workflow(
            self.org_id, workflows.NewWorkflow(name="Referrals", stages=stages), f"user:{ADMIN}"
        )
        self.add_version(LEVELS)
        self.partners: list[str] = []  # root first while building, then reversed
        for level in range(3):
            partner_id = f"partner-{3 - level}"
            details = {"first_name": "Level", "last_name": str(3 - level), "email": f"{partner_id}@it.example"}
            node = node_item(
                org_id=self.org_id,
                partner_id=partner_id,
                phone=None,
                status=PartnerStatus.LIVE,
                origin="added",
                actor="system",
                upline=list(reversed(self.partners)),
                **details,
            )
            db.put(node)
            self.partners.append(partner_id)
        self.partners.reverse()

    def add_version(self, levels: list[dict[str, Any]]) -> None:
        new = plans.NewPlanVersion.model_validate({"currency": "AUD", "levels": levels})
        plans.add_version(self.org_id, new, f"user:{ADMIN}")

    def stage(self, name: str) -> str:
        return str(next(s["stage_id"] for s in self.workflow["stages"] if s["name"] == name))

    def deal(self) -> db.Item:
        new = staff_deals.NewDeal(
            workflow_id=self.workflow["workflow_id"],
            contacts=[staff_deals.StaffContact(first_name="Jane", last_name="Doe")],
            value=VALUE,
            partner_id=self.partners[0],
        )
        return self.read(staff_deals.create_deal(self.org_id, self.admin, new)["deal_id"])

    def read(self, deal_id: str) -> db.Item:
        item = db.get(deal_records.deal_key(self.org_id, deal_id), consistent=True)
        assert item is not None
        return item

    def moves(self, deal: db.Item, *stages: str) -> list[Images]:
        """Move the deal through the stages; the (old, new) images of each move, as the stream carries them."""
        images: list[Images] = []
        for name in stages:
            before = self.read(deal["deal_id"])
            staff_deals.move_deal(
                self.org_id, deal["deal_id"], self.admin, staff_deals.StageChange(stage_id=self.stage(name))
            )
            images.append((before, self.read(deal["deal_id"])))
        return images

    def ledger(self, deal: db.Item) -> dict[str, int]:
        """The deal's entries of every level's partner: entry id -> amount (balances checked against them)."""
        found: dict[str, int] = {}
        for partner_id in self.partners:
            entries = listings.all_with_prefix(
                wallets.wallet_pk(self.org_id, partner_id), wallets.ENTRY_PREFIX, consistent=True
            )
            wallet = db.get(wallets.wallet_key(self.org_id, partner_id), consistent=True) or {}
            assert wallet.get("balance", 0) == sum(e["amount"] for e in entries)
            found |= {e["entry_id"]: e["amount"] for e in entries if e["details"]["deal_id"] == deal["deal_id"]}
        return found

    def balances(self) -> list[int]:
        return [
            int((db.get(wallets.wallet_key(self.org_id, p), consistent=True) or {}).get("balance", 0))
            for p in self.partners
        ]

    def record(self, deal: db.Item) -> dict[str, Any]:
        """The deal's commission record as staff read it (JSON, as answered)."""
        return commission_views.deal_commissions(self.org_id, deal["deal_id"]).model_dump(mode="json")


@pytest.fixture
def programme() -> Programme:
    return Programme()


def payment(deal: db.Item, stage_id: str, change: int, amounts: list[int] = PAID) -> dict[str, int]:
    return {
        wallets.commission_entry_id(deal["deal_id"], stage_id, change, level): amount
        for level, amount in enumerate(amounts, start=1)
    }


def reversal(paid: dict[str, int]) -> dict[str, int]:
    return {wallets.reversal_entry_id(entry_id): -amount for entry_id, amount in paid.items()}


def deliver(images: list[Images]) -> None:
    for old, new in images:
        commissions.on_change(old, new)


def thrice_over(order: tuple[Images, ...]) -> list[Images]:
    return list(order) * 3


def thrice_each(order: tuple[Images, ...]) -> list[Images]:
    return [images for images in order for _ in range(3)]


# -- compute, reverse, compute: in every order, each change three times ----------------------------


@pytest.mark.parametrize("repeat", [thrice_over, thrice_each], ids=["order-thrice", "each-thrice"])
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=lambda o: "".join(map(str, o)))
def test_compute_reverse_compute_in_any_order_and_repeated_ends_paid_once(
    programme: Programme, order: tuple[int, ...], repeat: Callable[[tuple[Images, ...]], list[Images]]
) -> None:
    deal = programme.deal()
    changes = programme.moves(deal, "Won", "Cancelled", "Won")
    deliver(repeat(tuple(changes[i] for i in order)))

    won = programme.stage("Won")
    first, again = payment(deal, won, 1), payment(deal, won, 3)
    # As in order: paid at the first Won, reversed at Cancelled, paid again when the deal came back to Won.
    assert programme.ledger(deal) == first | reversal(first) | again
    assert programme.balances() == PAID
    record = programme.record(deal)
    assert (record["applied_change"], record["live"], record["live_stage"], record["live_change"]) == (3, True, won, 3)
    assert [(c["change"], c["action"]) for c in record["computations"]] == [(1, "paid"), (2, "reversed"), (3, "paid")]
    assert record["paid_stages"] == [won, won]
    assert sorted(e["entry_id"] for e in record["live_entries"]) == sorted(again)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=lambda o: "".join(map(str, o)))
def test_compute_compute_reverse_in_any_order_ends_reversed(programme: Programme, order: tuple[int, ...]) -> None:
    deal = programme.deal()
    changes = programme.moves(deal, "Won", "Signed", "Cancelled")
    deliver(thrice_over(tuple(changes[i] for i in order)))

    paid = payment(deal, programme.stage("Won"), 1)  # Signed paid nothing: Won's payment was live
    assert programme.ledger(deal) == paid | reversal(paid)
    assert programme.balances() == [0, 0, 0]
    record = programme.record(deal)
    assert (record["applied_change"], record["live"], record["live_change"]) == (3, False, None)


def test_only_the_newest_image_arriving_applies_every_change_before_it(programme: Programme) -> None:
    deal = programme.deal()
    changes = programme.moves(deal, "Won", "Open", "Cancelled", "Signed", "Open", "Won")
    deliver([changes[-1]])  # the others are late, or lost in a dead-letter queue for now

    won, signed = programme.stage("Won"), programme.stage("Signed")
    first = payment(deal, won, 1)
    assert programme.ledger(deal) == first | reversal(first) | payment(deal, signed, 4)
    deliver(changes)  # the late ones change nothing
    assert programme.balances() == PAID
    assert programme.record(deal)["applied_change"] == 4  # the last Won pays nothing: Signed's payment is live


def test_a_re_entered_stage_pays_with_the_plan_in_force_at_re_entry(
    programme: Programme, frozen_clock: FrozenClock
) -> None:
    deal = programme.deal()
    changes = programme.moves(deal, "Won", "Cancelled")
    frozen_clock.advance(minutes=1)
    programme.add_version([{"rule": "percentage", "percent": "20"}])
    changes += programme.moves(deal, "Won")
    deliver(list(reversed(changes)))

    won = programme.stage("Won")
    first = payment(deal, won, 1)
    assert programme.ledger(deal) == first | reversal(first) | payment(deal, won, 3, [200_000])
    assert [c["plan_version"] for c in programme.record(deal)["computations"]] == [1, None, 2]


def test_shares_and_creation_are_no_changes_and_a_missing_old_image_is(programme: Programme) -> None:
    deal = programme.deal()
    assert commissions.changes_of(None, deal) == []  # a new deal: no stage change yet
    [(before, won)] = programme.moves(deal, "Won")
    shared = {**won, "partner_ids": [*won["partner_ids"], "someone"], "version": won["version"] + 1}
    assert commissions.changes_of(won, shared) == []
    assert [c.number for c in commissions.changes_of(before, won)] == [1]
    assert [c.number for c in commissions.changes_of(None, won)] == [1]  # sent without its old image
    assert commissions.changes_of(before, {**won, "credited_partner_id": None}) == []
    with pytest.raises(ValueError):
        commissions.changes_of(before, {**won, "stage_history": won["stage_history"][:1]})
    commissions.on_change(None, shared)
    assert programme.balances() == PAID


def test_a_delivery_that_lost_a_race_decides_again_from_the_record_written(
    programme: Programme, monkeypatch: pytest.MonkeyPatch
) -> None:
    deal = programme.deal()
    [won] = programme.moves(deal, "Won")
    stale = commissions.read(programme.org_id, deal["deal_id"], programme.partners[0])
    commissions.on_change(*won)  # another delivery of the same change wins meanwhile
    reads = iter([stale])
    real_read = commissions.read
    monkeypatch.setattr(commissions, "read", lambda *a, **k: next(reads, None) or real_read(*a, **k))
    commissions.on_change(*won)  # decided on the stale read: its write is refused, the re-read finds it done
    assert programme.ledger(deal) == payment(deal, programme.stage("Won"), 1)
    assert len(programme.record(deal)["computations"]) == 1


def test_a_record_written_before_changes_were_numbered_is_not_paid_again(
    programme: Programme, frozen_clock: FrozenClock
) -> None:
    deal = programme.deal()
    changes: list[Images] = []
    for stage in ("Won", "Cancelled", "Won"):
        frozen_clock.advance(seconds=1)  # the old keys told changes apart by their moment
        changes += programme.moves(deal, stage)
    history = changes[-1][1]["stage_history"]
    keys = [f"{history[n]['at']}#{history[n]['stage_id']}" for n in (1, 2)]
    # Paid and reversed the old way (the entries are left out: only the record's memory matters here).
    db.put(
        {
            **cascade.record_key(programme.org_id, deal["deal_id"]),
            "entity": "deal_commission",
            "live": False,
            "currency": "AUD",
            "changes": keys,
            "version": 2,
        }
    )
    legacy = db.get(cascade.record_key(programme.org_id, deal["deal_id"]))
    assert cascade.applied_change(legacy, history) == 2
    deliver(changes)
    assert programme.ledger(deal) == payment(deal, programme.stage("Won"), 3)


def test_decisions_beyond_the_recorded_many_are_counted_and_money_still_moves(
    programme: Programme, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cascade, "MAX_RECORDED", 2)
    deal = programme.deal()
    deliver(programme.moves(deal, "Won", "Cancelled", "Won", "Cancelled"))
    record = db.get(cascade.record_key(programme.org_id, deal["deal_id"]), consistent=True) or {}
    assert (len(record["computations"]), record["computations_omitted"], record["applied_change"]) == (2, 2, 4)
    assert programme.balances() == [0, 0, 0] and len(programme.ledger(deal)) == 12

"""The lapse sweep with moto and a frozen clock, in its two halves: what the sweep reads and hands on (pages
of due partners), and the work that lapses them; who lapses, what each side reads, that a second run, a
message delivered twice and a racing lead change nothing more, and that work cut short continues."""

from __future__ import annotations

from typing import Any

import pytest
from common.partners import lapse_sweep
from common.partners.partner_records import PartnerStatus, node_item, node_key, record_lead
from common.platform import db

from tests.unit import sweeps

ORG = "01JORG00000000000000000000"


def _partner(partner_id: str, status: PartnerStatus = PartnerStatus.LIVE) -> None:
    db.put(
        node_item(
            org_id=ORG,
            partner_id=partner_id,
            first_name="Pat",
            last_name="P",
            email=f"{partner_id}@r.example",
            phone=None,
            status=status,
            origin="added",
            actor="system",
        )
    )


def _lead(partner_id: str, deal_id: str = "deal") -> None:
    db.transact([record_lead(ORG, partner_id)], on_cancel=lambda failed: AssertionError(failed))


def _status(partner_id: str) -> str:
    node = db.get(node_key(ORG, partner_id))
    assert node is not None
    return str(node["status"])


def sweep() -> sweeps.Run:
    return sweeps.run(lapse_sweep.hand_on, {lapse_sweep.JOB: lapse_sweep.work})


def test_only_partners_whose_last_lead_is_over_30_days_old_lapse(frozen_clock: Any) -> None:
    for n in range(6):
        _partner(f"old-{n}")
        _lead(f"old-{n}")
    _partner("ended")
    _lead("ended")
    db.update(
        node_key(ORG, "ended"),
        expression="SET #s = :s REMOVE gsi3pk, gsi3sk",
        names={"#s": "status"},
        values={":s": "ENDED"},
    )
    frozen_clock.advance(days=20)
    _partner("recent")
    _lead("recent")
    _partner("never")
    frozen_clock.advance(days=10, seconds=1)

    run = sweep()

    assert run.sweep["due"] == run.sweep["items_read"] == 6
    assert run.work == {"due": 6, "lapsed": 6, "left": 0, "items_read": 6}
    assert {_status(f"old-{n}") for n in range(6)} == {"LAPSED"}
    assert (_status("recent"), _status("never"), _status("ended")) == ("ACTIVE", "LIVE", "ENDED")
    lapsed = db.get(node_key(ORG, "old-0"))
    assert lapsed is not None and "gsi3pk" not in lapsed and lapsed["gsi1pk"] == f"ORG#{ORG}#PARTNERS#LAPSED"
    assert lapsed["history"][-1]["action"] == "lapsed" and lapsed["history"][-1]["actor"] == "system"

    again = sweep()
    assert again.sweep == {"due": 0, "items_read": 0, "handed_on": 0} and again.work == {}


def test_the_due_partners_are_handed_on_a_page_per_message(frozen_clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lapse_sweep, "PAGE_SIZE", 2)
    partners = [f"paged-{n:02d}" for n in range(9)]
    for partner_id in partners:
        _partner(partner_id)
        _lead(partner_id)
    frozen_clock.advance(days=31)

    counts, messages = sweeps.handed_on(lapse_sweep.hand_on)

    # Pages of at most two, per lapse shard; every due partner in exactly one message.
    assert all(1 <= len(m["partners"]) <= 2 for m in messages) and counts.handed_on == len(messages)
    named = [partner_id for m in messages for _, partner_id in m["partners"]]
    assert sorted(named) == partners and counts.due == 9


def test_a_message_delivered_twice_lapses_once(frozen_clock: Any) -> None:
    _partner("twice")
    _lead("twice")
    frozen_clock.advance(days=31)
    _, (message,) = sweeps.handed_on(lapse_sweep.hand_on)

    assert lapse_sweep.work(message).lapsed == 1
    assert lapse_sweep.work(message).as_dict() == {"due": 1, "lapsed": 0, "left": 0, "items_read": 1}
    node = db.get(node_key(ORG, "twice"))
    assert node is not None and [e["action"] for e in node["history"]].count("lapsed") == 1


def test_work_cut_short_by_the_time_continues_on_the_next_delivery(frozen_clock: Any) -> None:
    for n in range(4):
        _partner(f"budget-{n}")
        _lead(f"budget-{n}")
    frozen_clock.advance(days=31)
    _, messages = sweeps.handed_on(lapse_sweep.hand_on)
    message = {**messages[0], "partners": [p for m in messages for p in m["partners"]]}  # one page of four

    budget = iter([True, False])
    first = lapse_sweep.work(message, in_time=lambda: next(budget))
    assert (first.lapsed, first.left, first.unfinished) == (1, 3, True)
    second = lapse_sweep.work(message)
    assert (second.lapsed, second.left, second.unfinished) == (3, 0, False)
    assert {_status(f"budget-{n}") for n in range(4)} == {"LAPSED"}


def test_a_lead_arriving_after_the_sweep_read_wins(frozen_clock: Any) -> None:
    _partner("late-lead")
    _lead("late-lead")
    frozen_clock.advance(days=31)
    _, (message,) = sweeps.handed_on(lapse_sweep.hand_on)
    _lead("late-lead", "deal-2")
    assert lapse_sweep.work(message).lapsed == 0
    assert _status("late-lead") == "ACTIVE"


def test_a_lead_arriving_after_the_read_wins(frozen_clock: Any) -> None:
    _partner("racer")
    _lead("racer")
    frozen_clock.advance(days=31)
    stale = db.get(node_key(ORG, "racer"))  # as the sweep read it
    assert stale is not None
    _lead("racer", "deal-2")
    assert lapse_sweep.lapse(stale) is False
    assert _status("racer") == "ACTIVE"


def test_a_lead_makes_a_lapsed_partner_active_again(frozen_clock: Any) -> None:
    _partner("back")
    _lead("back")
    frozen_clock.advance(days=31)
    sweep()
    assert _status("back") == "LAPSED"
    _lead("back", "deal-2")
    node = db.get(node_key(ORG, "back"))
    assert node is not None and node["status"] == "ACTIVE" and "gsi3pk" in node
    assert sweep().lapsed == 0

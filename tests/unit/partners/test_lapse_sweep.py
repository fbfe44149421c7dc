"""The lapse sweep with moto and a frozen clock: who lapses, what it reads, and that a second run and a
racing lead change nothing more."""

from __future__ import annotations

from typing import Any

from common.partners import lapse_sweep
from common.partners.partner_records import PartnerStatus, node_item, node_key, record_lead
from common.platform import db

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

    counts = lapse_sweep.sweep()

    assert counts.as_dict() == {"due": 6, "lapsed": 6, "items_read": 6}
    assert {_status(f"old-{n}") for n in range(6)} == {"LAPSED"}
    assert (_status("recent"), _status("never"), _status("ended")) == ("ACTIVE", "LIVE", "ENDED")
    lapsed = db.get(node_key(ORG, "old-0"))
    assert lapsed is not None and "gsi3pk" not in lapsed and lapsed["gsi1pk"] == f"ORG#{ORG}#PARTNERS#LAPSED"
    assert lapsed["history"][-1]["action"] == "lapsed" and lapsed["history"][-1]["actor"] == "system"

    assert lapse_sweep.sweep().as_dict() == {"due": 0, "lapsed": 0, "items_read": 0}


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
    lapse_sweep.sweep()
    assert _status("back") == "LAPSED"
    _lead("back", "deal-2")
    node = db.get(node_key(ORG, "back"))
    assert node is not None and node["status"] == "ACTIVE" and "gsi3pk" in node
    assert lapse_sweep.sweep().lapsed == 0

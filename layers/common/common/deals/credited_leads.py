"""A deal credited to a partner is their latest lead. The deal's own transaction makes them ACTIVE
(partner_records.record_lead); the "lead" entry of their activity follows here, from the stream, once per
deal whatever the redeliveries (a notice on the deal), with the deal's creation time and creator.

Why not in the deal's transaction: a burst of deals credited to one busy partner (a partner company
posting for them) would all append to the node's short history list and refuse each other when it archives;
here a conflict only delays the entry (the change is retried), and no caller is refused."""

from __future__ import annotations

from typing import Any

from common.deals.deal_records import DEAL_ENTITY
from common.partners.partner_records import SYSTEM_ACTOR, PartnerStatus, append_events, history_event
from common.platform import notices

NOTICE = "lead-activity"
ACTIVE = PartnerStatus.ACTIVE.value


def on_change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    if old is not None or not new or new.get("entity") != DEAL_ENTITY or not new.get("credited_partner_id"):
        return
    partner_id = str(new["credited_partner_id"])
    event = history_event("lead", str(new.get("created_by") or SYSTEM_ACTOR), deal_id=new["deal_id"], status=ACTIVE)
    event["at"] = new.get("created_at") or event["at"]  # when the deal was created, not when this runs

    def record() -> dict[str, Any]:
        append_events(str(new["org_id"]), partner_id, [event])
        return {"partner_id": partner_id}

    notices.once(str(new["pk"]), NOTICE, record)

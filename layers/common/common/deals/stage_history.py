"""A deal's stage history, whole: the deal keeps its newest stage changes (deal_records.STAGE_HISTORY), older ones
live in pages of its partition (common.platform.history). Staff list every change; a partner, for a deal shared
with them, when it moved and where to (as the deal itself shows them)."""

from __future__ import annotations

from typing import Any

from common.deals.deal_records import STAGE_HISTORY, deal_key, share_key, staff_deal
from common.deals.deal_views import StageHistoryEntry, StageReached
from common.orgs.access import Member
from common.partners.partner_caller import PartnerCaller
from common.platform import db, history
from common.platform.errors import NotFound


def staff_stage_history(
    org_id: str, deal_id: str, member: Member, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[StageHistoryEntry], str | None]:
    """Newest first, for the deal's owner or a deal manager."""
    deal = staff_deal(org_id, deal_id, member, client=client)
    entries, next_cursor = history.listing(STAGE_HISTORY, deal, cursor=cursor, limit=limit, client=client)
    return StageHistoryEntry.each(entries), next_cursor


def portal_stage_history(
    caller: PartnerCaller, deal_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[StageReached], str | None]:
    """Newest first, only if the deal is shared with the partner (404 otherwise)."""
    share, deal = share_key(caller.org_id, deal_id, caller.partner_id), deal_key(caller.org_id, deal_id)
    found = {i["sk"]: i for i in db.batch_get([share, deal], consistent=True, client=client)}
    if share["sk"] not in found or "DEAL" not in found:
        raise NotFound(f"deal {deal_id} not found")
    entries, next_cursor = history.listing(STAGE_HISTORY, found["DEAL"], cursor=cursor, limit=limit, client=client)
    return StageReached.each(entries), next_cursor

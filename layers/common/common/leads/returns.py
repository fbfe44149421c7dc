"""Returning leads to the partner companies they came from, all or nothing; the e-mails to the companies
follow from the stream. A return ends a lead's changes."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.leads.changes import UNASSIGN, allowed_from, refusal, status_update
from common.leads.model import HISTORY, LeadNotFound, LeadNotReturnable, LeadStatus, history_entry, lead_key
from common.orgs.access import Member, Permission
from common.platform import clock, db, history
from common.platform.answers import Answer
from common.platform.errors import Conflict, DomainError
from common.platform.validation import EntityId, LongText


class ReturnLeads(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"lead_ids": ["01JD3M5Q7R8S9T0V1W2X3Y4Z5A"], "comments": "Number disconnected."}]
        },
    )
    lead_ids: list[EntityId] = Field(min_length=1, max_length=100)
    comments: LongText | None = None


class ReturnedLead(Answer):
    lead_id: str
    status: LeadStatus
    changed: bool = Field(description="false when the lead had already been returned")


class ReturnResult(Answer):
    """Every lead asked for, returned now or before."""

    items: list[ReturnedLead]


# A return ends a lead's changes: its entry may go beyond the limit, so one transaction returns up to 100
# leads without archive pages.
_FINAL = dataclasses.replace(HISTORY, limit=HISTORY.limit + 1)


class _LeadsChanged(Conflict):
    code = "leads-changed"


_RETURN_ATTEMPTS = 3


def return_leads(org_id: str, member: Member, body: ReturnLeads, *, client: Any = None) -> ReturnResult:
    """Return leads to the partner companies they came from, all or nothing. Leads already returned
    are left as they are. The e-mails to the companies follow from the stream.

    The leads are read, checked, and written in one transaction conditioned on the versions read. If a
    lead changes in between (e.g. a concurrent return of the same lead), the whole request is decided
    again from fresh reads, so a racing duplicate return reports the lead unchanged instead of failing."""
    lead_ids = list(dict.fromkeys(body.lead_ids))
    for attempt in range(_RETURN_ATTEMPTS):
        try:
            return _return_once(org_id, member, lead_ids, body.comments or None, client)
        except _LeadsChanged:
            if attempt == _RETURN_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _return_once(org_id: str, member: Member, lead_ids: list[str], comments: str | None, client: Any) -> ReturnResult:
    found = {
        i["lead_id"]: i for i in db.batch_get([lead_key(org_id, i) for i in lead_ids], consistent=True, client=client)
    }
    missing = [i for i in lead_ids if i not in found]
    if missing:
        raise LeadNotFound(f"leads not found: {', '.join(missing)}")
    not_bought = [i for i in lead_ids if not found[i].get("company_id")]
    if not_bought:
        raise LeadNotReturnable(
            f"leads {', '.join(not_bought)} did not come from a partner company, so there is no one to return them to"
        )
    returnable = (LeadStatus.PENDING, LeadStatus.QUEUED, LeadStatus.ASSIGNED)
    allowed = allowed_from(member, returnable)  # pending leads only with the pending-leads permission
    to_return = [i for i in lead_ids if found[i]["status"] != LeadStatus.RETURNED.value]
    for lead_id in to_return:
        lead = found[lead_id]
        status = LeadStatus(lead["status"])
        foreign = status is LeadStatus.ASSIGNED and lead.get("assignee") != member.user_id
        if status not in allowed or (foreign and not member.can(Permission.MANAGE_LEADS)):
            raise refusal(lead_id, "returned", member, returnable)(lead)
    now = clock.now_iso()
    returned = {"at": now, "by": member.user_id, "comments": comments}
    event = history_entry(member.actor, "returned", now, comments=comments)
    actions, pages = [], []
    for lead_id in to_return:
        addition = history.Addition(_FINAL, [event], found[lead_id])
        expression, names, values = status_update(
            org_id,
            lead_id,
            LeadStatus.RETURNED,
            now,
            addition,
            set_fields={"returned": returned},
            remove=(*UNASSIGN, "gsi3pk", "gsi3sk"),
        )
        actions.append(
            db.tx_update(
                lead_key(org_id, lead_id),
                expression=expression,
                condition=f"version = :version AND {addition.condition}",
                names=names,
                values=values | {":version": found[lead_id]["version"]},
            )
        )
        pages += addition.pages()
    if len(actions) + len(pages) > history.MAX_TRANSACTION_ITEMS:
        # Only leads whose history outgrew the bound before it was set need pages on their return.
        raise Conflict("these leads' histories are too long to return them all at once: return fewer at a time")
    if actions:

        def _on_cancel(failed: list[db.Item | None]) -> DomainError:
            changed = [to_return[i] for i, f in enumerate(failed[: len(to_return)]) if f is not None]
            return _LeadsChanged(f"leads changed while being returned, nothing was returned: {', '.join(changed)}")

        db.transact([*actions, *pages], on_cancel=_on_cancel, client=client)
    return ReturnResult(
        items=[ReturnedLead(lead_id=i, status=LeadStatus.RETURNED, changed=i in to_return) for i in lead_ids]
    )

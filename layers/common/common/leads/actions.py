"""The assignee's actions on a lead (lead administrators may take them on any lead): keep it, put it back in
the queue, mark it invalid, convert it to a customer. Pending leads may be put back or marked invalid
with the pending-leads permission."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from common.leads.changes import UNASSIGN, allowed_from, refusal, status_update
from common.leads.customers import StaffCustomer, contact_email, customer_indexes, customer_key, flag_partners
from common.leads.model import (
    HISTORY,
    Lead,
    LeadNotFound,
    LeadStatus,
    history_entry,
    lead_key,
    queue_partition,
)
from common.leads.queue_settings import QueueSettings, settings_key, settings_of
from common.orgs.access import Member, Permission
from common.platform import clock, db, history, ids
from common.platform.answers import Answer
from common.platform.errors import Conflict, DomainError
from common.platform.validation import MULTI_LINE, Instant


class Requeue(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"contact_not_before": "2026-12-08T09:00:00Z"}]}
    )
    contact_not_before: Instant | None = None


class Invalidate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"reason": "The number is disconnected and the e-mail bounces."}]},
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), MULTI_LINE]


class Conversion(Answer):
    """A converted lead and the customer it became."""

    lead: Lead
    customer: StaffCustomer


def _change(
    org_id: str,
    lead_id: str,
    member: Member,
    *,
    action: str,
    past: str,
    from_statuses: tuple[LeadStatus, ...],
    to_status: LeadStatus,
    set_fields: dict[str, Any] | None = None,
    set_expressions: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
    detail: dict[str, Any] | None = None,
    read: db.Item | None = None,
    client: Any = None,
) -> db.Item:
    """One conditional UpdateItem (`read`: the lead if the caller read it); decided again when the history
    filled meanwhile."""
    now = clock.now_iso()
    event = history_entry(member.actor, action, now, **(detail or {}))

    def write(addition: history.Addition) -> db.Item:
        expression, names, values = status_update(
            org_id,
            lead_id,
            to_status,
            now,
            addition,
            set_fields=set_fields,
            set_expressions=set_expressions,
            remove=remove,
        )
        allowed_names = []
        for i, status in enumerate(allowed_from(member, from_statuses)):
            values[f":from{i}"] = status.value
            allowed_names.append(f":from{i}")
        condition = f"#status IN ({', '.join(allowed_names)})"
        if not member.can(Permission.MANAGE_LEADS):
            # An assigned lead belongs to its assignee; only a lead administrator may act on it otherwise.
            condition += " AND (#status <> :assigned OR assignee = :me)"
            values |= {":assigned": LeadStatus.ASSIGNED.value, ":me": member.user_id}
        return history.update(
            lead_key(org_id, lead_id),
            addition,
            expression=expression,
            condition=f"{condition} AND {addition.condition}",
            names=names,
            values=values,
            on_conflict=refusal(lead_id, past, member, from_statuses),
            client=client,
        )

    return history.attempt(history.Addition(HISTORY, [event], read), write)


def keep(org_id: str, lead_id: str, member: Member, *, client: Any = None) -> db.Item:
    """The assignee keeps working the lead; recorded so that the history shows it was looked at."""
    return _change(
        org_id,
        lead_id,
        member,
        action="kept",
        past="kept",
        from_statuses=(LeadStatus.ASSIGNED,),
        to_status=LeadStatus.ASSIGNED,
        set_expressions=("kept_at = :now",),
        client=client,
    )


def requeue(org_id: str, lead_id: str, member: Member, body: Requeue, *, client: Any = None) -> db.Item:
    """Back into the queue (e.g. nobody was home), optionally not before a new contact time. The lead (for
    its priority, time zone and status) and the queue settings are read first, in one round trip: a lead a
    rep requested and puts back is held out of the queue for the organisation's hold, and every lead is
    queued ready at the next opening of the queue hours in its time zone."""
    current, settings = _lead_and_settings(org_id, lead_id, client=client)
    moment = clock.now()
    not_before = clock.iso(body.contact_not_before) if body.contact_not_before else None
    earliest = max(moment, body.contact_not_before or moment)
    if current["status"] == LeadStatus.ASSIGNED.value:
        earliest = max(earliest, moment + timedelta(minutes=settings.put_back_hold_minutes))
    return _change(
        org_id,
        lead_id,
        member,
        action="requeued",
        past="put back in the queue",
        from_statuses=(LeadStatus.ASSIGNED, LeadStatus.PENDING),
        to_status=LeadStatus.QUEUED,
        set_fields={
            "contact_not_before": not_before,
            "location": "queue",
            "gsi3pk": queue_partition(org_id),
            **settings.queue_place(current, earliest),
        },
        remove=UNASSIGN,
        detail={"contact_not_before": not_before},
        read=current,
        client=client,
    )


def _lead_and_settings(org_id: str, lead_id: str, *, client: Any) -> tuple[db.Item, QueueSettings]:
    at, settings_at = lead_key(org_id, lead_id), settings_key(org_id)
    found = {item["pk"]: item for item in db.batch_get([at, settings_at], consistent=True, client=client)}
    if at["pk"] not in found:
        raise LeadNotFound(f"lead {lead_id} not found")
    return found[at["pk"]], settings_of(org_id, found.get(settings_at["pk"]))


def invalidate(org_id: str, lead_id: str, member: Member, body: Invalidate, *, client: Any = None) -> db.Item:
    return _change(
        org_id,
        lead_id,
        member,
        action="marked_invalid",
        past="marked invalid",
        from_statuses=(LeadStatus.ASSIGNED, LeadStatus.PENDING),
        to_status=LeadStatus.INVALID,
        set_fields={"invalid_reason": body.reason},
        remove=UNASSIGN,
        detail={"reason": body.reason},
        client=client,
    )


def convert(org_id: str, lead_id: str, member: Member, *, client: Any = None) -> Conversion:
    """Turn the assigned lead into a customer carrying the lead's contact data and source. The lead's
    contact data is read first; the write is one transaction conditioned on the version read, so a
    concurrent change makes it fail rather than copy stale data."""
    current = db.get(lead_key(org_id, lead_id), consistent=True, client=client)
    explain = refusal(lead_id, "converted", member, (LeadStatus.ASSIGNED,))
    if current is None:
        raise explain(None)
    status = LeadStatus(current["status"])
    if status is not LeadStatus.ASSIGNED or (
        current.get("assignee") != member.user_id and not member.can(Permission.MANAGE_LEADS)
    ):
        raise explain(current)
    now = clock.now_iso()
    customer_id = ids.new_id()
    event = history_entry(member.actor, "converted", now, customer_id=customer_id)
    customer = {
        **customer_key(org_id, customer_id),
        "entity": "customer",
        "org_id": org_id,
        "customer_id": customer_id,
        "contact": current["contact"],
        "source": {**current["source"], "lead_id": lead_id},
        "owner": current["assignee"],
        "created_by": member.user_id,
        "created_at": now,
        **customer_indexes(org_id, customer_id, current["assignee"], now),
    }
    addition = history.Addition(HISTORY, [event], current)
    expression, names, values = status_update(
        org_id,
        lead_id,
        LeadStatus.CONVERTED,
        now,
        addition,
        set_fields={"customer_id": customer_id},
        remove=("gsi2pk", "gsi2sk"),
    )
    update = db.tx_update(
        lead_key(org_id, lead_id),
        expression=expression,
        condition=f"version = :version AND {addition.condition}",
        names=names,
        values=values | {":version": current["version"]},
    )

    def _on_cancel(failed: list[db.Item | None]) -> DomainError:
        return explain(failed[0]) if failed[0] else Conflict("customer id collision; retry")

    db.transact(
        [update, db.tx_put(customer, condition="attribute_not_exists(pk)"), *addition.pages()],
        on_cancel=_on_cancel,
        client=client,
    )
    lead = {
        **current,
        "status": LeadStatus.CONVERTED.value,
        "customer_id": customer_id,
        "updated_at": now,
        "version": current["version"] + 1,
    }
    [flagged] = flag_partners(org_id, [customer], contact_email, client=client)
    return Conversion(lead=Lead.of(addition.applied(lead)), customer=StaffCustomer.of(flagged))

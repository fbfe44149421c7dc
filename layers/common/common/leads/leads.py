"""Leads (seed 001): intake from partner companies, pending list, the work queue, the assignee's
actions, and returns. Every change is one conditional write (or one transaction) that also appends
to the lead's history; the side effects (e-mails) follow from the table's stream. The lead keeps its newest
history entries, older ones move to pages (`HISTORY#<first>` in the lead's partition, common.platform.history)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.leads.companies import LeadLocation, QueuePriority
from common.leads.customers import contact_email, customer_indexes, customer_key, flag_partners
from common.orgs.access import Member, Permission
from common.platform import clock, db, history, ids
from common.platform.errors import Conflict, DomainError, FieldError, Forbidden, InvalidInput, NotFound
from common.platform.validation import MULTI_LINE, SINGLE_LINE, Email, EntityId, Instant, LongText, Phone, ShortText


class LeadStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CONVERTED = "converted"
    INVALID = "invalid"
    RETURNED = "returned"


class LeadNotFound(NotFound):
    code = "lead-not-found"


class LeadUnavailable(Conflict):
    code = "lead-unavailable"
    title = "The lead is not in a state that allows this"


class LeadAssignedToOther(Forbidden):
    code = "lead-assigned-to-another-user"
    title = "Only the assignee or a lead administrator may act on this lead"


class LeadNotReturnable(Conflict):
    code = "lead-not-returnable"
    title = "Only leads bought from a partner company can be returned"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    line1: ShortText
    line2: ShortText | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), SINGLE_LINE] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class LeadContact(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    contact_name: ShortText
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    notes: LongText | None = None


ExternalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$")]


class IntakeLead(LeadContact):
    """A lead posted by a partner company's system."""

    external_id: ExternalId
    requested_location: LeadLocation | None = None
    contact_not_before: Instant | None = None


class ManualLead(LeadContact):
    """A lead entered by hand by staff."""

    location: LeadLocation = LeadLocation.PENDING
    priority: QueuePriority = QueuePriority.NORMAL
    contact_not_before: Instant | None = None


class Requeue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_not_before: Instant | None = None


class Invalidate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), MULTI_LINE]


class ReturnLeads(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    lead_ids: list[EntityId] = Field(min_length=1, max_length=100)
    comments: LongText | None = None


def lead_key(org_id: str, lead_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#LEAD#{lead_id}", "sk": "LEAD"}


def external_id_key(org_id: str, company_id: str, external_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#COMPANY#{company_id}#EXT#{external_id}", "sk": "EXTERNAL_ID"}


# A lead's entries are short (a reason of at most 500 characters; long comments only on the return, after
# which nothing changes), so 50 of them stay far below DynamoDB's 400 KB.
HISTORY = history.Bound("history", limit=50, keep=25, pages_at=lambda item: (item["pk"], "HISTORY#"))
# A return ends a lead's changes: its entry may go beyond the limit, so one transaction returns up to 100
# leads without archive pages.
_FINAL = dataclasses.replace(HISTORY, limit=HISTORY.limit + 1)


def public_view(item: db.Item, *, with_history: bool = True) -> dict[str, Any]:
    hidden = () if with_history else ("history", HISTORY.archived_attribute)
    return db.answer_of(item, ("company_id", "external_id", "contact_not_before"), "claim_id", *hidden)


def intake_view(item: db.Item) -> dict[str, Any]:
    """What a partner company sees of a lead it posted: its own reference and ours, not our work on it."""
    return {k: item[k] for k in ("lead_id", "external_id", "company_id", "received_at")}


def _status_listing(org_id: str, status: LeadStatus) -> str:
    return f"ORG#{org_id}#LEADS#{status.value}"


def _queue_partition(org_id: str) -> str:
    return f"ORG#{org_id}#QUEUE"


def _queue_position(priority: QueuePriority, available_at: str, lead_id: str) -> str:
    """Sort key in the queue: priority rank first (1 = high), then when the lead became ready."""
    return f"{priority.rank}#{available_at}#{lead_id}"


def _assignee_listing(org_id: str, user_id: str) -> str:
    return f"ORG#{org_id}#ASSIGNEE#{user_id}"


def _event(actor: str, action: str, at: str, **detail: Any) -> dict[str, Any]:
    return {"at": at, "actor": actor, "action": action, **{k: v for k, v in detail.items() if v is not None}}


def _require_reach(contact: LeadContact) -> None:
    if not contact.phone and not contact.email:
        message = "a lead needs a phone number or an e-mail address"
        raise InvalidInput(message, errors=[FieldError("body.phone", message), FieldError("body.email", message)])


def _new_lead_item(
    org_id: str,
    contact: LeadContact,
    *,
    location: LeadLocation,
    priority: QueuePriority,
    contact_not_before: datetime | None,
    source: dict[str, Any],
    actor: str,
) -> db.Item:
    lead_id = ids.new_id()
    at = clock.now_iso()
    status = LeadStatus.QUEUED if location is LeadLocation.QUEUE else LeadStatus.PENDING
    not_before = clock.iso(contact_not_before) if contact_not_before else None
    available_at = max(at, not_before or at)
    item: db.Item = {
        **lead_key(org_id, lead_id),
        "entity": "lead",
        "org_id": org_id,
        "lead_id": lead_id,
        "status": status.value,
        "location": location.value,
        "priority": priority.value,
        "source": source,
        "company_id": source.get("company_id"),
        "external_id": source.get("external_id"),
        "contact": contact.model_dump(mode="json", include=set(LeadContact.model_fields), exclude_none=True),
        "contact_not_before": not_before,
        "available_at": available_at,
        "received_at": at,
        "updated_at": at,
        "version": 1,
        "history": [_event(actor, "received", at, status=status.value, location=location.value)],
        "gsi1pk": _status_listing(org_id, status),
        "gsi1sk": f"{at}#{lead_id}",
    }
    if status is LeadStatus.QUEUED:
        item |= {"gsi3pk": _queue_partition(org_id), "gsi3sk": _queue_position(priority, available_at, lead_id)}
    return item


def intake_lead(org_id: str, company: db.Item, lead: IntakeLead, *, client: Any = None) -> tuple[db.Item, bool]:
    """Store a lead posted by a partner company. The external id is claimed in the same transaction,
    so reposting it (also concurrently) returns the first lead instead of creating a second.
    Returns the lead and whether it was created now."""
    _require_reach(lead)
    default = LeadLocation(company.get("default_lead_location", LeadLocation.PENDING.value))
    location = default if company.get("force_default_location") else (lead.requested_location or default)
    company_id = company["company_id"]
    item = _new_lead_item(
        org_id,
        lead,
        location=location,
        priority=QueuePriority(company.get("queue_priority", QueuePriority.NORMAL.value)),
        contact_not_before=lead.contact_not_before,
        source={"kind": "partner_company", "company_id": company_id, "external_id": lead.external_id},
        actor=f"company:{company_id}",
    )
    guard_key = external_id_key(org_id, company_id, lead.external_id)
    guard = {
        **guard_key,
        "entity": "external_id",
        "lead_id": item["lead_id"],
        "created_at": item["received_at"],
    }

    existing: list[str | None] = []

    def _on_cancel(failed: list[db.Item | None]) -> DomainError:
        existing.append(failed[1].get("lead_id") if failed[1] else None)
        return Conflict("external id already used")

    try:
        db.transact(
            [
                db.tx_put(item, condition="attribute_not_exists(pk)"),
                db.tx_put(guard, condition="attribute_not_exists(pk)"),
            ],
            on_cancel=_on_cancel,
            client=client,
        )
    except Conflict:
        # The guard names the first lead; read it (from the guard itself if DynamoDB did not return it).
        existing_id = existing[0] if existing else None
        if existing_id is None:
            stored = db.get(guard_key, consistent=True, client=client)
            existing_id = stored["lead_id"] if stored else None
        first = db.get(lead_key(org_id, existing_id), consistent=True, client=client) if existing_id else None
        if first is None:
            raise Conflict("the external id is being registered by a concurrent request; retry") from None
        return first, False
    return item, True


def enter_lead(org_id: str, member: Member, lead: ManualLead, *, client: Any = None) -> db.Item:
    _require_reach(lead)
    item = _new_lead_item(
        org_id,
        lead,
        location=lead.location,
        priority=lead.priority,
        contact_not_before=lead.contact_not_before,
        source={"kind": "manual", "entered_by": member.user_id},
        actor=f"user:{member.user_id}",
    )
    db.put(
        item,
        condition="attribute_not_exists(pk)",
        on_conflict=Conflict("lead id collision; retry"),
        client=client,
    )
    return item


def get_lead(org_id: str, lead_id: str, member: Member, *, client: Any = None) -> db.Item:
    item = db.get(lead_key(org_id, lead_id), client=client)
    if item is None:
        raise LeadNotFound(f"lead {lead_id} not found")
    status = LeadStatus(item["status"])
    visible = (
        member.can(Permission.MANAGE_LEADS)
        or item.get("assignee") == member.user_id
        or (status in (LeadStatus.PENDING, LeadStatus.QUEUED) and member.can(Permission.VIEW_PENDING_LEADS))
    )
    if not visible:
        raise Forbidden("this lead is visible to its assignee and lead administrators only")
    return item


def list_leads(
    org_id: str,
    member: Member,
    status: LeadStatus,
    *,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """Leads in one status, newest change first; queued leads in the queue's order (gsi3): by priority,
    high first, then the longest ready first (leads deferred to a later contact time among them by that
    time). Pending and queued leads need the pending-leads permission; every other status is for lead
    administrators."""
    needed = (
        Permission.VIEW_PENDING_LEADS
        if status in (LeadStatus.PENDING, LeadStatus.QUEUED) and not member.can(Permission.MANAGE_LEADS)
        else Permission.MANAGE_LEADS
    )
    if not member.can(needed):
        raise Forbidden(f"missing permission {needed.value}")
    if status is LeadStatus.QUEUED:
        return db.query(
            index="gsi3",
            key_condition="gsi3pk = :pk",
            values={":pk": _queue_partition(org_id)},
            cursor=cursor,
            limit=limit,
            client=client,
        )
    return db.query(
        index="gsi1",
        key_condition="gsi1pk = :pk",
        values={":pk": _status_listing(org_id, status)},
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def list_assigned_to(
    org_id: str, user_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    return db.query(
        index="gsi2",
        key_condition="gsi2pk = :pk",
        values={":pk": _assignee_listing(org_id, user_id)},
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


# --- the queue -------------------------------------------------------------------------------------

_CLAIM_BATCH = 10
_LOWEST = QueuePriority.NORMAL


def _claim_first(org_id: str, candidates: list[db.Item], user_id: str, now: str, client: Any) -> db.Item | None:
    for candidate in candidates:
        try:
            return _assign(org_id, candidate["lead_id"], user_id, now, client=client)
        except LeadUnavailable:
            continue  # taken by a concurrent claim: the next candidate
    return None


def claim_next(org_id: str, member: Member, *, client: Any = None) -> db.Item | None:
    """Assign the next ready lead to the caller: highest priority first, then the one that has been
    ready the longest. The index read may be stale; the conditional write decides, so each lead goes to
    exactly one claimer and a loser moves on to the next candidate."""
    now = clock.now_iso()
    # Usually one read: the queue is sorted by priority, then readiness, so the ready leads come back in
    # claim order. Leads of a higher priority deferred to later sort among them and are filtered out.
    candidates, more = db.query(
        index="gsi3",
        key_condition="gsi3pk = :pk AND gsi3sk <= :last",
        values={":pk": _queue_partition(org_id), ":last": f"{_LOWEST.rank}#{now}#~", ":now": now},
        filter_expression="available_at <= :now",
        limit=_CLAIM_BATCH,
        one_read=True,
        client=client,
    )
    lead = _claim_first(org_id, candidates, member.user_id, now, client)
    if lead is not None or more is None:
        return lead
    # The page held deferred or just-taken leads: read each priority's ready range exactly, so the cost
    # stays bounded however many leads wait for a later contact time.
    for priority in (QueuePriority.HIGH, QueuePriority.MEDIUM, QueuePriority.NORMAL):
        cursor: str | None = None
        while True:
            candidates, cursor = db.query(
                index="gsi3",
                key_condition="gsi3pk = :pk AND gsi3sk BETWEEN :first AND :last",
                values={
                    ":pk": _queue_partition(org_id),
                    ":first": f"{priority.rank}#",
                    ":last": f"{priority.rank}#{now}#~",
                },
                limit=_CLAIM_BATCH,
                cursor=cursor,
                client=client,
            )
            lead = _claim_first(org_id, candidates, member.user_id, now, client)
            if lead is not None:
                return lead
            if cursor is None:
                break
    return None


def _assign(org_id: str, lead_id: str, user_id: str, now: str, *, client: Any) -> db.Item:
    # Each claim attempt has its own id: a retried request (same id) finds its own claim applied, while
    # two racing claims by the same user (different ids) stay two different attempts.
    claim_id = ids.new_id()
    event = _event(f"user:{user_id}", "claimed", now)

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            lead_key(org_id, lead_id),
            addition,
            expression=(
                "SET #status = :assigned, assignee = :user, assigned_at = :now, updated_at = :now, claim_id = :claim,"
                f" version = version + :one, {addition.expression},"
                " gsi1pk = :g1pk, gsi1sk = :g1sk, gsi2pk = :g2pk, gsi2sk = :g1sk REMOVE gsi3pk, gsi3sk"
            ),
            condition=f"#status = :queued AND available_at <= :now AND {addition.condition}",
            names={"#status": "status"},
            values={
                ":assigned": LeadStatus.ASSIGNED.value,
                ":queued": LeadStatus.QUEUED.value,
                ":user": user_id,
                ":now": now,
                ":one": 1,
                ":g1pk": _status_listing(org_id, LeadStatus.ASSIGNED),
                ":g1sk": f"{now}#{lead_id}",
                ":g2pk": _assignee_listing(org_id, user_id),
                ":claim": claim_id,
            },
            # This very claim applied by an attempt whose answer was lost: ours. Anything else: someone was faster.
            on_conflict=lambda current: (
                None
                if current and current.get("claim_id") == claim_id
                else LeadUnavailable(f"lead {lead_id} was claimed by someone else")
            ),
            client=client,
        )

    return history.attempt(history.Addition(HISTORY, [event]), write)


# --- actions on a lead -----------------------------------------------------------------------------


def _allowed_from(member: Member, statuses: tuple[LeadStatus, ...]) -> list[LeadStatus]:
    """Pending leads are acted on only with the pending-leads permission (or as lead administrator)."""
    if member.can(Permission.VIEW_PENDING_LEADS) or member.can(Permission.MANAGE_LEADS):
        return list(statuses)
    return [s for s in statuses if s is not LeadStatus.PENDING]


def _refusal(
    lead_id: str, action: str, member: Member, statuses: tuple[LeadStatus, ...]
) -> Callable[[db.Item | None], DomainError]:
    """Why a conditional change failed, told from the item DynamoDB returned with the failure."""

    def explain(current: db.Item | None) -> DomainError:
        if current is None:
            return LeadNotFound(f"lead {lead_id} not found")
        status = LeadStatus(current["status"])
        if status not in statuses:
            return LeadUnavailable(f"lead {lead_id} is {status.value}; it cannot be {action}")
        if status is LeadStatus.PENDING and not _allowed_from(member, (status,)):
            return Forbidden(f"missing permission {Permission.VIEW_PENDING_LEADS.value}")
        if (
            status is LeadStatus.ASSIGNED
            and current.get("assignee") != member.user_id
            and not member.can(Permission.MANAGE_LEADS)
        ):
            return LeadAssignedToOther(f"lead {lead_id} is assigned to another user")
        return LeadUnavailable(f"lead {lead_id} changed while it was being {action}; retry")

    return explain


def _status_update(
    org_id: str,
    lead_id: str,
    to_status: LeadStatus,
    now: str,
    addition: history.Addition,
    *,
    set_fields: dict[str, Any] | None = None,
    set_expressions: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The update every change of a lead makes: new status (and its listing key), version, history entry,
    plus the change's own fields. Returns expression, names and values (the addition's condition is the
    caller's to add)."""
    names = {"#status": "status"}
    values: dict[str, Any] = {
        ":to": to_status.value,
        ":now": now,
        ":one": 1,
        ":g1pk": _status_listing(org_id, to_status),
        ":g1sk": f"{now}#{lead_id}",
        **addition.values,
    }
    sets = [
        "#status = :to",
        "updated_at = :now",
        "version = version + :one",
        addition.expression,
        "gsi1pk = :g1pk",
        "gsi1sk = :g1sk",
        *set_expressions,
    ]
    for i, (field, value) in enumerate((set_fields or {}).items()):
        names[f"#s{i}"] = field
        values[f":s{i}"] = value
        sets.append(f"#s{i} = :s{i}")
    return "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(remove) if remove else ""), names, values


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
    event = _event(f"user:{member.user_id}", action, now, **(detail or {}))

    def write(addition: history.Addition) -> db.Item:
        expression, names, values = _status_update(
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
        for i, status in enumerate(_allowed_from(member, from_statuses)):
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
            on_conflict=_refusal(lead_id, past, member, from_statuses),
            client=client,
        )

    return history.attempt(history.Addition(HISTORY, [event], read), write)


_UNASSIGN = ("assignee", "assigned_at", "gsi2pk", "gsi2sk")


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
    """Back into the queue (e.g. nobody was home), optionally not before a new contact time. The lead's
    priority (fixed when it arrived) is read first for its place in the queue."""
    current = db.get(lead_key(org_id, lead_id), client=client)
    if current is None:
        raise LeadNotFound(f"lead {lead_id} not found")
    now = clock.now_iso()
    not_before = clock.iso(body.contact_not_before) if body.contact_not_before else None
    available_at = max(now, not_before or now)
    return _change(
        org_id,
        lead_id,
        member,
        action="requeued",
        past="put back in the queue",
        from_statuses=(LeadStatus.ASSIGNED, LeadStatus.PENDING),
        to_status=LeadStatus.QUEUED,
        set_fields={
            "available_at": available_at,
            "contact_not_before": not_before,
            "location": "queue",
            "gsi3pk": _queue_partition(org_id),
            "gsi3sk": _queue_position(QueuePriority(current["priority"]), available_at, lead_id),
        },
        remove=_UNASSIGN,
        detail={"contact_not_before": not_before},
        read=current,
        client=client,
    )


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
        remove=_UNASSIGN,
        detail={"reason": body.reason},
        client=client,
    )


def convert(org_id: str, lead_id: str, member: Member, *, client: Any = None) -> tuple[db.Item, db.Item]:
    """Turn the assigned lead into a customer carrying the lead's contact data and source. The lead's
    contact data is read first; the write is one transaction conditioned on the version read, so a
    concurrent change makes it fail rather than copy stale data."""
    current = db.get(lead_key(org_id, lead_id), consistent=True, client=client)
    explain = _refusal(lead_id, "converted", member, (LeadStatus.ASSIGNED,))
    if current is None:
        raise explain(None)
    status = LeadStatus(current["status"])
    if status is not LeadStatus.ASSIGNED or (
        current.get("assignee") != member.user_id and not member.can(Permission.MANAGE_LEADS)
    ):
        raise explain(current)
    now = clock.now_iso()
    customer_id = ids.new_id()
    event = _event(f"user:{member.user_id}", "converted", now, customer_id=customer_id)
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
    expression, names, values = _status_update(
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
    return addition.applied(lead), flag_partners(org_id, [customer], contact_email, client=client)[0]


def lead_history(
    org_id: str, lead_id: str, member: Member, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The lead's whole history, newest first (the lead itself shows only its newest entries)."""
    lead = get_lead(org_id, lead_id, member, client=client)
    return history.listing(HISTORY, lead, cursor=cursor, limit=limit, client=client)


# --- returns ---------------------------------------------------------------------------------------


class _LeadsChanged(Conflict):
    code = "leads-changed"


_RETURN_ATTEMPTS = 3


def return_leads(org_id: str, member: Member, body: ReturnLeads, *, client: Any = None) -> list[dict[str, Any]]:
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


def _return_once(
    org_id: str, member: Member, lead_ids: list[str], comments: str | None, client: Any
) -> list[dict[str, Any]]:
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
    allowed = _allowed_from(member, returnable)  # pending leads only with the pending-leads permission
    to_return = [i for i in lead_ids if found[i]["status"] != LeadStatus.RETURNED.value]
    for lead_id in to_return:
        lead = found[lead_id]
        status = LeadStatus(lead["status"])
        foreign = status is LeadStatus.ASSIGNED and lead.get("assignee") != member.user_id
        if status not in allowed or (foreign and not member.can(Permission.MANAGE_LEADS)):
            raise _refusal(lead_id, "returned", member, returnable)(lead)
    now = clock.now_iso()
    returned = {"at": now, "by": member.user_id, "comments": comments}
    event = _event(f"user:{member.user_id}", "returned", now, comments=comments)
    actions, pages = [], []
    for lead_id in to_return:
        addition = history.Addition(_FINAL, [event], found[lead_id])
        expression, names, values = _status_update(
            org_id,
            lead_id,
            LeadStatus.RETURNED,
            now,
            addition,
            set_fields={"returned": returned},
            remove=("assignee", "assigned_at", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"),
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
    return [{"lead_id": i, "status": LeadStatus.RETURNED.value, "changed": i in to_return} for i in lead_ids]

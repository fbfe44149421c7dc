"""A partner's lifecycle in an organisation (seed 003): manual status changes, archiving and restoring,
terms sent and signed, and for prospects the contact log and follow-up tasks; the activity view.

ACTIVE and LAPSED follow leads only (partner_records.record_lead, lapse_sweep.py). Each status change is
conditioned on the status read, so of two racing changes one wins and the other answers 409. The status
index key (gsi1pk) moves with the status; the lapse index keys (gsi3) exist only while ACTIVE."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.partners.partner_nodes import NodeChange, get_node
from common.partners.partner_records import (
    MANUAL_TRANSITIONS,
    NODE_HISTORY,
    PartnerStatus,
    TransitionNotAllowed,
    follow_up_partition,
    history_event,
    lapse_index,
    node_key,
    settings_key,
    settings_of,
    status_partition,
)
from common.platform import clock, db, history, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, NotFound, invalid
from common.platform.validation import Instant, LongText, ShortText

S = PartnerStatus
ContactChannel = Literal["phone", "email", "meeting", "message", "other"]
PAGE_SIZE = 50
LAPSE_KEYS = ("gsi3pk", "gsi3sk")
CONTACT_PREFIX = "CONTACT#"
# A logged contact's entry in the activity (the node's history).
CONTACT_ACTION = "contact_logged"


class PartnerStatusChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"status": "ARCHIVED", "reason": "Asked to leave the programme"}]},
    )
    status: PartnerStatus
    reason: LongText | None = Field(default=None, description="required when archiving")


class NewContact(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"channel": "phone", "summary": "Went through the new terms", "at": "2026-11-20T14:30:00Z"}]
        },
    )
    channel: ContactChannel
    summary: LongText = Field(min_length=1)
    at: Instant | None = Field(default=None, description="when the contact happened; now if left out")


class NewTask(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"title": "Call back about the terms", "due_at": "2026-11-27T09:00:00Z"}]},
    )
    title: ShortText
    due_at: Instant


class TaskChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"done": True}]})
    done: bool


# A contact and a task are not derived from their inputs: their times come in as date-times and are
# answered as stored.
class ContactEntry(Answer):
    """A logged contact with the partner."""

    contact_id: str
    channel: ContactChannel
    summary: str
    at: Timestamp = Field(description="when the contact happened")
    recorded_by: str = Field(description="user:<id>")
    recorded_at: Timestamp


class Task(Answer):
    """A follow-up task."""

    task_id: str
    title: str
    due_at: Timestamp
    done: bool
    done_at: Timestamp | None = None
    created_by: str = Field(description="user:<id>")
    created_at: Timestamp


# -- status ----------------------------------------------------------------------------------------


def _status_fields(org_id: str, node: db.Item, status: S) -> tuple[dict[str, Any], list[str]]:
    """The fields that follow a status: the status index partition, and the lapse index only while ACTIVE."""
    fields: dict[str, Any] = {"status": status.value, "gsi1pk": status_partition(org_id, status.value)}
    if status is S.ACTIVE and node.get("last_lead_at"):
        fields |= lapse_index(org_id, node["partner_id"], node["last_lead_at"])
        return fields, []
    return fields, [k for k in LAPSE_KEYS if k in node]


def _from_status(node: db.Item, event: dict[str, Any], fields: dict[str, Any], remove: list[str]) -> NodeChange:
    # Conditioned on the status read, not the version: a broker assignment meanwhile does not conflict.
    return NodeChange(
        node,
        event,
        set_fields=fields,
        remove=remove,
        condition="#status = :was",
        condition_names={"#status": "status"},
        condition_values={":was": node["status"]},
    )


def _changed_meanwhile(node: db.Item) -> TransitionNotAllowed:
    return TransitionNotAllowed(f"the partner's status changed meanwhile (it was {node['status']}); read it again")


def _write(change: NodeChange, client: Any) -> db.Item:
    return change.write(changed=_changed_meanwhile(change.node), client=client)


def set_status(org_id: str, partner_id: str, body: PartnerStatusChange, actor: str, *, client: Any = None) -> db.Item:
    if body.status is S.ARCHIVED and not body.reason:
        raise invalid("body.reason", "archiving needs a reason")
    if body.status in (S.ACTIVE, S.LAPSED):
        raise TransitionNotAllowed(f"{body.status.value} follows the partner's leads; it is never set by hand")
    node = get_node(org_id, partner_id, client=client)
    current = S(node["status"])
    if body.status not in MANUAL_TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in MANUAL_TRANSITIONS[current])) or "none (restore it)"
        raise TransitionNotAllowed(f"{current.value} cannot change to {body.status.value} (allowed: {allowed})")
    fields, remove = _status_fields(org_id, node, body.status)
    if body.status is S.ARCHIVED:
        fields |= {"archived_reason": body.reason, "archived_from": current.value, "archived_at": clock.now_iso()}
    event = history_event("status_changed", actor, status=body.status.value, previous=current.value, reason=body.reason)
    return _write(_from_status(node, event, fields, remove), client)


def restore(org_id: str, partner_id: str, actor: str, *, client: Any = None) -> db.Item:
    """An archived partner goes back to the status they were archived from."""
    node = get_node(org_id, partner_id, client=client)
    if node["status"] != S.ARCHIVED.value:
        raise TransitionNotAllowed(f"only an archived partner can be restored (this one is {node['status']})")
    # Archiving always records where from; a node archived without it (written by hand) goes back to LIVE.
    target = S(node.get("archived_from") or S.LIVE.value)
    fields, remove = _status_fields(org_id, node, target)
    remove += ["archived_reason", "archived_from", "archived_at"]
    event = history_event("restored", actor, status=target.value, previous=S.ARCHIVED.value)
    return _write(_from_status(node, event, fields, remove), client)


def send_terms(org_id: str, partner_id: str, actor: str, *, client: Any = None) -> db.Item:
    """A prospect is sent the programme's current terms: PROSPECT -> PROSPECT_TERMS_SENT. The e-mail
    follows from the stream (partner_mail). The terms version must still be the current one when written."""
    items = db.batch_get([node_key(org_id, partner_id), settings_key(org_id)], consistent=True, client=client)
    node = next((i for i in items if i["sk"] != "PROGRAMME"), None)
    if node is None or node.get("removed_at"):
        raise NotFound(f"partner {partner_id} not found")
    version = settings_of(next((i for i in items if i["sk"] == "PROGRAMME"), None))["current_terms_version"]
    if version is None:
        raise TransitionNotAllowed("the programme has no published terms to send")
    if node["status"] != S.PROSPECT.value:
        raise TransitionNotAllowed(f"terms are sent to prospects (this partner is {node['status']})")
    fields, remove = _status_fields(org_id, node, S.PROSPECT_TERMS_SENT)
    fields |= {"terms_sent_version": version, "terms_sent_at": clock.now_iso()}
    event = history_event("terms_sent", actor, status=S.PROSPECT_TERMS_SENT.value, terms_version=version)
    change = _from_status(node, event, fields, remove)
    terms_check = db.tx_check(settings_key(org_id), condition="current_terms_version = :v", values={":v": version})

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return change.refusal(failed[0], _changed_meanwhile(node))
        return TransitionNotAllowed("the programme's terms changed meanwhile; send again")

    db.transact([change.tx(), terms_check, *change.pages()], on_cancel=_refusal, client=client)
    return change.addition.applied({**node, **fields, "updated_at": event["at"], "version": node["version"] + 1})


def terms_signed(org_id: str, partner_id: str, actor: str, *, client: Any = None) -> db.Item:
    """Signed terms came back by other means (post, e-mail): PROSPECT_TERMS_SENT -> LIVE, with the version
    that was sent recorded as accepted."""
    node = get_node(org_id, partner_id, client=client)
    if node["status"] != S.PROSPECT_TERMS_SENT.value:
        raise TransitionNotAllowed(f"no terms are awaited from this partner (status {node['status']})")
    fields, remove = _status_fields(org_id, node, S.LIVE)
    at = clock.now_iso()
    fields |= {"terms_version": node.get("terms_sent_version"), "terms_accepted_at": at}
    event = history_event("terms_signed", actor, status=S.LIVE.value, terms_version=node.get("terms_sent_version"))
    return _write(_from_status(node, event, fields, remove), client)


# -- contact log and tasks -------------------------------------------------------------------------


def _node_present(org_id: str, partner_id: str) -> dict[str, Any]:
    return db.tx_check(
        node_key(org_id, partner_id), condition="attribute_exists(pk) AND attribute_not_exists(removed_at)"
    )


def _not_found(partner_id: str) -> NotFound:
    return NotFound(f"partner {partner_id} not found")


def add_contact(org_id: str, partner_id: str, body: NewContact, actor: str, *, client: Any = None) -> db.Item:
    """The contact, in the contact log and (the same transaction) as an entry of the partner's activity, so
    the activity is one history in one order."""
    at = clock.iso(body.at) if body.at else clock.now_iso()
    contact_id = ids.new_id()
    item = {
        "pk": follow_up_partition(org_id, partner_id),
        "sk": f"{CONTACT_PREFIX}{at}#C#{contact_id}",
        "entity": "partner_contact",
        "org_id": org_id,
        "partner_id": partner_id,
        "contact_id": contact_id,
        "channel": body.channel,
        "summary": body.summary,
        "at": at,
        "recorded_by": actor,
        "recorded_at": clock.now_iso(),
    }
    event = {
        **history_event(CONTACT_ACTION, actor, contact_id=contact_id, channel=body.channel, summary=body.summary),
        "at": at,
        "recorded_at": item["recorded_at"],
    }
    key = node_key(org_id, partner_id)

    def write(addition: history.Addition) -> None:
        update = db.tx_update(
            key,
            expression=f"SET {addition.expression}",
            condition=f"attribute_exists(pk) AND attribute_not_exists(removed_at) AND {addition.condition}",
            values=addition.values,
        )

        def refusal(failed: list[db.Item | None]) -> DomainError:
            current = failed[0]
            if current is None:
                return DomainError("contact id collision; retry")
            if not current or current.get("removed_at"):
                return _not_found(partner_id)
            addition.check(current)
            return Conflict(f"partner {partner_id} changed meanwhile; retry")

        db.transact(
            [update, db.tx_put(item, condition="attribute_not_exists(pk)"), *addition.pages()],
            on_cancel=refusal,
            client=client,
        )

    history.attempt(history.Addition(NODE_HISTORY, [event], get_node(org_id, partner_id, client=client)), write)
    return item


def list_contacts(
    org_id: str, partner_id: str, *, cursor: str | None = None, limit: int = PAGE_SIZE, client: Any = None
) -> tuple[list[db.Item], str | None]:
    get_node(org_id, partner_id, client=client)
    return listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": follow_up_partition(org_id, partner_id), ":prefix": CONTACT_PREFIX},
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def _task_key(org_id: str, partner_id: str, task_id: str) -> db.Key:
    return {"pk": follow_up_partition(org_id, partner_id), "sk": f"TASK#{task_id}"}


def add_task(org_id: str, partner_id: str, body: NewTask, actor: str, *, client: Any = None) -> db.Item:
    task_id = ids.new_id()
    item = {
        **_task_key(org_id, partner_id, task_id),
        "entity": "partner_task",
        "org_id": org_id,
        "partner_id": partner_id,
        "task_id": task_id,
        "title": body.title,
        "due_at": clock.iso(body.due_at),
        "done": False,
        "created_by": actor,
        "created_at": clock.now_iso(),
    }

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        return _not_found(partner_id) if failed[0] is not None else DomainError("task id collision; retry")

    db.transact(
        [_node_present(org_id, partner_id), db.tx_put(item, condition="attribute_not_exists(pk)")],
        on_cancel=_refusal,
        client=client,
    )
    return item


def list_tasks(
    org_id: str, partner_id: str, *, cursor: str | None = None, limit: int = PAGE_SIZE, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """Tasks in the order they were set (ids are time-ordered)."""
    get_node(org_id, partner_id, client=client)
    return listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": follow_up_partition(org_id, partner_id), ":prefix": "TASK#"},
        cursor=cursor,
        limit=limit,
        client=client,
    )


def change_task(
    org_id: str, partner_id: str, task_id: str, body: TaskChange, actor: str, *, client: Any = None
) -> db.Item:
    at = clock.now_iso()
    if body.done:
        expression, values = "SET done = :done, done_at = :at, done_by = :by", {":done": True, ":at": at, ":by": actor}
    else:
        expression, values = "SET done = :done REMOVE done_at, done_by", {":done": False}
    update = db.tx_update(
        _task_key(org_id, partner_id, task_id), expression=expression, condition="attribute_exists(pk)", values=values
    )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        return _not_found(partner_id) if failed[0] is not None else NotFound(f"task {task_id} not found")

    db.transact([_node_present(org_id, partner_id), update], on_cancel=_refusal, client=client)
    task = db.get(_task_key(org_id, partner_id, task_id), consistent=True, client=client)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


# -- activity --------------------------------------------------------------------------------------


def activity(
    org_id: str, partner_id: str, *, cursor: str | None = None, limit: int = PAGE_SIZE, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The node's history, newest first: every status change, assignment, lead, edit and logged contact, in
    the one order they were recorded in (their numbers), so a page boundary can never skip an entry whose
    time disagrees with its place (a retried write, clock skew). Removed partners keep theirs."""
    node = db.get(node_key(org_id, partner_id), consistent=True, client=client)
    if node is None:
        raise _not_found(partner_id)
    return history.listing(NODE_HISTORY, node, cursor=cursor, limit=limit, client=client)

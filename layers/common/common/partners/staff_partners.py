"""Partners on the staff side once added: read, list, edit, assign brokers, remove. Every change of a node
appends to its history in the same write. Adding lives in adding_partners.py, lifecycle status changes in
lifecycle.py, e-mails in mail.py (stream)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.partners.brokers import MAX_BROKERS, Brokers, broker_gone, check_brokers
from common.partners.partner_nodes import NodeChange, get_node
from common.partners.partner_records import (
    INDEX_ATTRIBUTES,
    PartnerStatus,
    history_event,
    org_email_key,
    status_partition,
    tree_partition,
)
from common.platform import clock, db, listings
from common.platform.errors import Conflict, DomainError, invalid
from common.platform.validation import Phone, ShortText

S = PartnerStatus
PAGE_SIZE = 50


class PartnerEdit(BaseModel):
    """The organisation's record of the partner; the partner's own account is theirs to change."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"last_name": "Partner-Jones", "phone": "+15550100"}]},
    )
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    phone: Phone | None = Field(default=None, description="null removes it")


class BrokerAssignment(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"brokers": ["0b7c4e2a-5d1f-4c8e-9a3b-2f6e8d1c4a57"]}]}
    )
    brokers: Brokers = Field(max_length=MAX_BROKERS)


# -- brokers ---------------------------------------------------------------------------------------


def set_brokers(org_id: str, partner_id: str, brokers: Sequence[str], actor: str, *, client: Any = None) -> db.Item:
    checks = check_brokers(org_id, brokers, client=client)
    node = get_node(org_id, partner_id, client=client)
    wanted = sorted(set(brokers))
    change = NodeChange(node, history_event("brokers_assigned", actor, brokers=wanted), set_fields={"brokers": wanted})

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        return change.refusal(failed[0]) if failed[0] is not None else broker_gone()

    db.transact([change.tx(), *checks, *change.pages()], on_cancel=_refusal, client=client)
    changed = {**node, "brokers": wanted, "version": node["version"] + 1, "updated_at": change.event["at"]}
    return change.addition.applied(changed)


# -- reading ---------------------------------------------------------------------------------------


def list_partners(
    org_id: str,
    *,
    status: PartnerStatus | None = None,
    live_without_lead: bool = False,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """By status, newest first; or the whole programme structure (every status but ARCHIVED, which is
    listed only when asked for). Removed partners are in no index, so never listed."""
    if live_without_lead:
        if status not in (None, S.LIVE):
            raise invalid("query.filter", "live_without_lead lists LIVE partners only")
        status = S.LIVE
    if status is not None:
        return listings.query_index(
            listings.IndexKey("gsi1", status_partition(org_id, status.value)),
            filter_expression="attribute_not_exists(last_lead_at)" if live_without_lead else None,
            newest_first=True,
            cursor=cursor,
            limit=limit,
            client=client,
        )
    return listings.query_index(
        listings.IndexKey("gsi2", tree_partition(org_id)),
        filter_expression="#status <> :archived",
        filter_values={":archived": S.ARCHIVED.value},
        names={"#status": "status"},
        cursor=cursor,
        limit=limit,
        client=client,
    )


# -- editing and removing --------------------------------------------------------------------------


def edit_partner(org_id: str, partner_id: str, edit: PartnerEdit, actor: str, *, client: Any = None) -> db.Item:
    fields = {name: getattr(edit, name) for name in edit.model_fields_set}
    if not fields:
        raise invalid("body", "name at least one of first_name, last_name, phone")
    for name in ("first_name", "last_name"):
        if name in fields and fields[name] is None:
            raise invalid(f"body.{name}", "cannot be removed")
    node = get_node(org_id, partner_id, client=client)
    first, last = fields.get("first_name", node["first_name"]), fields.get("last_name", node["last_name"])
    event = history_event("edited", actor, fields=sorted(fields))
    change = NodeChange(node, event, set_fields={**fields, "name": f"{first} {last}".strip()})
    return change.write(client=client)


def remove_partner(org_id: str, partner_id: str, actor: str, *, client: Any = None) -> None:
    """The partner leaves the organisation: out of every index, the e-mail free again; the node and its
    history stay (staff can still read the activity). The account stays for their other organisations."""
    node = get_node(org_id, partner_id, client=client)
    at = clock.now_iso()
    change = NodeChange(
        node,
        history_event("removed", actor, status=node["status"]),
        set_fields={"removed_at": at, "removed_by": actor},
        remove=[a for a in INDEX_ATTRIBUTES if a in node],
    )
    guard = db.tx_delete(
        org_email_key(org_id, node["email"]),
        condition="attribute_not_exists(pk) OR partner_id = :partner",
        values={":partner": partner_id},
    )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        return change.refusal(failed[0]) if failed[0] is not None else Conflict("the e-mail guard changed meanwhile")

    db.transact([change.tx(), guard, *change.pages()], on_cancel=_refusal, client=client)

"""Adding partners, staff side: a new account, or a known one (a partner of the parent organisation joining
a child organisation).

Adding is one transaction: the account (put only if absent: an existing account is reused untouched), the
organisation's node, and the organisation's e-mail guard, so the same address cannot become two partners
of one organisation however the requests race."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.orgs.access import Member, org_key
from common.partners.brokers import MAX_BROKERS, Brokers, broker_gone, check_brokers
from common.partners.identity import NEW_USER_STATUS, ensure_user, user_details
from common.partners.partner_nodes import find_node
from common.partners.partner_records import (
    NODE_HISTORY,
    PartnerStatus,
    account_item,
    account_key,
    node_item,
    node_key,
    org_email_item,
    org_email_key,
)
from common.platform import db, history
from common.platform.errors import Conflict, DomainError, NotFound, invalid
from common.platform.validation import Email, Phone, ShortText, UserRef

S = PartnerStatus
# Attempts at adding when the account appears (or goes) between reading it and writing.
ADD_ATTEMPTS = 3


# The statuses a partner can be added in.
InitialStatus = Literal["PROSPECT", "LIVE"]


class NewPartner(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Pat",
                    "last_name": "Partner",
                    "email": "pat.partner@example.org",
                    "phone": "+15550100",
                    "status": "LIVE",
                    "brokers": ["0b7c4e2a-5d1f-4c8e-9a3b-2f6e8d1c4a57"],
                }
            ]
        },
    )
    first_name: ShortText
    last_name: ShortText
    email: Email
    phone: Phone
    status: InitialStatus = "LIVE"
    brokers: Brokers = Field(default_factory=list, max_length=MAX_BROKERS)
    sponsor_id: UserRef | None = Field(default=None, description="a partner of this organisation, placed above")


class ExistingPartner(BaseModel):
    """A partner of the parent organisation joining a child organisation with the same account."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "partner_id": "5e2f8a1c-3b7d-4e9f-8c6a-1d4b7e0f2a93",
                    "status": "LIVE",
                    "brokers": ["0b7c4e2a-5d1f-4c8e-9a3b-2f6e8d1c4a57"],
                }
            ]
        },
    )
    partner_id: UserRef
    status: InitialStatus = "LIVE"
    brokers: Brokers = Field(default_factory=list, max_length=MAX_BROKERS)


class AlreadyPartner(Conflict):
    def __init__(self, partner_id: str) -> None:
        super().__init__(f"already a partner of this organisation: {partner_id}", conflicting_ids=[partner_id])


class _AccountChanged(Conflict):
    """The account appeared or went between reading and writing: decide again."""


def _sponsor_upline(org_id: str, sponsor_id: str | None, client: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The new node's upline under `sponsor_id`, and the condition that the sponsor is still where it was read."""
    if sponsor_id is None:
        return [], []
    sponsor = find_node(org_id, sponsor_id, client=client)
    if sponsor is None or sponsor["status"] == S.ARCHIVED.value:
        raise invalid("body.sponsor_id", "is not a partner of this organisation")
    check = db.tx_check(
        node_key(org_id, sponsor_id),
        condition="gsi2sk = :path AND attribute_not_exists(removed_at)",
        values={":path": sponsor["gsi2sk"]},
    )
    return [sponsor_id, *sponsor.get("upline", [])], [check]


def _join(
    org_id: str,
    partner_id: str,
    details: dict[str, Any],
    *,
    status: str,
    origin: str,
    actor: str,
    brokers: list[str],
    upline: list[str],
    account_write: dict[str, Any],
    checks: list[dict[str, Any]],
    check_refusals: Sequence[DomainError],
    client: Any,
) -> db.Item:
    """Write the node and the e-mail guard with `account_write` (put or check) in one transaction. A node
    left by an earlier removal is replaced, its history kept."""
    previous = db.get(node_key(org_id, partner_id), consistent=True, client=client)
    if previous is not None and not previous.get("removed_at"):
        raise AlreadyPartner(partner_id)
    node = node_item(
        org_id=org_id,
        partner_id=partner_id,
        status=S(status),
        origin=origin,
        actor=actor,
        sponsor_id=upline[0] if upline else None,
        upline=upline,
        brokers=brokers,
        **details,
    )
    pages = history.carried(NODE_HISTORY, previous, node)
    if previous is None:
        node_write = db.tx_put(node, condition="attribute_not_exists(pk)")
    else:
        node["version"] = previous["version"] + 1
        node_write = db.tx_put(node, condition="removed_at = :removed", values={":removed": previous["removed_at"]})
    guard = db.tx_put(org_email_item(org_id, details["email"], partner_id), condition="attribute_not_exists(pk)")

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        account, node_failed, guard_failed, *rest = failed[: len(failed) - len(pages)]
        if guard_failed is not None or (node_failed is not None and not node_failed.get("removed_at")):
            return AlreadyPartner((guard_failed or {}).get("partner_id") or partner_id)
        if account is not None or node_failed is not None:
            return _AccountChanged("the partner changed meanwhile")
        return next((refusal for f, refusal in zip(rest, check_refusals, strict=True) if f is not None), broker_gone())

    db.transact([account_write, node_write, guard, *checks, *pages], on_cancel=_refusal, client=client)
    return node


def add_partner(org_id: str, member: Member, new: NewPartner, *, client: Any = None, cognito: Any = None) -> db.Item:
    """A new partner of the organisation: one sign-in per e-mail address (an address that already has one,
    as a partner elsewhere or as staff, keeps it, and its partner account is reused). The answer is the
    node whichever it was; a login that already has a password is marked so on the account, so its login
    e-mail says to sign in as usual and never carries a link that would choose another."""
    broker_checks = check_brokers(org_id, new.brokers, client=client)
    upline, sponsor_checks = _sponsor_upline(org_id, new.sponsor_id, client)
    if taken := db.get(org_email_key(org_id, new.email), consistent=True, client=client):
        raise AlreadyPartner(taken["partner_id"])
    partner_id, created = ensure_user(
        new.email,
        first_name=new.first_name,
        last_name=new.last_name,
        phone=new.phone,
        email_verified=False,
        client=cognito,
    )
    if partner_id in upline:
        raise invalid("body.sponsor_id", "a partner cannot be placed under themselves")
    verified, password = False, False
    if not created:
        login = user_details(partner_id, client=cognito)
        verified, password = login["email_verified"], login["status"] != NEW_USER_STATUS
    details = {"first_name": new.first_name, "last_name": new.last_name, "email": new.email, "phone": new.phone}
    refusals: list[DomainError] = [invalid("body.sponsor_id", "the sponsor changed meanwhile") for _ in sponsor_checks]
    refusals += [broker_gone() for _ in broker_checks]
    for attempt in range(ADD_ATTEMPTS):
        existing = db.get(account_key(partner_id), consistent=True, client=client)
        if existing is None:
            account = account_item(partner_id=partner_id, email_confirmed=verified, **details)
            account_write = db.tx_put(
                {**account, "password_set": True} if password else account, condition="attribute_not_exists(pk)"
            )
        elif password and not existing.get("password_set"):
            account_write = db.tx_update(
                account_key(partner_id),
                expression="SET password_set = :yes",
                condition="attribute_exists(pk)",
                values={":yes": True},
            )
        else:
            account_write = db.tx_check(account_key(partner_id), condition="attribute_exists(pk)")
        try:
            return _join(
                org_id,
                partner_id,
                details,
                status=new.status,
                origin="added",
                actor=member.actor,
                brokers=new.brokers,
                upline=upline,
                account_write=account_write,
                checks=[*sponsor_checks, *broker_checks],
                check_refusals=refusals,
                client=client,
            )
        except _AccountChanged:
            if attempt == ADD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def add_existing(org_id: str, member: Member, body: ExistingPartner, *, client: Any = None) -> db.Item:
    """Enterprise: a partner of the parent organisation joins this (child) organisation with the same
    account. Not a partner of the parent (or no parent): 404."""
    org = db.get(org_key(org_id), client=client) or {}
    parent_id = org.get("parent_id")
    missing = NotFound(f"partner {body.partner_id} not found in the parent organisation")
    if not parent_id:
        raise missing
    broker_checks = check_brokers(org_id, body.brokers, client=client)
    items = db.batch_get(
        [account_key(body.partner_id), node_key(parent_id, body.partner_id)], consistent=True, client=client
    )
    account = next((i for i in items if i["sk"] == "ACCOUNT"), None)
    parent_node = next((i for i in items if i["sk"] != "ACCOUNT"), None)
    if account is None or parent_node is None or parent_node.get("removed_at"):
        raise missing
    parent_check = db.tx_check(
        node_key(parent_id, body.partner_id), condition="attribute_exists(pk) AND attribute_not_exists(removed_at)"
    )
    details = {k: account.get(k) for k in ("first_name", "last_name", "email", "phone")}
    return _join(
        org_id,
        body.partner_id,
        details,
        status=body.status,
        origin="existing",
        actor=member.actor,
        brokers=body.brokers,
        upline=[],
        account_write=db.tx_check(account_key(body.partner_id), condition="attribute_exists(pk)"),
        checks=[parent_check, *broker_checks],
        check_refusals=[missing, *(broker_gone() for _ in broker_checks)],
        client=client,
    )

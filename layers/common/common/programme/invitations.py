"""Bringing people into the programme: e-mail invitations and referral links.

    invitation  ORG#<org>#INVITATION#<id> / INVITATION
                gsi1: ORG#<org>#INVITER#<inviterId> / <createdAt>#<id>   (the inviter's own, newest first)
    referral    REFERRAL#<code> / REFERRAL -> org and partner           (a participant's referral link)

An invitation is written by the request; the stream consumer (programme_mail) sends it, once, with a
single-use token bound to the invitee's address, so the token exists only in the e-mail. The invitee
registers under the inviter, or at level zero when a staff member with that permission invited them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.orgs.access import Permission, Principal, member_key, member_or_none
from common.orgs.organisations import get_organisation
from common.partners import sender_addresses
from common.partners.partner_caller import require_partner
from common.partners.partner_records import (
    PartnerStatus,
    account_key,
    node_key,
    org_email_key,
    settings_key,
    settings_of,
)
from common.platform import clock, db, emailed_links, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound
from common.platform.settings import Portal, get_settings
from common.platform.validation import Email, LongText, Phone, ShortText

# Referral codes: 12 characters without look-alikes (0/o, 1/l/i), about 59 random bits.
REFERRAL_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
REFERRAL_CODE_LENGTH = 12
REFERRAL_CODE_PATTERN = r"^[0-9a-z]{6,32}$"
ReferralCode = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=REFERRAL_CODE_PATTERN)]
# A referral link stops working when its owner's partnership ended or was archived (or they were removed).
CLOSED_STATUSES = frozenset({PartnerStatus.ENDED.value, PartnerStatus.ARCHIVED.value})


class NewInvitation(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Ivy",
                    "last_name": "Invitee",
                    "email": "ivy@example.org",
                    "phone": "+15550123",
                    "subject": "Join my partner team",
                    "body": "Hi Ivy, come and refer clients with us: the link below registers you under me.",
                    "level_zero": False,
                }
            ]
        },
    )
    first_name: ShortText
    last_name: ShortText
    email: Email
    phone: Phone
    subject: ShortText
    body: Annotated[LongText, Field(min_length=1)]
    level_zero: bool = Field(False, description="nobody above the invitee (needs programme:invite_level_zero)")


InvitationState = Literal["sent", "accepted", "expired"]


def invitation_state(item: Mapping[str, Any]) -> InvitationState:
    if item.get("accepted_at"):
        return "accepted"
    return "expired" if item["expires_at"] <= clock.now_iso() else "sent"


class Invitation(Answer):
    """An invitation as its inviter sees it (the e-mail's text is theirs already), in its state now."""

    invitation_id: str
    org_id: str
    inviter_id: str
    inviter_kind: Literal["partner", "staff"] = Field(
        description="partner: invites under themselves; staff: at level zero"
    )
    sponsor_id: str | None = None
    level_zero: bool
    first_name: str
    last_name: str
    email: str
    created_at: Timestamp
    expires_at: Timestamp
    state: InvitationState
    sender_email: str | None = Field(
        None, description="the inviter's own address the e-mail goes from; null: the system's, naming the inviter"
    )

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        return super().of(item, **{"state": invitation_state(item), **fields})


class InvitationPreview(Answer):
    """What the registration form of an invitation shows."""

    org_id: str
    org_name: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    level_zero: bool
    expires_at: Timestamp


class ReferralPreview(Answer):
    """What a referral link's landing page shows."""

    code: str
    org_id: str
    org_name: str
    referrer_name: str


# -- referral codes --------------------------------------------------------------------------------


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def referral_key(code: str) -> db.Key:
    return {"pk": f"REFERRAL#{code}", "sk": "REFERRAL"}


def referral_link(code: str) -> str:
    return f"{get_settings(Portal).portal_url}/join/{code}"


def referral_put(code: str, org_id: str, partner_id: str) -> dict[str, Any]:
    """The transaction item that claims `code` for a node (codes are unique: a collision cancels)."""
    item = {
        **referral_key(code),
        "entity": "referral_code",
        "code": code,
        "org_id": org_id,
        "partner_id": partner_id,
        "created_at": clock.now_iso(),
    }
    return db.tx_put(item, condition="attribute_not_exists(pk)")


def ensure_referral_code(node: db.Item, *, client: Any = None) -> str:
    """The node's referral code, made now for a node created without one (partners added by staff)."""
    if node.get("referral_code"):
        return str(node["referral_code"])
    org_id, partner_id = node["org_id"], node["partner_id"]
    code = new_referral_code()
    give = db.tx_update(
        node_key(org_id, partner_id),
        expression="SET referral_code = :code",
        condition="attribute_exists(pk) AND attribute_not_exists(referral_code)",
        values={":code": code},
    )

    def _refusal(_: list[db.Item | None]) -> DomainError:
        return Conflict("the referral code could not be made: retry")

    try:
        db.transact([referral_put(code, org_id, partner_id), give], on_cancel=_refusal, client=client)
    except Conflict:
        # Another request gave the node its code first: that one stands.
        current = db.get(node_key(org_id, partner_id), consistent=True, client=client) or {}
        if not current.get("referral_code"):
            raise
        return str(current["referral_code"])
    return code


def referrer(code: str, *, client: Any = None) -> tuple[db.Item, db.Item]:
    """The referral code's owner (their node) and its programme settings; 404 when the link does not (or
    no longer) work."""
    link = db.get(referral_key(code), client=client)
    refusal = NotFound("this referral link is not valid")
    if link is None:
        raise refusal
    items = db.batch_get(
        [node_key(link["org_id"], link["partner_id"]), settings_key(link["org_id"])], consistent=True, client=client
    )
    node = next((i for i in items if i.get("entity") == "partner_node"), None)
    settings = next((i for i in items if i["sk"] == "PROGRAMME"), {})
    if node is None or node.get("removed_at") or node["status"] in CLOSED_STATUSES:
        raise refusal
    return node, settings


def referral_preview(code: str, *, client: Any = None) -> ReferralPreview:
    """What the referral landing page shows: whose link it is and for which organisation."""
    node, _ = referrer(code, client=client)
    org = get_organisation(node["org_id"], client=client)
    return ReferralPreview(code=code, org_id=node["org_id"], org_name=org["name"], referrer_name=node["name"])


# -- invitations -----------------------------------------------------------------------------------


def invitation_key(org_id: str, invitation_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#INVITATION#{invitation_id}", "sk": "INVITATION"}


def _inviter_partition(org_id: str, inviter_id: str) -> str:
    return f"ORG#{org_id}#INVITER#{inviter_id}"


def _inviter(
    org_id: str, principal: Principal, level_zero: bool, client: Any
) -> tuple[str, str | None, dict[str, Any]]:
    """Who invites: (inviter kind, sponsor id, what the e-mail's From needs: sender_addresses). A
    participant invites under themselves; a staff member with the permission invites at level zero."""
    member = member_or_none(principal, org_id, client=client)
    if level_zero:
        if member is None:
            require_partner(principal, org_id, client=client)  # 404 for strangers; partners are refused below
        if member is None or not member.can(Permission.PROGRAMME_INVITE_LEVEL_ZERO):
            raise Forbidden(f"missing permission {Permission.PROGRAMME_INVITE_LEVEL_ZERO.value}")
        keys = [account_key(principal.subject), settings_key(org_id), member_key(org_id, principal.subject)]
        items = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
        account, settings, staff = (items.get((k["pk"], k["sk"])) for k in keys)
        name = (staff or {}).get("display_name")
        return "staff", None, sender_addresses.invitation_sender(account, settings_of(settings), name)
    try:
        caller = require_partner(principal, org_id, client=client)
    except NotFound:
        if member is not None:
            raise Forbidden("join the programme to invite partners under you (or invite at level zero)") from None
        raise
    return "partner", caller.partner_id, sender_addresses.invitation_sender(caller.account, caller.settings)


def invite(org_id: str, principal: Principal, new: NewInvitation, *, client: Any = None) -> Invitation:
    """Record the invitation (the stream sends it). Someone already a partner of the organisation is not
    invited (checked in the same transaction)."""
    kind, sponsor_id, sender = _inviter(org_id, principal, new.level_zero, client)
    invitation_id = ids.new_id()
    now = clock.now()
    created_at = clock.iso(now)
    item = {
        **invitation_key(org_id, invitation_id),
        "entity": "invitation",
        "org_id": org_id,
        "invitation_id": invitation_id,
        "inviter_id": principal.subject,
        "inviter_kind": kind,
        "sponsor_id": sponsor_id,
        "level_zero": new.level_zero,
        "first_name": new.first_name,
        "last_name": new.last_name,
        "email": new.email.lower(),
        "phone": new.phone,
        "subject": new.subject,
        "body": new.body,
        **sender,
        "created_at": created_at,
        "expires_at": clock.iso(now + emailed_links.LIFETIMES["invitation"]),
        "gsi1pk": _inviter_partition(org_id, principal.subject),
        "gsi1sk": f"{created_at}#{invitation_id}",
    }

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[1] is not None:
            return Conflict("this address already belongs to a partner of this organisation")
        return Conflict("invitation id collision: retry")

    db.transact(
        [
            db.tx_put(item, condition="attribute_not_exists(pk)"),
            db.tx_check(org_email_key(org_id, new.email), condition="attribute_not_exists(pk)"),
        ],
        on_cancel=_refusal,
        client=client,
    )
    return Invitation.of(item)


def my_invitations(
    org_id: str, principal: Principal, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[Invitation], str | None]:
    """The caller's own invitations in the organisation, newest first (a staff member or a partner)."""
    if member_or_none(principal, org_id, client=client) is None:
        require_partner(principal, org_id, client=client)
    items, next_cursor = listings.query_index(
        listings.IndexKey("gsi1", _inviter_partition(org_id, principal.subject)),
        newest_first=True,
        limit=limit,
        cursor=cursor,
        client=client,
    )
    return Invitation.each(items), next_cursor


def invitation_by_token(token: str, *, client: Any = None) -> tuple[db.Item, db.Item]:
    """The token's record and its invitation, if the token can be used now; else why not (404 unknown,
    409 used or expired)."""
    record = emailed_links.read(token, "invitation", client=client)
    data = record.get("data", {})
    invitation = db.get(invitation_key(data.get("org_id", ""), data.get("invitation_id", "")), client=client)
    if invitation is None:
        raise NotFound("this link is not valid")
    return record, invitation


def invitation_preview(token: str, *, client: Any = None) -> InvitationPreview:
    """The registration form's pre-filled data."""
    record, invitation = invitation_by_token(token, client=client)
    org = get_organisation(invitation["org_id"], client=client)
    return InvitationPreview.of(
        invitation,
        org_name=org["name"],
        level_zero=bool(invitation.get("level_zero")),
        expires_at=record["expires_at"],
    )

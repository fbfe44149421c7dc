"""The programme structure (seed 004): staff joining it, "your partners", moving a partner under another
sponsor, and a participant's own view with their referral link.

Each node keeps its upline (sponsor first, up to the root) and its tree path in gsi2 (ORG#<org>#TREE /
<root>/.../<partnerId>/), so a downline is one prefix query. The structure is separate from the staff
hierarchy (member.superior_id): joining follows the hierarchy once, top-down, and after that neither
moves the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.orgs.access import Member, Permission, Principal, member_key, member_or_none, require_member, user_actor
from common.partners.identity import user_details
from common.partners.partner_caller import PartnerCaller, require_partner
from common.partners.partner_records import (
    MAX_STRUCTURE_DEPTH,
    NODE_HISTORY,
    PartnerStatus,
    account_item,
    account_key,
    history_event,
    node_item,
    node_key,
    org_email_item,
    partner_pk,
    settings_key,
    settings_of,
    tree_partition,
    tree_path,
)
from common.platform import clock, db, history, listings
from common.platform.errors import Conflict, DomainError, Forbidden, MfaRequired, NotFound, invalid
from common.platform.validation import UserRef
from common.programme.invitations import (
    ensure_referral_code,
    new_referral_code,
    referral_link,
    referral_put,
)
from common.programme.structure_views import (
    DownlinePage,
    DownlinePartner,
    Move,
    Node,
    Participant,
    Scope,
    StructureBalancePage,
    StructurePage,
    StructurePartner,
    StructurePartnerWithBalance,
    YourPartners,
)
from common.programme.terms import required_acceptance, terms_changed, terms_check

# One TransactWriteItems holds at most 100 items: a move re-paths the partner and its whole downline in one.
MAX_MOVE_ITEMS = 100
CLOSED_STATUSES = frozenset({PartnerStatus.ENDED.value, PartnerStatus.ARCHIVED.value})


def structure_changed() -> Conflict:
    return Conflict("the programme structure changed meanwhile: retry")


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"accept_terms_version": 1}]})
    accept_terms_version: int | None = Field(None, ge=1, description="the current terms version, when one is published")


class SponsorChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"sponsor_id": "5e2f8a1c-3b7d-4e9f-8c6a-1d4b7e0f2a93"}]}
    )
    sponsor_id: UserRef | None = Field(description="the new sponsor (a partner of the organisation); null: level zero")


# -- placing a new node ----------------------------------------------------------------------------


def placement(sponsor: db.Item | None) -> tuple[str | None, list[str]]:
    """A new node's sponsor id and upline under `sponsor` (None: level zero)."""
    if sponsor is None:
        return None, []
    return sponsor["partner_id"], [sponsor["partner_id"], *sponsor.get("upline", [])]


def sponsor_check(sponsor: db.Item) -> dict[str, Any]:
    """The new node copies its sponsor's upline: the transaction holds only while the sponsor is where it
    was read (not moved, not removed)."""
    return db.tx_check(
        node_key(sponsor["org_id"], sponsor["partner_id"]),
        condition="gsi2sk = :path AND attribute_not_exists(removed_at)",
        values={":path": sponsor["gsi2sk"]},
    )


def node_write(node: db.Item, previous: db.Item | None) -> dict[str, Any]:
    """Put a new node; a node left by an earlier removal is replaced (its history carried over first:
    history.carried, with NODE_HISTORY)."""
    if previous is None:
        return db.tx_put(node, condition="attribute_not_exists(pk)")
    node["version"] = int(previous.get("version", 0)) + 1
    return db.tx_put(node, condition="removed_at = :removed", values={":removed": previous["removed_at"]})


# -- joining ---------------------------------------------------------------------------------------


def _names(details: dict[str, Any], display_name: str | None) -> tuple[str, str]:
    first, last = details.get("first_name") or "", details.get("last_name") or ""
    if first or last:
        return first, last
    parts = (display_name or "").split(maxsplit=1)
    if parts:
        return parts[0], parts[1] if len(parts) > 1 else ""
    return str(details.get("email") or "").split("@")[0], ""


def join(org_id: str, principal: Principal, request: JoinRequest, *, client: Any = None) -> Node:
    """A staff member with programme:join becomes a participant: under their superior's node (the
    superior must have joined first), or at level zero without a superior. Their partner account comes
    from their sign-in details when they have none. One transaction."""
    member = require_member(principal, org_id, Permission.PROGRAMME_JOIN, client=client)
    user_id = member.user_id
    keys = [member_key(org_id, user_id), account_key(user_id), node_key(org_id, user_id), settings_key(org_id)]
    if member.superior_id and member.superior_id != user_id:
        keys.append(node_key(org_id, member.superior_id))
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}

    def item(key: db.Key) -> db.Item | None:
        return found.get((key["pk"], key["sk"]))

    previous = item(node_key(org_id, user_id))
    if previous is not None and not previous.get("removed_at"):
        raise Conflict("you already take part in this organisation's programme")
    superior = item(node_key(org_id, member.superior_id)) if member.superior_id else None
    if member.superior_id and (superior is None or superior.get("removed_at")):
        raise Conflict("your superior must join the programme first, so that the structure can be built top-down")
    terms_version = required_acceptance(settings_of(item(settings_key(org_id))), request.accept_terms_version)

    details = user_details(user_id)
    first_name, last_name = _names(details, (item(member_key(org_id, user_id)) or {}).get("display_name"))
    contact = {"first_name": first_name, "last_name": last_name, "email": details["email"], "phone": details["phone"]}
    sponsor_id, upline = placement(superior)
    code = new_referral_code()
    node = node_item(
        org_id=org_id,
        partner_id=user_id,
        status=PartnerStatus.LIVE,
        origin="joined",
        actor=user_actor(user_id),
        sponsor_id=sponsor_id,
        upline=upline,
        terms_version=terms_version,
        referral_code=code,
        **contact,
    )
    account = item(account_key(user_id))
    if account is None:
        new_account = account_item(partner_id=user_id, email_confirmed=bool(details["email_verified"]), **contact)
        account_write = db.tx_put({**new_account, "password_set": True}, condition="attribute_not_exists(pk)")
    else:
        account_write = db.tx_check(account_key(user_id), condition="attribute_exists(pk)")
    pages = history.carried(NODE_HISTORY, previous, node)
    actions = [
        account_write,
        node_write(node, previous),
        db.tx_put(org_email_item(org_id, details["email"], user_id), condition="attribute_not_exists(pk)"),
        referral_put(code, org_id, user_id),
        terms_check(org_id, terms_version),
        *([sponsor_check(superior)] if superior else []),
        *pages,
    ]
    refusals = [
        Conflict("your partner account changed meanwhile: retry"),
        Conflict("you already take part in this organisation's programme"),
        Conflict("your e-mail address belongs to another partner of this organisation"),
        Conflict("referral code collision: retry"),
        terms_changed(),
        Conflict("your superior's place in the programme changed meanwhile: retry"),
    ]

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        return next(r for f, r in zip(failed, refusals, strict=False) if f is not None)

    db.transact(actions, on_cancel=_refusal, client=client)
    return Node.of(node)


# -- a participant's own view ----------------------------------------------------------------------


def my_view(caller: PartnerCaller, *, client: Any = None) -> Participant:
    node = caller.node
    code = ensure_referral_code(node, client=client)
    sponsor_id = node.get("sponsor_id")
    sponsor = db.get(node_key(caller.org_id, sponsor_id), client=client) if sponsor_id else None
    return Participant.model_validate(
        {
            "org_id": caller.org_id,
            "partner_id": caller.partner_id,
            "status": node["status"],
            "level": node.get("level", len(node.get("upline", []))),
            "upline": node.get("upline", []),
            "sponsor": {"partner_id": sponsor_id, "name": (sponsor or {}).get("name")} if sponsor_id else None,
            "referral_code": code,
            "referral_link": referral_link(code),
            "terms": {
                "current_version": caller.settings.get("current_terms_version"),
                "accepted_version": node.get("terms_version"),
                "accepted_at": node.get("terms_accepted_at"),
            },
        }
    )


# -- "your partners" -------------------------------------------------------------------------------


# A page's balances by partner id (money.ledger.balances: the money package sits above this one).
Balances = Callable[[str, Sequence[str]], dict[str, dict[str, Any]]]


def your_partners(
    org_id: str,
    principal: Principal,
    *,
    balances: Balances,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> YourPartners:
    """A page of "your partners" in tree order: everyone for staff with programme:see_all, else the calling
    participant's downline (without themselves). A partner gets the downline view; staff the structure
    view, with each partner's balance (read with `balances`) only when they hold programme:manage_balances."""
    member = member_or_none(principal, org_id, client=client)
    scope: Scope = "downline"
    if member is not None and member.can(Permission.PROGRAMME_SEE_ALL):
        scope = "all"
        items, next_cursor = listings.query_index(
            listings.IndexKey("gsi2", tree_partition(org_id)), cursor=cursor, limit=limit, client=client
        )
    else:
        items, next_cursor = _downline(org_id, principal, member, cursor, limit, client)
    if member is None:
        return DownlinePage(items=DownlinePartner.each(items), next_cursor=next_cursor, scope="downline")
    if not _sees_balances(member):
        return StructurePage(items=StructurePartner.each(items), next_cursor=next_cursor, scope=scope)
    wallets = balances(org_id, [i["partner_id"] for i in items])
    return StructureBalancePage(
        items=[StructurePartnerWithBalance.of(i, wallet=wallets.get(i["partner_id"])) for i in items],
        next_cursor=next_cursor,
        scope=scope,
    )


def _sees_balances(member: Member) -> bool:
    """Whether the balances column is shown: a view, so a balance manager whose sign-in lacks the MFA the
    permission needs gets the listing without it rather than a refusal (using balances still refuses)."""
    try:
        return member.can(Permission.PROGRAMME_MANAGE_BALANCES)
    except MfaRequired:
        return False


def _downline(
    org_id: str, principal: Principal, member: Member | None, cursor: str | None, limit: int, client: Any
) -> tuple[list[db.Item], str | None]:
    """A page of the calling participant's downline, without themselves."""
    try:
        caller = require_partner(principal, org_id, client=client)
    except NotFound:
        if member is not None:
            raise Forbidden(
                f"join the programme to see your partners, or hold {Permission.PROGRAMME_SEE_ALL.value}"
            ) from None
        raise
    # The caller's own node heads its subtree; a filter (not dropping it from a page) keeps pages full.
    return listings.query_index(
        listings.IndexKey("gsi2", tree_partition(org_id), sort_prefix=caller.node["gsi2sk"]),
        filter_expression="partner_id <> :me",
        filter_values={":me": caller.partner_id},
        cursor=cursor,
        limit=limit,
        client=client,
    )


# -- moving a partner ------------------------------------------------------------------------------


def _subtree(org_id: str, path: str, client: Any) -> list[db.Item]:
    """The nodes whose tree path starts with `path` (the partner and its downline); more than one
    transaction can move is refused."""
    found: list[db.Item] = []
    for items in listings.index_pages(
        listings.IndexKey("gsi2", tree_partition(org_id), sort_prefix=path), limit=MAX_MOVE_ITEMS, client=client
    ):
        found += items
        if len(found) > MAX_MOVE_ITEMS:
            raise Conflict(f"a move re-places at most {MAX_MOVE_ITEMS - 1} partners at once: this downline is larger")
    return found


def _repath(
    org_id: str,
    item: db.Item,
    upline: list[str],
    at: str,
    extra: dict[str, Any] | None = None,
    addition: history.Addition | None = None,
) -> dict[str, Any]:
    sets = ["upline = :upline", "#level = :level", "gsi2sk = :path", "updated_at = :at"]
    values: dict[str, Any] = {
        ":upline": upline,
        ":level": len(upline),
        ":path": tree_path(upline, item["partner_id"]),
        ":at": at,
        ":was": item["gsi2sk"],
        ":one": 1,
    }
    for name, value in (extra or {}).items():
        if value is None:
            continue
        sets.append(f"{name} = :{name}")
        values[f":{name}"] = value
    removes = [name for name, value in (extra or {}).items() if value is None]
    condition = "gsi2sk = :was AND attribute_not_exists(removed_at)"
    if addition is not None:
        sets.append(addition.expression)
        condition += f" AND {addition.condition}"
        values |= addition.values
    return db.tx_update(
        node_key(org_id, item["partner_id"]),
        expression=f"SET {', '.join(sets)}"
        + (f" REMOVE {', '.join(removes)}" if removes else "")
        + " ADD version :one",
        condition=condition,
        names={"#level": "level"},
        values=values,
    )


def move(org_id: str, member: Member, partner_id: str, change: SponsorChange, *, client: Any = None) -> Move:
    """Place a partner under another sponsor (or at level zero) with its whole downline, in one
    transaction: every node of the subtree gets its new upline, level and tree path, each conditioned on
    the path it was read with. The staff hierarchy is not touched."""
    if not member.can(Permission.MANAGE_PARTNERS):
        raise Forbidden(f"missing permission {Permission.MANAGE_PARTNERS.value}")
    sponsor_id = change.sponsor_id
    if sponsor_id == partner_id:
        raise Conflict("a partner cannot be placed under themselves or their own downline")
    keys = [node_key(org_id, partner_id)] + ([node_key(org_id, sponsor_id)] if sponsor_id else [])
    found = {i["pk"]: i for i in db.batch_get(keys, consistent=True, client=client)}
    node = found.get(partner_pk(partner_id))
    if node is None or node.get("removed_at"):
        raise NotFound(f"partner {partner_id} not found")
    sponsor = found.get(partner_pk(sponsor_id)) if sponsor_id else None
    if sponsor_id and (sponsor is None or sponsor.get("removed_at")):
        raise invalid("body.sponsor_id", "is not a partner of this organisation")
    if sponsor is not None and sponsor["status"] in CLOSED_STATUSES:
        raise Conflict("the new sponsor's partnership has ended or is archived")
    if node.get("sponsor_id") == sponsor_id:
        return Move(partner=Node.of(node), moved=0)
    path = node["gsi2sk"]
    if sponsor is not None and sponsor["gsi2sk"].startswith(path):
        raise Conflict("a partner cannot be placed under themselves or their own downline")

    subtree = [node] + [i for i in _subtree(org_id, path, client) if i["partner_id"] != partner_id]
    if len(subtree) + (1 if sponsor else 0) > MAX_MOVE_ITEMS:
        raise Conflict(f"a move re-places at most {MAX_MOVE_ITEMS - 1} partners at once: this downline is larger")
    _, base = placement(sponsor)
    old_upline = list(node.get("upline", []))
    at = clock.now_iso()
    actor = member.actor
    actions: list[dict[str, Any]] = []
    event = history_event("sponsor_changed", actor, sponsor_id=sponsor_id, previous_sponsor_id=node.get("sponsor_id"))
    addition = history.Addition(NODE_HISTORY, [event], node)
    for item in subtree:
        upline = list(item.get("upline", []))
        inside = upline[: len(upline) - len(old_upline)]
        if upline[len(inside) :] != old_upline:
            raise structure_changed()  # the index showed a node not yet re-placed by an earlier move
        new_upline = inside + base
        if len(new_upline) >= MAX_STRUCTURE_DEPTH:
            raise Conflict(f"the programme structure is limited to {MAX_STRUCTURE_DEPTH} levels")
        if item is node:
            actions.append(_repath(org_id, item, new_upline, at, {"sponsor_id": sponsor_id}, addition))
        else:
            actions.append(_repath(org_id, item, new_upline, at))
    if sponsor is not None:
        actions.append(sponsor_check(sponsor))
    actions += addition.pages()
    if len(actions) > MAX_MOVE_ITEMS:
        raise Conflict(f"a move re-places at most {MAX_MOVE_ITEMS - 2} partners at once: this downline is larger")

    def _refusal(_: list[db.Item | None]) -> DomainError:
        return structure_changed()

    db.transact(actions, on_cancel=_refusal, client=client)
    moved = db.get(node_key(org_id, partner_id), consistent=True, client=client) or node
    return Move(partner=Node.of(moved), moved=len(subtree))

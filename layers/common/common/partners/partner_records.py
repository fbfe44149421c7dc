"""The shape of partners in the table, shared by every partner module: keys, index keys, the lifecycle
status rules, and the one form of a partner as the actor of a change. Who a calling partner is lives in
partner_caller.py.

A partner is one account (a Cognito user: the partner id is its `sub`) that can belong to several
organisations. Its membership of one organisation is a *node*: the organisation's record of the partner
(status, brokers, place in the programme structure, last lead). Account and nodes share one partition, so
one query returns a partner with all their organisations.

    account   PARTNER#<partnerId> / ACCOUNT
    node      PARTNER#<partnerId> / ORG#<orgId>
    settings  ORG#<orgId> / PROGRAMME            (portal and programme settings of an organisation)
    e-mail    ORG#<orgId>#EMAIL#<email> / PARTNER (one partner per e-mail address in an organisation)
    follow-up PARTNER#<partnerId>#ORG#<orgId> / CONTACT#..., TASK#..., HISTORY#<first>  (the node's contact
              log, tasks and older history: kept off the node, they grow without bound)

Node index keys (only while the node is in the organisation, i.e. not removed):
    gsi1  ORG#<org>#PARTNERS#<status> / <addedAt>#<partnerId>   list by status, newest first
    gsi2  ORG#<org>#TREE / <root>/.../<partnerId>/              the programme structure: a downline is a
                                                                 prefix, the whole structure the partition
    gsi3  LAPSE#<shard> / <lastLeadAt>#<org>#<partnerId>        only while ACTIVE: the 30-day lapse sweep
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from common.platform import clock, db, history
from common.platform.errors import Conflict

# A structure deeper than this is refused: the tree path must fit a sort key (1024 bytes).
MAX_STRUCTURE_DEPTH = 25
LAPSE_SHARDS = 4
LAPSE_AFTER_DAYS = 30


class PartnerStatus(StrEnum):
    PROSPECT = "PROSPECT"
    PROSPECT_TERMS_SENT = "PROSPECT_TERMS_SENT"
    LIVE = "LIVE"
    ACTIVE = "ACTIVE"
    LAPSED = "LAPSED"
    ENDED = "ENDED"
    ARCHIVED = "ARCHIVED"


S = PartnerStatus
# Statuses staff may set by hand, from each status. ACTIVE and LAPSED follow leads only; ARCHIVED needs a
# reason and is left by restoring (back to the status it was archived from).
MANUAL_TRANSITIONS: dict[PartnerStatus, frozenset[PartnerStatus]] = {
    S.PROSPECT: frozenset({S.LIVE, S.ENDED, S.ARCHIVED}),
    S.PROSPECT_TERMS_SENT: frozenset({S.PROSPECT, S.LIVE, S.ENDED, S.ARCHIVED}),
    S.LIVE: frozenset({S.ENDED, S.ARCHIVED}),
    S.ACTIVE: frozenset({S.ENDED, S.ARCHIVED}),
    S.LAPSED: frozenset({S.ENDED, S.ARCHIVED}),
    S.ENDED: frozenset({S.PROSPECT, S.LIVE, S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}
# A lead or deal credited to a partner in one of these makes them ACTIVE (ENDED and ARCHIVED partners
# are not credited).
LEAD_STATUSES = (S.PROSPECT, S.PROSPECT_TERMS_SENT, S.LIVE, S.ACTIVE, S.LAPSED)


class NotificationType(StrEnum):
    """What a partner can choose to be told by e-mail, among the types their organisation offers."""

    DEAL_SHARED = "deal_shared"
    DEAL_STAGE_CHANGED = "deal_stage_changed"
    NOTE_SHARED = "note_shared"


class TransitionNotAllowed(Conflict):
    code = "status-transition-not-allowed"
    title = "Status change not allowed"


# -- keys ------------------------------------------------------------------------------------------


def partner_pk(partner_id: str) -> str:
    return f"PARTNER#{partner_id}"


def account_key(partner_id: str) -> db.Key:
    return {"pk": partner_pk(partner_id), "sk": "ACCOUNT"}


def node_key(org_id: str, partner_id: str) -> db.Key:
    return {"pk": partner_pk(partner_id), "sk": f"ORG#{org_id}"}


def follow_up_partition(org_id: str, partner_id: str) -> str:
    """Contacts, tasks and older history of one partner in one organisation."""
    return f"PARTNER#{partner_id}#ORG#{org_id}"


# A node's history entries are short but for a status change's reason (up to 4000 characters, 16 KB in
# UTF-8): the node keeps its newest 10, the activity lists the others from pages in its follow-up partition.
NODE_HISTORY = history.Bound(
    "history",
    limit=10,
    keep=5,
    pages_at=lambda node: (follow_up_partition(node["org_id"], node["partner_id"]), "HISTORY#"),
)


def settings_key(org_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}", "sk": "PROGRAMME"}


def org_email_key(org_id: str, email: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#EMAIL#{email.strip().casefold()}", "sk": "PARTNER"}


def status_partition(org_id: str, status: str) -> str:
    """The status index (gsi1) partition listing an organisation's partners of one status."""
    return f"ORG#{org_id}#PARTNERS#{status}"


def status_index(org_id: str, status: str, added_at: str, partner_id: str) -> dict[str, str]:
    return {"gsi1pk": status_partition(org_id, status), "gsi1sk": f"{added_at}#{partner_id}"}


def tree_partition(org_id: str) -> str:
    return f"ORG#{org_id}#TREE"


def tree_path(upline: list[str], partner_id: str) -> str:
    """The node's place in the structure: its ancestors from the root down, then itself, each followed by
    a slash, so that a node's downline is exactly the paths that start with its own (and are longer)."""
    return "".join(f"{p}/" for p in [*reversed(upline), partner_id])


def tree_index(org_id: str, upline: list[str], partner_id: str) -> dict[str, str]:
    return {"gsi2pk": tree_partition(org_id), "gsi2sk": tree_path(upline, partner_id)}


def lapse_shard(shard: int) -> str:
    """One partition of the lapse index (gsi3)."""
    return f"LAPSE#{shard}"


def lapse_partition(partner_id: str) -> str:
    return lapse_shard(sum(partner_id.encode()) % LAPSE_SHARDS)


def lapse_index(org_id: str, partner_id: str, last_lead_at: str) -> dict[str, str]:
    return {"gsi3pk": lapse_partition(partner_id), "gsi3sk": f"{last_lead_at}#{org_id}#{partner_id}"}


INDEX_ATTRIBUTES = ("gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")


# -- items -----------------------------------------------------------------------------------------


def display_name(first_name: str, last_name: str) -> str:
    return f"{first_name} {last_name}".strip()


def partner_actor(partner_id: str) -> str:
    """A partner as the actor of a change: the one form of that string."""
    return f"partner:{partner_id}"


# Who acts when no person does (the daily sweep, a change that names no one).
SYSTEM_ACTOR = "system"


def history_event(action: str, actor: str, **details: Any) -> dict[str, Any]:
    """One entry of a node's activity: what happened, who did it (user:<id>, partner:<id> or system)."""
    return {"at": clock.now_iso(), "action": action, "actor": actor, **{k: v for k, v in details.items() if v}}


def node_item(
    *,
    org_id: str,
    partner_id: str,
    first_name: str,
    last_name: str,
    email: str,
    phone: str | None,
    status: PartnerStatus,
    origin: str,
    actor: str,
    sponsor_id: str | None = None,
    upline: list[str] | None = None,
    brokers: list[str] | None = None,
    terms_version: int | None = None,
    referral_code: str | None = None,
) -> db.Item:
    """A new node. `upline` lists the sponsor first, then the sponsor's sponsor, up to the root
    (empty at level zero). `origin` says how the partner came: added, existing, joined, invitation or
    referral."""
    upline = list(upline or [])
    if len(upline) >= MAX_STRUCTURE_DEPTH:
        raise Conflict(f"the programme structure is limited to {MAX_STRUCTURE_DEPTH} levels")
    at = clock.now_iso()
    return {
        **node_key(org_id, partner_id),
        "entity": "partner_node",
        "org_id": org_id,
        "partner_id": partner_id,
        "first_name": first_name,
        "last_name": last_name,
        "name": display_name(first_name, last_name),
        "email": email,
        "phone": phone,
        "status": status.value,
        "origin": origin,
        "sponsor_id": sponsor_id,
        "upline": upline,
        "level": len(upline),
        "brokers": sorted(set(brokers or [])),
        "terms_version": terms_version,
        "terms_accepted_at": at if terms_version is not None else None,
        "referral_code": referral_code,
        "notifications": [],
        "added_at": at,
        "updated_at": at,
        "version": 1,
        "history": [history_event("added", actor, status=status.value, origin=origin)],
        **status_index(org_id, status.value, at, partner_id),
        **tree_index(org_id, upline, partner_id),
    }


def account_item(
    *,
    partner_id: str,
    first_name: str,
    last_name: str,
    email: str,
    phone: str | None,
    email_confirmed: bool,
) -> db.Item:
    at = clock.now_iso()
    return {
        **account_key(partner_id),
        "entity": "partner_account",
        "partner_id": partner_id,
        "first_name": first_name,
        "last_name": last_name,
        "name": display_name(first_name, last_name),
        "email": email,
        "phone": phone,
        "email_confirmed": email_confirmed,
        "preferences": {"dark_mode": False},
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }


def org_email_item(org_id: str, email: str, partner_id: str) -> db.Item:
    return {**org_email_key(org_id, email), "entity": "partner_email", "org_id": org_id, "partner_id": partner_id}


# Portal and programme settings of an organisation, as they are before anyone saves them.
DEFAULT_SETTINGS: dict[str, Any] = {
    "default_workflow_id": None,
    "partner_added_email": True,
    "deal_shared_email": True,
    "partner_notification_types": [],
    "allowed_sender_domains": [],
    "current_terms_version": None,
}


def settings_of(item: db.Item | None) -> dict[str, Any]:
    stored = item or {}
    return {**DEFAULT_SETTINGS, **{k: v for k, v in stored.items() if k in DEFAULT_SETTINGS or k == "org_id"}}


def record_lead(org_id: str, partner_id: str) -> dict[str, Any]:
    """The node update for the transaction that creates a deal credited to the partner: the deal is their
    latest lead, and makes them ACTIVE (from LIVE, LAPSED or a prospect status); the node joins the lapse
    index with the new date. ENDED or ARCHIVED partners (or removed ones) fail the condition.

    It touches no history: a burst of deals for one busy partner would otherwise contend on the node's
    bounded history list (archiving it every few entries) and be refused. The activity's "lead" entry
    follows from the stream (deals.credited_leads), and concurrent updates of these fields are plain
    transaction conflicts, which db retries."""
    at = clock.now_iso()
    index = lapse_index(org_id, partner_id, at)
    return db.tx_update(
        node_key(org_id, partner_id),
        expression=(
            "SET #status = :active, last_lead_at = :at, updated_at = :at, gsi1pk = :g1pk, "
            "gsi3pk = :g3pk, gsi3sk = :g3sk ADD version :one"
        ),
        condition="#status IN (" + ", ".join(f":s{i}" for i in range(len(LEAD_STATUSES))) + ") "
        "AND attribute_not_exists(removed_at)",
        names={"#status": "status"},
        values={
            ":active": S.ACTIVE.value,
            ":at": at,
            ":g1pk": status_partition(org_id, S.ACTIVE.value),
            ":g3pk": index["gsi3pk"],
            ":g3sk": index["gsi3sk"],
            ":one": 1,
            **{f":s{i}": s.value for i, s in enumerate(LEAD_STATUSES)},
        },
    )


def append_events(org_id: str, partner_id: str, events: list[dict[str, Any]], *, client: Any = None) -> None:
    """Add entries to a node's history and nothing else (a removed partner keeps theirs): read, then
    decided again while racing writes change the history."""
    key = node_key(org_id, partner_id)
    node = db.get(key, consistent=True, client=client)
    if node is None:
        return

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            key,
            addition,
            expression=f"SET {addition.expression}",
            condition=f"attribute_exists(pk) AND {addition.condition}",
            values={},
            on_conflict=Conflict(f"the history of partner {partner_id} changed meanwhile; retry"),
            client=client,
        )

    history.attempt(history.Addition(NODE_HISTORY, events, node), write)

"""What follows partner changes, from the table's stream: the login e-mail, the terms-sent e-mail, and
copying a partner's own details to the records their organisations keep. Records may arrive late, twice
or out of order, so each reaction decides on the items as they are when it runs:

- Login e-mail: when a node first has brokers (a partner assigned to nobody gets nothing), once per node,
  and only if the organisation's "partner added" e-mail is on then: that decision is recorded either way,
  so a later change never sends it. A node removed or left without brokers since gets nothing (a later
  assignment sends). A partner who has not set a password yet gets an activation link (a single-use token
  made here, so only the e-mail carries it).
- Terms e-mail: when a node becomes PROSPECT_TERMS_SENT, once per sending, and only while that sending is
  the node's current state (terms accepted or sent again since: nothing).
- Account details (names, e-mail, phone) changed: each node gets the account's details as they are now,
  never an older image's, and the organisations' e-mail guards move to the new address, in one transaction
  per node conditioned on the account's version as read.
"""

from __future__ import annotations

from typing import Any

from common.orgs.access import org_key
from common.partners.partner_nodes import nodes_of
from common.partners.partner_records import (
    NODE_HISTORY,
    PartnerStatus,
    account_key,
    display_name,
    history_event,
    node_key,
    org_email_item,
    org_email_key,
    partner_actor,
    partner_pk,
    settings_key,
    settings_of,
)
from common.platform import db, emailed_links, history
from common.platform.email import send_email
from common.platform.errors import Conflict
from common.platform.notices import once
from common.platform.observability import logger
from common.platform.settings import Portal, get_settings

S = PartnerStatus
DETAILS = ("first_name", "last_name", "email", "phone")


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    if new is None:
        return
    if new.get("entity") == "partner_node":
        if login_due(old, new):
            send_login(new)
        if terms_due(old, new):
            send_terms(new)
    elif new.get("entity") == "partner_account" and details_changed(old, new):
        copy_details(new)


# -- node e-mails ----------------------------------------------------------------------------------


def login_due(old: db.Item | None, new: db.Item) -> bool:
    was_assigned = bool(old and old.get("entity") == "partner_node" and old.get("brokers"))
    return bool(new.get("brokers")) and not was_assigned and not new.get("removed_at")


def terms_due(old: db.Item | None, new: db.Item) -> bool:
    sent = S.PROSPECT_TERMS_SENT.value
    return new.get("status") == sent and (old or {}).get("status") != sent and not new.get("removed_at")


def _context(node: db.Item, client: Any) -> tuple[dict[str, Any], db.Item | None, db.Item | None, str]:
    """The organisation's settings, the partner's account, the node as it is now, the organisation's name."""
    org_id, partner_id = node["org_id"], node["partner_id"]
    keys = [settings_key(org_id), account_key(partner_id), node_key(org_id, partner_id), org_key(org_id)]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
    settings, account, current, org = (found.get((k["pk"], k["sk"])) for k in keys)
    return settings_of(settings), account, current, (org or {}).get("name", "")


def _sign_in(account: db.Item, node: db.Item, client: Any) -> str:
    """How the partner gets into the portal: an activation link until they have set a password."""
    portal = get_settings(Portal).portal_url
    if account.get("password_set"):
        return f"Sign in to the partner portal with your existing account: {portal}"
    token = emailed_links.issue(
        "activation",
        email=account["email"],
        data={"partner_id": node["partner_id"], "org_id": node["org_id"]},
        client=client,
    )
    link = f"{portal}/activate?token={token}"
    return f"Choose your password to activate your account (the link works once, for 14 days):\n{link}"


def login_message(org_name: str, account: db.Item, node: db.Item, client: Any = None) -> tuple[str, str]:
    subject = f"Your partner portal access for {org_name}"
    body = "\n".join(
        [
            f"Hello {account.get('first_name', '')},",
            "",
            f"{org_name} added you as a partner. In the partner portal you can refer new business and follow it.",
            "",
            _sign_in(account, node, client),
        ]
    )
    return subject, body


def terms_message(org_name: str, account: db.Item, node: db.Item, client: Any = None) -> tuple[str, str]:
    portal = get_settings(Portal).portal_url
    subject = f"{org_name}: the partner programme terms"
    lines = [
        f"Hello {account.get('first_name', '')},",
        "",
        f"{org_name} sent you its partner programme terms (version {node.get('terms_sent_version')}).",
        f"Read and accept them here: {portal}/orgs/{node['org_id']}/terms",
    ]
    if not account.get("password_set"):
        lines += ["", _sign_in(account, node, client)]
    return subject, "\n".join(lines)


def send_login(node: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    """The login e-mail of the node's first broker assignment. Returns whether it was sent now."""
    settings, account, current, org_name = _context(node, client)
    ids = {"org_id": node["org_id"], "partner_id": node["partner_id"]}
    if account is None or current is None or current.get("removed_at") or not current.get("brokers"):
        logger.info("login e-mail not sent: no longer assigned", extra=ids)
        return False
    mailed: list[str] = []

    def _send() -> dict[str, Any]:
        if not settings["partner_added_email"]:
            return {"skipped": "the organisation's partner-added e-mail is off"}
        subject, body = login_message(org_name, account, current, client)
        mailed.append(send_email([account["email"]], subject, body, client=ses))
        return {"message_id": mailed[0]}

    once(partner_pk(node["partner_id"]), f"login:{node['org_id']}", _send, client=client)
    logger.info("login e-mail", extra={**ids, "sent": bool(mailed), "setting_on": settings["partner_added_email"]})
    return bool(mailed)


def send_terms(node: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    """The e-mail of one sending of the terms, while the node still waits for them. Returns whether it was
    sent now."""
    _, account, current, org_name = _context(node, client)
    ids = {"org_id": node["org_id"], "partner_id": node["partner_id"]}
    if account is None or current is None or not terms_due(None, current):
        logger.info("terms e-mail not sent: the node has moved on", extra=ids)
        return False
    if current.get("terms_sent_at") != node.get("terms_sent_at"):
        logger.info("terms e-mail not sent: the terms were sent again since", extra=ids)
        return False

    def _send() -> dict[str, Any]:
        subject, body = terms_message(org_name, account, current, client)
        return {"message_id": send_email([account["email"]], subject, body, client=ses)}

    name = f"terms:{node['org_id']}:{node.get('terms_sent_at', '')}"
    sent = once(partner_pk(node["partner_id"]), name, _send, client=client)
    logger.info("terms e-mail", extra={**ids, "sent": sent})
    return sent


# -- account details to nodes ----------------------------------------------------------------------


def details_changed(old: db.Item | None, new: db.Item) -> bool:
    """The account's details changed. Without the old image, an account past its first version may have."""
    if old is None:
        return int(new.get("version") or 1) > 1
    return any(old.get(k) != new.get(k) for k in DETAILS)


class _Refused(Conflict):
    def __init__(self, failed: list[db.Item | None]) -> None:
        self.position = next(i for i, item in enumerate(failed) if item is not None)
        self.current = failed[self.position]
        super().__init__(f"copy refused at {self.position}")


# Positions in a copy's transaction: the account check, the node, then the guard moves.
_ACCOUNT, _NODE = 0, 1
COPY_ATTEMPTS = 3


def _node_update(node: db.Item, wanted: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Set the details that differ, conditioned on the node's e-mail as read (its guard moves with it) and
    on some detail still differing (another delivery may have copied them meanwhile); and the pages of the
    node's older history when that is full."""
    event = history_event("details_changed", partner_actor(node["partner_id"]), fields=sorted(wanted))
    addition = history.Addition(NODE_HISTORY, [event], node)
    names = {f"#d{i}": k for i, k in enumerate(wanted)}
    values: dict[str, Any] = {":now": event["at"], ":one": 1, ":seen": node["email"], **addition.values}
    sets, removes, differs = [], [], []
    for i, value in enumerate(wanted.values()):
        if value is None:
            removes.append(f"#d{i}")
            differs.append(f"attribute_exists(#d{i})")
        else:
            values[f":d{i}"] = value
            sets.append(f"#d{i} = :d{i}")
            differs += [f"#d{i} <> :d{i}", f"attribute_not_exists(#d{i})"]
    expression = "SET " + ", ".join([*sets, "updated_at = :now", addition.expression])
    expression += (" REMOVE " + ", ".join(removes) if removes else "") + " ADD version :one"
    update = db.tx_update(
        node_key(node["org_id"], node["partner_id"]),
        expression=expression,
        condition=f"attribute_exists(pk) AND email = :seen AND ({' OR '.join(differs)}) AND {addition.condition}",
        names=names,
        values=values,
    )
    return update, addition.pages()


def _guard_moves(node: db.Item, email: str) -> list[dict[str, Any]]:
    """Move the organisation's e-mail guard of this partner from the node's address to `email` (removed
    nodes hold none); refused when another partner of the organisation holds that address."""
    org_id, partner_id = node["org_id"], node["partner_id"]
    if node.get("removed_at") or org_email_key(org_id, node["email"]) == org_email_key(org_id, email):
        return []
    mine = "attribute_not_exists(pk) OR partner_id = :partner"
    return [
        db.tx_delete(org_email_key(org_id, node["email"]), condition=mine, values={":partner": partner_id}),
        db.tx_put(org_email_item(org_id, email, partner_id), condition=mine, values={":partner": partner_id}),
    ]


def _copy_to(node: db.Item, account: db.Item, details: dict[str, Any], client: Any) -> bool:
    """Give the node the account's details where they differ, while the account is still the version read;
    returns whether it wrote. An address another partner of the organisation holds stays behind (the node
    keeps its old one, and its guard). Raises _Refused when the account or the node changed meanwhile."""
    wanted = {k: v for k, v in details.items() if node.get(k) != v}
    moves = _guard_moves(node, details["email"]) if "email" in wanted else []
    check = db.tx_check(account_key(node["partner_id"]), condition="version = :v", values={":v": account["version"]})
    while wanted:
        update, pages = _node_update(node, wanted)
        try:
            db.transact([check, update, *moves, *pages], on_cancel=_Refused, client=client)
            return True
        except _Refused as refused:
            if refused.position == _NODE and all((refused.current or {}).get(k) == v for k, v in wanted.items()):
                return False  # copied by another delivery meanwhile
            if refused.position in (_ACCOUNT, _NODE):
                raise
            logger.warning(
                "e-mail guard not moved: address taken",
                extra={"org_id": node["org_id"], "partner_id": node["partner_id"]},
            )
            wanted.pop("email")
            moves = []
    return False


def copy_details(new: db.Item, *, client: Any = None) -> int:
    """Copy the account's current details to each of the partner's nodes; returns how many nodes changed.
    When the account or a node changes meanwhile, everything is read again."""
    partner_id = new["partner_id"]
    for _ in range(COPY_ATTEMPTS):
        account = db.get(account_key(partner_id), consistent=True, client=client)
        if account is None:
            return 0
        details = {k: account.get(k) for k in DETAILS}
        details["name"] = display_name(account.get("first_name", ""), account.get("last_name", ""))
        changed = 0
        try:
            for node in nodes_of(partner_id, client=client):
                changed += _copy_to(node, account, details, client)
        except _Refused:
            continue
        logger.info("partner details copied", extra={"partner_id": partner_id, "nodes_changed": changed})
        return changed
    raise Conflict(f"partner {partner_id}: the account keeps changing; the record is retried")

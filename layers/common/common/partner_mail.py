"""What follows partner changes, from the table's stream: the login e-mail, the terms-sent e-mail, and
copying a partner's own details to the records their organisations keep.

- Login e-mail: when a node first has brokers (a partner assigned to nobody gets nothing), once per node,
  and only if the organisation's "partner added" e-mail is on. A partner who has not set a password yet
  gets an activation link (a single-use token made here, so only the e-mail carries it).
- Terms e-mail: when a node becomes PROSPECT_TERMS_SENT, once per sending.
- Account details (names, e-mail, phone) changed: each node gets them, and the organisations' e-mail guards
  move to the new address. Every step is conditional, so a redelivered record changes nothing more.
"""

from __future__ import annotations

from typing import Any

from . import access_tokens, db
from .auth import org_key
from .email import send_email
from .errors import Conflict, DomainError
from .notices import once
from .observability import logger
from .partner_model import (
    PartnerStatus,
    account_key,
    display_name,
    history_event,
    node_key,
    org_email_item,
    org_email_key,
    partner_pk,
    settings_key,
    settings_of,
)
from .partners import nodes_of
from .settings import get_settings

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


def _context(node: db.Item, client: Any) -> tuple[dict[str, Any], db.Item | None, str]:
    org_id, partner_id = node["org_id"], node["partner_id"]
    items = db.batch_get([settings_key(org_id), account_key(partner_id), org_key(org_id)], client=client)
    by_sk = {i["sk"]: i for i in items}
    settings = settings_of(by_sk.get("PROGRAMME"))
    return settings, by_sk.get("ACCOUNT"), (by_sk.get("ORG") or {}).get("name", "")


def _sign_in(account: db.Item, node: db.Item, client: Any) -> str:
    """How the partner gets into the portal: an activation link until they have set a password."""
    portal = get_settings().portal_url
    if account.get("password_set"):
        return f"Sign in to the partner portal with your existing account: {portal}"
    token = access_tokens.issue(
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
    portal = get_settings().portal_url
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
    settings, account, org_name = _context(node, client)
    ids = {"org_id": node["org_id"], "partner_id": node["partner_id"]}
    if not settings["partner_added_email"] or account is None:
        logger.info("login e-mail not sent", extra={**ids, "setting_on": settings["partner_added_email"]})
        return False

    def _send() -> dict[str, Any]:
        subject, body = login_message(org_name, account, node, client)
        return {"message_id": send_email([account["email"]], subject, body, client=ses)}

    sent = once(partner_pk(node["partner_id"]), f"login:{node['org_id']}", _send, client=client)
    logger.info("login e-mail", extra={**ids, "sent": sent})
    return sent


def send_terms(node: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    _, account, org_name = _context(node, client)
    if account is None:
        return False

    def _send() -> dict[str, Any]:
        subject, body = terms_message(org_name, account, node, client)
        return {"message_id": send_email([account["email"]], subject, body, client=ses)}

    name = f"terms:{node['org_id']}:{node.get('terms_sent_at', '')}"
    sent = once(partner_pk(node["partner_id"]), name, _send, client=client)
    logger.info("terms e-mail", extra={"org_id": node["org_id"], "partner_id": node["partner_id"], "sent": sent})
    return sent


# -- account details to nodes ----------------------------------------------------------------------


def details_changed(old: db.Item | None, new: db.Item) -> bool:
    return old is not None and any(old.get(k) != new.get(k) for k in DETAILS)


class _GuardTaken(Conflict):
    pass


def _move_guard(node: db.Item, email: str, client: Any) -> bool:
    """Move the organisation's e-mail guard of this partner to `email`; False when another partner of the
    organisation holds that address (then the organisation keeps the old one)."""
    org_id, partner_id = node["org_id"], node["partner_id"]
    if org_email_key(org_id, node["email"]) == org_email_key(org_id, email):
        return True
    mine = "attribute_not_exists(pk) OR partner_id = :partner"

    def _refusal(_: list[db.Item | None]) -> DomainError:
        return _GuardTaken("the address belongs to another partner of the organisation")

    try:
        db.transact(
            [
                db.tx_delete(org_email_key(org_id, node["email"]), condition=mine, values={":partner": partner_id}),
                db.tx_put(org_email_item(org_id, email, partner_id), condition=mine, values={":partner": partner_id}),
            ],
            on_cancel=_refusal,
            client=client,
        )
    except _GuardTaken:
        logger.warning("e-mail guard not moved: address taken", extra={"org_id": org_id, "partner_id": partner_id})
        return False
    return True


def _copy_to(node: db.Item, details: dict[str, Any], client: Any) -> bool:
    """Set the details on the node unless it has them already (a redelivery); returns whether it wrote."""
    event = history_event("details_changed", f"partner:{node['partner_id']}", fields=sorted(details))
    names = {f"#d{i}": k for i, k in enumerate(details)}
    values: dict[str, Any] = {":now": event["at"], ":event": [event], ":one": 1}
    sets, removes, differs = [], [], []
    for i, value in enumerate(details.values()):
        if value is None:
            removes.append(f"#d{i}")
            differs.append(f"attribute_exists(#d{i})")
        else:
            values[f":d{i}"] = value
            sets.append(f"#d{i} = :d{i}")
            differs += [f"#d{i} <> :d{i}", f"attribute_not_exists(#d{i})"]
    expression = "SET " + ", ".join([*sets, "updated_at = :now", "history = list_append(history, :event)"])
    expression += (" REMOVE " + ", ".join(removes) if removes else "") + " ADD version :one"
    try:
        db.update(
            node_key(node["org_id"], node["partner_id"]),
            expression=expression,
            condition=f"attribute_exists(pk) AND ({' OR '.join(differs)})",
            names=names,
            values=values,
            on_conflict=Conflict("already up to date"),
            client=client,
        )
    except Conflict:
        return False
    return True


def copy_details(new: db.Item, *, client: Any = None) -> int:
    """Copy the account's details to each of the partner's nodes; returns how many nodes changed."""
    partner_id = new["partner_id"]
    details = {k: new.get(k) for k in DETAILS}
    details["name"] = display_name(new.get("first_name", ""), new.get("last_name", ""))
    changed = 0
    for node in nodes_of(partner_id, client=client):
        wanted = dict(details)
        if not node.get("removed_at") and not _move_guard(node, new["email"], client):
            wanted.pop("email")
        changed += _copy_to(node, wanted, client)
    logger.info("partner details copied", extra={"partner_id": partner_id, "nodes_changed": changed})
    return changed

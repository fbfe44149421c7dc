"""The deal e-mails partners can choose to get, and the one sent from the stream: a broker shared a deal with
the partner.

A deal-shared e-mail goes out only when all three agree: the organisation's "deal shared" e-mail is on, the
organisation offers the deal_shared notification, and the partner chose it for this organisation. It is
sent once per share (a notice under the deal), also when the stream delivers the share twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import clock, db
from .auth import org_key
from .deals import deal_key
from .email import send_email
from .errors import NotFound, invalid
from .notices import once
from .observability import logger
from .partner_model import NotificationType, PartnerCaller, account_key, node_key, settings_key, settings_of
from .settings import get_settings


class NotificationChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    types: list[NotificationType] = Field(max_length=len(NotificationType))


# -- the partner's choices -----------------------------------------------------------------------


def notification_choices(caller: PartnerCaller) -> dict[str, Any]:
    return {
        "types": list(caller.node.get("notifications") or []),
        "offered": list(caller.settings.get("partner_notification_types") or []),
    }


def set_notifications(caller: PartnerCaller, choice: NotificationChoice, *, client: Any = None) -> dict[str, Any]:
    """Store the partner's choices for this organisation, among the types it offers (422 otherwise)."""
    offered = list(caller.settings.get("partner_notification_types") or [])
    refused = sorted({t.value for t in choice.types if t.value not in offered})
    if refused:
        raise invalid("body.types", f"not offered by this organisation: {', '.join(refused)}")
    types = sorted({t.value for t in choice.types})
    db.update(
        node_key(caller.org_id, caller.partner_id),
        expression="SET notifications = :types, updated_at = :at ADD version :one",
        condition="attribute_exists(pk) AND attribute_not_exists(removed_at)",
        values={":types": types, ":at": clock.now_iso(), ":one": 1},
        on_conflict=NotFound(f"organisation {caller.org_id} not found"),
        client=client,
    )
    return {"types": types, "offered": offered}


def wants(settings: dict[str, Any], node: db.Item | None, kind: NotificationType) -> bool:
    """Whether the organisation offers this notification and the partner (still in it) chose it."""
    if node is None or node.get("removed_at"):
        return False
    return kind.value in (settings.get("partner_notification_types") or []) and kind.value in (
        node.get("notifications") or []
    )


# -- the stream ----------------------------------------------------------------------------------


def shared_by_staff(old: db.Item | None, new: db.Item | None) -> bool:
    """A new share made by a staff user (a partner's own deal is shared with them as they create it)."""
    return (
        old is None
        and new is not None
        and new.get("entity") == "deal_share"
        and str(new.get("shared_by", "")).startswith("user:")
    )


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    if new is not None and shared_by_staff(old, new):
        send_deal_shared(new)


def deal_shared_message(org: db.Item | None, deal: db.Item) -> tuple[str, str]:
    org_name = (org or {}).get("name") or "Your partner organisation"
    link = f"{get_settings().portal_url.rstrip('/')}/orgs/{deal['org_id']}/deals/{deal['deal_id']}"
    subject = f"{org_name} shared a deal with you"
    body = "\n".join(
        [
            f'{org_name} shared the deal "{deal["title"]}" with you in the partner portal.',
            f"Current stage: {deal.get('stage_name', '-')}",
            "",
            f"See it here: {link}",
        ]
    )
    return subject, body


def send_deal_shared(share: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    """E-mail the partner about the share, if the organisation and the partner want it. Returns whether
    an e-mail was sent now."""
    org_id, deal_id, partner_id = share["org_id"], share["deal_id"], share["partner_id"]
    keys = [settings_key(org_id), node_key(org_id, partner_id), account_key(partner_id), deal_key(org_id, deal_id)]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get([*keys, org_key(org_id)], client=client)}

    def item(key: db.Key) -> db.Item | None:
        return found.get((key["pk"], key["sk"]))

    settings = settings_of(item(settings_key(org_id)))
    node, account = item(node_key(org_id, partner_id)), item(account_key(partner_id))
    deal, org = item(deal_key(org_id, deal_id)), item(org_key(org_id))
    due = bool(settings.get("deal_shared_email")) and wants(settings, node, NotificationType.DEAL_SHARED)
    if not due or account is None or not account.get("email") or deal is None:
        logger.info("deal shared notification not wanted", extra={"deal_id": deal_id, "partner_id": partner_id})
        return False
    subject, body = deal_shared_message(org, deal)
    recipient = str(account["email"])
    sent = once(
        share["pk"],
        f"deal-shared#{partner_id}",
        lambda: {"message_id": send_email([recipient], subject, body, client=ses)},
        client=client,
    )
    logger.info("deal shared notification", extra={"deal_id": deal_id, "partner_id": partner_id, "sent": sent})
    return sent

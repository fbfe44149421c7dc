"""The deal e-mails partners can choose to get, sent from the stream: a broker shared a deal with the
partner, a deal shared with them moved to another stage, a staff note on such a deal became visible to them.

Each goes out only when the organisation offers the notification and the partner chose it for this
organisation; a deal-shared e-mail also needs the organisation's "deal shared" e-mail on. Each is sent at
most once (a notice under the deal): per share, per partner and stage change, per partner and note, also
when a record arrives twice or out of order. What the partner is told about is decided on the deal as it is
when the record is handled: a stage change the deal has moved on from since is not mailed (the newer
change's e-mail says where it is), nor a note unshared since. E-mails name the organisation and link to
the deal in the portal;
they carry neither the deal's contacts nor a note's text (a stage-change or note e-mail not even the deal's
title, which defaults to a contact's name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.deals.deal_records import DEAL_ENTITY, STAGE_HISTORY, deal_key
from common.orgs.access import org_key
from common.partners.partner_caller import PartnerCaller
from common.partners.partner_records import (
    NotificationType,
    account_key,
    node_key,
    settings_key,
    settings_of,
)
from common.platform import clock, db
from common.platform.answers import Answer
from common.platform.email import send_email
from common.platform.errors import NotFound, invalid
from common.platform.notices import once
from common.platform.observability import logger
from common.platform.settings import Portal, get_settings


class NotificationChoice(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"types": ["deal_shared", "deal_stage_changed"]}]}
    )
    types: list[NotificationType] = Field(max_length=len(NotificationType))


class NotificationChoices(Answer):
    types: list[NotificationType] = Field(
        description="the e-mails the partner chose, among those offered (a choice of a type the organisation "
        "withdrew is kept and applies again when it offers the type again)"
    )
    offered: list[NotificationType] = Field(description="the e-mails the organisation lets partners choose")


# -- the partner's choices -----------------------------------------------------------------------


def notification_choices(caller: PartnerCaller) -> NotificationChoices:
    """The partner's choices among the types the organisation offers now. A choice of a type it withdrew is
    kept, not shown: it applies again if the type is offered again."""
    offered = list(caller.settings.get("partner_notification_types") or [])
    return NotificationChoices.model_validate(
        {"types": [t for t in caller.node.get("notifications") or [] if t in offered], "offered": offered}
    )


def set_notifications(caller: PartnerCaller, choice: NotificationChoice, *, client: Any = None) -> NotificationChoices:
    """Store the partner's choices for this organisation, among the types it offers (422 naming the others);
    choices of withdrawn types are kept as they were (see notification_choices)."""
    offered = list(caller.settings.get("partner_notification_types") or [])
    refused = sorted({t.value for t in choice.types if t.value not in offered})
    if refused:
        raise invalid("body.types", f"not offered by this organisation: {', '.join(refused)}")
    withdrawn = {t for t in caller.node.get("notifications") or [] if t not in offered}
    types = sorted({t.value for t in choice.types})
    db.update(
        node_key(caller.org_id, caller.partner_id),
        expression="SET notifications = :types, updated_at = :at ADD version :one",
        condition="attribute_exists(pk) AND attribute_not_exists(removed_at)",
        values={":types": sorted({*types, *withdrawn}), ":at": clock.now_iso(), ":one": 1},
        on_conflict=NotFound(f"organisation {caller.org_id} not found"),
        client=client,
    )
    return NotificationChoices.model_validate({"types": types, "offered": offered})


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


def stage_change(old: db.Item | None, new: db.Item | None) -> int | None:
    """The number of the stage change a deal record carries (its place in the stage history; the creation
    at the first stage is 0, no change); None when the record is no stage change (a share, say). Without
    the old image (a change too large to travel with both) the newest change is taken: notices keep it to
    one e-mail."""
    if new is None or new.get("entity") != DEAL_ENTITY:
        return None
    number = STAGE_HISTORY.newest(new)
    if number < 1 or (old is not None and STAGE_HISTORY.newest(old) >= number):
        return None
    return number


def note_shared(old: db.Item | None, new: db.Item | None) -> bool:
    """A staff note became visible to the deal's partners: added shared, or shared later."""
    return (
        new is not None
        and new.get("entity") == "deal_note"
        and new.get("author_kind") == "staff"
        and new.get("shared_with_partners") is True
        and not (old or {}).get("shared_with_partners")
    )


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    if new is None:
        return
    number = stage_change(old, new)
    if shared_by_staff(old, new):
        send_deal_shared(new)
    elif number is not None:
        send_stage_changed(new, number)
    elif note_shared(old, new):
        send_note_shared(new)


def _org_name(org: db.Item | None) -> str:
    return str((org or {}).get("name") or "Your partner organisation")


def _link(org_id: str, deal_id: str) -> str:
    return f"{get_settings(Portal).portal_url.rstrip('/')}/orgs/{org_id}/deals/{deal_id}"


def deal_shared_message(org: db.Item | None, deal: db.Item) -> tuple[str, str]:
    org_name = _org_name(org)
    link = _link(deal["org_id"], deal["deal_id"])
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
    found = _read([*keys, org_key(org_id)], client=client)

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


def stage_changed_message(org: db.Item | None, deal: db.Item, number: int) -> tuple[str, str]:
    """The deal's `number`-th stage change, told from its history (the stage it left and the one it reached)."""
    org_name = _org_name(org)
    left = (STAGE_HISTORY.entry(deal, number - 1) or {}).get("stage_name", "-")
    reached = (STAGE_HISTORY.entry(deal, number) or {}).get("stage_name", deal.get("stage_name", "-"))
    subject = f"{org_name}: a deal shared with you moved to {reached}"
    body = "\n".join(
        [
            f'A deal {org_name} shared with you in the partner portal moved from "{left}" to "{reached}".',
            "",
            f"See it here: {_link(deal['org_id'], deal['deal_id'])}",
        ]
    )
    return subject, body


def note_shared_message(org: db.Item | None, note: db.Item) -> tuple[str, str]:
    org_name = _org_name(org)
    subject = f"{org_name} shared a note on a deal with you"
    body = "\n".join(
        [
            f"{org_name} shared a note with you on a deal in the partner portal.",
            "",
            f"Read it here: {_link(note['org_id'], note['deal_id'])}",
        ]
    )
    return subject, body


def _recipients(
    org_id: str, partner_ids: list[str], kind: NotificationType, found: dict[tuple[str, str], db.Item]
) -> list[tuple[str, str]]:
    """(partner id, e-mail address) of each partner who wants `kind`, from items already read."""
    settings = settings_of(found.get(_pair(settings_key(org_id))))
    chosen = []
    for partner_id in partner_ids:
        node, account = found.get(_pair(node_key(org_id, partner_id))), found.get(_pair(account_key(partner_id)))
        if wants(settings, node, kind) and account is not None and account.get("email"):
            chosen.append((partner_id, str(account["email"])))
    return chosen


def _pair(key: db.Key) -> tuple[str, str]:
    return key["pk"], key["sk"]


def _read(keys: list[db.Key], *, client: Any = None) -> dict[tuple[str, str], db.Item]:
    """Consistent: what is sent is decided on the items as they are now, not on a replica behind them."""
    return {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}


def _partner_keys(org_id: str, partner_ids: list[str]) -> list[db.Key]:
    return [k for p in partner_ids for k in (node_key(org_id, p), account_key(p))]


def _send_each(
    owner_pk: str, name: str, to: list[tuple[str, str]], message: tuple[str, str], *, client: Any, ses: Any
) -> int:
    """One e-mail per partner, each under its own notice `<name>#<partner id>`: a retry after a failure part
    way sends only to those not reached yet. Returns how many were sent now."""
    subject, body = message

    def mail(address: str) -> Callable[[], dict[str, Any]]:
        return lambda: {"message_id": send_email([address], subject, body, client=ses)}

    return sum(once(owner_pk, f"{name}#{partner_id}", mail(address), client=client) for partner_id, address in to)


def send_stage_changed(new: db.Item, number: int, *, client: Any = None, ses: Any = None) -> int:
    """E-mail each partner the deal is shared with who wants stage changes, about its `number`-th stage
    change, unless the deal has changed stage again since (then that newer change is the one to tell). The
    change's number names its notices, so a redelivered record, or another record of the same change,
    finds them. Returns how many were sent now."""
    org_id, deal_id = new["org_id"], new["deal_id"]
    current = db.get(deal_key(org_id, deal_id), consistent=True, client=client)
    ids = {"deal_id": deal_id, "change": number}
    if current is None or STAGE_HISTORY.newest(current) != number:
        logger.info("deal stage changed notifications: the deal has moved on since", extra=ids)
        return 0
    partner_ids = list(dict.fromkeys(current.get("partner_ids") or []))
    if not partner_ids:
        return 0
    found = _read([settings_key(org_id), org_key(org_id), *_partner_keys(org_id, partner_ids)], client=client)
    to = _recipients(org_id, partner_ids, NotificationType.DEAL_STAGE_CHANGED, found)
    message = stage_changed_message(found.get(_pair(org_key(org_id))), current, number)
    sent = _send_each(current["pk"], f"deal-stage-changed#{number}", to, message, client=client, ses=ses)
    logger.info("deal stage changed notifications", extra={**ids, "wanted": len(to), "sent": sent})
    return sent


def send_note_shared(note: db.Item, *, client: Any = None, ses: Any = None) -> int:
    """E-mail each partner of the note's deal who wants shared notes, once per note and partner (sharing a
    note again after unsharing it sends nothing). Returns how many were sent now."""
    org_id, deal_id, note_id = note["org_id"], note["deal_id"], note["note_id"]
    note_at = {"pk": note["pk"], "sk": note["sk"]}
    first = _read([settings_key(org_id), org_key(org_id), deal_key(org_id, deal_id), note_at], client=client)
    settings, deal = settings_of(first.get(_pair(settings_key(org_id)))), first.get(_pair(deal_key(org_id, deal_id)))
    if not (first.get(_pair(note_at)) or {}).get("shared_with_partners"):
        logger.info("note shared notifications: the note was unshared since", extra={"note_id": note_id})
        return 0
    partner_ids = list(dict.fromkeys((deal or {}).get("partner_ids") or []))
    if NotificationType.NOTE_SHARED.value not in (settings.get("partner_notification_types") or []) or not partner_ids:
        logger.info("note shared notifications not wanted", extra={"deal_id": deal_id, "note_id": note_id})
        return 0
    found = {**first, **_read(_partner_keys(org_id, partner_ids), client=client)}
    to = _recipients(org_id, partner_ids, NotificationType.NOTE_SHARED, found)
    message = note_shared_message(found.get(_pair(org_key(org_id))), note)
    sent = _send_each(note["pk"], f"note-shared#{note_id}", to, message, client=client, ses=ses)
    logger.info(
        "note shared notifications",
        extra={"deal_id": deal_id, "note_id": note_id, "wanted": len(to), "sent": sent},
    )
    return sent

"""Duplicate leads: while the organisation refuses them (queue settings `duplicates`), a new lead whose phone
number or e-mail address is that of a lead received within the window (or ever) is refused, 409 naming the
earlier leads, and nothing is written.

    contact guard   ORG#<org>#LEAD_CONTACT#<sha256 of the normalised phone or e-mail> / LEAD_CONTACT
                    leads: the newest lead ids with their receipt times (at most GUARD_KEEPS), latest_at,
                    written (a counter), expiration (TTL: when the newest lead leaves the window)

A new lead updates the guard of its phone and of its e-mail in its own transaction, on the condition that the
guard's newest lead is older than the window, so of two racing duplicates exactly one is written. Guards are
written only while a rule is on: with duplicates always taken (the default) intake writes what it always did.
Keys hold a hash, not the phone or address: key values appear in CloudTrail's data events."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.leads.model import LeadContact
from common.leads.queue_settings import DuplicateRule, QueueSettings
from common.platform import clock, db
from common.platform.errors import Conflict, DomainError
from common.platform.table_schema import TTL_ATTRIBUTE

GUARD_ENTITY = "lead_contact"
GUARD_KEEPS = 10  # the newest leads a guard names: what a refusal lists
_ATTEMPTS = 3


class DuplicateLead(Conflict):
    code = "duplicate-lead"
    title = "A lead with this phone number or e-mail address was received before"

    def __init__(self, lead_ids: Sequence[str]) -> None:
        super().__init__(
            "the organisation does not take a lead with the phone number or e-mail address of these leads",
            conflicting_ids=lead_ids,
        )
        self.lead_ids = list(lead_ids)

    def problem(self, instance: str) -> dict[str, Any]:
        return super().problem(instance) | {"lead_ids": self.lead_ids}


def normalised_phone(phone: str) -> str:
    """Digits only, with the leading + of an international number: "+1 (555) 010-0" is "+15550100"."""
    digits = re.sub(r"\D", "", phone)
    return f"+{digits}" if phone.strip().startswith("+") else digits


def normalised_email(email: str) -> str:
    return email.strip().lower()


def contact_values(contact: LeadContact) -> list[str]:
    values = [normalised_phone(contact.phone) if contact.phone else "", normalised_email(contact.email or "")]
    return list(dict.fromkeys(value for value in values if value))


def guard_key(org_id: str, value: str) -> db.Key:
    digest = hashlib.sha256(value.encode()).hexdigest()
    return {"pk": f"ORG#{org_id}#LEAD_CONTACT#{digest}", "sk": "LEAD_CONTACT"}


def _matches(images: Sequence[db.Item | None], since: str) -> list[str]:
    """The leads the guards name that were received at or after `since`, oldest first, once each."""
    entries = [entry for image in images if image for entry in image.get("leads", []) if entry["at"] >= since]
    return list(dict.fromkeys(entry["lead_id"] for entry in sorted(entries, key=lambda entry: entry["at"])))


def duplicates_of(org_id: str, contact: LeadContact, settings: QueueSettings, *, client: Any = None) -> list[str]:
    """The check a caller asks for before creating a lead: the leads that make this one a duplicate under the rule in
    force (none while duplicates are always taken). One consistent BatchGetItem of its guards."""
    since = settings.duplicates.window_start(clock.now())
    values = contact_values(contact)
    if since is None or not values:
        return []
    return _matches(db.batch_get([guard_key(org_id, v) for v in values], consistent=True, client=client), since)


class _GuardsChanged(Conflict):
    """A guard was full or changed since it was read: written again from its current image."""

    def __init__(self, images: dict[str, db.Item]) -> None:
        super().__init__("the lead's contact guards changed meanwhile")
        self.images = images


@dataclass(frozen=True)
class ContactGuards:
    """The guards one new lead writes with itself."""

    org_id: str
    keys: list[db.Key]
    rule: DuplicateRule
    since: str  # "" under never: every earlier lead counts
    expires: int | None  # epoch seconds: the newest lead leaves the window

    def writes(self, lead_id: str, at: str, seen: dict[str, db.Item]) -> list[dict[str, Any]]:
        return [self._write(key, lead_id, at, seen.get(key["pk"])) for key in self.keys]

    def _write(self, key: db.Key, lead_id: str, at: str, seen: db.Item | None) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":entity": GUARD_ENTITY,
            ":org": self.org_id,
            ":at": at,
            ":one": 1,
            ":zero": 0,
        }
        entry = {"lead_id": lead_id, "at": at}
        sets = "entity = :entity, org_id = :org, latest_at = :at, written = if_not_exists(written, :zero) + :one"
        if seen is None:
            # The usual write: append while there is room, and only if the newest lead is outside the window.
            sets += ", leads = list_append(if_not_exists(leads, :none), :entry)"
            condition = "(attribute_not_exists(leads) OR size(leads) < :keeps) AND "
            condition += "(attribute_not_exists(latest_at) OR latest_at < :since)"
            values |= {":none": [], ":entry": [entry], ":keeps": GUARD_KEEPS, ":since": self.since}
        else:
            # Decided on the image read: keep its newest entries, provided nothing was written since.
            sets += ", leads = :leads"
            condition = "written = :written"
            values |= {":leads": [*seen.get("leads", [])[-(GUARD_KEEPS - 1) :], entry], ":written": seen["written"]}
        expression = f"SET {sets}"
        if self.expires is None:
            expression += f" REMOVE {TTL_ATTRIBUTE}"
        else:
            expression = expression.replace("SET ", f"SET {TTL_ATTRIBUTE} = :expires, ", 1)
            values[":expires"] = self.expires
        return db.tx_update(key, expression=expression, condition=condition, values=values)

    def refusal(self, images: Sequence[db.Item | None]) -> DomainError:
        """Why the guards' writes failed: a duplicate, or guards to write again from their images."""
        matches = _matches(images, self.since)
        if matches:
            return DuplicateLead(matches)
        return _GuardsChanged({key["pk"]: image for key, image in zip(self.keys, images, strict=True) if image})


def guards_for(org_id: str, contact: LeadContact, settings: QueueSettings, now: datetime) -> ContactGuards | None:
    """The guards a new lead writes under the organisation's rule; None while duplicates are always taken."""
    rule = settings.duplicates
    since = rule.window_start(now)
    values = contact_values(contact)
    if since is None or not values:
        return None
    expires = int(now.timestamp()) + rule.days * 86_400 if rule.days else None
    return ContactGuards(org_id, [guard_key(org_id, v) for v in values], rule.allowed, since, expires)


def write_with_guards(
    actions: Sequence[dict[str, Any]],
    guards: ContactGuards | None,
    *,
    lead_id: str,
    at: str,
    on_cancel: db.CancelHandler,
    client: Any = None,
) -> None:
    """One transaction: `actions` (the lead first, then e.g. the external-id guard) and the contact guards.
    A failure of `actions` is `on_cancel`'s to explain and comes first (a company's repost is the lead it
    posted before, not a duplicate); then a guard that names a lead within the window refuses the lead."""
    seen: dict[str, db.Item] = {}
    for _ in range(_ATTEMPTS):
        writes = guards.writes(lead_id, at, seen) if guards else []

        def _explain(failed: list[db.Item | None]) -> DomainError:
            own, contacts = failed[: len(actions)], failed[len(actions) :]
            if any(image is not None for image in own) or guards is None:
                return on_cancel(own)
            return guards.refusal(contacts)

        try:
            db.transact([*actions, *writes], on_cancel=_explain, client=client)
            return
        except _GuardsChanged as changed:
            seen = changed.images
    raise Conflict("leads with this phone number or e-mail address are arriving at the same time; retry")

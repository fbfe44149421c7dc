"""How a partner's activity is answered (lifecycle.activity pages it): the entries of their record's
history, a logged contact among them, one entry model for both kinds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import Field

from common.partners.lifecycle import CONTACT_ACTION, ContactChannel
from common.partners.partner_records import PartnerStatus
from common.platform.answers import Answer, Timestamp


class ActivityEntry(Answer):
    """One entry of a partner's activity: a change of their record (kind history: what happened, who did it
    and the change's details) or a logged contact (kind contact, action contact_logged: `at` is when it
    happened, `recorded_at` when it was logged). The other kind's fields are null."""

    kind: Literal["history", "contact"]
    at: Timestamp
    action: str | None = Field(None, description="history: added, edited, brokers_assigned, status_changed, ...")
    actor: str | None = Field(None, description="history: user:<id>, partner:<id> or system")
    status: PartnerStatus | None = Field(None, description="history: the status after the change")
    previous: PartnerStatus | None = Field(None, description="history: the status before a status change")
    reason: str | None = Field(None, description="history: why the status changed (archiving)")
    origin: str | None = Field(None, description="history (added): how the partner came")
    brokers: list[str] | None = Field(None, description="history (brokers_assigned): the brokers now")
    fields: list[str] | None = Field(None, description="history (edited, details_changed): the fields changed")
    deal_id: str | None = Field(None, description="history (lead): the deal credited to the partner")
    terms_version: int | None = Field(None, description="history: the terms version sent, signed or accepted")
    last_lead_at: Timestamp | None = Field(None, description="history (lapsed): the last lead's time")
    sponsor_id: str | None = Field(None, description="history (sponsor_changed): the new sponsor")
    previous_sponsor_id: str | None = Field(None, description="history (sponsor_changed): the former sponsor")
    contact_id: str | None = Field(None, description="contact: the logged contact")
    channel: ContactChannel | None = None
    summary: str | None = None
    recorded_by: str | None = None
    recorded_at: Timestamp | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        contact = item.get("action") == CONTACT_ACTION
        kind = {"kind": "contact", "recorded_by": item.get("actor")} if contact else {"kind": "history"}
        return super().of(item, **kind, **fields)

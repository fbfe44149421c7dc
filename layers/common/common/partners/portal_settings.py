"""An organisation's partner portal settings (seed 002): the default workflow for deals partners create,
the "partner added" and "deal shared" e-mails, which notification types partners may switch on, and the
domains its partners' invitations may go out from (common.partners.sender_addresses).

They share the settings item (partner_model.settings_key) with the programme's terms version, which is
not theirs to write: saving sets only these fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.orgs import workflows
from common.partners import sender_addresses
from common.partners.partner_records import NotificationType, settings_key, settings_of
from common.platform import clock, db
from common.platform.answers import Answer
from common.platform.errors import DomainError, invalid
from common.platform.settings import SenderDomains, get_settings
from common.platform.validation import Domain, EntityId

SETTINGS_ENTITY = "programme_settings"


class PortalSettings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "default_workflow_id": "01JD8X3Q4T6Y8Z0A2B4C6D8E0F",
                    "partner_added_email": True,
                    "deal_shared_email": True,
                    "partner_notification_types": ["deal_shared", "deal_stage_changed"],
                    "allowed_sender_domains": [],
                }
            ]
        },
    )
    default_workflow_id: EntityId | None = Field(default=None, description="where partners' new deals go")
    partner_added_email: bool = Field(default=True, description="send the login e-mail when a partner is assigned")
    deal_shared_email: bool = Field(default=True, description="tell partners when a deal is shared with them")
    partner_notification_types: list[NotificationType] = Field(
        default_factory=list, max_length=len(NotificationType), description="what partners may choose to be told"
    )
    allowed_sender_domains: list[Domain] = Field(
        default_factory=list,
        max_length=20,
        description="domains whose confirmed addresses partners' invitations may go out from; each one of the "
        "deployment's sender domains (offered_sender_domains). Any other address: the system's, naming the inviter",
    )


class PortalSettingsView(PortalSettings, Answer):
    """The settings as saved (PortalSettings), and what the organisation cannot set here."""

    model_config = Answer.model_config
    org_id: str
    offered_sender_domains: list[str] = Field(description="the deployment's sender domains (read-only)")
    current_terms_version: int | None = Field(description="the programme's terms partners must accept (read-only)")


def get_portal_settings(org_id: str, *, client: Any = None) -> PortalSettingsView:
    return PortalSettingsView.of(
        settings_of(db.get(settings_key(org_id), consistent=True, client=client)),
        org_id=org_id,
        offered_sender_domains=sorted(get_settings(SenderDomains).sender_domain_set),
    )


def put_portal_settings(org_id: str, body: PortalSettings, actor: str, *, client: Any = None) -> PortalSettingsView:
    """Save the portal settings; the default workflow must exist (checked in the same transaction)."""
    saved = {
        "default_workflow_id": body.default_workflow_id,
        "partner_added_email": body.partner_added_email,
        "deal_shared_email": body.deal_shared_email,
        "partner_notification_types": sorted({t.value for t in body.partner_notification_types}),
        "allowed_sender_domains": sender_addresses.allowed_domains(body.allowed_sender_domains),
    }
    sets = [f"{name} = :{name}" for name, value in saved.items() if value is not None]
    removes = [name for name, value in saved.items() if value is None]
    expression = (
        "SET entity = if_not_exists(entity, :entity), org_id = :org, updated_at = :at, updated_by = :by, "
        + ", ".join(sets)
        + (" REMOVE " + ", ".join(removes) if removes else "")
    )
    values = {
        **{f":{name}": value for name, value in saved.items() if value is not None},
        ":entity": SETTINGS_ENTITY,
        ":org": org_id,
        ":at": clock.now_iso(),
        ":by": actor,
    }
    actions = [db.tx_update(settings_key(org_id), expression=expression, values=values)]
    if body.default_workflow_id:
        actions.append(
            db.tx_check(workflows.workflow_key(org_id, body.default_workflow_id), condition="attribute_exists(pk)")
        )

    def _refusal(_: list[db.Item | None]) -> DomainError:
        return invalid("body.default_workflow_id", "no such workflow in this organisation")

    db.transact(actions, on_cancel=_refusal, client=client)
    # Read back for the fields it does not write (the terms version), with what it wrote.
    return PortalSettingsView.of(get_portal_settings(org_id, client=client).model_dump() | saved)

"""What admins send and get back about webhook endpoints (common.integrations.endpoints keeps them): the
request models, with the rules a request alone can be checked against, and the answers. The secret is in
WebhookEndpointWithSecret only, answered on creation and rotation."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.integrations import events
from common.platform.answers import Answer, Timestamp
from common.platform.urls import MAX_URL_LENGTH
from common.platform.validation import MULTI_LINE

MAX_DESCRIPTION_LENGTH = 500
# Subscribes to every event type, those added later included.
ALL_EVENTS = "all"
# An endpoint every delivery of which failed this long is disabled (endpoints.record_health).
DISABLE_AFTER_FAILING = timedelta(days=5)

EndpointUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL_LENGTH, pattern=r"^[\x21-\x7e]+$"),
    Field(description=f"where deliveries are posted: https, at most {MAX_URL_LENGTH:,} characters, a public host"),
]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DESCRIPTION_LENGTH), MULTI_LINE
]
EVENT_TYPE_PATTERN = rf"{events.TYPE_PATTERN}|^{ALL_EVENTS}$"
EventTypeName = Annotated[str, StringConstraints(max_length=events.MAX_TYPE_LENGTH, pattern=EVENT_TYPE_PATTERN)]
EventTypes = Annotated[
    list[EventTypeName],
    Field(
        min_length=1,
        max_length=200,
        description=f'the event types delivered, as the document\'s webhooks name them, or ["{ALL_EVENTS}"] for '
        "every type (those added later included)",
    ),
]


class DisabledReason(StrEnum):
    ADMIN = "admin"  # an admin disabled it
    FAILING = "failing"  # every delivery failed for DISABLE_AFTER_FAILING


class WebhookEndpointPatch(BaseModel):
    """An endpoint's settings; on update only the fields sent are changed (a description can be cleared with
    null). Enabling and disabling have their own routes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"event_types": ["lead.converted", "payout.paid"], "description": "CRM sync (production)"}]
        },
    )
    url: EndpointUrl | None = None
    description: Description | None = None
    event_types: EventTypes | None = None


class NewWebhookEndpoint(WebhookEndpointPatch):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example.com/hooks/partner-programme",
                    "description": "CRM sync",
                    "event_types": ["lead.converted", "deal.stage_changed"],
                    "enabled": True,
                }
            ]
        }
    )
    url: EndpointUrl
    event_types: EventTypes
    enabled: bool = True


class WebhookEndpoint(Answer):
    """A webhook endpoint as admins see it: never its secret."""

    org_id: str
    endpoint_id: str
    url: str
    description: str | None = None
    event_types: list[str] = Field(description=f'the event types delivered; ["{ALL_EVENTS}"]: every type')
    enabled: bool
    disabled_reason: DisabledReason | None = Field(
        None,
        description="why a disabled endpoint is disabled: an admin disabled it, or every delivery failed for "
        f"{DISABLE_AFTER_FAILING.days} days; null while enabled",
    )
    disabled_at: Timestamp | None = None
    failing_since: Timestamp | None = Field(
        None, description="the first of the deliveries that have failed since the last success; null while healthy"
    )
    secret_created_at: Timestamp = Field(description="when the current signing secret was made")
    previous_secret_expires_at: Timestamp | None = Field(
        None, description="until when deliveries are also signed with the secret the last rotation replaced"
    )
    created_at: Timestamp
    updated_at: Timestamp
    updated_by: str


class WebhookEndpointWithSecret(WebhookEndpoint):
    """The endpoint with its signing secret: answered once, when the endpoint is made or its secret rotated."""

    secret: str = Field(
        description="the signing secret (Standard Webhooks: `whsec_` and base64 of 24 random bytes): store it now, "
        "it is never shown again"
    )

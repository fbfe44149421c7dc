"""The events as published: the OpenAPI 3.1 `webhooks` section (one entry per type of the catalogue, and the test
event: the request our deliveries make, its body the envelope with `data` as the type's model) and one JSON
Schema per type.

Both come from the same model per type (`event_model`: common.integrations.events.Event with `type` and
`version` fixed and `data` the type's answer model), generated as the API's answers are (pydantic's JSON Schema
in serialization mode), so the schema of an event's `data` is the schema of the resource's answer, under the
same component name in the served document.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from aws_lambda_powertools.event_handler.openapi.models import Schema
from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from common.integrations import deliveries
from common.integrations.catalogue import EVENT_TYPES, EventType
from common.integrations.endpoints import TEST_EVENT_TYPE
from common.integrations.events import Event

COMPONENT_REF = "#/components/schemas/{model}"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# What every delivery carries (the Standard Webhooks specification's headers), and what the receiver answers.
WEBHOOK_HEADERS = {
    "webhook-id": "the event's id, the same on every attempt and resend of it: deduplicate on it",
    "webhook-timestamp": "when this attempt was signed, in seconds since the epoch: refuse one too far from now",
    "webhook-signature": "space-separated `v1,<base64 of HMAC-SHA256 of id.timestamp.body>`, one per signing "
    "secret (two for 24 hours after a rotation)",
}
DELIVERED = "Received: any 2xx answer within 15 seconds. Anything else, or no answer in time, is retried."
# Sent to one endpoint on request, never subscribed to (so not in the catalogue), but received like the others.
TEST_EVENT = EventType(
    TEST_EVENT_TYPE, deliveries.TEST_EVENT_VERSION, deliveries.TEST_EVENT_DESCRIPTION, deliveries.WebhookTestData
)
# Every type a receiver may get, in the document's order: the catalogue's, then the test event.
PUBLISHED_TYPES: dict[str, EventType] = {**EVENT_TYPES, TEST_EVENT_TYPE: TEST_EVENT}


def model_name(event_type: EventType) -> str:
    """`lead.status_changed` -> `LeadStatusChangedEvent`: the component name of the type's envelope."""
    words = event_type.name.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


@cache
def event_model(event_type: EventType) -> type[BaseModel]:
    """The body of a delivery of this type: the envelope, its type and version fixed, its data the type's model."""
    model: type[BaseModel] = create_model(
        model_name(event_type),
        __base__=Event,
        __doc__=f"`{event_type.name}`, version {event_type.version}: {event_type.description}",
        type=(_only(event_type.name), Field(description="the event's type")),
        version=(_only(event_type.version), Field(description="the version of this type's `data` schema")),
        data=(event_type.model, Field(description=f"the {event_type.resource} as an admin reads it")),
    )
    return model


def _only(value: str | int) -> Any:
    """The type that holds exactly `value` (a JSON Schema `const`)."""
    return Literal[value]


def component_schemas() -> dict[str, Any]:
    """Every type's envelope and the answer models they name, as the document's component schemas."""
    models = [(event_model(t), "serialization") for t in PUBLISHED_TYPES.values()]
    _, definitions = models_json_schema(models, ref_template=COMPONENT_REF)  # type: ignore[arg-type]
    return dict(definitions.get("$defs", {}))


def webhooks() -> dict[str, Any]:
    """The OpenAPI 3.1 `webhooks`: for each type, the POST a subscribed endpoint receives."""
    headers = [
        {"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
        for name, text in WEBHOOK_HEADERS.items()
    ]
    return {
        name: {
            "post": {
                "operationId": f"webhook_{name.replace('.', '_')}",
                "tags": ["Webhooks"],
                "summary": name,
                "description": f"{event_type.description} Version {event_type.version}.",
                "parameters": headers,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": COMPONENT_REF.format(model=model_name(event_type))}}
                    },
                },
                "responses": {"2XX": {"description": DELIVERED}},
            }
        }
        for name, event_type in PUBLISHED_TYPES.items()
    }


def document(title: str, version: str) -> dict[str, Any]:
    """The events' part of the served OpenAPI document (merged with the API functions' parts). Its schemas are
    written out as Powertools writes the API's (its Schema model, nulls left out), so a schema both name (an
    answer model) is the same text in both."""
    schemas = {
        name: Schema.model_validate(schema).model_dump(mode="json", by_alias=True, exclude_none=True)
        for name, schema in component_schemas().items()
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": {},
        "webhooks": webhooks(),
        "components": {"schemas": schemas},
    }


def json_schema(event_type: EventType) -> dict[str, Any]:
    """One type's body as a standalone JSON Schema (2020-12), its models under `$defs`."""
    schema = event_model(event_type).model_json_schema(mode="serialization", schema_generator=GenerateJsonSchema)
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": f"{event_type.name}.v{event_type.version}.json", **schema}


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every type's JSON Schema, by file name (`<type>.v<version>.json`)."""
    return {f"{t.name}.v{t.version}.json": json_schema(t) for t in PUBLISHED_TYPES.values()}

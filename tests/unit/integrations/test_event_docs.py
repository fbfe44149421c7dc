"""The events as published (common.integrations.event_docs): the OpenAPI 3.1 `webhooks` section, one entry per type
whose body is the envelope with `data` the type's answer model, under the same component names and the same
schemas as the API's answers; and the JSON Schema files under docs/events (written by `make event-schemas`),
which must be what the catalogue makes. Every real event of the change tests is checked against its file
(tests/unit/integrations/table_stream.py)."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from common.integrations import event_docs
from common.integrations.catalogue import EVENT_TYPES
from common.integrations.endpoints import TEST_EVENT_TYPE
from common.web import resolver
from jsonschema import Draft202012Validator, ValidationError
from openapi_spec_validator import validate

from local import event_schemas, openapi

API_FUNCTIONS = ("leads", "partners", "referrals", "payouts", "integrations")


@pytest.fixture(scope="module")
def events_document() -> dict[str, Any]:
    return event_docs.document(resolver.API_TITLE, resolver.API_VERSION)


def api_documents() -> list[dict[str, Any]]:
    """The API functions' own documents, as the local stack reads them from their resolvers."""
    return [
        json.loads(
            importlib.import_module(f"{name}.api").app.get_openapi_json_schema(
                title=resolver.API_TITLE, version=resolver.API_VERSION
            )
        )
        for name in API_FUNCTIONS
    ]


def test_the_published_files_are_what_the_catalogue_makes() -> None:
    published = {path.name: path.read_text() for path in event_schemas.SCHEMAS_DIR.glob("*.json")}
    made = {name: event_schemas.text(schema) for name, schema in event_docs.json_schemas().items()}
    assert sorted(published) == sorted(made), "run `make event-schemas`"
    assert [name for name in made if published[name] != made[name]] == [], "run `make event-schemas`"
    assert len(made) == len(EVENT_TYPES) + 1  # and the test event's


def test_every_type_is_a_webhook_whose_body_is_the_envelope_with_its_data(events_document: dict[str, Any]) -> None:
    validate(events_document)  # a valid OpenAPI 3.1 document
    webhooks, schemas = events_document["webhooks"], events_document["components"]["schemas"]
    assert list(webhooks) == [*EVENT_TYPES, TEST_EVENT_TYPE]
    for name, event_type in event_docs.PUBLISHED_TYPES.items():
        operation = webhooks[name]["post"]
        assert [p["name"] for p in operation["parameters"]] == ["webhook-id", "webhook-timestamp", "webhook-signature"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = schemas[ref.rsplit("/", 1)[-1]]
        assert body["properties"]["type"]["const"] == name
        assert body["properties"]["version"]["const"] == event_type.version
        assert body["properties"]["data"]["$ref"] == f"#/components/schemas/{event_type.model.__name__}"
        assert set(body["required"]) == {"id", "type", "version", "org_id", "occurred_at", "data"}
        assert list(operation["responses"]) == ["2XX"]


def test_the_data_schemas_are_the_api_answers_under_their_names(events_document: dict[str, Any]) -> None:
    documents = api_documents()
    answered: dict[str, dict[str, Any]] = {}
    for document in documents:
        answered |= document["components"]["schemas"]
    ours = events_document["components"]["schemas"]
    # Every type's data is a schema the API answers with, and every schema both name is the same schema: the
    # served document merges them without a conflict.
    assert {t.model.__name__ for t in EVENT_TYPES.values()} <= set(answered)
    assert [name for name in ours if name in answered and answered[name] != ours[name]] == []
    merged = openapi.merge([*documents, events_document])
    assert merged["webhooks"] == events_document["webhooks"]


def test_a_body_of_another_type_or_without_its_data_is_refused() -> None:
    converted = event_docs.json_schema(EVENT_TYPES["lead.converted"])
    envelope = {
        "id": "evt_x",
        "type": "lead.received",
        "version": 1,
        "org_id": "01J0000000000000000000000",
        "occurred_at": "2026-11-22T09:00:00.000Z",
        "data": {},
    }
    with pytest.raises(ValidationError):  # another type
        Draft202012Validator(converted).validate(envelope)
    with pytest.raises(ValidationError):  # the lead's fields are missing
        Draft202012Validator(converted).validate({**envelope, "type": "lead.converted"})
    with pytest.raises(ValidationError):
        Draft202012Validator(converted).validate({**envelope, "type": "lead.converted", "version": 2})
    assert converted["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert converted["$id"] == "lead.converted.v1.json"


def test_model_names_are_the_types_in_words() -> None:
    assert event_docs.model_name(EVENT_TYPES["team_customer.status_changed"]) == "TeamCustomerStatusChangedEvent"
    assert len({event_docs.model_name(t) for t in EVENT_TYPES.values()}) == len(EVENT_TYPES)

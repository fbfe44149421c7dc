"""Request bodies through an API function (the leads API): one that cannot be read is refused with a problem
(400, 415 or 422 naming what is wrong) before any route code runs, and nothing is written; a readable one, also
base64-encoded, reaches validation and the route; the document lists those refusals where a body is taken. The
reader itself: tests/unit/web/test_request_body.py."""

from __future__ import annotations

import importlib
import json
from typing import Any

import boto3
import pytest

from tests.support import body_of, invoke
from tests.unit.conftest import TABLE
from tests.unit.web.test_request_body import event, nested


def table_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]  # type: ignore[no-any-return]


def call(made: dict[str, Any]) -> dict[str, Any]:
    return invoke("leads.api.lambda_handler", made)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b'{"name": "\xff"}', "application/json", 400, "body"),
        ('{"name": "Acme"}', "text/plain", 415, "header.content-type"),
        ("<org><name>Acme</name></org>", "application/xml", 415, "header.content-type"),
        ("name=Acme", "application/x-www-form-urlencoded", 415, "header.content-type"),
        ("multipart body", "multipart/form-data", 415, "header.content-type"),
        (nested(1000), "application/json", 400, "body"),
        (nested(1000, "object"), "application/json", 400, "body"),
        ('{"name": ' + "7" * 5000 + "}", "application/json", 422, "body.name"),
        ('{"name": "Acme"', "application/json", 400, "body"),
        ("", "application/json", 422, "body"),  # required, and missing
        ("[1, 2]", "application/json", 422, "body"),  # not an object
        ('"Acme"', "application/json", 422, "body"),
    ],
)
def test_an_unreadable_body_is_a_problem_and_writes_nothing(
    body: str | bytes, content_type: str, status: int, field: str
) -> None:
    before = table_items()
    response = call(event(body, content_type))
    assert response["statusCode"] == status, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in body_of(response)["errors"]}
    assert table_items() == before


def test_a_base64_encoded_json_body_reaches_validation_and_the_route() -> None:
    invalid = call(event(b'{"name": ""}'))
    assert invalid["statusCode"] == 422 and [e["field"] for e in body_of(invalid)["errors"]] == ["body.name"]
    valid = call(event('{"name": "Zoë Security"}'.encode()))
    assert valid["statusCode"] not in (400, 415, 422), valid  # the route decides


def test_a_route_without_a_body_ignores_what_came_along() -> None:
    for body, content_type in ((b"\xff\xfe", "application/json"), ("<x/>", "application/xml"), (nested(1000), None)):
        made = event(body, content_type)
        made["rawPath"] = made["requestContext"]["http"]["path"] = "/orgs"
        made["requestContext"]["http"]["method"] = "GET"
        response = call(made)
        assert response["statusCode"] == 200, response


def test_the_document_lists_the_body_refusals_where_a_body_is_taken() -> None:
    api = importlib.import_module("leads.api")
    document = json.loads(api.app.get_openapi_json_schema())
    create, listing = document["paths"]["/orgs"]["post"], document["paths"]["/orgs"]["get"]
    assert {"400", "415", "422"} <= set(create["responses"])
    assert not {"400", "415"} & set(listing["responses"])
    assert create["responses"]["415"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }

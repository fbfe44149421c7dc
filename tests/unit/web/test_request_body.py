"""Request bodies that cannot be read are refused with a problem (400, 415 or 422 naming what is wrong)
before any route code runs, and nothing is written; readable ones, also base64-encoded, pass."""

from __future__ import annotations

import base64
import importlib
import json
from typing import Any

import boto3
import pytest
from common.platform.errors import DomainError, InvalidInput
from common.web import request_body

from tests.support import FakeContext, body_of, http_event
from tests.unit.conftest import TABLE

ADMIN = "user-admin"


def event(body: str | bytes | None, content_type: str | None = "application/json", **extra: Any) -> dict[str, Any]:
    """A POST /orgs event with this body: bytes go base64-encoded, as API Gateway sends what is not text."""
    made = http_event("POST", "/orgs", user=ADMIN)
    if isinstance(body, bytes):
        made["body"], made["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        made["body"], made["isBase64Encoded"] = body, False
    made["headers"].pop("content-type", None)
    if content_type is not None:
        made["headers"]["Content-Type"] = content_type
    return made | extra


def refused(body: str | bytes | None, content_type: str | None = "application/json") -> DomainError:
    with pytest.raises(DomainError) as caught:
        request_body.json_value(event(body, content_type))
    return caught.value


def nested(depth: int, kind: str = "array") -> str:
    opening, closing = ("[", "]") if kind == "array" else ('{"a":', "}")
    return opening * depth + "1" + closing * depth


# -- the reader ---------------------------------------------------------------------------------------


def test_a_json_object_is_read_plain_or_base64_encoded() -> None:
    text = '{"name": "Zoë", "n": -12, "x": 1.5, "list": [true, null]}'
    expected = {"name": "Zoë", "n": -12, "x": 1.5, "list": [True, None]}
    assert request_body.json_value(event(text)) == expected
    assert request_body.json_value(event(text.encode())) == expected
    assert request_body.json_value(event(text, "Application/JSON; charset=utf-8")) == expected
    assert request_body.json_value(event(text, None)) == expected  # no Content-Type: taken as JSON


def test_no_body_is_none_whatever_its_content_type() -> None:
    assert request_body.json_value(event(None)) is None
    assert request_body.json_value(event("", "text/plain")) is None


def test_duplicate_keys_are_accepted_the_last_winning() -> None:
    assert request_body.json_value(event('{"name": "a", "name": "b"}')) == {"name": "b"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_another_media_type_is_415_naming_the_header(content_type: str) -> None:
    error = refused('{"name": "x"}', content_type)
    assert error.status == 415 and error.code == "unsupported-media-type"
    assert [(e.field, e.message) for e in error.errors] == [("header.content-type", "must be application/json")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"name": "\xff\xfe"}', "not valid UTF-8 (byte 10)"),
        (b"\xc3\x28", "not valid UTF-8 (byte 0)"),
        ("{not json", "not JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
        ('{"name": "a\x00b"}', "not JSON: Invalid control character (line 1, column 12)"),
        ("   ", "not JSON: Expecting value (line 1, column 4)"),
        ('{"n": NaN}', "not JSON: NaN is not a JSON value"),
        ('{"n": -Infinity}', "not JSON: -Infinity is not a JSON value"),
        (nested(1000), "nested deeper than 32 levels"),
        (nested(1000, "object"), "nested deeper than 32 levels"),
        (nested(33), "nested deeper than 32 levels"),
        (nested(5000, "object"), "nested deeper than 32 levels"),
    ],
)
def test_unreadable_bytes_are_400_naming_the_body(body: str | bytes, reason: str) -> None:
    error = refused(body)
    assert (error.status, error.code) == (400, "malformed-body")
    assert [(e.field, e.message) for e in error.errors] == [("body", reason)]


def test_thirty_two_levels_are_read() -> None:
    assert request_body.json_value(event(nested(32)))


def test_a_body_marked_base64_that_is_not_is_400() -> None:
    made = event('{"name": "x"}')
    made["isBase64Encoded"] = True
    with pytest.raises(DomainError) as caught:
        request_body.json_value(made)
    assert caught.value.status == 400 and caught.value.errors[0].message == "not valid base64"


def test_numbers_dynamodb_cannot_store_are_422_naming_each_field() -> None:
    body = json.dumps({"name": "x", "a": {"b": [1, 2]}}).replace("2]", "9" * 5000 + "]")
    body = body.replace('"x"', "-" + "1" * 39).removesuffix("}") + ', "f": 1e999}'
    error = refused(body)
    assert isinstance(error, InvalidInput) and error.status == 422
    assert {e.field for e in error.errors} == {"body.name", "body.a.b.1", "body.f"}
    assert {e.message for e in error.errors} == {"number out of range: more than 38 digits"}
    assert request_body.json_value(event('{"n": ' + "9" * 38 + ', "m": -1e37}')) == {"n": 10**38 - 1, "m": -1e37}


def test_strings_that_are_not_unicode_text_are_422() -> None:
    error = refused('{"name": "\\ud800", "ok": "\\ud83d\\ude00"}')
    assert error.status == 422 and [e.field for e in error.errors] == ["body.name"]
    plain = event('{"name": "x"}')
    plain["body"] = '{"name": "\ud800"}'  # a lone surrogate in the event's text itself
    with pytest.raises(DomainError) as caught:
        request_body.json_value(plain)
    assert caught.value.status == 400


def test_form_bodies_are_read_as_forms() -> None:
    form = event("To=%2B1555&Body=YES", "application/x-www-form-urlencoded")
    assert request_body.refusal(form, request_body.FORM_MEDIA_TYPE) is None
    assert request_body.refusal(event(b"Body=\xff"), request_body.FORM_MEDIA_TYPE) is not None
    answer = request_body.refusal(event('{"Body": "YES"}'), request_body.FORM_MEDIA_TYPE)
    assert answer is not None and answer["statusCode"] == 415
    assert answer["headers"] == {"Content-Type": "application/problem+json"}
    problem = json.loads(answer["body"])
    assert problem["type"] == "/problems/unsupported-media-type" and problem["instance"] == "/orgs"
    assert problem["errors"] == [{"field": "header.content-type", "message": f"must be {request_body.FORM_MEDIA_TYPE}"}]


# -- through an API function --------------------------------------------------------------------------


def table_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]  # type: ignore[no-any-return]


def call(made: dict[str, Any]) -> dict[str, Any]:
    api = importlib.import_module("leads.api")
    return api.lambda_handler(made, FakeContext())  # type: ignore[no-any-return]


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

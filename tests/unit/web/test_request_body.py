"""The request body reader (common.web.request_body): a body that cannot be read is a problem (400, 415 or 422
naming what is wrong); a readable one, also base64-encoded, is read. Through an API function, before any route
code runs: tests/unit/functions/leads/test_request_body.py."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from common.platform.errors import DomainError, InvalidInput
from common.web import request_body

from tests.support import http_event

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

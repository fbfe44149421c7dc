"""Malformed request bodies against every operation of the served OpenAPI document, and Twilio's webhook:
never a server error, every refusal problem+json, and a body that cannot be read changes nothing.

Operations that take a body refuse each of these with 400, 415 or 422 naming the body (or the content
type); operations without one ignore whatever came along and answer as they would without it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from tests.integration.support.actors import Organisation, new_organisation

pytestmark = pytest.mark.integration

UNKNOWN_ID = "01JD0000000000000000000000"  # a well-formed id of nothing
HUGE = 1024 * 1024  # characters: far over DynamoDB's 400 KB item, under API Gateway's 10 MB payload
WEBHOOK_PATHS = ("/twilio/sms", "/twilio/status")
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Malformed:
    name: str
    content_type: str
    body: Callable[[list[str]], bytes]  # from the names of the body's string fields ([] when unknown)


def _fields(names: list[str], value: str) -> bytes:
    return ("{" + ", ".join(f'"{name}": {value}' for name in names or ["value"]) + "}").encode()


MALFORMED = [
    Malformed("bad UTF-8", JSON_TYPE, lambda names: b'{"' + (names or ["value"])[0].encode() + b'": "\xff\xfe"}'),
    Malformed("text/plain", "text/plain", lambda names: _fields(names, '"x"')),
    Malformed("application/xml", "application/xml", lambda names: b"<body><value>x</value></body>"),
    Malformed("1000-deep array", JSON_TYPE, lambda names: b"[" * 1000 + b"]" * 1000),
    Malformed("1000-deep object", JSON_TYPE, lambda names: b'{"a": ' * 1000 + b"1" + b"}" * 1000),
    Malformed("5000-digit integer", JSON_TYPE, lambda names: _fields(names, "9" * 5000)),
    Malformed("huge string", JSON_TYPE, lambda names: _fields(names[:1], json.dumps("x" * HUGE))),
    Malformed("raw null byte", JSON_TYPE, lambda names: _fields(names, '"a\x00b"')),
    Malformed("escaped null character", JSON_TYPE, lambda names: _fields(names, '"a\\u0000b"')),
]
# A well-formed body, sent where none is taken (a GET with a body, a POST of a command without one).
UNEXPECTED = Malformed("unexpected JSON body", JSON_TYPE, lambda names: b'{"name": "x"}')


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@pytest.fixture(scope="module")
def document(stack: LocalStack) -> dict[str, Any]:
    served = requests.get(f"{stack.url}/openapi.json", timeout=30)
    assert served.status_code == 200
    return served.json()  # type: ignore[no-any-return]


def _operations(document: dict[str, Any]) -> list[Operation]:
    methods = ("get", "put", "post", "delete", "patch")
    found = [
        Operation(method.upper(), path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        # Form bodies (Twilio's webhooks) have their own test below.
        if method in methods and JSON_TYPE in spec.get("requestBody", {}).get("content", {JSON_TYPE: {}})
    ]
    assert found
    return found


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _string_fields(document: dict[str, Any], operation: Operation) -> list[str]:
    """The names of the body's string fields (or of all its fields when none is a plain string)."""
    content = operation.spec["requestBody"]["content"][JSON_TYPE]
    properties = _schema(document, content["schema"]).get("properties", {})
    strings = [name for name, field in properties.items() if _schema(document, field).get("type") == "string"]
    return strings or list(properties)


def _aimed(operation: Operation, org: Organisation) -> str:
    """The path, aimed at the real organisation and company; other parameters name nothing that exists."""
    path = operation.path.replace("{org_id}", org.org_id).replace("{company_id}", org.company_id)
    for parameter in operation.spec.get("parameters", []):
        if parameter.get("in") == "path":
            path = path.replace("{" + parameter["name"] + "}", UNKNOWN_ID)
    return path


def _send(org: Organisation, operation: Operation, malformed: Malformed, names: list[str]) -> requests.Response:
    return org.admin.call(
        operation.method,
        _aimed(operation, org),
        data=malformed.body(names),
        headers={"Content-Type": malformed.content_type},
    )


def _table(stack: LocalStack) -> list[str]:
    """Every item of the table, once every change so far has reached its consumers."""
    stack.wait_for_streams()
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.table_name, ConsistentRead=True)
    return sorted(json.dumps(item, sort_keys=True) for page in pages for item in page["Items"])


def _content_type(response: requests.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0]


def _fields_named(response: requests.Response) -> set[str]:
    return {str(error.get("field")) for error in response.json().get("errors") or []}


@pytest.fixture(scope="module")
def body_org(stack: LocalStack) -> Organisation:
    return new_organisation(stack, reps=1)


@pytest.fixture
def org(stack: LocalStack) -> Organisation:
    return new_organisation(stack, reps=1)


def test_the_document_has_operations_with_and_without_bodies(document: dict[str, Any]) -> None:
    operations = _operations(document)
    with_body = [op for op in operations if "requestBody" in op.spec]
    assert with_body and len(with_body) < len(operations)
    for operation in with_body:
        assert {"400", "415"} <= set(operation.spec["responses"]), operation.label


def test_a_malformed_body_is_refused_by_every_operation_that_takes_one_and_writes_nothing(
    stack: LocalStack, document: dict[str, Any], body_org: Organisation
) -> None:
    before = _table(stack)
    failures = []
    for operation in (op for op in _operations(document) if "requestBody" in op.spec):
        names = _string_fields(document, operation)
        for malformed in MALFORMED:
            response = _send(body_org, operation, malformed, names)
            named = _fields_named(response) if _content_type(response) == "application/problem+json" else set()
            if not (
                response.status_code in (400, 415, 422)
                and _content_type(response) == "application/problem+json"
                and any(field == "header.content-type" or field.startswith("body") for field in named)
            ):
                failures.append((operation.label, malformed.name, response.status_code, response.text[:300]))
    assert not failures, failures
    assert _table(stack) == before


def test_operations_without_a_body_ignore_one_and_never_fail(
    stack: LocalStack, document: dict[str, Any], org: Organisation
) -> None:
    failures = []
    for operation in (op for op in _operations(document) if "requestBody" not in op.spec):
        for malformed in [*MALFORMED, UNEXPECTED]:
            response = _send(org, operation, malformed, [])
            if response.status_code >= 500 or (
                response.status_code >= 400 and _content_type(response) != "application/problem+json"
            ):
                failures.append((operation.label, malformed.name, response.status_code, response.text[:300]))
    assert not failures, failures


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_the_twilio_webhook_refuses_what_is_not_form_data_and_writes_nothing(stack: LocalStack, path: str) -> None:
    before = _table(stack)
    answers = {}
    for malformed in [*MALFORMED, UNEXPECTED]:
        response = requests.post(
            stack.url + path, data=malformed.body([]), headers={"Content-Type": malformed.content_type}, timeout=30
        )
        assert _content_type(response) == "application/problem+json", (malformed.name, response.text[:300])
        answers[malformed.name] = response.status_code
    assert set(answers.values()) == {415}, answers  # every one of them is a JSON or XML body
    undecodable = requests.post(stack.url + path, data=b"Body=\xff", headers={"Content-Type": FORM_TYPE}, timeout=30)
    assert undecodable.status_code == 400 and _fields_named(undecodable) == {"body"}
    # Readable form data goes on to the signature check (unsigned here: refused there).
    unsigned = requests.post(stack.url + path, data={"Body": "HELP"}, timeout=30)
    assert unsigned.status_code == 403 and _content_type(unsigned) == "application/problem+json"
    assert _table(stack) == before

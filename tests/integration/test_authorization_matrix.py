"""Every operation of the served OpenAPI document, called by every kind of caller, gets the answer its
access policy gives that kind (authorization_matrix.ACCESS): 401 without a valid token, 403 or 404 for a
caller the policy leaves out, a 2xx for one it lets in. The requests aim at real resources of a real
organisation (authorization_world) with valid bodies, so a refusal is the authorization's. An operation
of the document without an entry fails, and so does an entry without an operation; the routes served
without a token outside /public (Twilio's webhooks) are tried as well."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from infra.manifest import ROUTES
from tests.integration.support.authorization_matrix import ACCESS, ALLOWED, Answer, Entry, Kind
from tests.integration.support.authorization_world import World, build_world

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def world(stack: Any) -> World:
    return build_world(stack)


@pytest.fixture(scope="module")
def operations(stack: Any) -> dict[str, dict[str, Any]]:
    """The served document's operations, keyed "METHOD /path"."""
    document = requests.get(f"{stack.url}/openapi.json", timeout=30).json()
    return {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if method in METHODS
    }


def test_every_operation_has_one_entry_and_every_entry_an_operation(operations: dict[str, Any]) -> None:
    assert sorted(set(operations) - set(ACCESS)) == [], "operations of the document without an entry in ACCESS"
    assert sorted(set(ACCESS) - set(operations)) == [], "entries of ACCESS without an operation in the document"


def test_every_route_of_one_operation_is_documented(operations: dict[str, Any]) -> None:
    # The other routes send a whole subtree to a function (ANY, {proxy+}): its operations are documented.
    def shape(operation: str) -> str:  # the manifest and the document may name parameters differently
        return re.sub(r"{[^}]+}", "{}", operation)

    served = {shape(f"{r.method} {r.path}") for r in ROUTES if r.method != "ANY" and not r.path.endswith("+}")}
    assert sorted(served - {shape(operation) for operation in operations}) == []


def test_an_entry_sends_a_body_exactly_when_its_operation_takes_one(operations: dict[str, Any]) -> None:
    takes = {name for name, operation in operations.items() if "requestBody" in operation}
    sends = {name for name, entry in ACCESS.items() if entry.body is not None}
    assert sorted(takes - sends) == [], "operations that take a body, sent none"
    assert sorted(sends - takes) == [], "entries that send a body their operation does not take"


def _path(template: str, entry: Entry, world: World) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(getattr(world, entry.params.get(m[1], m[1]))), template)


def _call(url: str, method: str, token: str | None, body: Any, *, form: bool) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if form:
        return requests.request(method, url, headers=headers, data=body, timeout=30)
    return requests.request(method, url, headers=headers, json=body, timeout=30)


def _matches(expected: Answer, status: int) -> bool:
    return 200 <= status < 300 if expected == ALLOWED else status == expected


@pytest.mark.parametrize("operation", list(ACCESS))
def test_each_kind_of_caller_gets_the_answer_of_the_operations_policy(
    operation: str, world: World, operations: dict[str, Any]
) -> None:
    if operation in ACCESS and operation not in operations:
        pytest.skip("not in the served document (the completeness test fails for it)")
    entry = ACCESS[operation]
    method, template = operation.split(" ", 1)
    url = world.stack.url + _path(template, entry, world)
    body = entry.body(world) if callable(entry.body) else entry.body  # one body for every caller
    answers = entry.policy.answers
    # The callers refused first: a refusal writes nothing, so the allowed callers find the resource as set up.
    kinds = sorted(answers, key=lambda kind: answers[kind] == ALLOWED)
    got: dict[Kind, requests.Response] = {}
    for kind in kinds:
        token = world.token(kind, entry.policy.holder, entry.actors.get(kind))
        got[kind] = _call(url, method, token, body, form=entry.form)
    if entry.after is not None:
        entry.after(world)
    wrong = [
        f"  {kind.value}: expected {answers[kind]}, got {got[kind].status_code} {got[kind].text[:200]}"
        for kind in kinds
        if not _matches(answers[kind], got[kind].status_code)
    ]
    assert not wrong, f"{operation} ({entry.policy.name}):\n" + "\n".join(wrong)

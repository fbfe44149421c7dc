"""Helpers shared by the unit tests: API Gateway and SQS events built from the real samples under tests/events/,
and the functions' handlers called in-process with them."""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from common.orgs.access import OPERATORS_GROUP
from common.platform import db

from infra import manifest

EVENTS = Path(__file__).parent / "events"
# What a user in the deployment's operators' group (who may create organisations) brings in their token.
OPERATOR = (OPERATORS_GROUP,)


def core_modules() -> list[ModuleType]:
    """Every module of the common layer's domain packages, imported."""
    import common

    found = pkgutil.walk_packages(common.__path__, "common.")
    return [importlib.import_module(info.name) for info in found if not info.ispkg]


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@dataclass
class FakeContext:
    function_name: str = "LeadsApi"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:LeadsApi"
    aws_request_id: str = "4f7b2a3c-1111-4222-8333-944455556666"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def http_event(
    method: str,
    path: str,
    *,
    user: str | None = None,
    machine: str | None = None,
    scope: str = "leads/write",
    groups: tuple[str, ...] = (),
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API v2 event as API Gateway sends it after the token authorizer ran: its context for a
    portal user (with the Cognito `groups` their token carries), or for a partner company's
    client-credentials token. `headers` (lower-case names, as API Gateway passes them) come on top of the
    sample's."""
    event = copy.deepcopy(load_event("http_api_v2_request.json"))
    event["headers"] |= headers or {}
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = urlencode(query or {})
    event["queryStringParameters"] = query or None
    event["body"] = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    if user is not None:
        event["requestContext"]["authorizer"]["lambda"] |= {"sub": user, "groups": " ".join(groups)}
    elif machine is not None:
        event["requestContext"]["authorizer"] = {
            "lambda": {"kind": "machine", "client_id": machine, "sub": machine, "scope": scope}
        }
    else:
        event["requestContext"].pop("authorizer")
    return event


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def stream_record(
    event_name: str, new: dict[str, Any], old: dict[str, Any] | None = None, seq: int = 1
) -> dict[str, Any]:
    """A table stream record shaped like the real sample (NEW_AND_OLD_IMAGES), carrying the given item images
    (the old one only when given) and `seq` as its sequence number."""
    sample = copy.deepcopy(load_event("dynamodb_stream_lead_insert.json")["Records"][0])
    sample["eventName"] = event_name
    sample["eventID"] = f"event-{seq}"
    change = sample["dynamodb"]
    change["Keys"] = db.serialize({"pk": new["pk"], "sk": new["sk"]})
    change["NewImage"] = db.serialize(new)
    change["SequenceNumber"] = f"{seq:024d}"
    if old is None:
        change.pop("OldImage", None)
    else:
        change["OldImage"] = db.serialize(old)
    return sample


def queued(*records: dict[str, Any], receive_count: int = 1) -> dict[str, Any]:
    """An SQS event, shaped like the real sample, of the stream records as the dispatcher sends them (one
    record per message). Each message id is its record's sequence number, so a test reads batchItemFailures
    as the records that failed."""
    sample = load_event("sqs_change_message.json")["Records"][0]
    messages = []
    for record in records:
        message = copy.deepcopy(sample)
        message["messageId"] = str(record["dynamodb"]["SequenceNumber"])
        message["body"] = json.dumps(record)
        message["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        messages.append(message)
    return {"Records": messages}


# A function called in-process: call(method, path, **http_event's keywords) answers as API Gateway would get it.
Call = Callable[..., dict[str, Any]]


def invoke(handler: str, event: dict[str, Any]) -> dict[str, Any]:
    """The answer of the deployed function whose entry point is `handler` (as infra.manifest names it, e.g.
    "leads.api.lambda_handler") to `event`, called in-process with that function's name in its context. The
    module is imported on the first call, inside the test's mocks and settings."""
    (function,) = [f for f in manifest.FUNCTIONS if f.handler == handler]
    module, attribute = handler.rsplit(".", 1)
    answer: dict[str, Any] = getattr(importlib.import_module(module), attribute)(event, FakeContext(function.name))
    return answer


def api_caller(function: str, **defaults: Any) -> Call:
    """Calls the API of `function` (its folder under functions/: "leads", "partners", "referrals", "payouts")
    with the event http_event makes; `defaults` are http_event keywords each call gets unless it names them."""

    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return invoke(f"{function}.api.lambda_handler", http_event(method, path, **(defaults | kwargs)))

    return call


def queue_consumer(function: str) -> Callable[..., dict[str, Any]]:
    """Hands stream records to the queue consumer of `function` ("leads", "partners", ...) as the SQS
    messages the dispatcher sends: consume(*records, receive_count=1) answers its batchItemFailures."""

    def consume(*records: dict[str, Any], receive_count: int = 1) -> dict[str, Any]:
        return invoke(f"{function}.events.lambda_handler", queued(*records, receive_count=receive_count))

    return consume

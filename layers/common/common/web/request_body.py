"""Request bodies as the HTTP functions read them, refused with a problem before any route code runs.

API Gateway hands a body over as text, or base64-encoded (`isBase64Encoded`) when it is not UTF-8 text or
of a binary media type. The API routes take JSON objects: a body of another media type is 415; bytes that
are not base64, not UTF-8 or not JSON (NaN and Infinity included), or nest deeper than MAX_DEPTH are 400;
a number DynamoDB could not store, or a string that is not Unicode text, is 422 naming the field. So
nothing a client sends makes a function fail, and nothing unreadable reaches the domain. Duplicate keys
are accepted, the last one winning (as JSON parsers commonly do). Twilio's webhook takes form data: the
same decoding, with its media type.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from common.platform.errors import DomainError, FieldError, InvalidInput, problem_answer, request_path

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# Our request models nest a few levels; anything far deeper is an attack on the parser, not data.
MAX_DEPTH = 32
# DynamoDB numbers keep 38 significant digits; a larger number would fail the write, not the request.
MAX_DIGITS = 38
MAX_MAGNITUDE = 10**MAX_DIGITS
# At most this many fields are named in one refusal, and each name part is cut to this length.
MAX_NAMED = 10
MAX_NAME_PART = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


class MalformedBody(DomainError):
    status, code, title = 400, "malformed-body", "The request body cannot be read"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class _OutOfRange:
    """Stands for a number too large while parsing, so that the walk after it can name its field."""


_OUT_OF_RANGE = _OutOfRange()


def _malformed(reason: str) -> MalformedBody:
    return MalformedBody(f"the body is {reason}", errors=[FieldError("body", reason)])


def media_type(event: Mapping[str, Any]) -> str | None:
    """The Content-Type's media type, lower-cased and without parameters; None when not given."""
    headers = event.get("headers") or {}
    value = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    return value.split(";", 1)[0].strip().lower() or None


def text(event: Mapping[str, Any], accepted: str) -> str | None:
    """The body as text, base64-decoded where API Gateway encoded it; None when there is none. A body of
    another media type than `accepted` is refused (none given is taken as `accepted`)."""
    body = event.get("body")
    if not body:
        return None
    body = str(body)
    given = media_type(event)
    if given is not None and given != accepted:
        raise UnsupportedMediaType(
            f"the body must be {accepted}", errors=[FieldError("header.content-type", f"must be {accepted}")]
        )
    if not event.get("isBase64Encoded"):
        if not body.isascii() and _SURROGATE.search(body):
            raise _malformed("not valid UTF-8")
        return body
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed("not valid base64") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _malformed(f"not valid UTF-8 (byte {error.start})") from None


def _integer(digits: str) -> int | _OutOfRange:
    # Checked before converting: Python refuses to convert more than 4,300 digits, with a ValueError.
    return _OUT_OF_RANGE if len(digits.lstrip("-")) > MAX_DIGITS else int(digits)


def _decimal(literal: str) -> float | _OutOfRange:
    number = float(literal)
    return number if math.isfinite(number) and abs(number) < MAX_MAGNITUDE else _OUT_OF_RANGE


def _constant(name: str) -> Any:
    raise _malformed(f"not JSON: {name} is not a JSON value")


def _name(path: tuple[str | int, ...]) -> str:
    return ".".join(["body", *(str(part)[:MAX_NAME_PART] for part in path)])


def _check(value: Any) -> None:
    """Walks the parsed value without recursion: depth, numbers out of range, strings with lone surrogates
    (JSON's \\ud800 escapes make them; they are not text and cannot be stored)."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    wrong: list[FieldError] = []
    while pending and len(wrong) < MAX_NAMED:
        item, path = pending.pop()
        if isinstance(item, dict | list) and len(path) >= MAX_DEPTH:
            raise _malformed(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, member in item.items():
                if not key.isascii() and _SURROGATE.search(key):
                    wrong.append(FieldError(_name(path), "a field name is not Unicode text (lone surrogate)"))
                pending.append((member, (*path, key)))
        elif isinstance(item, list):
            pending.extend((member, (*path, index)) for index, member in enumerate(item))
        elif item is _OUT_OF_RANGE:
            wrong.append(FieldError(_name(path), f"number out of range: more than {MAX_DIGITS} digits"))
        elif isinstance(item, str) and not item.isascii() and _SURROGATE.search(item):
            wrong.append(FieldError(_name(path), "not Unicode text (lone surrogate)"))
    if wrong:
        names = ", ".join(sorted({e.field for e in wrong}))
        raise InvalidInput(f"invalid fields: {names}", errors=wrong)


def json_value(event: Mapping[str, Any]) -> Any:
    """The body's JSON value, None when there is no body."""
    source = text(event, JSON_MEDIA_TYPE)
    if source is None:
        return None
    try:
        value = json.loads(source, parse_int=_integer, parse_float=_decimal, parse_constant=_constant)
    except json.JSONDecodeError as error:
        raise _malformed(
            f"not JSON: {error.msg.removesuffix(' at')} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise _malformed(f"nested deeper than {MAX_DEPTH} levels") from None
    _check(value)
    return value


def refusal(event: Mapping[str, Any], accepted: str) -> dict[str, Any] | None:
    """The answer (payload 2.0) to a request whose body cannot be read as `accepted`; None when it can."""
    try:
        text(event, accepted)
    except DomainError as refused:
        return problem_answer(refused.problem(request_path(event)))
    return None

"""Each answer is typed once: every route declares what it answers as its return type (an answer model of the
domain, a Page of one, or Response[...] of one), the document's success schema is exactly that type, and no
model is defined in an adapter for the document's sake."""

from __future__ import annotations

import ast
import importlib
import json
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from infra.constants import FUNCTIONS_DIR, REPO_ROOT

API_MODULES = ("leads.api", "partners.api", "referrals.api", "payouts.api", "integrations.api")
# Bodies that are not JSON: the route documents their media type itself (CSV exports, a statement's PDF).
TEXT_MEDIA_TYPES = {"text/csv", "application/pdf"}


def routes(module_name: str) -> Iterator[Any]:
    app = importlib.import_module(module_name).app
    yield from app._static_routes
    yield from app._dynamic_routes


def all_routes() -> list[tuple[str, Any]]:
    return [(name, route) for name in API_MODULES for route in routes(name)]


def label(route: Any) -> str:
    return f"{route.method} {route.openapi_path}"


def answer_type(route: Any) -> Any:
    """The route's declared answer: Response[T] and tuple[T, int] stand for T."""
    declared = typing.get_type_hints(route.func, include_extras=False).get("return")
    origin = typing.get_origin(declared)
    if origin is Response or (isinstance(origin, type) and issubclass(origin, Response)):
        (declared,) = typing.get_args(declared)
    elif origin is tuple:
        declared = typing.get_args(declared)[0]
    return declared


def answer_models(declared: Any) -> list[type[BaseModel]] | None:
    """The models a declared answer is made of, or None when it is not made of answer models."""
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return [declared]
    if typing.get_origin(declared) in (typing.Union, types.UnionType):
        members = [answer_models(arm) for arm in typing.get_args(declared)]
        return None if any(m is None for m in members) else [m for ms in members if ms for m in ms]
    return None


@pytest.fixture
def documents() -> dict[str, dict[str, Any]]:
    # Imported inside the test: the unit conftest has set the functions' environment (and mocked AWS) by then.
    return {
        name: json.loads(importlib.import_module(name).app.get_openapi_json_schema(title="t", version="1"))
        for name in API_MODULES
    }


def successes(document: dict[str, Any], route: Any) -> dict[str, Any]:
    operation = document["paths"][route.openapi_path][route.method.lower()]
    return {status: answer for status, answer in operation["responses"].items() if status.startswith("2")}


def test_every_route_declares_an_answer_model(documents: dict[str, dict[str, Any]]) -> None:
    untyped = []
    for name, route in all_routes():
        answers = successes(documents[name], route)
        if set(answers) == {"204"}:
            continue
        media = {media for answer in answers.values() for media in (answer.get("content") or {})}
        if media <= TEXT_MEDIA_TYPES:
            continue
        if answer_models(answer_type(route)) is None:
            untyped.append(label(route))
    assert not untyped, f"routes without an answer model: {untyped}"


def _schema_names(schema: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return {schema["$ref"].rsplit("/", 1)[-1]}
    return {name for arm in schema.get("anyOf", []) for name in _schema_names(arm)}


def test_every_success_schema_is_the_routes_return_type(documents: dict[str, dict[str, Any]]) -> None:
    for name, route in all_routes():
        models = answer_models(answer_type(route))
        if models is None:
            continue
        for status, answer in successes(documents[name], route).items():
            if status == "204":  # no content (a claim with nothing ready)
                assert not answer.get("content"), label(route)
                continue
            schema = answer["content"]["application/json"]["schema"]
            assert _schema_names(schema) == {m.__name__ for m in models}, (label(route), status)


def test_routes_describe_no_success_body_themselves() -> None:
    # A success's body comes from the return type; a route saying it again could say something else.
    for _, route in all_routes():
        for status, answer in (route.responses or {}).items():
            if 200 <= int(status) < 300:
                content = dict(answer.get("content") or {})
                # A route with CSV or PDF alternatives names its JSON answer by its return type, nothing else.
                json_answer = content.pop("application/json", None)
                assert json_answer in (None, {"model": answer_type(route)}), (label(route), status)
                assert set(content) <= TEXT_MEDIA_TYPES, (label(route), status)


def _model_names() -> set[str]:
    """The names of every pydantic model of the core, and pydantic's own base."""
    from tests.support import core_modules

    names = {"BaseModel"}
    for module in core_modules():
        names |= {
            name for name, value in vars(module).items() if isinstance(value, type) and issubclass(value, BaseModel)
        }
    return names


def _base_name(base: ast.expr) -> str:
    while isinstance(base, ast.Subscript):
        base = base.value
    return base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")


def defined_models(source: str, known: set[str]) -> list[str]:
    """Classes of a module that are pydantic models: a base is a known model (by its name, through import
    aliases) or a model defined above it in the module."""
    tree = ast.parse(source)
    aliases = {
        alias.asname: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname
    }
    models: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {aliases.get(name, name) for name in map(_base_name, node.bases)}
            if bases & (known | set(models)):
                models.append(node.name)
    return models


def test_the_model_finder_sees_through_aliases_and_local_bases() -> None:
    source = "from x import Open as _Open\nclass A(_Open): ...\nclass B(A): ...\nclass C(Exception): ..."
    assert defined_models(source, {"Open"}) == ["A", "B"]


def test_adapters_define_no_answer_models() -> None:
    known = _model_names()
    found = {
        str(path.relative_to(REPO_ROOT)): models
        for path in sorted(FUNCTIONS_DIR.rglob("*.py"))
        if (models := defined_models(path.read_text(), known))
    }
    assert not found, f"models defined in adapters (they belong beside the domain code): {found}"

"""Every request body shows an example in the Swagger UI that the API accepts: each body model of every
route carries at least one example, and each example validates against its own model (a pattern-made
sample would look like gibberish and an example the API refuses would mislead)."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

API_MODULES = ("leads.api", "partners.api", "referrals.api", "payouts.api", "integrations.api")


def body_models() -> dict[str, type[BaseModel]]:
    """The body model of every route that takes one, by route."""
    found: dict[str, type[BaseModel]] = {}
    for module in API_MODULES:
        app = importlib.import_module(module).app
        for route in [*app._static_routes, *app._dynamic_routes]:
            for param in route.dependant.body_params:
                model = param.type_
                if isinstance(model, type) and issubclass(model, BaseModel):
                    found[f"{route.method} {route.openapi_path}"] = model
    return found


def examples_of(model: type[BaseModel]) -> list[Any]:
    extra = model.model_config.get("json_schema_extra")
    return list(extra.get("examples", [])) if isinstance(extra, dict) else []


def test_routes_take_bodies_the_check_can_see() -> None:
    assert len(body_models()) > 40  # the finder works: most writes take a body


def test_every_request_body_has_an_example() -> None:
    assert {route: model.__name__ for route, model in body_models().items() if not examples_of(model)} == {}


def test_every_example_is_accepted_by_its_model() -> None:
    for model in set(body_models().values()):
        for example in examples_of(model):
            model.model_validate(example)


def test_the_document_shows_the_examples() -> None:
    api = importlib.import_module("payouts.api")
    schemas = api.app.get_openapi_schema().components.schemas
    assert schemas["NewPayoutRequest"].examples

"""The functions and routes the local stack serves: the manifest's, and the throwaway ones tests add and remove
at run time. The gateway routes by them; the API document is read from the API functions once per change."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from infra.manifest import Function, Route
from local import openapi, worker
from local.invoker import Invoker


class ServedFunctions:
    def __init__(self, functions: Iterable[Function], routes: Iterable[Route]) -> None:
        self.functions = {f.name: f for f in functions}
        self.routes = list(routes)
        self._lock = threading.Lock()
        self._api_document: dict[str, Any] | None = None

    def check_routes(self) -> None:
        _check_routes(self.routes, self.functions)

    def add(self, function: Function, routes: Iterable[Route] = ()) -> None:
        routes = list(routes)
        with self._lock:
            if function.name in self.functions:
                raise ValueError(f"a function named {function.name} already exists")
            self.functions[function.name] = function
            self._api_document = None
            _check_routes(routes, self.functions)
            self.routes += routes

    def remove(self, function_name: str) -> Function:
        with self._lock:
            function = self.functions.pop(function_name)
            self._api_document = None
            self.routes = [r for r in self.routes if r.function != function_name]
        return function

    def api_document(self, invoker: Invoker) -> dict[str, Any]:
        """The API functions' OpenAPI documents and the events' (the webhooks section) merged, read from their
        resolvers in a worker (where the handler modules are imported with the functions' environment)."""
        if self._api_document is None:
            documents = [
                invoker.call(worker.openapi_document, f.handler) for f in self.functions.values() if f.kind == "api"
            ]
            documents.append(invoker.call(worker.events_document))
            self._api_document = openapi.merge(json.loads(d) for d in documents if d)
        return self._api_document


def _check_routes(routes: Iterable[Route], functions: Mapping[str, Function]) -> None:
    for route in routes:
        if route.function not in functions:
            raise ValueError(f"route {route.method} {route.path} names unknown function {route.function}")

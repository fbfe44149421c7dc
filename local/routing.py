"""Route selection as API Gateway HTTP APIs do it: the most specific matching route wins.

`{name}` matches one segment, a trailing `{name+}` the rest of the path (one segment or more). Among
matches, a route without a greedy variable beats one with it, then more literal segments win, then a
specific method beats ANY. An ANY route matches every method; the gateway's routes
(infra.manifest.gateway_routes) give each one an OPTIONS twin without an authorizer, as deployed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from infra.manifest import Route


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    method: str
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        """As API Gateway names the matched route in the event: an ANY route's key says ANY."""
        return f"{self.route.method} {self.route.path}"


def _segments(path: str) -> list[str]:
    return path.split("/")[1:] if path.startswith("/") else path.split("/")


def match_path(template: str, path: str) -> dict[str, str] | None:
    """Path parameters if `path` (raw, percent-encoded) fits the route path `template`, else None."""
    wanted, given = _segments(template), _segments(path)
    parameters: dict[str, str] = {}
    for position, pattern in enumerate(wanted):
        if pattern.startswith("{") and pattern.endswith("+}"):
            rest = given[position:]
            if position != len(wanted) - 1 or not rest or not rest[0]:
                return None
            parameters[pattern[1:-2]] = unquote("/".join(rest))
            return parameters
        if position >= len(given):
            return None
        segment = given[position]
        if pattern.startswith("{") and pattern.endswith("}"):
            if not segment:
                return None
            parameters[pattern[1:-1]] = unquote(segment)
        elif unquote(segment) != pattern:
            return None
    return parameters if len(given) == len(wanted) else None


def _specificity(route: Route) -> tuple[bool, int, int, bool]:
    segments = _segments(route.path)
    literals = sum(1 for s in segments if not s.startswith("{"))
    return (not route.path.endswith("+}"), literals, len(segments), route.method != "ANY")


def match_route(routes: Iterable[Route], method: str, path: str) -> RouteMatch | None:
    method = method.upper()
    candidates = []
    for route in routes:
        if route.method not in ("ANY", method):
            continue
        parameters = match_path(route.path, path)
        if parameters is not None:
            candidates.append(RouteMatch(route, method, parameters))
    return max(candidates, key=lambda m: _specificity(m.route), default=None)

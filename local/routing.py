"""Route selection as API Gateway HTTP APIs do it: the most specific matching route wins.

`{name}` matches one segment, a trailing `{name+}` the rest of the path (one segment or more). Among
matches, a route without a greedy variable beats one with it, then more literal segments win, then a
specific method beats ANY.

The deployment turns the manifest's "ANY" into one route per method of ANY_METHODS (infra/api.py: an ANY
route would also catch CORS preflights), so the route key names the method and HEAD/OPTIONS match nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from infra.manifest import Route

# The methods infra/api.py deploys for a manifest route of method "ANY".
ANY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    method: str
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.route.path}"


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
        if method not in (ANY_METHODS if route.method == "ANY" else (route.method,)):
            continue
        parameters = match_path(route.path, path)
        if parameters is not None:
            candidates.append(RouteMatch(route, method, parameters))
    return max(candidates, key=lambda m: _specificity(m.route), default=None)

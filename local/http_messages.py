"""The HTTP request and response the front passes around, independent of the server that parsed them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # raw, percent-encoded, without the query
    query: str  # raw query string, without "?"
    headers: list[tuple[str, str]]  # as received, repeats kept, in order
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        values = [v for k, v in self.headers if k.lower() == wanted]
        return ",".join(values) if values else None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", errors="replace"), keep_blank_values=True))


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # Which function answered, for the request log ("" when the front answered itself).
    function: str = ""
    # What the request log may show of the path; "" for only its first segment (local.front).
    logged_path: str = ""


def json_response(status: int, value: Any, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(status, [("Content-Type", content_type)], json.dumps(value).encode())


def message_response(status: int, message: str) -> HttpResponse:
    """API Gateway's own error bodies: {"message": "Unauthorized"} and the like."""
    return json_response(status, {"message": message})

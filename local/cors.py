"""The HTTP API's CORS configuration, applied as API Gateway applies it: preflights are answered by the
gateway itself, and responses to allowed origins get the allow-origin header."""

from __future__ import annotations

from dataclasses import dataclass

from infra import constants
from local.http_messages import HttpRequest, HttpResponse

# As infra/api.py configures the deployed API.
MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class Cors:
    allowed_origins: tuple[str, ...] = (constants.DEV_PORTAL_ORIGIN,)

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and (origin in self.allowed_origins or "*" in self.allowed_origins)

    @staticmethod
    def is_preflight(request: HttpRequest) -> bool:
        return (
            request.method == "OPTIONS"
            and bool(request.header("origin"))
            and bool(request.header("access-control-request-method"))
        )

    def preflight(self, request: HttpRequest) -> HttpResponse:
        origin = request.header("origin")
        if not self.allows(origin):
            return HttpResponse(204)
        return HttpResponse(
            204,
            [
                ("Access-Control-Allow-Origin", str(origin)),
                ("Access-Control-Allow-Methods", ",".join(constants.CORS_ALLOWED_METHODS)),
                ("Access-Control-Allow-Headers", ",".join(h.lower() for h in constants.CORS_ALLOWED_HEADERS)),
                ("Access-Control-Max-Age", str(MAX_AGE_SECONDS)),
                ("Vary", "Origin"),
            ],
        )

    def decorate(self, request: HttpRequest, response: HttpResponse) -> None:
        origin = request.header("origin")
        if self.allows(origin):
            response.headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
            response.headers += [
                ("Access-Control-Allow-Origin", str(origin)),
                ("Access-Control-Expose-Headers", ", ".join(constants.CORS_EXPOSED_HEADERS)),
                ("Vary", "Origin"),
            ]

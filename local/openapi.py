"""The API's OpenAPI document for the local stack, and the Swagger UI page that shows it.

The document comes from the API functions' own Powertools resolvers; the stack adds its server URL and
the security of each operation. The token authorizer lets both kinds of token through on every "token"
route and the function decides what each may do, so the document states what the function accepts:
a partner company's client-credentials token (from the stack's token endpoint) on lead intake only, a
portal user's token everywhere else.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from infra.manifest import LEAD_INTAKE_SCOPE, Route
from local.project import NODE_MODULES
from local.routing import match_route

SWAGGER_UI_DIR = NODE_MODULES / "swagger-ui-dist"
SWAGGER_UI_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui-standalone-preset.js": "application/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
USER_SCHEME = "userToken"
PARTNER_SCHEME = "partnerCredentials"
# The only operation a partner company's token may call.
PARTNER_OPERATIONS = {("post", "/orgs/{org_id}/partner-companies/{company_id}/leads")}
# The gateway's own refusals on token routes, before any function runs (local/gateway.py does the same).
GATEWAY_REFUSALS = {
    "401": 'no Authorization header, {"message": "Unauthorized"}',
    "403": "the token authorizer refused the token (malformed, expired or not issued to this API), "
    '{"message": "Forbidden"}',
}
GATEWAY_REFUSAL = "GatewayRefusal"
GATEWAY_REFUSAL_SCHEMA = {
    "type": "object",
    "description": "API Gateway's own body for a request it refused before any function ran",
    "properties": {"message": {"type": "string", "examples": ["Unauthorized", "Forbidden"]}},
    "required": ["message"],
}


class DocumentConflict(ValueError):
    """Two functions' documents define one component or operation differently: merged, one would hide the
    other, and the published document would describe the wrong body."""


def merge(documents: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One document for several API functions (and the events' webhooks): paths, webhooks and component
    schemas side by side. A component name or an operation defined differently by two documents is refused
    (DocumentConflict)."""
    merged: dict[str, Any] = {}
    for document in documents:
        if not merged:
            merged = copy.deepcopy(document)
            continue
        for section in ("paths", "webhooks"):
            if section not in document:
                continue
            items = merged.setdefault(section, {})
            for path, item in document[section].items():
                for method, operation in item.items():
                    known = items.setdefault(path, {}).setdefault(method, operation)
                    if known != operation:
                        raise DocumentConflict(f"{method.upper()} {path} is documented twice, differently")
        schemas = merged.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if schemas.setdefault(name, schema) != schema:
                raise DocumentConflict(f"two different schemas are named {name}: give one a distinctive name")
    return merged


def decorate(document: dict[str, Any], *, server_url: str, token_url: str, routes: Iterable[Route]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    routes = list(routes)
    document["servers"] = [{"url": server_url, "description": "local stack"}]
    document.setdefault("info", {})["description"] = authorising(token_url)
    schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[USER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Access or ID token of a portal user (Cognito): `make -s token ARGS=<e-mail>` prints one",
    }
    schemes[PARTNER_SCHEME] = {
        "type": "oauth2",
        "description": "Partner company's client credentials: for posting its leads only",
        "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": {LEAD_INTAKE_SCOPE: "Post leads"}}},
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            match = match_route(routes, method.upper(), path) if method in _METHODS else None
            if match is None:
                continue
            if match.route.auth == "none":
                operation["security"] = []  # reached without a token
                continue
            partner = (method, path) in PARTNER_OPERATIONS
            operation["security"] = [{PARTNER_SCHEME: [LEAD_INTAKE_SCOPE]} if partner else {USER_SCHEME: []}]
            _document_gateway_refusals(operation.setdefault("responses", {}))
    document["components"].setdefault("schemas", {})[GATEWAY_REFUSAL] = GATEWAY_REFUSAL_SCHEMA
    return document


def authorising(token_url: str) -> str:
    """How to call the API from this page: where a token comes from, and what each kind of caller uses."""
    credentials = "POST /orgs/{org_id}/partner-companies/{company_id}/credentials"
    return "\n".join(
        [
            "The partner programme's HTTP API. Every route outside `/public` and `/twilio` needs a bearer token:",
            "choose **Authorize** and paste one.",
            "",
            "- **A portal user** (staff, partners, team members): their Cognito access token. With `make dev`",
            "  running, `make -s token ARGS=<e-mail>` prints a fresh one for a demo user (`make dev` prints the",
            "  demo users and their password), and `source .local/demo.env` sets `ADMIN_TOKEN`, `REP1_TOKEN`,",
            "  `PARTNER_TOKEN` and the rest. Deployed, the portal signs users in with Cognito (docs/deploy.md).",
            "- **A partner company's system** (posting leads only): the OAuth client-credentials grant at",
            f"  `{token_url}`, with the credentials `{credentials}` issued;",
            '  `make -s token ARGS="--client-id ID --client-secret SECRET"` does the exchange.',
            "",
            "Tokens last an hour. Refusals are `application/problem+json` (RFC 9457) naming what is wrong.",
        ]
    )


def _document_gateway_refusals(responses: dict[str, Any]) -> None:
    """API Gateway answers 401 and 403 itself on a route behind the token authorizer, with its own body
    (HTTP APIs cannot reshape it): listed beside the function's problem for the same status."""
    for status, cause in GATEWAY_REFUSALS.items():
        response = responses.setdefault(status, {"description": "", "content": {}})
        response["description"] = f"{response['description']}; or from the gateway: {cause}".lstrip("; ")
        content = response.setdefault("content", {})
        content["application/json"] = {"schema": {"$ref": f"#/components/schemas/{GATEWAY_REFUSAL}"}}


def swagger_page(openapi_url: str, assets_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Partner programme API (local)</title>
  <link rel="stylesheet" href="{assets_url}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{assets_url}/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets_url}/swagger-ui-bundle.js"></script>
  <script src="{assets_url}/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "{openapi_url}",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    }});
  </script>
</body>
</html>
"""

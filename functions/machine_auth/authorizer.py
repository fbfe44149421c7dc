"""API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses) for lead intake.

Partner companies get app clients created at run time, which a JWT authorizer's fixed audience list
cannot know; this authorizer verifies the token's signature, issuer, expiry and scope instead and
passes the client id on to the function, which matches it against the company."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from common.machine_tokens import InvalidToken, verify
from common.observability import logger
from common.settings import get_settings

SETTINGS = get_settings()


def _bearer(event: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = _bearer(event)
    try:
        if not token:
            raise InvalidToken("no bearer token")
        claims = verify(
            token,
            issuer=SETTINGS.token_issuer,
            jwks_url=SETTINGS.jwks_url,
            required_scope=SETTINGS.lead_intake_scope,
        )
    except InvalidToken as refused:
        logger.info("machine token refused", extra={"reason": str(refused)})
        return {"isAuthorized": False}
    return {
        "isAuthorized": True,
        "context": {"client_id": claims["client_id"], "sub": claims["sub"], "scope": claims.get("scope", "")},
    }

"""API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses) for every route.

It verifies the bearer token's signature, issuer, expiry and audience against the Cognito pool and tells
the function who is calling: a portal user (with their Cognito groups, space-separated like the scope,
and whether their sign-in has MFA set up), or a partner company's system (client credentials). A user's
token is also checked against their sign-in record (common.orgs.sign_in, one consistent GetItem per
decision, which API Gateway caches per token for TOKEN_AUTHORIZER_CACHE_SECONDS): a token of a sign-in
that began before the user was signed out, disabled or deleted is refused. Behind CloudFront, a request that did
not come through it is refused first (common.web.edge_origin; the gateway caches the decision per token and
origin header, its identity sources).

Partner companies' app clients are created at run time, which a JWT authorizer's fixed audience list cannot
know; and the function, not the gateway, decides what each kind of caller may do (a machine token on a staff
route is a 403 from the function, with a problem body)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.orgs import sign_in
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, LeadIntake, TokenVerification, get_settings, validate_settings
from common.web import edge_origin

from authorizer.bearer_tokens import InvalidToken, verify

validate_settings(Deployment, TokenVerification, LeadIntake)
TOKENS = get_settings(TokenVerification)
INTAKE_SCOPE = get_settings(LeadIntake).lead_intake_scope


def _bearer(event: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = _bearer(event)
    try:
        if not edge_origin.came_through_edge(event):
            raise InvalidToken("not through the edge")
        if not token:
            raise InvalidToken("no bearer token")
        identity = verify(
            token,
            issuer=TOKENS.token_issuer,
            jwks_url=TOKENS.jwks_url,
            portal_clients=TOKENS.portal_clients,
            intake_scope=INTAKE_SCOPE,
        )
        state = sign_in.state_of(identity.subject) if identity.kind == "user" else sign_in.SignInState()
        if not state.accepts(identity.authenticated_at):
            raise InvalidToken("sign-in ended")
    except InvalidToken as refused:
        logger.info("token refused", extra={"reason": str(refused)})
        metrics.add_metric(name="TokensRefused", unit=MetricUnit.Count, value=1)
        return {"isAuthorized": False}
    return {
        "isAuthorized": True,
        "context": {
            "kind": identity.kind,
            "sub": identity.subject,
            "client_id": identity.client_id,
            "scope": identity.scope,
            "groups": identity.groups,
            # A string like the others (simple responses' context is passed to the function as given).
            "mfa": "true" if state.mfa else "false",
        },
    }

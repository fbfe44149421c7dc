"""Entry point of the referrals HTTP API (API Gateway HTTP API, payload 2.0). Resolves the event only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, SignInPolicy, validate_settings
from common.web.idempotency import respond_once
from common.web.resolver import create_resolver

from referrals import fee_routes, referral_routes, removal_routes, standards_routes, statement_routes, team_routes

# Validated at cold start: a misconfigured function fails before it serves anything.
validate_settings(Deployment, SignInPolicy)

app = create_resolver()
# Before the team routes: /teams/removal-requests, /teams/fee-agreement, /teams/standards and
# /teams/below-standard are matched before /teams/{teamId} (routes match in order).
app.include_router(removal_routes.router)
app.include_router(fee_routes.router)
app.include_router(standards_routes.router)
app.include_router(team_routes.router)
app.include_router(referral_routes.router)
app.include_router(statement_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
# Responses and error messages carry personal data (names, phone numbers): keep them out of traces.
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return respond_once("ReferralsApi", app.resolve, event, context)

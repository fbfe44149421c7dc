"""Entry point of the partners HTTP API (API Gateway HTTP API, payload 2.0). Resolves the event only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import (
    Deployment,
    FilesBucket,
    Portal,
    SenderDomains,
    SesConfiguration,
    SignInPolicy,
    UserPool,
    validate_settings,
)
from common.web.idempotency import respond_once
from common.web.resolver import create_resolver

from partners import (
    account_routes,
    deal_routes,
    partner_routes,
    portal_routes,
    programme_routes,
    public_routes,
)

# Validated at cold start: a misconfigured function fails before it serves anything.
validate_settings(Deployment, FilesBucket, Portal, SenderDomains, SesConfiguration, UserPool, SignInPolicy)

app = create_resolver()
app.include_router(partner_routes.router)
app.include_router(programme_routes.router)
app.include_router(public_routes.router)
app.include_router(deal_routes.router)
app.include_router(portal_routes.router)
app.include_router(account_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
# Responses and error messages carry personal data (names, e-mail addresses): keep them out of traces.
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return respond_once("PartnersApi", app.resolve, event, context)

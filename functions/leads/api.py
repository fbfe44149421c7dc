"""Entry point of the leads HTTP API (API Gateway HTTP API, payload 2.0). Resolves the event only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import (
    CompanySecrets,
    Deployment,
    LeadIntake,
    SignInPolicy,
    UserPool,
    WebhookQueue,
    Webhooks,
    validate_settings,
)
from common.web.idempotency import respond_once
from common.web.resolver import create_resolver

from leads import campaign_routes, company_routes, lead_routes, machine_routes, org_routes, queue_routes, sale_routes

# Validated at cold start: a misconfigured function fails before it serves anything. A sale post's resend
# goes to the delivery queue.
validate_settings(Deployment, LeadIntake, UserPool, SignInPolicy, CompanySecrets, Webhooks, WebhookQueue)

app = create_resolver()
app.include_router(org_routes.router)
app.include_router(company_routes.router)
app.include_router(campaign_routes.router)
app.include_router(lead_routes.router)
app.include_router(machine_routes.router)
app.include_router(queue_routes.router)
app.include_router(sale_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
# Responses and error messages carry personal data (contacts, e-mail addresses): keep them out of traces.
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return respond_once("LeadsApi", app.resolve, event, context)

"""Entry point of the integrations HTTP API (API Gateway HTTP API, payload 2.0): an organisation's webhook
endpoints under /orgs/{orgId}/webhooks and their deliveries. Resolves the event only.

Routes (the path prefix the gateway sends here, infra/manifest.py):

    POST   /orgs/{orgId}/webhooks                                  create an endpoint (its secret, once)
    GET    /orgs/{orgId}/webhooks                                  list them
    GET    /orgs/{orgId}/webhooks/{endpointId}                     read one
    PATCH  /orgs/{orgId}/webhooks/{endpointId}                     change its URL, description, event types
    DELETE /orgs/{orgId}/webhooks/{endpointId}                     delete it
    POST   /orgs/{orgId}/webhooks/{endpointId}/rotate-secret       a new secret (once); the old one signs 24 h more
    POST   /orgs/{orgId}/webhooks/{endpointId}/enable              enable (its health starts afresh)
    POST   /orgs/{orgId}/webhooks/{endpointId}/disable             disable

An endpoint's deliveries (delivery_routes), each handed to the delivery queue and attempted from it:

    GET    /orgs/{orgId}/webhooks/{endpointId}/deliveries          the endpoint's deliveries, newest first
    GET    /orgs/{orgId}/webhooks/{endpointId}/deliveries/{deliveryId}
    POST   /orgs/{orgId}/webhooks/{endpointId}/deliveries/{deliveryId}/resend
    POST   /orgs/{orgId}/webhooks/{endpointId}/replay              every event of a time range again
    POST   /orgs/{orgId}/webhooks/{endpointId}/resend-failed       what failed, after re-enabling
    POST   /orgs/{orgId}/webhooks/{endpointId}/test                a test event
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from common.platform.observability import logger, metrics, tracer
from common.platform.settings import Deployment, WebhookQueue, Webhooks, validate_settings
from common.web.idempotency import respond_once
from common.web.resolver import create_resolver

from integrations import delivery_routes, endpoint_routes

# Validated at cold start: a misconfigured function fails before it serves anything.
validate_settings(Deployment, Webhooks, WebhookQueue)

app = create_resolver()
app.include_router(endpoint_routes.router)
app.include_router(delivery_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
# Answers carry signing secrets: keep them out of traces.
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return respond_once("IntegrationsApi", app.resolve, event, context)

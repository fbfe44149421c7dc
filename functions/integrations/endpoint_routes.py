"""Webhook endpoints: admins (the integrations:manage permission) create, list, change and delete them, rotate
their signing secrets, enable and disable them. Thin handlers over common.integrations.endpoints."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.integrations import endpoint_models as models
from common.integrations import endpoints
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.platform.urls import MAX_URL_LENGTH
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, no_content, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, member_of

router = APIGatewayHttpRouter()

MANAGE = Permission.MANAGE_INTEGRATIONS
MANAGER = missing(MANAGE)
NO_ENDPOINT = NOT_A_MEMBER + ", or no such webhook endpoint"
URL_RULES = (
    f"url: https, at most {MAX_URL_LENGTH:,} characters, no user name or password, a public host (not localhost, "
    "not an IP address of a loopback, private, link-local, metadata or reserved range)"
)
BAD_SETTINGS = (
    f"{INVALID} ({URL_RULES}; event_types: catalogued types, or all; description: at most "
    f"{models.MAX_DESCRIPTION_LENGTH} characters)"
)
SIGNED = (
    "Deliveries are signed as the Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`, "
    "`webhook-signature`); the secret is in this answer only."
)


@router.post(
    "/orgs/<org_id>/webhooks",
    summary="Add a webhook endpoint; its signing secret is shown once",
    description=f"{SIGNED} An organisation has at most {endpoints.MAX_ENDPOINTS_PER_ORG} endpoints.",
    tags=["webhooks"],
    status_code=201,
    responses=answers(
        ok("The endpoint with its signing secret", 201),
        forbidden=MANAGER,
        not_found=NOT_A_MEMBER,
        conflict="A generated id collided; retry",
        invalid=f"{BAD_SETTINGS}; or the organisation has {endpoints.MAX_ENDPOINTS_PER_ORG} endpoints already "
        "(body.url)",
    ),
)
def create_endpoint(org_id: Id, new: Annotated[models.NewWebhookEndpoint, Body()]) -> models.WebhookEndpointWithSecret:
    member = member_of(router, org_id, MANAGE)
    item = endpoints.create_endpoint(org_id, new, member.user_id)
    metrics.add_metric(name="WebhookEndpointCreated", unit=MetricUnit.Count, value=1)
    return models.WebhookEndpointWithSecret.of(item)


@router.get(
    "/orgs/<org_id>/webhooks",
    summary="The organisation's webhook endpoints, oldest first",
    tags=["webhooks"],
    responses=answers(
        ok("A page of endpoints (without their secrets)"),
        forbidden=MANAGER,
        not_found=NOT_A_MEMBER,
        invalid="The cursor or the limit is not valid",
    ),
)
def list_endpoints(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[models.WebhookEndpoint]:
    member_of(router, org_id, MANAGE)
    items, next_cursor = endpoints.list_endpoints(org_id, cursor=cursor, limit=limit)
    return page_of(models.WebhookEndpoint, items, next_cursor)


@router.get(
    "/orgs/<org_id>/webhooks/<endpoint_id>",
    summary="A webhook endpoint, with its health",
    tags=["webhooks"],
    responses=answers(ok("The endpoint (without its secret)"), forbidden=MANAGER, not_found=NO_ENDPOINT),
)
def get_endpoint(org_id: Id, endpoint_id: Id) -> models.WebhookEndpoint:
    member_of(router, org_id, MANAGE)
    return models.WebhookEndpoint.of(endpoints.get_endpoint(org_id, endpoint_id))


@router.patch(
    "/orgs/<org_id>/webhooks/<endpoint_id>",
    summary="Change a webhook endpoint's URL, description or event types",
    description="Only the fields sent change; the description can be cleared with null.",
    tags=["webhooks"],
    responses=answers(
        ok("The endpoint as changed"),
        forbidden=MANAGER,
        not_found=NO_ENDPOINT,
        invalid=f"{BAD_SETTINGS}; url and event_types cannot be cleared",
    ),
)
def update_endpoint(
    org_id: Id, endpoint_id: Id, patch: Annotated[models.WebhookEndpointPatch, Body()]
) -> models.WebhookEndpoint:
    member = member_of(router, org_id, MANAGE)
    return models.WebhookEndpoint.of(endpoints.update_endpoint(org_id, endpoint_id, patch, member.user_id))


@router.delete(
    "/orgs/<org_id>/webhooks/<endpoint_id>",
    summary="Delete a webhook endpoint: nothing more is delivered to it",
    tags=["webhooks"],
    responses=answers(no_content("Deleted"), forbidden=MANAGER, not_found=NO_ENDPOINT),
)
def delete_endpoint(org_id: Id, endpoint_id: Id) -> tuple[None, int]:
    member_of(router, org_id, MANAGE)
    endpoints.delete_endpoint(org_id, endpoint_id)
    return None, 204


@router.post(
    "/orgs/<org_id>/webhooks/<endpoint_id>/rotate-secret",
    summary="Give a webhook endpoint a new signing secret, shown once",
    description=f"For {endpoints.PREVIOUS_SECRET_VALIDITY.days * 24} hours deliveries carry a signature with the "
    "new secret and one with the secret it replaces, so the receiver can switch without losing a delivery. "
    f"Rotating again within that time ends the older secret at once. {SIGNED}",
    tags=["webhooks"],
    responses=answers(ok("The endpoint with its new signing secret"), forbidden=MANAGER, not_found=NO_ENDPOINT),
)
def rotate_secret(org_id: Id, endpoint_id: Id) -> models.WebhookEndpointWithSecret:
    member = member_of(router, org_id, MANAGE)
    item = endpoints.rotate_secret(org_id, endpoint_id, member.user_id)
    metrics.add_metric(name="WebhookSecretRotated", unit=MetricUnit.Count, value=1)
    return models.WebhookEndpointWithSecret.of(item)


@router.post(
    "/orgs/<org_id>/webhooks/<endpoint_id>/enable",
    summary="Enable a webhook endpoint: events are delivered to it again",
    description="Its health starts afresh. Events of the time it was disabled are not delivered: resend the "
    "failed deliveries, or replay a time range, from its delivery log.",
    tags=["webhooks"],
    responses=answers(ok("The enabled endpoint"), forbidden=MANAGER, not_found=NO_ENDPOINT),
)
def enable_endpoint(org_id: Id, endpoint_id: Id) -> models.WebhookEndpoint:
    member = member_of(router, org_id, MANAGE)
    return models.WebhookEndpoint.of(endpoints.enable_endpoint(org_id, endpoint_id, member.user_id))


@router.post(
    "/orgs/<org_id>/webhooks/<endpoint_id>/disable",
    summary="Disable a webhook endpoint: no event is delivered to it until it is enabled",
    tags=["webhooks"],
    responses=answers(ok("The disabled endpoint"), forbidden=MANAGER, not_found=NO_ENDPOINT),
)
def disable_endpoint(org_id: Id, endpoint_id: Id) -> models.WebhookEndpoint:
    member = member_of(router, org_id, MANAGE)
    return models.WebhookEndpoint.of(endpoints.disable_endpoint(org_id, endpoint_id, member.user_id))

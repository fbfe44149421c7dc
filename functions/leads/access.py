"""Who is calling a route and what they may do in the organisation named by the path."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.auth import Member, Permission, Principal, principal_from_event, require_member


def caller(router: APIGatewayHttpRouter) -> Principal:
    return principal_from_event(router.current_event.raw_event)


def member_of(router: APIGatewayHttpRouter, org_id: str, permission: Permission | None = None) -> Member:
    return require_member(caller(router), org_id, permission)

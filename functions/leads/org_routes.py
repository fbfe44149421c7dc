"""Organisations, staff memberships and message templates."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common import orgs, templates
from common.auth import Permission, require_user
from common.db import without_storage

from leads.access import caller, member_of

router = APIGatewayHttpRouter()


@router.post("/orgs", summary="Create an organisation; the caller becomes its admin", tags=["organisations"])
def create_organisation(body: Annotated[orgs.NewOrganisation, Body()]) -> tuple[dict[str, Any], int]:
    principal = caller(router)
    require_user(principal)
    return without_storage(orgs.create_organisation(body, principal.subject)), 201


@router.get("/orgs/<orgId>", summary="Get an organisation the caller belongs to", tags=["organisations"])
def get_organisation(orgId: str) -> dict[str, Any]:
    member = member_of(router, orgId)
    org = without_storage(orgs.get_organisation(orgId))
    return {**org, "membership": {"role": member.role, "permissions": sorted(member.permissions)}}


@router.get("/orgs/<orgId>/members", summary="List staff memberships", tags=["organisations"])
def list_members(orgId: str, cursor: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    member_of(router, orgId, Permission.MANAGE_MEMBERS)
    items, next_cursor = orgs.list_members(orgId, cursor=cursor)
    return {"items": [without_storage(i) for i in items], "next_cursor": next_cursor}


@router.put(
    "/orgs/<orgId>/members/<userId>",
    summary="Add a staff member or change their permissions",
    tags=["organisations"],
)
def put_member(orgId: str, userId: str, body: Annotated[orgs.MembershipChange, Body()]) -> dict[str, Any]:
    member_of(router, orgId, Permission.MANAGE_MEMBERS)
    saved = orgs.put_member(orgId, userId, body)
    return {"org_id": orgId, "user_id": userId, "role": saved.role, "permissions": sorted(saved.permissions)}


@router.delete("/orgs/<orgId>/members/<userId>", summary="Remove a staff member", tags=["organisations"])
def remove_member(orgId: str, userId: str) -> tuple[str, int]:
    member_of(router, orgId, Permission.MANAGE_MEMBERS)
    orgs.remove_member(orgId, userId)
    return "", 204


@router.post("/orgs/<orgId>/message-templates", summary="Create a message template", tags=["templates"])
def create_template(orgId: str, body: Annotated[templates.NewTemplate, Body()]) -> tuple[dict[str, Any], int]:
    member = member_of(router, orgId, Permission.MANAGE_TEMPLATES)
    return without_storage(templates.create_template(orgId, body, member.user_id)), 201


@router.get("/orgs/<orgId>/message-templates", summary="List message templates", tags=["templates"])
def list_templates(orgId: str, cursor: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    member_of(router, orgId)
    items, next_cursor = templates.list_templates(orgId, cursor=cursor)
    return {"items": [without_storage(i) for i in items], "next_cursor": next_cursor}


@router.get(
    "/orgs/<orgId>/message-templates/<templateId>", summary="Get a message template", tags=["templates"]
)
def get_template(orgId: str, templateId: str) -> dict[str, Any]:
    member_of(router, orgId)
    return without_storage(templates.get_template(orgId, templateId))

"""What routes of every API function share: the caller of a route, as a staff member or a partner of the
organisation, and the path and query parameters every listing takes. Path ids are checked before anything
is read: a malformed id is invalid input (422 naming the parameter), never a key DynamoDB would refuse."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from common.orgs.access import Member, Permission, Principal, principal_from_event, require_member
from common.partners.partner_caller import PartnerCaller, require_partner
from common.platform.validation import ENTITY_ID_PATTERN, USER_ID_PATTERN

Id = Annotated[str, Path(pattern=ENTITY_ID_PATTERN, description="a 26-character sortable id")]
UserId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="the user's subject")]
PartnerId = Annotated[str, Path(pattern=USER_ID_PATTERN, description="the partner's id (their user subject)")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page; absent for the first page")]
# Items per page. Every listing takes `limit: Limit = PAGE_LIMIT`; a page holds exactly `limit` items unless
# it is the last (next_cursor null), and a page after a cursor is never empty.
MAX_LIMIT = 100
PAGE_LIMIT = 50
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"items per page, 1 to {MAX_LIMIT}")]


def caller(router: APIGatewayHttpRouter) -> Principal:
    return principal_from_event(router.current_event.raw_event)


def member_of(router: APIGatewayHttpRouter, org_id: str, permission: Permission | None = None) -> Member:
    return require_member(caller(router), org_id, permission)


def partner_of(
    router: APIGatewayHttpRouter, org_id: str, *, confirming: bool = False, accepting_terms: bool = False
) -> PartnerCaller:
    return require_partner(caller(router), org_id, confirming=confirming, accepting_terms=accepting_terms)

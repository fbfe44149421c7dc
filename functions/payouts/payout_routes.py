"""Payout requests: a partner requests a payout of part of their balance and follows their requests in the
portal; staff with the "manage balances and payouts" permission list them, pay them or reject them. Thin
handlers over common.money.payout_requests (the partner's e-mail follows from the stream: common.money.payout_mail)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.money import payout_requests
from common.money.wallets import PayoutStatus
from common.orgs.access import Permission
from common.platform.currencies import MINOR_UNITS_DESCRIPTION
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, Open, Page, answers, body, missing
from common.web.route_params import Cursor, Id, Limit, member_of, page, partner_of
from pydantic import Field

router = APIGatewayHttpRouter()

MANAGE = Permission.PROGRAMME_MANAGE_BALANCES
REFUSED = "The caller's e-mail is not confirmed, the current terms are not accepted, or the partnership is archived"
NOT_A_PARTNER = "The caller is not a partner of the organisation"
NO_REQUEST = NOT_A_MEMBER + ", or no such payout request"
StatusFilter = Annotated[PayoutStatus, Query(description="the requests in this status")]


# -- documented answers (the routes return plain dicts) --------------------------------------------


class PayoutRequest(Open):
    org_id: str
    request_id: str
    partner_id: str
    amount: int = Field(description="minor units of currency")
    currency: str
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)
    status: PayoutStatus
    requested_at: datetime
    settled_at: datetime | None = Field(None, description="when it was paid or rejected")
    reject_reason: str | None = None


class PayoutRequestPage(Page):
    items: list[PayoutRequest]


class StaffPayoutRequest(PayoutRequest):
    settled_by: str | None = Field(None, description="user:<id> of who paid or rejected it")
    partner_name: str | None = Field(None, description="null when the partner is no longer in the organisation")


class StaffPayoutRequestPage(Page):
    items: list[StaffPayoutRequest]


class WalletSummary(Open):
    balance: int = Field(description="minor units")
    available: int = Field(description="the balance less the open request's amount")
    open_request_id: str | None = None


class PayoutRequestDetail(StaffPayoutRequest):
    wallet: WalletSummary = Field(description="the partner's wallet as it is now")


# -- the partner's own -----------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/portal/payout-requests",
    summary="Request a payout of an amount up to the available balance",
    description="A partner has at most one unsettled request; racing requests leave one pending.",
    tags=["payout requests"],
    responses=answers(
        body(PayoutRequest, "The pending request", 201),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        conflict="A request is still open (payout-request-open), the balance does not cover the amount "
        "(balance-insufficient, with the available amount in the detail), or the organisation has no "
        "commission plan (no-commission-plan)",
        invalid=INVALID + " (amount: a whole number of minor units, above 0)",
    ),
)
def request_payout(org_id: Id, new: Annotated[payout_requests.NewPayoutRequest, Body()]) -> tuple[dict[str, Any], int]:
    caller = partner_of(router, org_id)
    item = payout_requests.request_payout(caller.org_id, caller.partner_id, new)
    metrics.add_metric(name="PayoutRequested", unit=MetricUnit.Count, value=1)
    return payout_requests.partner_view(item), 201


@router.get(
    "/orgs/<org_id>/portal/payout-requests",
    summary="The partner's own payout requests, newest first",
    tags=["payout requests"],
    responses=answers(
        body(PayoutRequestPage, "A page of requests"),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        invalid="The cursor or the limit is not valid",
    ),
)
def own_requests(org_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    caller = partner_of(router, org_id)
    items, next_cursor = payout_requests.partner_requests(caller.org_id, caller.partner_id, cursor=cursor, limit=limit)
    return page([payout_requests.partner_view(i) for i in items], next_cursor)


# -- staff -----------------------------------------------------------------------------------------


@router.get(
    "/orgs/<org_id>/payout-requests",
    summary="The organisation's payout requests in one status (pending by default), newest first",
    tags=["payout requests"],
    responses=answers(
        body(StaffPayoutRequestPage, "A page of requests with their partners' names"),
        forbidden=missing(MANAGE),
        not_found=NOT_A_MEMBER,
        invalid="The status, the cursor or the limit is not valid",
    ),
)
def list_requests(
    org_id: Id, status: StatusFilter = PayoutStatus.PENDING, cursor: Cursor = None, limit: Limit = 50
) -> dict[str, Any]:
    member_of(router, org_id, MANAGE)
    items, next_cursor = payout_requests.list_requests(org_id, status, cursor=cursor, limit=limit)
    return page(items, next_cursor)


@router.get(
    "/orgs/<org_id>/payout-requests/<request_id>",
    summary="A payout request, with the partner's name and wallet",
    tags=["payout requests"],
    responses=answers(body(PayoutRequestDetail, "The request"), forbidden=missing(MANAGE), not_found=NO_REQUEST),
)
def get_request(org_id: Id, request_id: Id) -> dict[str, Any]:
    member_of(router, org_id, MANAGE)
    return payout_requests.staff_view(org_id, payout_requests.find(org_id, request_id))


@router.post(
    "/orgs/<org_id>/payout-requests/<request_id>/pay",
    summary="Pay a pending request: it becomes paid and the balance drops by its amount, in one write",
    description="The partner gets an e-mail. Paying twice is impossible: the second payment is refused.",
    tags=["payout requests"],
    responses=answers(
        body(StaffPayoutRequest, "The paid request"),
        forbidden=missing(MANAGE),
        not_found=NO_REQUEST,
        conflict="Already paid or rejected (payout-settled), or the balance no longer covers it "
        "(balance-insufficient: the request stays pending)",
    ),
)
def pay_request(org_id: Id, request_id: Id) -> dict[str, Any]:
    member = member_of(router, org_id, MANAGE)
    paid = payout_requests.pay(org_id, request_id, member.user_id)
    metrics.add_metric(name="PayoutPaid", unit=MetricUnit.Count, value=1)
    return payout_requests.view(paid)


@router.post(
    "/orgs/<org_id>/payout-requests/<request_id>/reject",
    summary="Reject a pending request with a reason: the partner gets an e-mail and may request again",
    tags=["payout requests"],
    responses=answers(
        body(StaffPayoutRequest, "The rejected request"),
        forbidden=missing(MANAGE),
        not_found=NO_REQUEST,
        conflict="Already paid or rejected (payout-settled)",
        invalid=INVALID + " (reason: 1 to 500 characters, no control characters)",
    ),
)
def reject_request(
    org_id: Id, request_id: Id, rejection: Annotated[payout_requests.Rejection, Body()]
) -> dict[str, Any]:
    member = member_of(router, org_id, MANAGE)
    rejected = payout_requests.reject(org_id, request_id, member.user_id, rejection)
    metrics.add_metric(name="PayoutRejected", unit=MetricUnit.Count, value=1)
    return payout_requests.view(rejected)

"""Payout requests: a partner requests a payout of part of their balance and follows their requests in the
portal; staff with the "manage balances and payouts" permission list them, pay them or reject them. Thin
handlers over common.money.payout_requests (the partner's e-mail follows from the stream: common.money.payout_mail)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.money import payout_requests
from common.money.wallets import PayoutStatus
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, member_of, partner_of

router = APIGatewayHttpRouter()

MANAGE = Permission.PROGRAMME_MANAGE_BALANCES
REFUSED = "The caller's e-mail is not confirmed, the current terms are not accepted, or the partnership is archived"
NOT_A_PARTNER = "The caller is not a partner of the organisation"
NO_REQUEST = NOT_A_MEMBER + ", or no such payout request"
StatusFilter = Annotated[PayoutStatus, Query(description="the requests in this status")]


# -- the partner's own -----------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/portal/payout-requests",
    summary="Request a payout of an amount up to the available balance",
    description="A partner has at most one unsettled request; racing requests leave one pending.",
    tags=["payout requests"],
    status_code=201,
    responses=answers(
        ok("The pending request", 201),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        conflict="A request is still open (payout-request-open), the balance does not cover the amount "
        "(balance-insufficient, with the available amount in the detail), or the organisation has no "
        "commission plan (no-commission-plan)",
        invalid=INVALID + " (amount: a whole number of minor units, above 0)",
    ),
)
def request_payout(
    org_id: Id, new: Annotated[payout_requests.NewPayoutRequest, Body()]
) -> payout_requests.PayoutRequest:
    caller = partner_of(router, org_id)
    item = payout_requests.request_payout(caller.org_id, caller.partner_id, new)
    metrics.add_metric(name="PayoutRequested", unit=MetricUnit.Count, value=1)
    return payout_requests.PayoutRequest.of(item)


@router.get(
    "/orgs/<org_id>/portal/payout-requests",
    summary="The partner's own payout requests, newest first",
    tags=["payout requests"],
    responses=answers(
        ok("A page of requests"),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        invalid="The cursor or the limit is not valid",
    ),
)
def own_requests(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[payout_requests.PayoutRequest]:
    caller = partner_of(router, org_id)
    items, next_cursor = payout_requests.partner_requests(caller.org_id, caller.partner_id, cursor=cursor, limit=limit)
    return page_of(payout_requests.PayoutRequest, items, next_cursor)


# -- staff -----------------------------------------------------------------------------------------


@router.get(
    "/orgs/<org_id>/payout-requests",
    summary="The organisation's payout requests in one status (pending by default), newest first",
    tags=["payout requests"],
    responses=answers(
        ok("A page of requests with their partners' names"),
        forbidden=missing(MANAGE),
        not_found=NOT_A_MEMBER,
        invalid="The status, the cursor or the limit is not valid",
    ),
)
def list_requests(
    org_id: Id, status: StatusFilter = PayoutStatus.PENDING, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[payout_requests.StaffPayoutRequest]:
    member_of(router, org_id, MANAGE)
    items, next_cursor = payout_requests.list_requests(org_id, status, cursor=cursor, limit=limit)
    return page_of(payout_requests.StaffPayoutRequest, items, next_cursor)


@router.get(
    "/orgs/<org_id>/payout-requests/<request_id>",
    summary="A payout request, with the partner's name and wallet",
    tags=["payout requests"],
    responses=answers(ok("The request"), forbidden=missing(MANAGE), not_found=NO_REQUEST),
)
def get_request(org_id: Id, request_id: Id) -> payout_requests.PayoutRequestDetail:
    member_of(router, org_id, MANAGE)
    return payout_requests.detail(org_id, request_id)


@router.post(
    "/orgs/<org_id>/payout-requests/<request_id>/pay",
    summary="Pay a pending request: it becomes paid and the balance drops by its amount, in one write",
    description="The partner gets an e-mail. Paying twice is impossible: the second payment is refused.",
    tags=["payout requests"],
    responses=answers(
        ok("The paid request"),
        forbidden=missing(MANAGE),
        not_found=NO_REQUEST,
        conflict="Already paid or rejected (payout-settled), or the balance no longer covers it "
        "(balance-insufficient: the request stays pending)",
    ),
)
def pay_request(org_id: Id, request_id: Id) -> payout_requests.StaffPayoutRequest:
    member = member_of(router, org_id, MANAGE)
    paid = payout_requests.pay(org_id, request_id, member.user_id)
    metrics.add_metric(name="PayoutPaid", unit=MetricUnit.Count, value=1)
    return payout_requests.as_staff_see_it(org_id, paid)


@router.post(
    "/orgs/<org_id>/payout-requests/<request_id>/reject",
    summary="Reject a pending request with a reason: the partner gets an e-mail and may request again",
    tags=["payout requests"],
    responses=answers(
        ok("The rejected request"),
        forbidden=missing(MANAGE),
        not_found=NO_REQUEST,
        conflict="Already paid or rejected (payout-settled)",
        invalid=INVALID + " (reason: 1 to 500 characters, no control characters)",
    ),
)
def reject_request(
    org_id: Id, request_id: Id, rejection: Annotated[payout_requests.Rejection, Body()]
) -> payout_requests.StaffPayoutRequest:
    member = member_of(router, org_id, MANAGE)
    rejected = payout_requests.reject(org_id, request_id, member.user_id, rejection)
    metrics.add_metric(name="PayoutRejected", unit=MetricUnit.Count, value=1)
    return payout_requests.as_staff_see_it(org_id, rejected)

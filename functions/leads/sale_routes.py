"""Selling leads and customers to partner companies that buy them (leads:sell), each sale's post to the
company's system with its attempts, a resend, and the secret the posts are signed with. Thin handlers over
common.leads.sales and common.integrations.sale_deliveries / sale_secrets: a sale writes its records and
answers; the post or e-mail follows from the table's stream."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.integrations import sale_deliveries, sale_secrets
from common.leads import sales
from common.leads.companies import get_company
from common.orgs.access import Permission
from common.platform.answers import Page
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, member_of

router = APIGatewayHttpRouter()

SELL = Permission.SELL_LEADS
SELLER = missing(SELL)
ONE_OR_MANY = (
    "Each record is sold by a conditional write of its own: the answer lists every record asked for, sold now "
    "(with its `sale`) or refused (with the reason); a refused record is left as it was. A request for a "
    "single record that is refused answers that refusal instead (404, 409). The post or e-mail to the company "
    "and the Sale Notification e-mails follow, once per sale."
)
NOT_BUYING = (
    "The company is inactive or does not buy these; or the only record asked for is sold already or not for sale"
)
NO_COMPANY = "The caller is not a member of the organisation, or there is no such partner company"
NO_POST = NO_COMPANY + ", or no post of that sale to it"


def _sold(count: int) -> None:
    metrics.add_metric(name="RecordsSold", unit=MetricUnit.Count, value=count)


@router.post(
    "/orgs/<org_id>/lead-sales",
    summary="Sell pending or queued leads to a partner company that buys leads (1 to 100)",
    description=ONE_OR_MANY
    + " A lead is sold when it is pending or queued, was never sold, and did not come from that company (a "
    "lead the company sold us is returned instead); it becomes `sold` and leaves the work queue.",
    tags=["lead sales"],
    responses=answers(
        ok("Every lead asked for: sold now, or refused with the reason"),
        forbidden=SELLER,
        not_found=NOT_A_MEMBER + ", or the only lead asked for does not exist",
        conflict=NOT_BUYING,
        invalid=INVALID + " (1 to 100 distinct lead ids; company_id: a partner company of the organisation)",
    ),
)
def sell_leads(org_id: Id, body: Annotated[sales.SellLeads, Body()]) -> sales.LeadSaleResult:
    member = member_of(router, org_id, SELL)
    result = sales.sell_leads(org_id, member, body)
    _sold(result.sold)
    return result


@router.post(
    "/orgs/<org_id>/customer-sales",
    summary="Sell customers to a partner company that buys customers (1 to 100)",
    description=ONE_OR_MANY + " A customer is sold once.",
    tags=["lead sales"],
    responses=answers(
        ok("Every customer asked for: sold now, or refused with the reason"),
        forbidden=SELLER,
        not_found=NOT_A_MEMBER + ", or the only customer asked for does not exist",
        conflict=NOT_BUYING,
        invalid=INVALID + " (1 to 100 distinct customer ids; company_id: a partner company of the organisation)",
    ),
)
def sell_customers(org_id: Id, body: Annotated[sales.SellCustomers, Body()]) -> sales.CustomerSaleResult:
    member = member_of(router, org_id, SELL)
    result = sales.sell_customers(org_id, member, body)
    _sold(result.sold)
    return result


@router.get(
    "/orgs/<org_id>/partner-companies/<company_id>/sale-posts",
    summary="The posts of the sales to a company, newest sale first, each with its newest attempts",
    description="Sales by post only (an e-mailed sale is an e-mail); each attempt has its time, HTTP status, "
    "duration and the start of the answer. Kept as long as the sale.",
    tags=["lead sales"],
    responses=answers(
        ok("A page of sale posts"),
        forbidden=SELLER,
        not_found=NO_COMPANY,
        invalid="The cursor or the limit is not valid",
    ),
)
def sale_posts(
    org_id: Id, company_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[sale_deliveries.SaleDelivery]:
    member_of(router, org_id, SELL)
    return sale_deliveries.page(org_id, company_id, cursor, limit=limit)


@router.get(
    "/orgs/<org_id>/partner-companies/<company_id>/sale-posts/<sale_id>",
    summary="One sale's post, with its newest attempts and the receiver's id",
    tags=["lead sales"],
    responses=answers(ok("The sale's post"), forbidden=SELLER, not_found=NO_POST),
)
def sale_post(org_id: Id, company_id: Id, sale_id: Id) -> sale_deliveries.SaleDelivery:
    member_of(router, org_id, SELL)
    return sale_deliveries.get(org_id, company_id, sale_id)


@router.post(
    "/orgs/<org_id>/partner-companies/<company_id>/sale-posts/<sale_id>/resend",
    summary="Post a sale again (one that succeeded or failed), with the same webhook-id",
    description="A new round of attempts starts at once, with the retry schedule from its start, to the "
    "company's Post URL as it is now. The receiver deduplicates on its external id (our record's id).",
    tags=["lead sales"],
    status_code=202,
    responses=answers(
        ok("The sale's post, pending again", 202),
        forbidden=SELLER,
        not_found=NO_POST,
        conflict="The post is still pending, or an attempt is in flight",
    ),
)
def resend_sale_post(org_id: Id, company_id: Id, sale_id: Id) -> sale_deliveries.SaleDelivery:
    member_of(router, org_id, SELL)
    resent = sale_deliveries.resend(org_id, company_id, sale_id)
    metrics.add_metric(name="SalePostsResent", unit=MetricUnit.Count, value=1)
    return resent


@router.post(
    "/orgs/<org_id>/partner-companies/<company_id>/sale-signing-secret",
    summary="Issue (or rotate) the secret the company's sale posts are signed with; shown once",
    description="Posts carry Standard Webhooks headers (webhook-id: the sale id). The secret this one replaces "
    "signs beside it for 24 hours, so the receiver can switch without refusing a post.",
    tags=["lead sales"],
    status_code=201,
    responses=answers(ok("The new secret", 201), forbidden=missing(Permission.MANAGE_COMPANIES), not_found=NO_COMPANY),
)
def issue_sale_secret(org_id: Id, company_id: Id) -> sale_secrets.SaleSigningSecret:
    member = member_of(router, org_id, Permission.MANAGE_COMPANIES)
    get_company(org_id, company_id)
    return sale_secrets.SaleSigningSecret.of(sale_secrets.issue(org_id, company_id, member.user_id))

"""Wallets and the ledger: staff with the manage-balances permission see every partner's wallet and history,
correct balances and export the ledger as CSV; a partner sees and exports their own. Thin handlers over
common.money.ledger."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.money import ledger
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, Responses, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, PartnerId, member_of, partner_of

router = APIGatewayHttpRouter()

MANAGERS = missing(Permission.PROGRAMME_MANAGE_BALANCES)
NO_PARTNER = NOT_A_MEMBER + "; or the partner never was a partner of the organisation"
REFUSED = "The caller's e-mail is not confirmed, the current terms are not accepted, or the partnership is archived"
NOT_A_PARTNER = "The caller is not a partner of the organisation"
ExportLimit = Annotated[int, Query(ge=1, le=ledger.EXPORT_MAX_ROWS, description="rows in this page")]
EXPORT_PAGES = (
    f"Oldest entry first, up to `limit` rows a page; the header `{ledger.NEXT_CURSOR_HEADER}` carries the next "
    "page's cursor (pass it as `cursor`), absent on the last page."
)


def _csv(description: str) -> Responses:
    answer: OpenAPIResponse = {
        "description": description + f"; the header row first, oldest first, at most {ledger.EXPORT_MAX_ROWS} rows",
        "headers": {
            ledger.NEXT_CURSOR_HEADER: {
                "description": "pass as cursor for the next page; absent on the last page",
                "schema": {"type": "string"},
            }
        },
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
    return {200: answer}


def _csv_response(text: str, next_cursor: str | None, filename: str) -> Response[str]:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if next_cursor:
        headers[ledger.NEXT_CURSOR_HEADER] = next_cursor
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body=text, headers=headers)


# -- staff -----------------------------------------------------------------------------------------


@router.get(
    "/orgs/<org_id>/wallets",
    summary="The partners' wallets, by partner id (partners without entries have none yet)",
    tags=["wallets"],
    responses=answers(ok("A page of wallets"), forbidden=MANAGERS, not_found=NOT_A_MEMBER, invalid=INVALID),
)
def list_wallets(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[ledger.StaffWallet]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    wallets, next_cursor = ledger.list_wallets(org_id, cursor=cursor, limit=limit)
    return page_of(ledger.StaffWallet, wallets, next_cursor)


@router.get(
    "/orgs/<org_id>/wallets/<partner_id>",
    summary="A partner's wallet (balance 0 before their first entry)",
    tags=["wallets"],
    responses=answers(ok("The wallet"), forbidden=MANAGERS, not_found=NO_PARTNER, invalid=INVALID),
)
def get_wallet(org_id: Id, partner_id: PartnerId) -> ledger.StaffWallet:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return ledger.staff_wallet(org_id, partner_id)


@router.get(
    "/orgs/<org_id>/wallets/<partner_id>/entries",
    summary="A partner's ledger, newest first",
    tags=["wallets"],
    responses=answers(ok("A page of entries"), forbidden=MANAGERS, not_found=NO_PARTNER, invalid=INVALID),
)
def list_entries(
    org_id: Id, partner_id: PartnerId, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[ledger.LedgerEntry]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    items, next_cursor = ledger.staff_entries(org_id, partner_id, cursor=cursor, limit=limit)
    return page_of(ledger.LedgerEntry, items, next_cursor)


@router.post(
    "/orgs/<org_id>/wallets/<partner_id>/corrections",
    summary="Correct a partner's balance: appends a correction entry (send an Idempotency-Key to retry safely)",
    tags=["wallets"],
    status_code=201,
    responses=answers(
        ok("The correction entry", 201),
        forbidden=MANAGERS,
        not_found=NO_PARTNER,
        conflict="The organisation has no commission plan yet (no-commission-plan): it fixes the wallets' currency",
        invalid=INVALID,
    ),
)
def correct(org_id: Id, partner_id: PartnerId, correction: Annotated[ledger.Correction, Body()]) -> ledger.LedgerEntry:
    member = member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    entry = ledger.correct(org_id, partner_id, member, correction)
    metrics.add_metric(name="BalanceCorrections", unit=MetricUnit.Count, value=1)
    return ledger.LedgerEntry.of(entry)


@router.get(
    "/orgs/<org_id>/wallets/<partner_id>/export",
    summary="A partner's ledger as CSV, a page at a time",
    description=EXPORT_PAGES,
    tags=["wallets"],
    responses=answers(_csv("The partner's ledger"), forbidden=MANAGERS, not_found=NO_PARTNER, invalid=INVALID),
)
def export_wallet(
    org_id: Id, partner_id: PartnerId, cursor: Cursor = None, limit: ExportLimit = ledger.EXPORT_MAX_ROWS
) -> Response[str]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    text, next_cursor = ledger.export_wallet(org_id, partner_id, cursor=cursor, limit=limit)
    return _csv_response(text, next_cursor, f"ledger-{partner_id}.csv")


@router.get(
    "/orgs/<org_id>/ledger/export",
    summary="The organisation's whole ledger as CSV, a page at a time",
    description=EXPORT_PAGES,
    tags=["wallets"],
    responses=answers(
        _csv("Every partner's ledger entries"), forbidden=MANAGERS, not_found=NOT_A_MEMBER, invalid=INVALID
    ),
)
def export_organisation(
    org_id: Id, cursor: Cursor = None, limit: ExportLimit = ledger.EXPORT_MAX_ROWS
) -> Response[str]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    text, next_cursor = ledger.export_organisation(org_id, cursor=cursor, limit=limit)
    return _csv_response(text, next_cursor, f"ledger-{org_id}.csv")


# -- the partner's own -----------------------------------------------------------------------------


@router.get(
    "/orgs/<org_id>/portal/wallet",
    summary="The caller's wallet: balance, what is available for a payout, the open request",
    tags=["portal"],
    responses=answers(ok("The wallet"), forbidden=REFUSED, not_found=NOT_A_PARTNER),
)
def own_wallet(org_id: Id) -> ledger.Wallet:
    return ledger.own_wallet(partner_of(router, org_id))


@router.get(
    "/orgs/<org_id>/portal/wallet/entries",
    summary="The caller's transaction history, newest first",
    description="Who on the staff corrected a balance or paid a request is not shown.",
    tags=["portal"],
    responses=answers(ok("A page of entries"), forbidden=REFUSED, not_found=NOT_A_PARTNER, invalid=INVALID),
)
def own_entries(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[ledger.PartnerLedgerEntry]:
    caller = partner_of(router, org_id)
    items, next_cursor = ledger.list_entries(org_id, caller.partner_id, cursor=cursor, limit=limit)
    return page_of(ledger.PartnerLedgerEntry, items, next_cursor)


@router.get(
    "/orgs/<org_id>/portal/wallet/export",
    summary="The caller's transaction history as CSV, a page at a time",
    description=EXPORT_PAGES + " The columns are staff's but `by`: who on the staff corrected or paid is not shown.",
    tags=["portal"],
    responses=answers(_csv("The caller's ledger"), forbidden=REFUSED, not_found=NOT_A_PARTNER, invalid=INVALID),
)
def export_own(org_id: Id, cursor: Cursor = None, limit: ExportLimit = ledger.EXPORT_MAX_ROWS) -> Response[str]:
    caller = partner_of(router, org_id)
    text, next_cursor = ledger.export_own(org_id, caller.partner_id, cursor=cursor, limit=limit)
    return _csv_response(text, next_cursor, "ledger.csv")

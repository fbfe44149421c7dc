"""Wallets and the ledger: staff with the manage-balances permission see every partner's wallet and history,
correct balances and export the ledger as CSV; a partner sees and exports their own. Thin handlers over
common.money.ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.money import ledger
from common.money.wallets import EntryKind
from common.orgs.access import Permission
from common.platform.currencies import MINOR_UNITS_DESCRIPTION
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, Open, Page, Responses, answers, body, missing
from common.web.route_params import Cursor, Id, Limit, PartnerId, member_of, page, partner_of
from pydantic import Field

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


class OpenRequest(Open):
    request_id: str
    amount: int = Field(description="minor units, held back from the available balance")


class Wallet(Open):
    org_id: str
    partner_id: str
    currency: str | None = Field(description="ISO 4217; null before the organisation has a commission plan")
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)
    balance: int = Field(description="minor units: the sum of the wallet's ledger entries (may be negative)")
    available: int = Field(description="the balance less the open payout request")
    open_request: OpenRequest | None
    entry_count: int
    last_entry_at: datetime | None
    updated_at: datetime | None = Field(description="null while the partner has no entries")


class StaffWallet(Wallet):
    name: str | None = Field(description="the partner's name")
    status: str | None = Field(description="the partner's status")
    removed: bool = Field(description="removed from the organisation: the wallet and its history are kept")


class WalletPage(Page):
    items: list[StaffWallet]


class LedgerEntry(Open):
    org_id: str
    partner_id: str
    entry_id: str
    kind: EntryKind
    amount: int = Field(description="signed minor units")
    currency: str
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)
    at: datetime = Field(description="when it happened: the deal's stage change, the correction, the payment")
    recorded_at: datetime
    description: str
    details: dict[str, Any] = Field(description="what explains it: deal, stage, level and rule; reason and author")


class EntryPage(Page):
    items: list[LedgerEntry]


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
    responses=answers(
        body(WalletPage, "A page of wallets"), forbidden=MANAGERS, not_found=NOT_A_MEMBER, invalid=INVALID
    ),
)
def list_wallets(org_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return page(*ledger.list_wallets(org_id, cursor=cursor, limit=limit))


@router.get(
    "/orgs/<org_id>/wallets/<partner_id>",
    summary="A partner's wallet (balance 0 before their first entry)",
    tags=["wallets"],
    responses=answers(body(StaffWallet, "The wallet"), forbidden=MANAGERS, not_found=NO_PARTNER, invalid=INVALID),
)
def get_wallet(org_id: Id, partner_id: PartnerId) -> dict[str, Any]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return ledger.staff_wallet(org_id, partner_id)


@router.get(
    "/orgs/<org_id>/wallets/<partner_id>/entries",
    summary="A partner's ledger, newest first",
    tags=["wallets"],
    responses=answers(body(EntryPage, "A page of entries"), forbidden=MANAGERS, not_found=NO_PARTNER, invalid=INVALID),
)
def list_entries(org_id: Id, partner_id: PartnerId, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    ledger.require_partner_node(org_id, partner_id)
    items, next_cursor = ledger.list_entries(org_id, partner_id, cursor=cursor, limit=limit)
    return page([ledger.entry_view(i) for i in items], next_cursor)


@router.post(
    "/orgs/<org_id>/wallets/<partner_id>/corrections",
    summary="Correct a partner's balance: appends a correction entry (send an Idempotency-Key to retry safely)",
    tags=["wallets"],
    responses=answers(
        body(LedgerEntry, "The correction entry", 201),
        forbidden=MANAGERS,
        not_found=NO_PARTNER,
        conflict="The organisation has no commission plan yet (no-commission-plan): it fixes the wallets' currency",
        invalid=INVALID,
    ),
)
def correct(
    org_id: Id, partner_id: PartnerId, correction: Annotated[ledger.Correction, Body()]
) -> tuple[dict[str, Any], int]:
    member = member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    entry = ledger.correct(org_id, partner_id, member, correction)
    metrics.add_metric(name="BalanceCorrections", unit=MetricUnit.Count, value=1)
    return ledger.entry_view(entry), 201


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
    ledger.require_partner_node(org_id, partner_id)
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
    responses=answers(body(Wallet, "The wallet"), forbidden=REFUSED, not_found=NOT_A_PARTNER),
)
def own_wallet(org_id: Id) -> dict[str, Any]:
    return ledger.own_wallet(partner_of(router, org_id))


@router.get(
    "/orgs/<org_id>/portal/wallet/entries",
    summary="The caller's transaction history, newest first",
    tags=["portal"],
    responses=answers(
        body(EntryPage, "A page of entries"), forbidden=REFUSED, not_found=NOT_A_PARTNER, invalid=INVALID
    ),
)
def own_entries(org_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    caller = partner_of(router, org_id)
    items, next_cursor = ledger.list_entries(org_id, caller.partner_id, cursor=cursor, limit=limit)
    return page([ledger.entry_view(i) for i in items], next_cursor)


@router.get(
    "/orgs/<org_id>/portal/wallet/export",
    summary="The caller's transaction history as CSV, a page at a time",
    description=EXPORT_PAGES,
    tags=["portal"],
    responses=answers(_csv("The caller's ledger"), forbidden=REFUSED, not_found=NOT_A_PARTNER, invalid=INVALID),
)
def export_own(org_id: Id, cursor: Cursor = None, limit: ExportLimit = ledger.EXPORT_MAX_ROWS) -> Response[str]:
    caller = partner_of(router, org_id)
    text, next_cursor = ledger.export_wallet(org_id, caller.partner_id, cursor=cursor, limit=limit)
    return _csv_response(text, next_cursor, "ledger.csv")

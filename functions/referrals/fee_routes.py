"""Partner teams' referral fees: the organisation's and a team's fee agreements, a team's fees and
their ledger, payments, adjustments and write-offs, further closings of a closed customer and corrections.
Thin handlers over common.teams.fee_agreements, closings, fee_payments and fee_ledger, answering with the
models of common.teams.fee_views. Closing a customer is the status route's (team_routes) with `closing`."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.orgs.access import Permission
from common.platform import clock
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.teams import closings, fee_agreements, fee_ledger, fee_payments, fee_views, membership
from common.teams import fee_model as fm
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, caller, member_of

router = APIGatewayHttpRouter()

ClosingId = Annotated[str, Path(pattern=fm.CLOSING_ID_PATTERN, description="<customer>-<buy|sell>-<YYYY-MM-DD>")]
NO_TEAM = "No such team, or the caller is neither in it nor staff of the organisation"
READERS = f"Neither the team's leader or an admin, nor staff with {Permission.MANAGE_FEES.value}"
NO_FEE = NO_TEAM + "; or no such fee"


def _fee_caller(org_id: str, team_id: str) -> fee_views.FeeCaller:
    return fee_views.fee_caller(caller(router), org_id, team_id)


def _manager(org_id: str, team_id: str, permission: Permission = Permission.MANAGE_FEES) -> fee_views.FeeCaller:
    fees_caller = _fee_caller(org_id, team_id)
    fees_caller.require(permission)
    return fees_caller


# -- agreements ------------------------------------------------------------------------------------


@router.get(
    "/orgs/<org_id>/teams/fee-agreement",
    summary="The organisation's referral fee agreement: the terms in force now and every version",
    tags=["referral fees"],
    responses=answers(ok("The agreement"), forbidden=missing(Permission.MANAGE_FEES), not_found=NOT_A_MEMBER),
)
def get_org_agreement(org_id: Id) -> fee_views.FeeAgreement:
    member_of(router, org_id, Permission.MANAGE_FEES)
    in_force = fee_agreements.in_force(org_id, None, clock.now_iso(), consistent=True)
    return fee_views.agreement_answer(org_id, None, in_force, fee_agreements.versions(org_id, None))


@router.put(
    "/orgs/<org_id>/teams/fee-agreement",
    summary="Add a version of the organisation's referral fee agreement (now or later; never in the past)",
    tags=["referral fees"],
    responses=answers(
        ok("The version added"),
        forbidden=missing(Permission.MANAGE_FEES),
        not_found=NOT_A_MEMBER,
        invalid=INVALID + " (rate_bps over 10000 is a fee over 100%; effective_from in the past)",
    ),
)
def put_org_agreement(
    org_id: Id, new: Annotated[fee_agreements.NewAgreementVersion, Body()]
) -> fee_views.FeeAgreementVersion:
    member = member_of(router, org_id, Permission.MANAGE_FEES)
    return fee_views.FeeAgreementVersion.of(fee_agreements.add_version(org_id, None, new, member.actor))


@router.get(
    "/orgs/<org_id>/teams/<team_id>/fee-agreement",
    summary="A team's referral fee agreement: the terms in force for it now and its own versions",
    tags=["referral fees"],
    responses=answers(ok("The agreement"), forbidden=READERS, not_found=NO_TEAM),
)
def get_team_agreement(org_id: Id, team_id: Id) -> fee_views.FeeAgreement:
    _fee_caller(org_id, team_id).require_reader()
    in_force = fee_agreements.in_force(org_id, team_id, clock.now_iso(), consistent=True)
    return fee_views.agreement_answer(org_id, team_id, in_force, fee_agreements.versions(org_id, team_id))


@router.put(
    "/orgs/<org_id>/teams/<team_id>/fee-agreement",
    summary="Add a version of a team's own referral fee agreement",
    tags=["referral fees"],
    responses=answers(
        ok("The version added"), forbidden=missing(Permission.MANAGE_FEES), not_found=NO_TEAM, invalid=INVALID
    ),
)
def put_team_agreement(
    org_id: Id, team_id: Id, new: Annotated[fee_agreements.NewAgreementVersion, Body()]
) -> fee_views.FeeAgreementVersion:
    staff = _manager(org_id, team_id).require(Permission.MANAGE_FEES)
    return fee_views.FeeAgreementVersion.of(fee_agreements.add_version(org_id, team_id, new, staff.actor))


# -- fees and the ledger ---------------------------------------------------------------------------


@router.get(
    "/orgs/<org_id>/teams/<team_id>/fees",
    summary="The team's referral fees, oldest referral first (by customer, then side and close date)",
    tags=["referral fees"],
    responses=answers(ok("A page of fees"), forbidden=READERS, not_found=NO_TEAM, invalid="The cursor is not valid"),
)
def list_fees(
    org_id: Id,
    team_id: Id,
    status: Annotated[fm.FeeStatus | None, Query(description="only fees in this status")] = None,
    cursor: Cursor = None,
    limit: Limit = PAGE_LIMIT,
) -> Page[fee_views.Fee]:
    _fee_caller(org_id, team_id).require_reader()
    items, next_cursor = fee_ledger.list_fees(org_id, team_id, status=status, cursor=cursor, limit=limit)
    return page_of(fee_views.Fee, items, next_cursor)


@router.get(
    "/orgs/<org_id>/teams/<team_id>/fees/<fee_id>",
    summary="One referral fee with its closing and breakdown",
    tags=["referral fees"],
    responses=answers(ok("The fee"), forbidden=READERS, not_found=NO_FEE),
)
def get_fee(org_id: Id, team_id: Id, fee_id: ClosingId) -> fee_views.FeeWithClosing:
    _fee_caller(org_id, team_id).require_reader()
    fee, closing = fee_ledger.fee_with_closing(org_id, team_id, fee_id)
    return fee_views.FeeWithClosing.of_items(fee, closing)


@router.get(
    "/orgs/<org_id>/teams/<team_id>/fee-ledger",
    summary="The team's fee ledger, newest first (each entry with the balance after it)",
    tags=["referral fees"],
    responses=answers(
        ok("A page of entries"), forbidden=READERS, not_found=NO_TEAM, invalid="The cursor or limit is not valid"
    ),
)
def fee_ledger_entries(
    org_id: Id, team_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[fee_views.FeeEntry]:
    _fee_caller(org_id, team_id).require_reader()
    items, next_cursor = fee_ledger.list_entries(org_id, team_id, cursor=cursor, limit=limit)
    return page_of(fee_views.FeeEntry, items, next_cursor)


@router.post(
    "/orgs/<org_id>/teams/<team_id>/fee-payments",
    summary="Record a payment against a fee (full or partial, with its reference)",
    tags=["referral fees"],
    status_code=201,
    responses=answers(
        ok("The payment's ledger entry", 201),
        forbidden=missing(Permission.MANAGE_FEES),
        not_found=NO_FEE,
        conflict="The fee owes nothing (fee-not-owed), or the ledger kept changing (fee-ledger-busy)",
        invalid=INVALID + " (an amount over the fee's outstanding names amount)",
    ),
)
def record_payment(org_id: Id, team_id: Id, payment: Annotated[fee_payments.FeePayment, Body()]) -> fee_views.FeeEntry:
    staff = _manager(org_id, team_id).require(Permission.MANAGE_FEES)
    entry = fee_payments.record_payment(org_id, team_id, payment, staff.actor)
    metrics.add_metric(name="TeamFeePayments", unit=MetricUnit.Count, value=1)
    return fee_views.FeeEntry.of(entry)


@router.post(
    "/orgs/<org_id>/teams/<team_id>/fee-adjustments",
    summary="Adjust what a fee owes, with the reason",
    tags=["referral fees"],
    status_code=201,
    responses=answers(
        ok("The adjustment's ledger entry", 201),
        forbidden=missing(Permission.MANAGE_FEES),
        not_found=NO_FEE,
        conflict="The fee was written off or owes nothing by its window (fee-not-owed), or the ledger kept changing",
        invalid=INVALID + " (an adjustment leaving less than 0 outstanding names amount)",
    ),
)
def record_adjustment(
    org_id: Id, team_id: Id, adjustment: Annotated[fee_payments.FeeAdjustment, Body()]
) -> fee_views.FeeEntry:
    staff = _manager(org_id, team_id).require(Permission.MANAGE_FEES)
    return fee_views.FeeEntry.of(fee_payments.record_adjustment(org_id, team_id, adjustment, staff.actor))


@router.post(
    "/orgs/<org_id>/teams/<team_id>/fees/<fee_id>/write-off",
    summary="Write off what a fee has outstanding",
    tags=["referral fees"],
    status_code=201,
    responses=answers(
        ok("The write-off's ledger entry", 201),
        forbidden=missing(Permission.WRITE_OFF_FEES),
        not_found=NO_FEE,
        conflict="The fee owes nothing (fee-not-owed), or the ledger kept changing",
        invalid=INVALID,
    ),
)
def write_off(
    org_id: Id, team_id: Id, fee_id: ClosingId, body: Annotated[fee_payments.FeeWriteOff, Body()]
) -> fee_views.FeeEntry:
    staff = _manager(org_id, team_id, Permission.WRITE_OFF_FEES).require(Permission.WRITE_OFF_FEES)
    entry = fee_payments.write_off(org_id, team_id, fee_id, body, staff.actor)
    metrics.add_metric(name="TeamFeesWrittenOff", unit=MetricUnit.Count, value=1)
    return fee_views.FeeEntry.of(entry)


# -- closings --------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/teams/<team_id>/customers/<customer_id>/closings",
    summary="Record a further closing of a closed customer (another side, or again within the window)",
    tags=["referral fees"],
    status_code=201,
    responses=answers(
        ok("The closing's fee", 201),
        forbidden="Neither the customer's assignee nor the team's leader or an admin",
        not_found=NO_TEAM + "; or no such customer, or (for a member) it is not assigned to them",
        conflict="The customer is not closed (customer-not-closed), the closing is recorded with other figures "
        "(closing-exists), or the ledger kept changing",
        invalid=INVALID,
    ),
)
def add_closing(org_id: Id, team_id: Id, customer_id: Id, closing: Annotated[fm.Closing, Body()]) -> fee_views.Fee:
    team_caller = membership.team_caller(caller(router), org_id, team_id)
    fee = closings.add_closing(team_caller, customer_id, closing)
    metrics.add_metric(name="TeamClosings", unit=MetricUnit.Count, value=1)
    return fee_views.Fee.of(fee)


@router.put(
    "/orgs/<org_id>/teams/<team_id>/closings/<closing_id>",
    summary="Correct a closing's figures: its fee is recomputed and the difference adjusted, with the reason",
    tags=["referral fees"],
    responses=answers(
        ok("The fee after the correction"),
        forbidden=missing(Permission.MANAGE_FEES),
        not_found=NO_TEAM + "; or no such closing",
        conflict="The fee was written off, or would come to less than was paid (fee-settled), or the closing "
        "or ledger kept changing",
        invalid=INVALID,
    ),
)
def correct_closing(
    org_id: Id, team_id: Id, closing_id: ClosingId, correction: Annotated[fm.ClosingCorrection, Body()]
) -> fee_views.Fee:
    staff = _manager(org_id, team_id).require(Permission.MANAGE_FEES)
    return fee_views.Fee.of(closings.correct(org_id, team_id, closing_id, correction, staff.actor))

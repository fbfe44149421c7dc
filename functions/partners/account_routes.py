"""A partner's own account (/me/partner): details, preferences, sender address, e-mail change and the
confirmation e-mail sent again."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.partners import account as partner_account
from common.web.openapi_docs import INVALID, answers, ok
from common.web.route_params import caller

router = APIGatewayHttpRouter()
TAGS = ["partner account"]

NO_ACCOUNT = "The caller has no partner account"
UNCONFIRMED = "The account's e-mail address is not confirmed yet (email-not-confirmed), or not a user token"


@router.get(
    "/me/partner",
    summary="The caller's partner account and the organisations they are a partner of",
    description="Readable also while the address is unconfirmed (`email_confirmed` false): every other "
    "route answers 403 email-not-confirmed until the e-mailed link is followed.",
    tags=TAGS,
    responses=answers(ok("The account"), forbidden="Not a user token", not_found=NO_ACCOUNT),
)
def get_account() -> partner_account.AccountWithOrganisations:
    return partner_account.account_with_organisations(caller(router))


@router.patch(
    "/me/partner",
    summary="Change the caller's name, phone, display preferences or sender address",
    description="Only the fields sent change; phone or sender_email sent as null are cleared. A new "
    "sender_email is pending (sender_email_confirmed false) until the link e-mailed to it is followed "
    "(POST /public/sender-confirmations); sending the pending address again sends a new link, at most once a "
    "minute. Invitations go from sender_email only once it is confirmed and the organisation allows its domain "
    "(portal settings); otherwise from the system's address naming the inviter, replies going to the "
    "account's address. A sender_email must be under one of the deployment's sender domains (else 422).",
    tags=TAGS,
    responses=answers(
        ok("The account as saved"),
        forbidden=UNCONFIRMED,
        not_found=NO_ACCOUNT,
        conflict="The account changed meanwhile, or a sender confirmation link was sent less than a minute ago",
        invalid=INVALID + " (or a sender_email not under one of the deployment's sender domains)",
    ),
)
def patch_account(change: Annotated[partner_account.AccountChange, Body()]) -> partner_account.Account:
    return partner_account.update_account(caller(router), change)


@router.post(
    "/me/partner/email",
    summary="Change the caller's e-mail address: it changes once the link sent to the new address is followed",
    tags=TAGS,
    status_code=202,
    responses=answers(
        ok("The confirmation e-mail is on its way", 202),
        forbidden=UNCONFIRMED,
        not_found=NO_ACCOUNT,
        conflict="The account changed meanwhile",
        invalid=INVALID + " (or the address is already the account's)",
    ),
)
def change_email(change: Annotated[partner_account.EmailChange, Body()]) -> partner_account.EmailChangeStarted:
    return partner_account.request_email_change(caller(router), change)


@router.post(
    "/me/partner/confirmation",
    summary="Send the confirmation e-mail again (also while the address is unconfirmed)",
    tags=TAGS,
    status_code=202,
    responses=answers(
        ok("Sent again", 202),
        forbidden="Not a user token",
        not_found=NO_ACCOUNT,
        conflict="Nothing to confirm, or one was sent less than a minute ago",
    ),
)
def resend_confirmation() -> partner_account.ConfirmationSent:
    return partner_account.resend_confirmation(caller(router))

"""Routes reached without a token: registration (from an invitation or a referral link), the pages those
links open, e-mail confirmation, sender address confirmation and account activation.

After a registration or an activation the portal signs the partner in with Cognito itself (the e-mail
address and the password just set); these routes never hand out tokens."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.partners import account_links, sender_addresses
from common.platform.errors import PROBLEM_CONTENT_TYPE
from common.programme import invitations, registration
from common.web.openapi_docs import INVALID, NO_INPUT, Problem, Responses, ok

router = APIGatewayHttpRouter()
TAGS = ["registration"]

Token = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{20,128}$", description="the token from the e-mailed link")]
Code = Annotated[str, Path(pattern=invitations.REFERRAL_CODE_PATTERN, description="the referral code of the link")]
TOKEN_REFUSED = "The link was already used (token-used) or has expired (token-expired)"  # noqa: S105 - a description


def _answers(*success: Responses, not_found: str, conflict: str | None = None, invalid: str = NO_INPUT) -> Responses:
    """Public routes have no caller to refuse (no 401): their problems are a missing thing, a conflict,
    invalid input, or a link bound to another address (403)."""
    problems = {403: "The link was sent to another e-mail address", 404: not_found, 409: conflict, 422: invalid}
    documented: Responses = {}
    for responses in success:
        documented |= responses
    return documented | {
        status: {"description": text, "content": {PROBLEM_CONTENT_TYPE: {"model": Problem}}}
        for status, text in problems.items()
        if text
    }


@router.get(
    "/public/invitations/<token>",
    summary="An invitation's registration form data",
    tags=TAGS,
    responses=_answers(
        ok("The invitee's details and the organisation"),
        not_found="No such invitation link",
        conflict=TOKEN_REFUSED,
    ),
)
def invitation(token: Token) -> invitations.InvitationPreview:
    return invitations.invitation_preview(token)


@router.post(
    "/public/registrations/invitation",
    summary="Register from an invitation: only a password is needed; the address counts as confirmed",
    description="The token works once, for the invited address only, until it expires. Then sign in with "
    "Cognito using the invited address and this password.",
    tags=TAGS,
    status_code=201,
    responses=_answers(
        ok("Registered", 201),
        not_found="No such invitation link",
        conflict=TOKEN_REFUSED + ", the address is already registered, or the current terms version not accepted",
        invalid=INVALID,
    ),
)
def register_by_invitation(
    request: Annotated[registration.InvitationRegistration, Body()],
) -> registration.Registered:
    return registration.register_by_invitation(request)


@router.get(
    "/public/referrals/<code>",
    summary="A referral link's landing data: the organisation and the referrer",
    tags=TAGS,
    responses=_answers(ok("The referral link"), not_found="No such (or no longer valid) link"),
)
def referral(code: Code) -> invitations.ReferralPreview:
    return invitations.referral_preview(code.lower())


@router.post(
    "/public/registrations/referral",
    summary="Register through a referral link, under the referrer",
    description="The answer is the same whether or not the address already has a sign-in: check the "
    "e-mail. A new address gets a confirmation link and can sign in at once with this password, but every "
    "action answers 403 email-not-confirmed until the link is followed. An address that has a sign-in "
    "keeps it untouched (this password is not set) and is told that someone tried to register with it.",
    tags=TAGS,
    status_code=202,
    responses=_answers(
        ok("Accepted; an e-mail is on its way to the address", 202),
        not_found="No such (or no longer valid) referral link",
        conflict="The current terms version not accepted, or the referrer changed meanwhile",
        invalid=INVALID,
    ),
)
def register_by_referral(
    request: Annotated[registration.ReferralRegistration, Body()],
) -> registration.RegistrationPending:
    return registration.register_by_referral(request)


@router.post(
    "/public/email-confirmations",
    summary="Confirm an e-mail address (a registration's, or a new address) with the e-mailed token",
    tags=TAGS,
    responses=_answers(
        ok("Confirmed"),
        not_found="No such link",
        conflict=TOKEN_REFUSED + ", a newer link replaced it, or another sign-in uses the new address",
        invalid=INVALID,
    ),
)
def confirm_email(request: Annotated[account_links.TokenOnly, Body()]) -> account_links.Confirmed:
    return account_links.confirm_email(request)


@router.post(
    "/public/sender-confirmations",
    summary="Confirm a sender address for invitations with the token e-mailed to it",
    description="Confirms the address only while it is still the account's sender address. The answer says "
    "what was confirmed, nothing about the account that asked.",
    tags=TAGS,
    responses=_answers(
        ok("Confirmed"),
        not_found="No such link",
        conflict=TOKEN_REFUSED + ", or the account's sender address changed since",
        invalid=INVALID,
    ),
)
def confirm_sender(request: Annotated[account_links.TokenOnly, Body()]) -> sender_addresses.SenderConfirmed:
    return sender_addresses.confirm(request.token)


@router.post(
    "/public/activations",
    summary="Activate a partner account added by staff: set its first password",
    description="Then sign in with Cognito using the account's address and this password. A sign-in that "
    "has a password already keeps it (409).",
    tags=TAGS,
    responses=_answers(
        ok("Activated"),
        not_found="No such link",
        conflict=TOKEN_REFUSED + ", or the account already has a password",
        invalid=INVALID,
    ),
)
def activate(request: Annotated[account_links.Activation, Body()]) -> account_links.Activated:
    return account_links.activate(request)

"""The four sides of a partner company: it sells leads to us (`sells_leads`, with today's lead settings), buys
leads from us (`buys_leads`, `lead_sale`), sells customers to us (`sells_customers`, `customer_purchase`) and
buys customers from us (`buys_customers`, `customer_sale`). Each side is a switch with its own settings; a
side switched on needs its settings, and settings are checked whether their side is on or not, so what is
kept is always usable once switched on.

A sale goes by post (to the receiving system's `post_url`, naming the `source_id` it gave us) or by e-mail
(to `email_addresses`), with `sale_notification_emails` told either way. A post may authenticate with client
credentials the receiver issued for us (OAuth client-credentials grant at `token_url`). Their secret is
write-only: it is kept in SSM Parameter Store as a SecureString (`secret_parameter_name`, under the stage's
prefix), never on the item nor in an answer; the item keeps `receiver_credentials` with `has_secret`.
The delivery engine reads it with `receiver_secret`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from common.platform import urls
from common.platform.answers import Answer
from common.platform.errors import FieldError, InvalidInput
from common.platform.settings import CompanySecrets, get_settings
from common.platform.validation import SINGLE_LINE, EmailList, ShortText


class Side(StrEnum):
    """What a company buys from us: the two kinds of sale, each with its own receiver (and secret)."""

    LEADS = "leads"
    CUSTOMERS = "customers"


class SaleMethod(StrEnum):
    POST = "post"
    EMAIL = "email"


# Visible ASCII: what goes into an HTTP request as it is (a URL, a client id, a Basic credential).
_VISIBLE = r"^[\x21-\x7e]+$"
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=urls.MAX_URL_LENGTH, pattern=_VISIBLE)
]
ReceiverSourceId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    SINGLE_LINE,
]
ClientId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256, pattern=_VISIBLE)]
# An SSM standard parameter holds at most 4 KB; client secrets are far shorter.
ClientSecret = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=_VISIBLE)]
# OAuth scopes: space-separated tokens of visible ASCII (RFC 6749, section 3.3).
Scope = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1000, pattern=r"^[\x21-\x7e]+( [\x21-\x7e]+)*$"),
]

SALE_EXAMPLE: JsonDict = {
    "method": "post",
    "post_url": "https://leads.buyer.example/orgs/01JD0000000000000000000000/partner-companies/"
    "01JD0000000000000000000001/leads",
    "source_id": "SRC-42",
    "sale_notification_emails": ["sales@example.org"],
    "receiver_credentials": {
        "token_url": "https://auth.buyer.example/oauth2/token",
        "client_id": "our-client-at-the-buyer",
        "client_secret": "s3cr3t-the-buyer-gave-us",
        "scope": "leads/write",
    },
}


class ReceiverCredentials(BaseModel):
    """Client credentials the receiving system issued for us: a token is got from `token_url` with the
    client-credentials grant before posting."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    token_url: Url
    client_id: ClientId
    client_secret: ClientSecret | None = Field(
        None,
        description="write-only: kept as a secret parameter and never answered; left out on a change, the one "
        "kept stays",
    )
    scope: Scope | None = None


class KeptReceiverCredentials(Answer):
    """The receiver's client credentials as kept: the secret is never answered, only whether one is kept."""

    token_url: str
    client_id: str
    scope: str | None = None
    has_secret: bool


class _SaleFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    method: SaleMethod
    post_url: Url | None = Field(None, description="post: where each sale is posted (HTTPS, public host)")
    source_id: ReceiverSourceId | None = Field(
        None, description="post: the Source ID the receiving system gave us, sent with each sale"
    )
    email_addresses: EmailList = Field([], description="e-mail: where each sale is sent (at least one)")
    sale_notification_emails: EmailList = Field([], description="told once per sale, whatever the method")


class SaleSide(_SaleFields):
    """How leads (or customers) sold to the company reach it: posted to its system or e-mailed."""

    model_config = ConfigDict(json_schema_extra={"examples": [SALE_EXAMPLE]})
    receiver_credentials: ReceiverCredentials | None = Field(
        None, description="post: client credentials the receiver issued for us, if it asks for a token"
    )


class SaleSideSettings(_SaleFields, Answer):
    """A sale side as kept and answered: the receiver's credentials without their secret."""

    model_config = Answer.model_config
    receiver_credentials: KeptReceiverCredentials | None = None


class CustomerPurchase(BaseModel):
    """Customers the company sells to us: the office they land in (a company selling from several offices is
    one company per office) and who is told of each."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"office_location": "Springfield", "purchase_notification_emails": ["office@example.org"]}]
        },
    )
    office_location: ShortText
    purchase_notification_emails: EmailList = []


@dataclass(frozen=True)
class CompanySide:
    """One switchable side with settings: its switch, its settings field and, for a sale side, what it sells."""

    switch: str
    settings: str
    sells_us: bool  # a purchase side (we buy), else a sale side (we sell)
    side: Side | None = None


LEAD_SALE = CompanySide("buys_leads", "lead_sale", sells_us=False, side=Side.LEADS)
CUSTOMER_PURCHASE = CompanySide("sells_customers", "customer_purchase", sells_us=True)
CUSTOMER_SALE = CompanySide("buys_customers", "customer_sale", sells_us=False, side=Side.CUSTOMERS)
SIDES = (LEAD_SALE, CUSTOMER_PURCHASE, CUSTOMER_SALE)
SALE_SIDES = {Side.LEADS: LEAD_SALE, Side.CUSTOMERS: CUSTOMER_SALE}
# The switches a company listing filters on (with `active`).
SWITCHES = ("sells_leads", "buys_leads", "sells_customers", "buys_customers")


# -- validated together --------------------------------------------------------------------------------


def side_problems(
    sent: Mapping[str, Any], current: Mapping[str, Any] | None, policy: urls.OutboundPolicy
) -> list[FieldError]:
    """Every problem of the sides once `sent` (a request's fields, by name, as sent) is applied to `current`
    (the company as kept; None for a new one), each naming its field of the request body."""
    kept = current or {}
    problems: list[FieldError] = []
    for side in SIDES:
        on = sent[side.switch] if side.switch in sent else kept.get(side.switch, False)
        settings = sent[side.settings] if side.settings in sent else kept.get(side.settings)
        if on and settings is None:
            cleared = side.settings in sent
            message = (
                f"cannot be cleared while {side.switch} is on: switch it off first"
                if cleared
                else f"required while {side.switch} is on"
            )
            problems.append(FieldError(f"body.{side.settings}", message))
        if side.side is not None and side.settings in sent and sent[side.settings] is not None:
            problems += _sale_problems(f"body.{side.settings}", sent[side.settings], kept.get(side.settings), policy)
    return problems


def _sale_problems(
    field: str, sale: Mapping[str, Any], kept: Mapping[str, Any] | None, policy: urls.OutboundPolicy
) -> list[FieldError]:
    problems: list[FieldError] = []
    post = sale["method"] == SaleMethod.POST
    if post:
        problems += [
            FieldError(f"{field}.{name}", "required with the post method")
            for name in ("post_url", "source_id")
            if not sale.get(name)
        ]
    elif not sale.get("email_addresses"):
        problems.append(FieldError(f"{field}.email_addresses", "at least one address with the e-mail method"))
    if sale.get("post_url"):
        problem = urls.url_problem(sale["post_url"], policy)
        if problem:
            problems.append(FieldError(f"{field}.post_url", problem))
    credentials = sale.get("receiver_credentials")
    if credentials is not None:
        if not post:
            problems.append(FieldError(f"{field}.receiver_credentials", "only with the post method"))
        problem = urls.url_problem(credentials["token_url"], policy)
        if problem:
            problems.append(FieldError(f"{field}.receiver_credentials.token_url", problem))
        if credentials.get("client_secret") is None and not _has_secret(kept):
            problems.append(
                FieldError(f"{field}.receiver_credentials.client_secret", "required: no secret is kept for this side")
            )
    return problems


def _has_secret(sale: Mapping[str, Any] | None) -> bool:
    return bool(((sale or {}).get("receiver_credentials") or {}).get("has_secret"))


def check_sides(sent: Mapping[str, Any], current: Mapping[str, Any] | None, policy: urls.OutboundPolicy) -> None:
    """422 naming each field when the sides would be inconsistent (see `side_problems`); nothing is written."""
    problems = side_problems(sent, current, policy)
    if problems:
        raise InvalidInput(f"the company's sides are not consistent: {problems[0].field}", errors=problems)


def kept_sale(sale: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A sale side as the item keeps it: the receiver's credentials without their secret, which says it is kept."""
    if sale is None:
        return None
    credentials = sale.get("receiver_credentials")
    if credentials is None:
        return dict(sale)
    kept = {name: value for name, value in credentials.items() if name != "client_secret" and value is not None}
    return {**sale, "receiver_credentials": {**kept, "has_secret": True}}


# -- the receivers' secrets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretChange:
    """What a company change does to one side's kept secret: a new value to keep, or the kept one to forget."""

    side: Side
    secret: str | None  # None: forget it


def secret_changes(sent: Mapping[str, Any], current: Mapping[str, Any] | None) -> list[SecretChange]:
    """The secrets to keep or forget once `sent` (checked by `side_problems`) is applied to `current`."""
    changes = []
    for side, company_side in SALE_SIDES.items():
        if company_side.settings not in sent:
            continue
        credentials = (sent[company_side.settings] or {}).get("receiver_credentials")
        if credentials is None:
            if _has_secret((current or {}).get(company_side.settings)):
                changes.append(SecretChange(side, None))
        elif credentials.get("client_secret") is not None:
            changes.append(SecretChange(side, credentials["client_secret"]))
    return changes


@lru_cache(maxsize=1)
def _ssm() -> Any:
    return boto3.client("ssm")


def secret_parameter_name(org_id: str, company_id: str, side: Side | str) -> str:
    """The SecureString holding the client secret of the company's receiver of `side` ("leads" or
    "customers"), under the stage's prefix."""
    return f"{get_settings(CompanySecrets).company_secret_prefix}/{org_id}/{company_id}/{Side(side).value}"


def receiver_secret(org_id: str, company_id: str, side: Side | str, *, ssm: Any = None) -> str | None:
    """The client secret the receiver of `side` issued for us (decrypted), or None when none is kept."""
    try:
        response = (ssm or _ssm()).get_parameter(
            Name=secret_parameter_name(org_id, company_id, side), WithDecryption=True
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return str(response["Parameter"]["Value"])


def keep_secret(org_id: str, company_id: str, side: Side, secret: str, *, ssm: Any = None) -> None:
    """Keep (or replace) the secret, encrypted with the account's key for SSM (aws/ssm)."""
    (ssm or _ssm()).put_parameter(
        Name=secret_parameter_name(org_id, company_id, side),
        Description=f"Client secret of partner company {company_id}'s {side.value} receiver",
        Value=secret,
        Type="SecureString",
        # Whatever the account's default tier: a secret fits the standard tier's 4 KB, which costs nothing.
        Tier="Standard",
        Overwrite=True,
    )


def forget_secret(org_id: str, company_id: str, side: Side, *, ssm: Any = None) -> None:
    try:
        (ssm or _ssm()).delete_parameter(Name=secret_parameter_name(org_id, company_id, side))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise


def apply_secret_changes(org_id: str, company_id: str, changes: list[SecretChange], *, ssm: Any = None) -> None:
    for change in changes:
        if change.secret is None:
            forget_secret(org_id, company_id, change.side, ssm=ssm)
        else:
            keep_secret(org_id, company_id, change.side, change.secret, ssm=ssm)

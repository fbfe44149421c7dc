"""The shape of partner teams' referral fees in the table: keys, kinds, statuses, the default terms
and the closing a team records when it closes a customer. Shared by the agreements, closings, the fee
ledger, the lateness sweep and the views.

    agreement version  ORG#<org>#FEE_AGREEMENT#<scope> / VERSION#<effectiveFrom>#<id>   scope ORG or TEAM#<team>
    closing            ORG#<org>#TEAM#<team>#FEES / CLOSING#<closingId>
    fee                ORG#<org>#TEAM#<team>#FEES / FEE#<feeId>            feeId = closingId
                       gsi3 while it is open and owed: ORG#<org>#FEES_DUE / <nextActionAt>#<team>#<fee>
    ledger entry       ORG#<org>#TEAM#<team>#FEES / ENTRY#<at>#<entryId>   entity "fee_entry", append-only
    balance            ORG#<org>#TEAM#<team>#FEES / BALANCE#<currency>     entity "fee_balance"
    late fee guard     ORG#<org>#TEAM#<team>#FEES / LATE#<feeId>#<period>  one late fee per fee and period
    fee notice         ORG#<org>#TEAM#<team>#FEES / NOTICE#FEE#<fee>#<reminder>#<channel>

A closing's id is `<customer>-<side>-<closeDate>`: the same closing sent twice, or by two racing requests,
names the same items, so its fee is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from common.platform import clock, db
from common.platform.currencies import CurrencyCode
from common.platform.validation import LongText, ShortText
from common.teams.team_model import team_pk

# -- the default terms (an agreement version may set each; docs/decisions.md "Referral fees") --------------
DEFAULT_RATE_BPS = 3000  # 30% of the team's commission
DEFAULT_WINDOW_DAYS = 548  # 18 months after the referral
DEFAULT_DUE_DAYS_AFTER_CLOSE = 0  # due on the close date
DEFAULT_REMINDER_DAYS = (0, 20)  # reminders to the leader on the due date and 20 days after
DEFAULT_LATE_FEE_BPS = 300  # 3% of the outstanding amount ...
DEFAULT_LATE_FEE_EVERY_DAYS = 30  # ... at 30 days overdue and every further 30 days
DEFAULT_PAUSE_AFTER_DAYS = 45  # a fee more than 45 days overdue pauses the team for new referrals

BPS = 10_000  # basis points in a whole
MAX_AMOUNT_MINOR = 10**15

Note = Annotated[LongText, Field(min_length=1)]
Reference = Annotated[ShortText, Field(description="the payment's reference (bank transfer, cheque number)")]
Minor = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR, description="minor units (cents)")]
PositiveMinor = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_MINOR, description="minor units (cents)")]


class FeeStatus(StrEnum):
    OPEN = "open"  # owed, outstanding > 0
    PAID = "paid"  # outstanding brought to 0 by payments or adjustments
    WRITTEN_OFF = "written_off"
    NONE = "none"  # nothing owed: the closing came after the agreement's window (reason says why)


class FeeEntryKind(StrEnum):
    FEE = "fee"
    LATE_FEE = "late_fee"
    PAYMENT = "payment"
    ADJUSTMENT = "adjustment"
    WRITE_OFF = "write_off"


class ClosingSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


# -- keys ------------------------------------------------------------------------------------------

ORG_SCOPE = "ORG"
VERSION_PREFIX = "VERSION#"
ENTRY_PREFIX = "ENTRY#"
FEE_PREFIX = "FEE#"
ENTRY_ENTITY = "fee_entry"
BALANCE_ENTITY = "fee_balance"


def team_scope(team_id: str) -> str:
    return f"TEAM#{team_id}"


def agreement_pk(org_id: str, scope: str) -> str:
    return f"ORG#{org_id}#FEE_AGREEMENT#{scope}"


def agreement_version_key(org_id: str, scope: str, effective_from: str, version_id: str) -> db.Key:
    return {"pk": agreement_pk(org_id, scope), "sk": f"{VERSION_PREFIX}{effective_from}#{version_id}"}


def fees_pk(org_id: str, team_id: str) -> str:
    return f"{team_pk(org_id, team_id)}#FEES"


# `<customer>-<side>-<closeDate>`: a customer id (a referral request's), the side and the day.
CLOSING_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}-(buy|sell)-[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ClosingRef = Annotated[str, StringConstraints(pattern=CLOSING_ID_PATTERN)]


def closing_id_of(customer_id: str, side: str, close_date: date | str) -> str:
    day = close_date.isoformat() if isinstance(close_date, date) else close_date
    return f"{customer_id}-{side}-{day}"


def closing_key(org_id: str, team_id: str, closing_id: str) -> db.Key:
    return {"pk": fees_pk(org_id, team_id), "sk": f"CLOSING#{closing_id}"}


def fee_key(org_id: str, team_id: str, fee_id: str) -> db.Key:
    return {"pk": fees_pk(org_id, team_id), "sk": f"{FEE_PREFIX}{fee_id}"}


def entry_key(org_id: str, team_id: str, at: str, entry_id: str) -> db.Key:
    return {"pk": fees_pk(org_id, team_id), "sk": f"{ENTRY_PREFIX}{at}#{entry_id}"}


def balance_key(org_id: str, team_id: str, currency: str) -> db.Key:
    return {"pk": fees_pk(org_id, team_id), "sk": f"BALANCE#{currency}"}


def late_guard_key(org_id: str, team_id: str, fee_id: str, period: int) -> db.Key:
    return {"pk": fees_pk(org_id, team_id), "sk": f"LATE#{fee_id}#{period}"}


def late_entry_id(fee_id: str, period: int) -> str:
    return f"late-{fee_id}-{period}"


def fees_due_partition(org_id: str) -> str:
    return f"ORG#{org_id}#FEES_DUE"


def fees_due_index(org_id: str, team_id: str, fee_id: str, next_action_at: str) -> dict[str, str]:
    return {"gsi3pk": fees_due_partition(org_id), "gsi3sk": f"{next_action_at}#{team_id}#{fee_id}"}


# -- the closing -----------------------------------------------------------------------------------


class Closing(BaseModel):
    """A transaction the team closed with a referred customer: what its referral fee is computed from."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "close_date": "2026-11-30",
                    "side": "buy",
                    "sale_price": 45_000_000,
                    "commission": 1_350_000,
                    "currency": "USD",
                }
            ]
        },
    )
    close_date: date = Field(description="the day the transaction closed (not in the future)")
    side: ClosingSide = Field(description="the side the team represented")
    sale_price: PositiveMinor = Field(description="the sale price, in minor units of `currency`")
    commission: Minor = Field(description="the team's commission on it, in minor units of `currency`")
    currency: CurrencyCode = Field(description="ISO 4217")


class ClosingCorrection(BaseModel):
    """New figures for a recorded closing (its date and side name it and stay), with the reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"sale_price": 45_000_000, "commission": 1_200_000, "note": "Commission split agreed later"}]
        },
    )
    sale_price: PositiveMinor
    commission: Minor
    note: Note = Field(description="why the figures changed; kept on the adjustment entry")


# -- when a fee next needs the lateness sweep ----------------------------------------------------------


def at_days(due_at: str, days: int, *, after: bool = False) -> str:
    """The instant `days` after the due date (negative: before); `after`: just past it (a millisecond)."""
    moment = datetime.fromisoformat(due_at.replace("Z", "+00:00")) + timedelta(days=days)
    return clock.iso(moment + timedelta(milliseconds=1) if after else moment)


def next_action_at(fee: Mapping[str, Any]) -> str | None:
    """The earliest moment the fee needs the sweep: its next reminder, its next late fee, or the moment it
    is more than the pause threshold overdue (if not counted yet). None for a fee that owes nothing."""
    if fee.get("status") != FeeStatus.OPEN.value or int(fee.get("outstanding", 0)) <= 0:
        return None
    terms, due = fee["terms"], fee["due_at"]
    moments: list[str] = []
    reminders = list(terms.get("reminder_days") or [])
    done = int(fee.get("reminders_done", 0))
    if done < len(reminders):
        moments.append(at_days(due, int(reminders[done])))
    if int(terms.get("late_fee_bps", 0)) > 0:
        moments.append(at_days(due, int(terms["late_fee_every_days"]) * (int(fee.get("late_periods", 0)) + 1)))
    if not fee.get("pause_counted"):
        moments.append(at_days(due, int(terms["pause_after_days"]), after=True))
    return min(moments) if moments else None


def due_fields(fee: Mapping[str, Any]) -> dict[str, Any]:
    """The fee's next action time and its place in the lateness index (empty when it needs none)."""
    moment = next_action_at(fee)
    if moment is None:
        return {}
    return {"next_action_at": moment, **fees_due_index(fee["org_id"], fee["team_id"], fee["fee_id"], moment)}

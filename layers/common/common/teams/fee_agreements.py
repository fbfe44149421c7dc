"""Referral fee agreements: what a team owes the organisation when it closes a referred customer.
An organisation sets its agreement, and a team may have its own; both are versioned like commission plans
(common.money.plans): a version is never edited, takes effect now or later (never in the past), and the
version in force when the customer was *referred* applies to its closings, so a later change never reprices
a referral already made.

    version   ORG#<org>#FEE_AGREEMENT#<scope> / VERSION#<effectiveFrom>#<versionId>   entity "fee_agreement"
              scope ORG (the organisation's) or TEAM#<team> (one team's own)

Each version holds every term: the rate (basis points of the team's commission), an optional minimum fee in
a currency, the window after the referral in which a closing owes a fee, the days after the close date the
fee is due, the reminder days, the late fee's rate and period, and the days overdue that pause the team.
The fee copies the terms it was computed with, so the lateness sweep never reads an agreement.

The version in force at a moment: one Query per scope, newest first, `sk <= VERSION#<moment>#~`, Limit 1;
the team's scope first, then the organisation's; neither: the defaults (common.teams.fee_model).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from common.platform import clock, db, ids, listings
from common.platform.currencies import CurrencyCode
from common.platform.errors import invalid
from common.platform.validation import Instant
from common.teams import fee_model as fm

MAX_REMINDERS = 5

Days = Annotated[StrictInt, Field(ge=1, le=3650)]


class AgreementTerms(BaseModel):
    """The terms of an agreement version; every one has its default."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"rate_bps": 3000, "minimum_fee": 100_000, "currency": "USD", "window_days": 548}]
        },
    )
    rate_bps: Annotated[StrictInt, Field(ge=0, le=fm.BPS)] = Field(
        fm.DEFAULT_RATE_BPS, description="the fee in basis points of the team's commission (3000 = 30%; at most 100%)"
    )
    minimum_fee: fm.PositiveMinor | None = Field(
        None, description="the least a closing owes, in minor units of `currency` (closings in another currency: none)"
    )
    currency: CurrencyCode | None = Field(None, description="ISO 4217: the minimum fee's currency")
    window_days: Days = Field(
        fm.DEFAULT_WINDOW_DAYS, description="a closing owes a fee this many days after the referral"
    )
    due_days_after_close: Annotated[StrictInt, Field(ge=0, le=365)] = Field(
        fm.DEFAULT_DUE_DAYS_AFTER_CLOSE, description="the fee is due this many days after the close date"
    )
    reminder_days: list[Annotated[StrictInt, Field(ge=-60, le=365)]] = Field(
        default_factory=lambda: list(fm.DEFAULT_REMINDER_DAYS),
        max_length=MAX_REMINDERS,
        description="days relative to the due date (negative: before) on which the team's leader is reminded",
    )
    late_fee_bps: Annotated[StrictInt, Field(ge=0, le=fm.BPS)] = Field(
        fm.DEFAULT_LATE_FEE_BPS, description="a late fee in basis points of the outstanding amount, once per period"
    )
    late_fee_every_days: Days = Field(
        fm.DEFAULT_LATE_FEE_EVERY_DAYS, description="a late fee at this many days overdue and every as many after"
    )
    pause_after_days: Days = Field(
        fm.DEFAULT_PAUSE_AFTER_DAYS, description="a fee more than this many days overdue pauses the team's referrals"
    )

    @model_validator(mode="after")
    def _minimum_has_currency(self) -> Self:
        if (self.minimum_fee is None) != (self.currency is None):
            raise ValueError("minimum_fee and currency go together")
        self.reminder_days = sorted(set(self.reminder_days))
        return self


class NewAgreementVersion(AgreementTerms):
    effective_from: Instant | None = Field(
        None, description="when the version takes effect: now (the default) or later"
    )


TERM_FIELDS = tuple(AgreementTerms.model_fields)
DEFAULT_TERMS: dict[str, Any] = AgreementTerms().model_dump()


def _effective_from(requested: datetime | None, now: datetime) -> str:
    if requested is None:
        return clock.iso(now)
    if requested < now:
        raise invalid("body.effective_from", "must not be in the past: a version never changes a fee already owed")
    return clock.iso(requested)


def add_version(
    org_id: str, team_id: str | None, new: NewAgreementVersion, actor: str, *, client: Any = None
) -> db.Item:
    """Add a version of the organisation's agreement (team_id None) or of one team's: one PutItem of a new
    item (its id is new, so nothing is overwritten and racing additions both stand, ordered by time)."""
    scope = fm.ORG_SCOPE if team_id is None else fm.team_scope(team_id)
    now = clock.now()
    effective_from = _effective_from(new.effective_from, now)
    version_id = ids.new_id()
    item = {
        **fm.agreement_version_key(org_id, scope, effective_from, version_id),
        "entity": "fee_agreement",
        "org_id": org_id,
        "team_id": team_id,
        "scope": "org" if team_id is None else "team",
        "version_id": version_id,
        "effective_from": effective_from,
        "created_at": clock.iso(now),
        "created_by": actor,
        **new.model_dump(include=set(TERM_FIELDS)),
    }
    db.put(item, condition="attribute_not_exists(pk)", client=client)
    return db.deserialize(db.serialize(item))


def _newest_at(org_id: str, scope: str, at: str, *, consistent: bool, client: Any) -> db.Item | None:
    items, _ = listings.query(
        key_condition="pk = :pk AND sk BETWEEN :low AND :high",
        values={
            ":pk": fm.agreement_pk(org_id, scope),
            ":low": fm.VERSION_PREFIX,
            ":high": f"{fm.VERSION_PREFIX}{at}#~",
        },
        newest_first=True,
        consistent=consistent,
        one_read=True,
        limit=1,
        client=client,
    )
    return items[0] if items else None


def in_force(
    org_id: str, team_id: str | None, at: str, *, consistent: bool = False, client: Any = None
) -> dict[str, Any]:
    """The terms in force at `at` for a team (its own version, else the organisation's, else the defaults),
    with where they come from: scope "team" | "org" | "default", version_id and effective_from (None for the
    defaults)."""
    scopes = ([fm.team_scope(team_id)] if team_id else []) + [fm.ORG_SCOPE]
    for scope in scopes:
        version = _newest_at(org_id, scope, at, consistent=consistent, client=client)
        if version is not None:
            return version
    return {**DEFAULT_TERMS, "scope": "default", "version_id": None, "effective_from": None}


def versions(org_id: str, team_id: str | None, *, limit: int = 100, client: Any = None) -> list[db.Item]:
    """The scope's versions, newest (latest effective) first."""
    scope = fm.ORG_SCOPE if team_id is None else fm.team_scope(team_id)
    items, _ = listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": fm.agreement_pk(org_id, scope), ":prefix": fm.VERSION_PREFIX},
        newest_first=True,
        consistent=True,
        limit=limit,
        client=client,
    )
    return items

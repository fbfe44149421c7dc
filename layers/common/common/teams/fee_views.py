"""Who reads and manages a team's referral fees, and what the fee routes answer (one model per resource),
built from the stored items: agreements and their versions, closings, fees with their breakdowns, ledger
entries.

The team's leader and admins read their own team's fees and ledger; staff with fees:manage read every
team's and record payments, adjustments and corrections; fees:write_off writes fees off. A plain member of
the team is refused (403), as is staff without the permission; neither in the team nor staff: 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Self

from pydantic import Field

from common.orgs.access import Member, Permission, Principal, member_from_item, member_key, require_user
from common.partners.partner_caller import refuse_unconfirmed
from common.partners.partner_records import account_key
from common.platform import db
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Forbidden, NotFound
from common.teams import fee_model as fm
from common.teams.fee_agreements import AgreementTerms
from common.teams.team_model import TeamRole, team_key, team_member_key

# -- who calls -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeeCaller:
    org_id: str
    team_id: str
    user_id: str
    team: db.Item
    membership: db.Item | None
    staff: Member | None

    @property
    def leads(self) -> bool:
        return bool(self.membership) and self.membership["role"] in (TeamRole.LEADER, TeamRole.ADMIN)  # type: ignore[index]

    def holds(self, permission: Permission) -> bool:
        return self.staff is not None and self.staff.can(permission)

    def require_reader(self) -> None:
        if not (self.leads or self.holds(Permission.MANAGE_FEES)):
            raise Forbidden(f"only the team's leader or admins, or staff with {Permission.MANAGE_FEES.value}")

    def require(self, permission: Permission) -> Member:
        if not self.holds(permission):
            raise Forbidden(f"missing permission {permission.value}")
        assert self.staff is not None
        return self.staff


def fee_caller(principal: Principal, org_id: str, team_id: str, *, client: Any = None) -> FeeCaller:
    """The team, the caller's membership of it, their staff membership and partner account: one consistent
    BatchGetItem. Neither in the team nor staff (or no such team): 404; in the team only, with an unconfirmed
    partner account: 403."""
    require_user(principal)
    me = principal.subject
    keys = [team_key(org_id, team_id), team_member_key(org_id, team_id, me), member_key(org_id, me), account_key(me)]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
    team, membership, staff_item, account = (found.get((k["pk"], k["sk"])) for k in keys)
    if team is None or (membership is None and staff_item is None):
        raise NotFound(f"team {team_id} not found")
    staff = None
    if staff_item is not None:
        staff = replace(member_from_item(staff_item), mfa=principal.mfa)
    else:
        refuse_unconfirmed(account)
    return FeeCaller(org_id, team_id, me, team, membership, staff)


# -- answers ---------------------------------------------------------------------------------------


class FeeTerms(AgreementTerms, Answer):
    """Terms as set (AgreementTerms)."""

    model_config = Answer.model_config


class FeeAgreementVersion(FeeTerms):
    version_id: str
    scope: Literal["org", "team"]
    team_id: str | None = Field(None, description="null for the organisation's agreement")
    effective_from: Timestamp
    created_at: Timestamp
    created_by: str = Field(description="user:<id>")


class TermsInForce(FeeTerms):
    scope: Literal["org", "team", "default"] = Field(description="default: no version set, the deployment's defaults")
    version_id: str | None = None
    effective_from: Timestamp | None = None


class FeeAgreement(Answer):
    """An agreement (the organisation's, or one team's own) with the terms in force now and its versions."""

    org_id: str
    team_id: str | None = Field(description="null for the organisation's agreement")
    in_force: TermsInForce = Field(description="for a team: its own version, else the organisation's, else defaults")
    versions: list[FeeAgreementVersion] = Field(description="this scope's versions, latest effective first")


class FeeBreakdown(Answer):
    scope: Literal["org", "team", "default"] = Field(description="whose agreement applied")
    agreement_id: str | None = Field(description="the agreement version's id (null: the defaults)")
    version: Timestamp | None = Field(description="when that version took effect")
    rate_bps: int = Field(description="basis points of the commission (3000 = 30%)")
    base: int = Field(description="the team's commission the rate applies to, minor units")
    computed: int = Field(description="rate x base, rounded half up")
    minimum_fee: int | None = Field(description="the minimum, when it applied (it raised the fee)")


class FeeLateness(Answer):
    reminder_days: list[int]
    late_fee_bps: int
    late_fee_every_days: int
    pause_after_days: int
    minimum_fee: int | None


class Fee(Answer):
    org_id: str
    team_id: str
    fee_id: str = Field(description="the closing's id: <customer>-<side>-<closeDate>")
    closing_id: str
    customer_id: str
    currency: str
    amount: int = Field(description="the fee as computed (and corrected), minor units")
    late_fees: int = Field(description="late fees charged on it, minor units")
    outstanding: int = Field(description="what is still owed: amount + late fees - payments +- adjustments")
    status: fm.FeeStatus
    reason: str | None = Field(None, description="status none: why nothing is owed")
    due_at: Timestamp
    referred_at: Timestamp = Field(description="when the customer was referred: the agreement in force then applies")
    breakdown: FeeBreakdown
    terms: FeeLateness = Field(description="the agreement's lateness terms, copied when the fee was computed")
    reminders_done: int
    late_periods: int = Field(description="late-fee periods charged")
    pause_counted: bool = Field(description="counted towards the team's pause (more than the threshold overdue)")
    next_action_at: Timestamp | None = Field(None, description="when the daily sweep next looks at it")
    created_at: Timestamp
    version: int


class ClosingCorrectionEntry(Answer):
    at: Timestamp
    by: str
    note: str
    version: int
    from_sale_price: int
    from_commission: int
    sale_price: int
    commission: int


class TeamClosing(Answer):
    org_id: str
    team_id: str
    closing_id: str
    customer_id: str
    close_date: str = Field(description="YYYY-MM-DD")
    side: fm.ClosingSide
    sale_price: int
    commission: int
    currency: str
    recorded_at: Timestamp
    recorded_by: str
    version: int
    corrections: list[ClosingCorrectionEntry] = Field(default_factory=list)


class FeeWithClosing(Fee):
    closing: TeamClosing | None

    @classmethod
    def of_items(cls, fee: Mapping[str, Any], closing: Mapping[str, Any] | None) -> Self:
        return cls.of(fee, closing=TeamClosing.of(closing) if closing else None)


class FeeEntry(Answer):
    org_id: str
    team_id: str
    entry_id: str
    kind: fm.FeeEntryKind
    amount: int = Field(description="signed minor units: positive, the team owes more")
    currency: str
    fee_id: str
    closing_id: str
    reference: str | None = None
    note: str | None = None
    period: int | None = Field(None, description="late fees: the period charged (1: at the first period overdue)")
    by: str = Field(description="user:<id>, or system (the sweep)")
    at: Timestamp
    balance_after: int = Field(description="the team's balance in this currency after the entry")


def agreement_answer(
    org_id: str, team_id: str | None, in_force: Mapping[str, Any], versions: list[db.Item]
) -> FeeAgreement:
    return FeeAgreement(
        org_id=org_id,
        team_id=team_id,
        in_force=TermsInForce.of(in_force),
        versions=FeeAgreementVersion.each(versions),
    )

"""Commission plans: per organisation, versioned. Each version is in force from its effective date until a
later version's; a version is never edited or removed, and it cannot take effect in the past, so the
version in force at any past moment can always be told again (and a deal change already made is never
paid by a version added after it).

    plan  ORG#<org> / COMMISSION_PLAN   (every version in one item: one read gives the version in force at
                                          any moment, and versions are few and small)

    {"org_id", "currency",                  # fixed by the first version: wallets hold this currency
     "version_count": n,
     "versions": [{"version": 1.., "effective_from": iso, "created_at": iso, "created_by": "user:<id>",
                   "levels": [{"level": 1.., "rule": "percentage" | "fixed",
                               "percent": "12.5" (percentage; exact decimal text),
                               "amount": 5000 (fixed; minor units),
                               "cap": 20000 | None (minor units)}]}]}

Level 1 is the partner credited on the deal, level 2 their sponsor, and so on (at most MAX_LEVELS).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from common.money.in_currency import InCurrency
from common.platform import clock, db
from common.platform.answers import Answer, Timestamp
from common.platform.currencies import CurrencyCode
from common.platform.errors import Conflict, DomainError, NotFound, invalid
from common.platform.validation import Instant

MAX_LEVELS = 10
MAX_VERSIONS = 100
MAX_AMOUNT_MINOR = 10**15

Percent = Annotated[Decimal, Field(gt=0, le=100, decimal_places=4)]
Minor = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_MINOR, description="minor units (cents)")]


class NoCommissionPlan(Conflict):
    code = "no-commission-plan"
    title = "The organisation has no commission plan"


class PlanChanged(Conflict):
    pass


# -- input -----------------------------------------------------------------------------------------


class PlanLevel(BaseModel):
    """One level: a percentage of the deal value, or a fixed amount; either capped or not."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"rule": "percentage", "percent": "12.5", "cap": 20000}]}
    )
    rule: Literal["percentage", "fixed"]
    percent: Percent | None = Field(
        None,
        validate_default=True,
        description="percentage rule only: 0 < percent <= 100, at most 4 decimals (a number or a decimal string)",
    )
    amount: Minor | None = Field(None, validate_default=True, description="fixed rule only")
    cap: Minor | None = Field(None, description="the most this level pays on one deal")

    @field_validator("percent")
    @classmethod
    def _percent_for_percentage(cls, percent: Decimal | None, info: ValidationInfo) -> Decimal | None:
        return _only_for(percent, info, "percentage")

    @field_validator("amount")
    @classmethod
    def _amount_for_fixed(cls, amount: int | None, info: ValidationInfo) -> int | None:
        return _only_for(amount, info, "fixed")


def _only_for(value: Any, info: ValidationInfo, rule: str) -> Any:
    chosen = info.data.get("rule")
    if chosen == rule and value is None:
        raise ValueError(f"required for a {rule} level")
    if chosen is not None and chosen != rule and value is not None:
        raise ValueError(f"only for a {rule} level")
    return value


class NewPlanVersion(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "currency": "EUR",
                    "levels": [
                        {"rule": "percentage", "percent": "12.5"},
                        {"rule": "percentage", "percent": "5", "cap": 20000},
                        {"rule": "fixed", "amount": 2500},
                    ],
                }
            ]
        },
    )
    currency: Annotated[CurrencyCode, Field(description="ISO 4217; fixed by the first version")]
    effective_from: Instant | None = Field(
        None, description="when the version takes effect: now (the default) or later"
    )
    levels: list[PlanLevel] = Field(
        min_length=1, max_length=MAX_LEVELS, description="level 1: the credited partner, level 2: their sponsor, ..."
    )

    @field_validator("levels")
    @classmethod
    def _at_most_the_whole_value(cls, levels: list[PlanLevel]) -> list[PlanLevel]:
        if sum(level.percent or 0 for level in levels) > 100:
            raise ValueError("the percentages of one version add up to at most 100")
        return levels


def percent_text(percent: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: 12.50 -> "12.5", 1E+1 -> "10"."""
    return format(percent.normalize(), "f")


# -- the answer ----------------------------------------------------------------------------------


class NumberedPlanLevel(PlanLevel, Answer):
    """A level as set (PlanLevel; the percent answered as exact decimal text, e.g. "12.5") and its number."""

    # An answer (extra attributes ignored), without the input's example: it lacks the level's number.
    model_config = Answer.model_config
    level: int = Field(description="1: the partner credited on the deal, 2: their sponsor, ...")


class PlanVersion(Answer):
    version: int
    effective_from: Timestamp
    created_at: Timestamp
    created_by: str
    levels: list[NumberedPlanLevel]


class Plan(InCurrency):
    """The plan with its versions newest first and the number of the version in force now."""

    org_id: str
    currency: str = Field(description="ISO 4217: the currency of every wallet of the programme")
    version_count: int
    in_force: int | None = Field(description="the version in force now; null before the first takes effect")
    versions: list[PlanVersion] = Field(description="newest first")

    @classmethod
    def now(cls, plan: db.Item) -> Plan:
        current = in_force(plan, clock.now_iso())
        return cls.of(
            plan,
            in_force=current["version"] if current else None,
            versions=sorted(plan["versions"], key=lambda v: v["version"], reverse=True),
        )


# -- reads -----------------------------------------------------------------------------------------


def plan_key(org_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}", "sk": "COMMISSION_PLAN"}


def find_plan(org_id: str, *, consistent: bool = False, client: Any = None) -> db.Item | None:
    return db.get(plan_key(org_id), consistent=consistent, client=client)


def in_force(plan: db.Item | None, at: str) -> dict[str, Any] | None:
    """The version in force at `at` (ISO instant): the latest effective_from not after it; of versions with
    the same effective_from, the later one. None before the first version takes effect."""
    if not plan:
        return None
    candidates = [v for v in plan.get("versions", []) if v["effective_from"] <= at]
    return max(candidates, key=lambda v: (v["effective_from"], v["version"]), default=None)


def programme_currency(org_id: str, *, client: Any = None) -> str:
    """The currency wallets hold: the plan's. 409 while the organisation has no plan."""
    plan = find_plan(org_id, client=client)
    if plan is None:
        raise NoCommissionPlan("set up a commission plan first: it fixes the currency of the programme's wallets")
    return str(plan["currency"])


def get_plan(org_id: str, *, client: Any = None) -> db.Item:
    plan = find_plan(org_id, client=client)
    if plan is None:
        raise NotFound(f"organisation {org_id} has no commission plan")
    return plan


# -- the one command -------------------------------------------------------------------------------


def _levels(new: NewPlanVersion) -> list[dict[str, Any]]:
    return [
        {
            "level": number,
            "rule": level.rule,
            "percent": percent_text(level.percent) if level.percent is not None else None,
            "amount": level.amount,
            "cap": level.cap,
        }
        for number, level in enumerate(new.levels, start=1)
    ]


def _effective_from(requested: datetime | None, now: datetime) -> str:
    if requested is None:
        return clock.iso(now)
    if requested < now:
        raise invalid("body.effective_from", "must not be in the past: a version never changes what was already paid")
    return clock.iso(requested)


def add_version(org_id: str, new: NewPlanVersion, actor: str, *, client: Any = None) -> db.Item:
    """Append a version: one UpdateItem conditioned on the version count read, so of racing additions one
    wins; the other reads again and tries once more (then 409). The first version creates the plan and
    fixes its currency; later versions must name the same currency (422 body.currency)."""
    for attempt in range(2):
        plan = find_plan(org_id, consistent=True, client=client)
        if plan is not None and new.currency != plan["currency"]:
            raise invalid("body.currency", f"must be the plan's currency, {plan['currency']}")
        count = int(plan["version_count"]) if plan else 0
        if count >= MAX_VERSIONS:
            raise Conflict(f"the commission plan has {MAX_VERSIONS} versions, the most it can hold")
        now = clock.now()
        version = {
            "version": count + 1,
            "effective_from": _effective_from(new.effective_from, now),
            "created_at": clock.iso(now),
            "created_by": actor,
            "levels": _levels(new),
        }
        values: dict[str, Any] = {":count": count + 1, ":version": [version], ":at": clock.iso(now)}
        if plan is None:
            expression = (
                "SET entity = :entity, org_id = :org, currency = :currency, version_count = :count, "
                "versions = :version, created_at = :at, updated_at = :at"
            )
            condition = "attribute_not_exists(pk)"
            values |= {":entity": "commission_plan", ":org": org_id, ":currency": new.currency}
        else:
            expression = "SET versions = list_append(versions, :version), version_count = :count, updated_at = :at"
            condition = "version_count = :read"
            values |= {":read": count}

        def refusal(current: db.Item | None, version: dict[str, Any] = version) -> DomainError | None:
            # This very version, appended by an attempt whose answer was lost, is ours: no conflict.
            if current and version in current.get("versions", []):
                return None
            now_at = [current["version_count"]] if current and "version_count" in current else []
            return PlanChanged("the commission plan changed meanwhile; reload it and retry", conflicting_ids=now_at)

        try:
            return db.update(
                plan_key(org_id),
                expression=expression,
                condition=condition,
                values=values,
                on_conflict=refusal,
                client=client,
            )
        except PlanChanged:
            if attempt == 1:
                raise
    raise AssertionError("unreachable")

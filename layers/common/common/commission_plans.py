"""Commission plans: per organisation, versioned. Each version is in force from its effective date until a
later version's; a version is never edited or removed, so the version in force at any past moment can
always be told again.

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

from typing import Any

from . import db
from .errors import Conflict

MAX_LEVELS = 10


class NoCommissionPlan(Conflict):
    code = "no-commission-plan"
    title = "The organisation has no commission plan"


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

"""The commission rule, as pure functions: amounts truncated toward zero, caps, the reason of every skipped
level; which stream changes the cascade acts on; and what a plan version accepts. No table involved."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from common.money.commissions import breakdown, changes_of, level_amount
from common.money.plans import NewPlanVersion, in_force, percent_text
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError


@pytest.fixture(autouse=True)
def aws() -> Iterator[dict[str, Any]]:
    """Pure functions: no moto account needed (overrides the unit suite's)."""
    yield {}


CHAIN = ["p1", "p2", "p3", "p4", "p5"]


def node(status: str = "ACTIVE", **extra: Any) -> dict[str, Any]:
    return {"status": status, **extra}


def version(*levels: dict[str, Any], number: int = 1) -> dict[str, Any]:
    rows = [{"level": i, "percent": None, "amount": None, "cap": None, **lv} for i, lv in enumerate(levels, start=1)]
    return {"version": number, "effective_from": "2026-01-01T00:00:00.000Z", "levels": rows}


def pct(percent: str, cap: int | None = None) -> dict[str, Any]:
    return {"rule": "percentage", "percent": percent, "cap": cap}


def fixed(amount: int, cap: int | None = None) -> dict[str, Any]:
    return {"rule": "fixed", "amount": amount, "cap": cap}


VALUE = {"amount": 12_345_678, "currency": "AUD"}


def test_percentages_truncate_toward_zero_and_caps_apply() -> None:
    plan = version(pct("10"), pct("5", cap=500_000), fixed(5_000), fixed(20_000, cap=15_000), pct("2.5"))
    nodes = {p: node() for p in CHAIN}
    rows = breakdown(plan, "AUD", VALUE, CHAIN, nodes)
    assert [r["amount"] for r in rows] == [1_234_567, 500_000, 5_000, 15_000, 308_641]
    assert [r["capped"] for r in rows] == [False, True, False, True, False]
    assert [r["partner_id"] for r in rows] == CHAIN
    assert [r["skipped_reason"] for r in rows] == [None] * 5
    assert rows[0] | {} == {
        "level": 1,
        "partner_id": "p1",
        "rule": "percentage",
        "base": 12_345_678,
        "percent": "10",
        "fixed": None,
        "cap": None,
        "capped": False,
        "amount": 1_234_567,
        "plan_version": 1,
        "skipped_reason": None,
    }
    assert (rows[2]["base"], rows[2]["fixed"], rows[2]["percent"]) == (None, 5_000, None)


def test_every_skip_has_its_reason() -> None:
    plan = version(pct("1"), pct("1"), pct("1"), pct("1"), pct("1"), fixed(100))
    nodes = {
        "p1": node(),
        "p2": node("ENDED"),
        "p3": node("ARCHIVED"),
        "p4": node(removed_at="2026-01-01T00:00:00.000Z"),
        # p5 is not a partner of the organisation; there is no sixth partner
    }
    rows = breakdown(plan, "AUD", VALUE, CHAIN, nodes)
    assert [r["skipped_reason"] for r in rows] == [
        None,
        "partner is ENDED",
        "partner is ARCHIVED",
        "removed from the organisation",
        "not a partner of the organisation",
        "no partner at this level of the structure",
    ]
    assert [r["amount"] for r in rows] == [123_456, 0, 0, 0, 0, 0]


def test_value_currency_and_rounding_skips() -> None:
    nodes = {p: node() for p in CHAIN}
    plan = version(pct("10"), fixed(700))
    no_value = breakdown(plan, "AUD", None, CHAIN, nodes)
    assert [r["skipped_reason"] for r in no_value] == ["the deal has no value", None]
    assert [r["amount"] for r in no_value] == [0, 700]
    other_currency = breakdown(plan, "AUD", {"amount": 1_000, "currency": "EUR"}, CHAIN, nodes)
    assert {r["skipped_reason"] for r in other_currency} == {"the deal's currency (EUR) is not the plan's (AUD)"}
    tiny = breakdown(version(pct("0.0001")), "AUD", {"amount": 9_999, "currency": "AUD"}, CHAIN, nodes)
    assert (tiny[0]["amount"], tiny[0]["skipped_reason"]) == (0, "the amount rounds to 0")


@given(
    amount=st.integers(min_value=0, max_value=10**15),
    percents=st.lists(st.decimals(min_value="0.0001", max_value="25", places=4), min_size=1, max_size=4),
)
def test_entries_never_exceed_the_exact_amounts(amount: int, percents: list[Decimal]) -> None:
    plan = version(*(pct(percent_text(p)) for p in percents))
    rows = breakdown(plan, "AUD", {"amount": amount, "currency": "AUD"}, CHAIN, {p: node() for p in CHAIN})
    for row, percent in zip(rows, percents, strict=True):
        exact = Decimal(amount) * percent / 100
        assert exact - 1 < row["amount"] <= exact
    assert sum(r["amount"] for r in rows) <= Decimal(amount) * sum(percents) / 100


def test_level_amount_applies_the_cap_last() -> None:
    assert level_amount("percentage", base=999, percent="33.3333", fixed=None, cap=None) == 332
    assert level_amount("percentage", base=999, percent="33.3333", fixed=None, cap=100) == 100
    assert level_amount("fixed", base=None, percent=None, fixed=5_000, cap=4_000) == 4_000


def test_the_version_in_force_is_the_latest_effective_one() -> None:
    plan = {
        "versions": [
            {"version": 1, "effective_from": "2026-01-01T00:00:00.000Z"},
            {"version": 2, "effective_from": "2026-03-01T00:00:00.000Z"},
            {"version": 3, "effective_from": "2026-02-01T00:00:00.000Z"},
        ]
    }
    assert in_force(plan, "2025-12-31T23:59:59.999Z") is None
    assert in_force(plan, "2026-02-15T00:00:00.000Z")["version"] == 3  # type: ignore[index]
    assert in_force(plan, "2026-03-01T00:00:00.000Z")["version"] == 2  # type: ignore[index]


# -- which changes the cascade acts on -------------------------------------------------------------


def deal(stage: str, commission: str = "compute", **extra: Any) -> dict[str, Any]:
    history = [
        {"at": "2026-01-01T00:00:00.000Z", "stage_id": "NEW", "commission": "none"},
        {"at": "2026-02-01T10:00:00.000Z", "stage_id": stage, "stage_name": stage.title(), "commission": commission},
    ]
    return {
        "entity": "deal",
        "org_id": "ORG",
        "deal_id": "DEAL",
        "stage_id": stage,
        "stage_name": stage.title(),
        "stage_commission": commission,
        "credited_partner_id": "p1",
        "stage_history": history if stage != "NEW" else history[:1],
        **extra,
    }


def test_the_cascade_reads_the_compute_and_reverse_changes_from_the_new_images_history() -> None:
    old = deal("NEW", "none")
    [change] = changes_of(old, deal("WON"))
    assert (change.number, change.stage_id, change.changed_at, change.setting) == (
        1,
        "WON",
        "2026-02-01T10:00:00.000Z",
        "compute",
    )
    assert [c.setting for c in changes_of(old, deal("LOST", "reverse"))] == ["reverse"]
    assert changes_of(None, deal("NEW", "none")) == []  # a new deal is not a change
    assert [c.number for c in changes_of(None, deal("WON"))] == [1]  # a change without its old image
    assert changes_of(deal("WON"), deal("WON")) == []  # e.g. a share: no stage change
    assert changes_of(old, deal("OPEN", "none")) == []
    assert changes_of(old, deal("WON", credited_partner_id=None)) == []
    assert changes_of(old, {**deal("WON"), "entity": "deal_share"}) == []
    with pytest.raises(ValueError):
        changes_of(old, deal("WON", stage_history=[]))


# -- plan versions -------------------------------------------------------------------------------


def errors_of(body: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as raised:
        NewPlanVersion.model_validate(body)
    return {".".join(str(p) for p in e["loc"]) for e in raised.value.errors()}


def test_a_plan_version_names_each_bad_field() -> None:
    good = NewPlanVersion.model_validate(
        {"currency": "AUD", "levels": [{"rule": "percentage", "percent": 12.5}, {"rule": "fixed", "amount": 500}]}
    )
    assert good.levels[0].percent == Decimal("12.5") and good.levels[1].amount == 500
    levels = [
        {"rule": "percentage", "percent": "10"},
        {"rule": "percentage", "amount": 5},
        {"rule": "fixed", "percent": "1", "amount": 5},
        {"rule": "fixed"},
        {"rule": "percentage", "percent": "1.00001"},
        {"rule": "fixed", "amount": 5, "cap": 0},
        {"rule": "percentage", "percent": 0},
    ]
    assert errors_of({"currency": "aud", "levels": levels}) == {
        "currency",
        "levels.1.percent",
        "levels.1.amount",
        "levels.2.percent",
        "levels.3.amount",
        "levels.4.percent",
        "levels.5.cap",
        "levels.6.percent",
    }
    assert errors_of({"currency": "AUD", "levels": [pct("60"), pct("40.0001")]}) == {"levels"}
    assert errors_of({"currency": "AUD", "levels": [fixed(1)] * 11}) == {"levels"}
    assert percent_text(Decimal("12.50")) == "12.5" and percent_text(Decimal("1E+1")) == "10"

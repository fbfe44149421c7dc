"""The daily lapse sweep in the local stack, fired on demand with the stack's clock moved forward: the sweep
hands the ACTIVE partners whose last lead is over 30 days old on to its work queue and StatusSweepWork lapses
them, others never; a second run changes nothing more; the next lead makes a lapsed partner ACTIVE again."""

from __future__ import annotations

from typing import Any

import pytest

from infra.manifest import STATUS_SWEEP_WORK
from tests.integration.test_partner_lifecycle import deal_for, status
from tests.integration.test_partners import StaffOrg, add_partner, staff_org

pytestmark = pytest.mark.integration

DAY = 86400


def current(org: StaffOrg, partner_id: str) -> str:
    answer = org.manager.get(f"/orgs/{org.org_id}/partners/{partner_id}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def sweep(stack: Any) -> dict[str, int]:
    """Fire the daily sweep, then wait until its work is done (none of it in the dead letters)."""
    run = stack.run_schedule("StatusSweep")
    assert run.ok, run.error
    stack.wait_for_streams(30)
    assert [d for d in stack.dead_letters() if d["function"] == STATUS_SWEEP_WORK.name] == []
    return dict(run.payload)


def test_the_sweep_lapses_only_active_partners_past_30_days(stack: Any) -> None:
    org = staff_org(stack)
    due, recent, archived, ended = (add_partner(org)["partner_id"] for _ in range(4))
    never = add_partner(org)["partner_id"]
    for partner_id in (due, archived, ended):
        assert deal_for(org, partner_id).status_code == 201
    assert status(org, archived, "ARCHIVED", reason="paused").status_code == 200
    assert status(org, ended, "ENDED").status_code == 200
    offset = stack.clock_offset
    try:
        stack.advance_clock(20 * DAY)
        assert deal_for(org, recent).status_code == 201
        stack.advance_clock(11 * DAY)

        first = sweep(stack)
        assert first["items_read"] >= first["due"] >= 1 and first["handed_on"] >= 1
        assert [current(org, p) for p in (due, recent, archived, ended, never)] == [
            "LAPSED",
            "ACTIVE",
            "ARCHIVED",
            "ENDED",
            "LIVE",
        ]
        history = org.manager.get(f"/orgs/{org.org_id}/partners/{due}/activity").json()["items"]
        assert (history[0]["action"], history[0]["actor"]) == ("lapsed", "system")

        assert sweep(stack)["due"] == 0  # twice: nothing more is due
        assert current(org, due) == "LAPSED"

        assert deal_for(org, due).status_code == 201
        assert current(org, due) == "ACTIVE"
        lapsed = org.manager.get(f"/orgs/{org.org_id}/partners", params={"status": "LAPSED"}).json()["items"]
        assert due not in [p["partner_id"] for p in lapsed]
    finally:
        stack.set_clock_offset(offset)

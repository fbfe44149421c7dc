"""The 7-day rule over the local stack: the daily StatusSweep reminds each due customer's assignee (a text
through the stand-in for Twilio, and an e-mail where they have an address) at most once a day however often
it runs, sends the leader one digest, skips closed and lost customers; staff list the teams with overdue
customers."""

from __future__ import annotations

from typing import Any

from common.teams import membership

from tests.integration.support.actors import Actor
from tests.integration.test_teams import Team, accepted_by, member_body, new_team

DAY = 86400


def sweep(stack: Any) -> dict[str, Any]:
    run = stack.run_schedule("StatusSweep")
    assert run.ok, run.error
    return dict(run.payload)


def texts_to(stack: Any, number: str, starting: str) -> list[str]:
    return [t["body"] for t in stack.texts() if t["to"] == number and t["body"].startswith(starting)]


def reminders(stack: Any, team: Team, actor: Actor) -> list[str]:
    return texts_to(stack, team.phones[actor.user_id], "Reminder:")


def mails_to(stack: Any, address: str) -> list[dict[str, Any]]:
    return [m for m in stack.outbox() if m["to"] == [address]]


def test_the_sweep_reminds_once_a_day_and_digests_for_the_leader(stack: Any) -> None:
    team = new_team(stack)
    m1_email = f"m1-{team.m1.user_id[:8]}@team.example"
    changed = team.leader.put(
        f"{team.path}/members/{team.m1.user_id}",
        member_body("member", team.phones[team.m1.user_id], email=m1_email),
    )
    assert changed.status_code == 200, changed.text
    first, second = accepted_by(team, team.m1, "Ana"), accepted_by(team, team.m2, "Ben")
    closed, lost = accepted_by(team, team.m1, "Cy"), accepted_by(team, team.m2, "Di")
    for customer, status in ((closed, "closed"), (lost, "lost")):
        path = f"{team.path}/customers/{customer['customer_id']}/status"
        assert team.leader.post(path, {"status": status}).status_code == 200
    leader_email = team.leader.get(team.path).json()["members"]
    leader_address = next(m["email"] for m in leader_email if m["user_id"] == team.leader.user_id)
    offset = stack.clock_offset
    try:
        stack.advance_clock(6 * DAY)
        sweep(stack)
        assert reminders(stack, team, team.m1) == reminders(stack, team, team.m2) == []

        stack.advance_clock(2 * DAY)
        counts = sweep(stack)["reminders"]
        assert counts["due"] >= 2 and counts["reminded"] >= 2 and counts["digests"] >= 1
        assert counts["items_read"] >= counts["due"]
        assert len(reminders(stack, team, team.m1)) == 1 and "Ana" in reminders(stack, team, team.m1)[0]
        assert len(reminders(stack, team, team.m2)) == 1 and "Ben" in reminders(stack, team, team.m2)[0]
        assert len(mails_to(stack, m1_email)) == 1
        digest_texts = texts_to(stack, team.phones[team.leader.user_id], "North Team:")
        assert digest_texts == ["North Team: 2 customers overdue for a status update. Please check the customer list."]
        digest = mails_to(stack, leader_address)
        assert len(digest) == 1 and "Ana Client" in digest[0]["body"] and "Cy Client" not in digest[0]["body"]

        # Run again the same day: nothing more is sent.
        sweep(stack)
        assert len(reminders(stack, team, team.m1)) == len(reminders(stack, team, team.m2)) == 1
        assert len(texts_to(stack, team.phones[team.leader.user_id], "North Team:")) == 1
        assert len(mails_to(stack, m1_email)) == 1 and len(mails_to(stack, leader_address)) == 1

        # The overdue listing for staff; an update takes a customer out of it (and out of tomorrow's texts).
        overdue = team.staff.get(f"/orgs/{team.org_id}/teams/overdue")
        assert overdue.status_code == 200, overdue.text
        assert [(i["team_id"], i["overdue"]) for i in overdue.json()["items"]] == [(team.team_id, 2)]
        assert team.m1.get(f"/orgs/{team.org_id}/teams/overdue").status_code == 404
        assert team.plain_staff.get(f"/orgs/{team.org_id}/teams/overdue").status_code == 403
        path = f"{team.path}/customers/{first['customer_id']}/status"
        assert team.m1.post(path, {"status": "showing", "note": "Second viewing"}).status_code == 200
        assert [i["overdue"] for i in team.staff.get(f"/orgs/{team.org_id}/teams/overdue").json()["items"]] == [1]

        stack.advance_clock(DAY)
        sweep(stack)
        assert len(reminders(stack, team, team.m1)) == 1  # updated yesterday: not due
        assert len(reminders(stack, team, team.m2)) == 2  # still overdue: reminded again the next day
        assert second["customer_id"] in team.m2.get(f"{team.path}/customers").text
    finally:
        stack.set_clock_offset(offset)


def test_an_opted_out_member_gets_no_reminder_text(stack: Any) -> None:
    team = new_team(stack)
    accepted_by(team, team.m2)
    membership.set_opted_out(team.phones[team.m2.user_id], True)
    offset = stack.clock_offset
    try:
        stack.advance_clock(8 * DAY)
        sweep(stack)
        assert reminders(stack, team, team.m2) == []
        assert len(texts_to(stack, team.phones[team.leader.user_id], "North Team:")) == 1
    finally:
        stack.set_clock_offset(offset)

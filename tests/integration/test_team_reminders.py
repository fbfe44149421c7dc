"""The 7-day rule over the local stack: the daily StatusSweep hands the customers due on to its work queue, and
StatusSweepWork reminds each one's assignee (a text through the stand-in for Twilio, and an e-mail where they
have an address) at most once a day however often the sweep runs, sends the leader one digest, skips closed
and lost customers; staff list the teams with overdue customers. A backlog of 10,000 due reminders finishes,
each member reminded exactly once, through a Twilio outage midway and a second run the same day."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from common.platform import clock, db, ids, listings, notices
from common.teams import membership, team_customers
from common.teams.team_model import team_key, team_member_key, team_org_key, team_pk

from infra.manifest import STATUS_SWEEP_WORK
from tests.integration.support.actors import Actor
from tests.integration.test_teams import CLOSING, Team, accepted_by, member_body, new_team

DAY = 86400


def sweep(stack: Any, *, wait: float = 30) -> dict[str, Any]:
    """Fire the daily sweep, then wait until its work queue is empty (every message done, or in the dead
    letters: none may be)."""
    run = stack.run_schedule("StatusSweep")
    assert run.ok, run.error
    stack.wait_for_streams(wait)
    assert [d for d in stack.dead_letters() if d["function"] == STATUS_SWEEP_WORK.name] == []
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
        body: dict[str, Any] = {"status": status}
        if status == "closed":
            # No commission, so no fee: the leader hears of no fee here (test_team_fees covers those).
            body["closing"] = {**CLOSING, "close_date": customer["created_at"][:10], "commission": 0}
        assert team.leader.post(path, body).status_code == 200
    leader_email = team.leader.get(team.path).json()["members"]
    leader_address = next(m["email"] for m in leader_email if m["user_id"] == team.leader.user_id)
    offset = stack.clock_offset
    try:
        stack.advance_clock(6 * DAY)
        sweep(stack)
        assert reminders(stack, team, team.m1) == reminders(stack, team, team.m2) == []

        stack.advance_clock(2 * DAY)
        counts = sweep(stack)["reminders"]
        assert counts["due"] >= 2 and counts["teams"] >= 1 and counts["handed_on"] >= 2
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


# The backlog: 100 teams of 100 members, each member with one customer past its update date.
BACKLOG_TEAMS = 100
BACKLOG_MEMBERS = 100
# A Twilio outage midway through the work: these sends fail (5xx), their messages are retried.
OUTAGE_SENDS = 30
# How long the work may take on this machine (it is about 20 ms per reminder, one worker at a time).
BACKLOG_WAIT_SECONDS = 1800


@dataclass
class Backlog:
    org_id: str
    team_ids: list[str]
    member_phones: set[str]
    leader_phones: set[str]


def seed_backlog(stack: Any) -> Backlog:
    """Written straight to DynamoDB Local (as the sweep benchmark seeds): an organisation with teams, each
    with a leader (who has an e-mail address) and members (who have none), and one customer per member,
    last updated 8 days ago."""
    org_id = ids.new_id()
    now = stack.now()
    at = clock.iso(now)
    items: list[dict[str, Any]] = [{**team_org_key(org_id), "entity": "team_org", "org_id": org_id}]
    backlog = Backlog(org_id, [], set(), set())

    def member(team_id: str, user_id: str, role: str, phone: str, **more: Any) -> dict[str, Any]:
        return {
            **team_member_key(org_id, team_id, user_id),
            "entity": "team_member",
            **{"org_id": org_id, "team_id": team_id, "user_id": user_id, "role": role, "phone": phone},
            **{"display_name": f"{role} {user_id}", "eligible": True, "paused": False, "version": 1, **more},
        }

    clock.set_clock(lambda: now - timedelta(days=8))
    try:
        for t in range(BACKLOG_TEAMS):
            team_id, leader_id, leader_phone = ids.new_id(), f"backlog-leader-{t:03d}", f"+1444{t:03d}9999"
            name = f"Backlog {t:03d}"
            items += [
                {**team_key(org_id, team_id), "entity": "team", "org_id": org_id, "team_id": team_id}
                | {"name": name, "leader_id": leader_id, "created_at": at, "version": 1},
                member(team_id, leader_id, "leader", leader_phone, email=f"{leader_id}@backlog.example"),
            ]
            backlog.team_ids.append(team_id)
            backlog.leader_phones.add(leader_phone)
            for m in range(BACKLOG_MEMBERS):
                user_id, phone = f"backlog-member-{t:03d}-{m:03d}", f"+1444{t:03d}{m:04d}"
                items += [
                    member(team_id, user_id, "member", phone, customer_count=1),
                    team_customers.new_customer_item(
                        org_id,
                        team_id,
                        customer={"first_name": "Cleo", "last_name": f"Backlog {t}-{m}"},
                        summary="backlog",
                        assignee_id=user_id,
                        actor="seed",
                        request_id=ids.new_id(),
                    ),
                ]
                backlog.member_phones.add(phone)
    finally:
        clock.reset_clock()
    raw = stack.client("dynamodb")
    for first in range(0, len(items), 25):
        pending = {stack.table_name: [{"PutRequest": {"Item": db.serialize(i)}} for i in items[first : first + 25]]}
        while pending:
            pending = raw.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return backlog


def sent_to(stack: Any, phones: set[str]) -> Counter[str]:
    return Counter(t["to"] for t in stack.texts() if t["to"] in phones)


def notices_done(backlog: Backlog, day: str) -> Counter[str]:
    """The day's reminder and digest notices of the backlog's teams that are done, by kind."""
    found: Counter[str] = Counter()
    for team_id in backlog.team_ids:
        for page in listings.pages(
            key_condition="pk = :pk AND begins_with(sk, :notice)",
            values={":pk": team_pk(backlog.org_id, team_id), ":notice": notices.notice_key("", "")["sk"]},
            consistent=True,
        ):
            for notice in page:
                if day in notice["sk"] and "done_at" in notice:
                    found[notice["sk"].split("#")[1]] += 1
    return found


def test_a_backlog_of_10000_reminders_finishes_and_reminds_each_member_exactly_once(stack: Any) -> None:
    backlog = seed_backlog(stack)
    due = BACKLOG_TEAMS * BACKLOG_MEMBERS
    everyone = backlog.member_phones | backlog.leader_phones
    try:
        # Twilio fails a stretch of sends midway: their messages are reported failed and retried, and each
        # retry sends only what is not sent yet.
        stack.twilio.fail_next(OUTAGE_SENDS, status=500)
        answer = sweep(stack, wait=BACKLOG_WAIT_SECONDS)["reminders"]

        # The sweep read the due customers and handed them on: pages of reminders, a digest per team.
        assert answer["due"] >= due and answer["teams"] >= BACKLOG_TEAMS
        assert answer["handed_on"] >= due // 25 + BACKLOG_TEAMS
        assert stack.twilio.refusals_left() == 0  # the outage hit the work
        texts = sent_to(stack, everyone)
        assert len(texts) == len(everyone) == due + BACKLOG_TEAMS
        assert set(texts.values()) == {1}  # every member reminded once, every leader one digest
        day = stack.now().date().isoformat()
        assert notices_done(backlog, day) == {"REMINDER": due, "DIGEST": 2 * BACKLOG_TEAMS}  # text (+ e-mail)

        # A second run the same day hands it all on again and sends nothing.
        assert sweep(stack, wait=BACKLOG_WAIT_SECONDS)["reminders"]["due"] >= due
        assert sent_to(stack, everyone) == texts
        assert notices_done(backlog, day) == {"REMINDER": due, "DIGEST": 2 * BACKLOG_TEAMS}
    finally:
        # Out of the sweeps' list: the tests after this one move the clock and sweep again.
        db.delete(team_org_key(backlog.org_id))

"""The 7-day reminder sweep in-process, in its two halves: what common.teams.reminders reads and hands on
(pages of reminders, a digest per team), and common.teams.reminder_work sending them over the table (moto),
texting through the loopback stand-in for Twilio's Messages endpoint (real HTTP, no patched client) and
e-mailing through SES (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from common.orgs import access, organisations
from common.platform import db, ids
from common.teams import closings, fee_model, membership, reminder_work, reminders, roster, team_customers
from common.teams.team_model import team_customer_key
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from local.twilio_fake import FakeTwilio
from tests.unit import sweeps
from tests.unit.conftest import FrozenClock

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "unit-auth-token"
TOKEN_PARAMETER = "/partner-programme/test/twilio-auth-token"
FROM_NUMBER = "+15550009999"
ADMIN, LEADER, TEAM_ADMIN, M1, M2 = "staff-admin", "user-leader", "user-admin", "user-m1", "user-m2"
PHONES = {LEADER: "+15550100001", TEAM_ADMIN: "+15550100002", M1: "+15550100003", M2: "+15550100004"}
JOBS = {reminders.REMIND_JOB: reminder_work.remind, reminders.DIGEST_JOB: reminder_work.digest}


def sweep() -> sweeps.Run:
    """The sweep's reads and hand-off, then the work of every message it handed on."""
    return sweeps.run(reminders.hand_on, JOBS)


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch, aws: dict[str, Any]) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    for name, value in {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_AUTH_TOKEN_PARAMETER": TOKEN_PARAMETER,
        "TWILIO_API_URL": fake.url,
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("ssm").put_parameter(Name=TOKEN_PARAMETER, Value=AUTH_TOKEN, Type="SecureString")
    from tests.unit.conftest import _clear_client_caches

    _clear_client_caches()
    yield fake
    fake.stop()


def texts_to(fake: FakeTwilio, phone: str) -> list[str]:
    return [m["body"] for m in fake.messages() if m["to"] == phone]


def mails() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def mails_to(address: str) -> list[Any]:
    return [m for m in mails() if address in m.destinations["ToAddresses"]]


def new_team(name: str = "North Team", org_id: str | None = None) -> tuple[str, str]:
    """A team of the leader, an admin and two members, in a new organisation or in `org_id`."""
    if org_id is None:
        org_id = organisations.create_organisation(organisations.NewOrganisation(name="Acme Realty"), ADMIN)["org_id"]
    staff = access.Member(org_id, ADMIN, "admin", frozenset())
    leader = roster.NewLeader(user_id=LEADER, phone=PHONES[LEADER], display_name="Lea", email="lea@team.example")
    team, _ = roster.create_team(org_id, staff, roster.NewTeam(name=name, leader=leader))
    caller = membership.TeamCaller(org_id, team["team_id"], ADMIN, team, None, staff)
    for user, role, email in ((TEAM_ADMIN, "admin", None), (M1, "member", "m1@team.example"), (M2, "member", None)):
        change = roster.MemberChange(role=role, phone=PHONES[user], display_name=user, email=email)
        roster.put_member(caller, user, change)
    return org_id, str(team["team_id"])


def add_customer(org_id: str, team_id: str, assignee: str) -> str:
    item = team_customers.new_customer_item(
        org_id,
        team_id,
        customer={"first_name": "Cleo", "last_name": "Client"},
        summary="3-bed house",
        assignee_id=assignee,
        actor=f"user:{assignee}",
        request_id=ids.new_id(),
    )
    db.transact(team_customers.new_customer_actions(item), on_cancel=lambda failed: AssertionError(failed))
    return str(item["customer_id"])


def caller_for(org_id: str, team_id: str, user: str) -> membership.TeamCaller:
    return membership.TeamCaller(
        org_id,
        team_id,
        user,
        membership.get_team(org_id, team_id),
        membership.get_team_member(org_id, team_id, user),
        None,
    )


def test_nothing_is_due_within_7_days(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M1)
    frozen_clock.advance(days=6, hours=23)
    run = sweep()
    assert run.sweep == {"orgs": 1, "due": 0, "teams": 0, "items_read": 1, "handed_on": 0}
    assert run.messages == [] and twilio.messages() == [] and mails() == []


def test_due_customers_are_reminded_once_a_day_and_the_leader_gets_a_digest(
    twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    first = add_customer(org_id, team_id, M1)
    add_customer(org_id, team_id, M2)
    frozen_clock.advance(days=8)

    run = sweep()
    # Reads of the sweep: the org list and the two due customers. One page of reminders, one digest.
    assert run.sweep == {"orgs": 1, "due": 2, "teams": 1, "items_read": 3, "handed_on": 2}
    assert [m["job"] for m in run.messages] == ["remind", "digest"]
    assert (run.due, run.reminded, run.digests, run.failed) == (4, 2, 1, 0)  # due: 2 reminded, 2 in the digest
    assert len(texts_to(twilio, PHONES[M1])) == len(texts_to(twilio, PHONES[M2])) == 1
    assert "Cleo" in texts_to(twilio, PHONES[M1])[0] and "North Team" in texts_to(twilio, PHONES[M1])[0]
    assert texts_to(twilio, PHONES[LEADER]) == [
        "North Team: 2 customers overdue for a status update. Please check the customer list."
    ]
    assert texts_to(twilio, PHONES[TEAM_ADMIN]) == []
    assert len(mails_to("m1@team.example")) == 1  # M2 has no e-mail address
    digest = mails_to("lea@team.example")
    assert len(digest) == 1 and digest[0].body.count("- Cleo Client") == 2
    # Reads of the work: reminders: the two customers and the team (no notice yet), both assignees (no phone
    # has an opt-out record); the digest: the team and the two customers, the leader and both assignees.
    assert run.items_read == (3 + 2) + (3 + 3)

    # Again the same day: nothing more is sent; the notices read with the customers say so.
    frozen_clock.advance(hours=6)
    again = sweep()
    assert (again.sweep["due"], again.reminded, again.digests, again.failed) == (2, 0, 0, 0)
    assert len(twilio.messages()) == 3 and len(mails()) == 2

    # The next day, still overdue: reminded again (once).
    frozen_clock.advance(days=1)
    assert sweep().reminded == 2
    assert len(texts_to(twilio, PHONES[M1])) == 2
    # Once updated, a customer leaves the reminders until it is due again.
    team_customers.update_status(
        caller_for(org_id, team_id, M1), first, team_customers.CustomerStatusChange(status="showing")
    )
    assert sweep().sweep["due"] == 1


def test_updated_closed_and_lost_customers_are_not_reminded(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    updated, closed, lost, stale = (add_customer(org_id, team_id, M1) for _ in range(4))
    frozen_clock.advance(days=5)
    caller = caller_for(org_id, team_id, M1)
    team_customers.update_status(caller, updated, team_customers.CustomerStatusChange(status="contacted"))
    closing = {"close_date": "2026-11-22", "side": "buy", "sale_price": 30_000_000, "commission": 900_000}
    closings.close_customer(caller, closed, fee_model.Closing.model_validate({**closing, "currency": "USD"}))
    team_customers.update_status(caller, lost, team_customers.CustomerStatusChange(status="lost"))
    frozen_clock.advance(days=3)
    run = sweep()
    assert (run.sweep["due"], run.reminded) == (1, 1)
    assert len(texts_to(twilio, PHONES[M1])) == 1 and "Cleo" in texts_to(twilio, PHONES[M1])[0]
    assert db.get(team_customer_key(org_id, team_id, stale))["status"] == "new"  # type: ignore[index]
    # Past 7 days from its update, the updated one falls due too; the closed and lost never.
    frozen_clock.advance(days=5)
    assert sweep().sweep["due"] == 2


def test_a_customer_updated_after_the_sweep_read_it_is_not_reminded(
    twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    updated, waiting = add_customer(org_id, team_id, M1), add_customer(org_id, team_id, M2)
    frozen_clock.advance(days=8)
    _, messages = sweeps.handed_on(reminders.hand_on)
    team_customers.update_status(
        caller_for(org_id, team_id, M1), updated, team_customers.CustomerStatusChange(status="showing")
    )
    done = sweeps.work_through(messages, JOBS)
    assert done["reminded"] == 1 and texts_to(twilio, PHONES[M1]) == [] and len(texts_to(twilio, PHONES[M2])) == 1
    # The digest counts and lists only the customer still due.
    assert texts_to(twilio, PHONES[LEADER]) == [
        "North Team: 1 customer overdue for a status update. Please check the customer list."
    ]
    (digest,) = mails_to("lea@team.example")
    assert digest.body.count("- Cleo Client") == 1 and f"assigned to {M2}" in digest.body
    assert waiting


def test_an_opted_out_number_gets_no_text_but_the_email(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M1)
    membership.set_opted_out(PHONES[M1], True)
    frozen_clock.advance(days=8)
    assert sweep().reminded == 1
    assert texts_to(twilio, PHONES[M1]) == [] and len(mails_to("m1@team.example")) == 1


def test_reminders_are_handed_on_in_pages_and_each_team_gets_one_digest(
    twilio: FakeTwilio, frozen_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "PAGE_SIZE", 7)  # reads of 7 (one page past the cursor's end)
    monkeypatch.setattr(reminders, "REMINDERS_PER_MESSAGE", 3)
    monkeypatch.setattr(reminders, "DIGEST_LINES", 4)
    org_id, north = new_team()
    _, south = new_team("South Team", org_id)
    for n in range(10):
        add_customer(org_id, north if n % 2 else south, M1)
        frozen_clock.advance(seconds=1)
    frozen_clock.advance(days=8)

    counts, messages = sweeps.handed_on(reminders.hand_on)
    pages = [m for m in messages if m["job"] == "remind"]
    digests = {m["team_id"]: m for m in messages if m["job"] == "digest"}
    # Pages of 7 then 3 customers, each cut into messages of at most 3: every customer in exactly one.
    assert [len(m["customers"]) for m in pages] == [3, 3, 1, 3]
    named = [tuple(c) for m in pages for c in m["customers"]]
    assert len(named) == len(set(named)) == 10
    assert {t: (d["overdue"], len(d["customers"])) for t, d in digests.items()} == {north: (5, 4), south: (5, 4)}
    assert (counts.due, counts.teams, counts.handed_on) == (10, 2, 6)

    done = sweeps.work_through(messages, JOBS)
    assert (done["reminded"], done["digests"]) == (10, 2)
    assert len(texts_to(twilio, PHONES[M1])) == 10 and len(texts_to(twilio, PHONES[LEADER])) == 2
    (north_mail,) = [m for m in mails_to("lea@team.example") if "North Team" in m.subject]
    assert north_mail.body.count("- Cleo Client") == 4 and "... and 1 more" in north_mail.body


def test_a_message_out_of_time_continues_where_it_stopped(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    for _ in range(5):
        add_customer(org_id, team_id, M1)
    frozen_clock.advance(days=8)
    _, messages = sweeps.handed_on(reminders.hand_on)
    (page,) = [m for m in messages if m["job"] == "remind"]

    budget = iter([True, True, False])  # time for two customers, then it runs out
    first = reminder_work.remind(page, in_time=lambda: next(budget))
    assert (first.reminded, first.left, first.unfinished) == (2, 3, True)
    assert len(texts_to(twilio, PHONES[M1])) == len(mails_to("m1@team.example")) == 2

    # The message's next delivery: the two done are read as done and skipped, the other three sent.
    second = reminder_work.remind(page)
    assert (second.reminded, second.left, second.unfinished) == (3, 0, False)
    assert len(texts_to(twilio, PHONES[M1])) == len(mails_to("m1@team.example")) == 5
    # A third delivery sends nothing.
    assert reminder_work.remind(page).reminded == 0 and len(twilio.messages()) == 5


def test_a_twilio_outage_fails_the_message_and_its_retry_sends_only_the_rest(
    twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M2)
    add_customer(org_id, team_id, M1)
    frozen_clock.advance(days=8)
    _, messages = sweeps.handed_on(reminders.hand_on)
    (page,) = [m for m in messages if m["job"] == "remind"]
    twilio.fail_next(1, status=500)
    first = reminder_work.remind(page)
    # The first text failed (the page's order is the index's: either member's); the other customer's text
    # went out, and M1's e-mail either way. A customer counts as reminded once any of its notices went.
    m1_text_failed = not texts_to(twilio, PHONES[M1])
    assert (first.failed, first.reminded, first.unfinished) == (1, 2 if m1_text_failed else 1, True)
    assert len(twilio.messages()) == 1
    second = reminder_work.remind(page)
    assert (second.failed, second.reminded, second.unfinished) == (0, 1, False)
    assert len(texts_to(twilio, PHONES[M2])) == len(texts_to(twilio, PHONES[M1])) == 1
    assert len(mails_to("m1@team.example")) == 1


def test_a_number_twilio_refuses_is_not_retried(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M2)
    frozen_clock.advance(days=8)
    _, messages = sweeps.handed_on(reminders.hand_on)
    (page,) = [m for m in messages if m["job"] == "remind"]
    twilio.fail_next(1, status=400)
    refused = reminder_work.remind(page)
    assert (refused.refused, refused.reminded, refused.unfinished) == (1, 0, False)
    assert reminder_work.remind(page).refused == 0 and twilio.messages() == []


def test_work_of_an_earlier_day_is_dropped(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M1)
    frozen_clock.advance(days=8)
    _, messages = sweeps.handed_on(reminders.hand_on)
    frozen_clock.advance(days=1)  # e.g. a dead letter redriven the next day, after that day's sweep
    done = sweeps.work_through(messages, JOBS)
    assert (done["stale"], done["reminded"], done["digests"]) == (2, 0, 0)
    assert twilio.messages() == [] and mails() == []


def test_a_due_customer_is_noted_overdue_once_per_due_date_without_a_new_version(
    twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    customer_id = add_customer(org_id, team_id, M1)
    key = team_customer_key(org_id, team_id, customer_id)
    frozen_clock.advance(days=8)
    noted_at = frozen_clock.moment

    sweep()
    first = db.get(key)
    assert first is not None
    assert (first["overdue_for"], first["version"]) == (first["due_at"], 1)
    assert first["overdue_noted_at"] == f"{noted_at:%Y-%m-%dT%H:%M:%S}.000Z"
    # The next day's sweep finds it still overdue for the same date: nothing is written again.
    frozen_clock.advance(days=1)
    sweep()
    assert db.get(key) == first
    # An update moves the due date (the team's write is not refused for the note); due again, noted again.
    team_customers.update_status(
        caller_for(org_id, team_id, M1), customer_id, team_customers.CustomerStatusChange(status="showing")
    )
    frozen_clock.advance(days=8)
    sweep()
    again = db.get(key)
    assert again is not None and again["overdue_for"] == again["due_at"] > first["due_at"]
    assert not team_customers.note_overdue(again)

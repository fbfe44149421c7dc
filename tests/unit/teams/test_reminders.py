"""The 7-day reminder sweep in-process: common.teams.reminders over the table (moto), texting through the
loopback stand-in for Twilio's Messages endpoint (real HTTP, no patched client) and e-mailing through SES
(moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from common.orgs import access, organisations
from common.platform import db, ids
from common.teams import membership, reminders, roster, team_customers
from common.teams.team_model import team_customer_key
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from local.twilio_fake import FakeTwilio
from tests.unit.conftest import FrozenClock

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "unit-auth-token"
TOKEN_PARAMETER = "/partner-programme/test/twilio-auth-token"
FROM_NUMBER = "+15550009999"
ADMIN, LEADER, TEAM_ADMIN, M1, M2 = "staff-admin", "user-leader", "user-admin", "user-m1", "user-m2"
PHONES = {LEADER: "+15550100001", TEAM_ADMIN: "+15550100002", M1: "+15550100003", M2: "+15550100004"}


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


def new_team(name: str = "North Team") -> tuple[str, str]:
    org_id: str = organisations.create_organisation(organisations.NewOrganisation(name="Acme Realty"), ADMIN)["org_id"]
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
    counts = reminders.sweep().as_dict()
    assert counts == {"orgs": 1, "due": 0, "reminded": 0, "digests": 0, "failed": 0, "items_read": 1}
    assert twilio.messages() == [] and mails() == []


def test_due_customers_are_reminded_once_a_day_and_the_leader_gets_a_digest(
    twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    first = add_customer(org_id, team_id, M1)
    add_customer(org_id, team_id, M2)
    frozen_clock.advance(days=8)

    counts = reminders.sweep()
    assert (counts.orgs, counts.due, counts.reminded, counts.digests, counts.failed) == (1, 2, 2, 1, 0)
    assert len(texts_to(twilio, PHONES[M1])) == len(texts_to(twilio, PHONES[M2])) == 1
    assert "Cleo" in texts_to(twilio, PHONES[M1])[0] and "North Team" in texts_to(twilio, PHONES[M1])[0]
    assert texts_to(twilio, PHONES[LEADER]) == [
        "North Team: 2 customers overdue for a status update. Please check the customer list."
    ]
    assert texts_to(twilio, PHONES[TEAM_ADMIN]) == []
    assert len(mails_to("m1@team.example")) == 1  # M2 has no e-mail address
    digest = mails_to("lea@team.example")
    assert len(digest) == 1 and digest[0].body.count("- Cleo Client") == 2
    # Reads: the org list, the two due customers, the team and both assignees, the leader; no phone has an
    # opt-out record, so the phone reads return nothing.
    assert counts.items_read == 1 + 2 + 3 + 1

    # Again the same day: nothing more is sent.
    frozen_clock.advance(hours=6)
    again = reminders.sweep()
    assert (again.due, again.reminded, again.digests) == (2, 0, 0)
    assert len(twilio.messages()) == 3 and len(mails()) == 2

    # The next day, still overdue: reminded again (once).
    frozen_clock.advance(days=1)
    assert reminders.sweep().reminded == 2
    assert len(texts_to(twilio, PHONES[M1])) == 2
    # Once updated, a customer leaves the reminders until it is due again.
    team_customers.update_status(
        caller_for(org_id, team_id, M1), first, team_customers.CustomerStatusChange(status="showing")
    )
    assert reminders.sweep().due == 1


def test_updated_closed_and_lost_customers_are_not_reminded(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    updated, closed, lost, stale = (add_customer(org_id, team_id, M1) for _ in range(4))
    frozen_clock.advance(days=5)
    caller = caller_for(org_id, team_id, M1)
    team_customers.update_status(caller, updated, team_customers.CustomerStatusChange(status="contacted"))
    team_customers.update_status(caller, closed, team_customers.CustomerStatusChange(status="closed"))
    team_customers.update_status(caller, lost, team_customers.CustomerStatusChange(status="lost"))
    frozen_clock.advance(days=3)
    counts = reminders.sweep()
    assert (counts.due, counts.reminded) == (1, 1)
    assert len(texts_to(twilio, PHONES[M1])) == 1 and "Cleo" in texts_to(twilio, PHONES[M1])[0]
    assert db.get(team_customer_key(org_id, team_id, stale))["status"] == "new"  # type: ignore[index]
    # Past 7 days from its update, the updated one falls due too; the closed and lost never.
    frozen_clock.advance(days=5)
    assert reminders.sweep().due == 2


def test_an_opted_out_number_gets_no_text_but_the_email(twilio: FakeTwilio, frozen_clock: FrozenClock) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M1)
    membership.set_opted_out(PHONES[M1], True)
    frozen_clock.advance(days=8)
    counts = reminders.sweep()
    assert counts.reminded == 1
    assert texts_to(twilio, PHONES[M1]) == [] and len(mails_to("m1@team.example")) == 1


def test_a_twilio_outage_is_retried_by_the_next_run_without_repeating_what_was_sent(
    twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M2)
    frozen_clock.advance(days=8)
    twilio.fail_next(1, status=500)
    first = reminders.sweep()
    assert first.failed >= 1
    sent_first = len(twilio.messages())
    second = reminders.sweep()
    assert second.failed == 0
    assert len(texts_to(twilio, PHONES[M2])) == 1 and len(texts_to(twilio, PHONES[LEADER])) == 1
    assert len(twilio.messages()) == 2 and sent_first == 1

"""The partner programme over HTTP against the local stack: joining top-down, the structure and moves
(separate from the staff hierarchy), "your partners", and invitations with their e-mails."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from local.stack import SENDER_DOMAINS, LocalStack
from tests.integration.support.actors import Actor, new_user
from tests.integration.support.partners import new_partner

INVITE = {
    "first_name": "Ivy",
    "last_name": "Invitee",
    "phone": "+1 555 0123",
    "subject": "Join my team",
    "body": "Hi Ivy, come and refer with us.",
}


@dataclass
class Programme:
    """An organisation for programme tests: its admin, and staff made on demand."""

    stack: LocalStack
    org_id: str
    admin: Actor

    @property
    def path(self) -> str:
        return f"/orgs/{self.org_id}"

    def staff(self, permissions: list[str], superior: Actor | None = None) -> Actor:
        user = new_user(self.stack, "staff")
        self.set_member(user, permissions, superior)
        return user

    def set_member(self, user: Actor, permissions: list[str], superior: Actor | None = None) -> None:
        body: dict[str, Any] = {"permissions": permissions, "display_name": "Sam Staff"}
        if superior is not None:
            body["superior_id"] = superior.user_id
        saved = self.admin.put(f"{self.path}/members/{user.user_id}", body)
        assert saved.status_code == 200, saved.text

    def partner(self, **fields: Any) -> Actor:
        return new_partner(self.stack, self.org_id, **fields)


def new_programme(stack: LocalStack) -> Programme:
    admin = new_user(stack, "admin", operator=True)
    created = admin.post("/orgs", {"name": "Programme org"})
    assert created.status_code == 201, created.text
    return Programme(stack, created.json()["org_id"], admin)


@pytest.fixture
def org(stack: LocalStack) -> Programme:
    return new_programme(stack)


def invitee_email() -> str:
    return f"invitee-{uuid.uuid4().hex[:10]}@it.example"


def mails_to(stack: LocalStack, email: str) -> list[dict[str, Any]]:
    stack.wait_for_streams()
    return [m for m in stack.outbox() if m["to"] == [email]]


def token_in(message: dict[str, Any]) -> str:
    match = re.search(r"token=([A-Za-z0-9_-]+)", message["body"])
    assert match, message["body"]
    return match.group(1)


def partner_ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["partner_id"] for item in response.json()["items"]}


# -- joining ---------------------------------------------------------------------------------------


def test_joining_is_top_down_and_the_structure_is_separate_from_the_staff_hierarchy(org: Programme) -> None:
    boss = org.staff(["programme:join"])
    other = org.staff(["programme:join"])
    rep = org.staff(["programme:join"], superior=boss)

    early = rep.post(f"{org.path}/programme/join", {})
    assert early.status_code == 409 and "superior must join" in early.json()["detail"]
    assert rep.get(f"{org.path}/programme/me").status_code == 404  # nothing was written

    for user in (boss, other):
        assert user.post(f"{org.path}/programme/join", {}).status_code == 201
    joined = rep.post(f"{org.path}/programme/join", {})
    assert joined.status_code == 201, joined.text
    assert (joined.json()["sponsor_id"], joined.json()["level"]) == (boss.user_id, 1)
    assert rep.post(f"{org.path}/programme/join", {}).status_code == 409

    # A new superior in the staff hierarchy leaves the programme as it was...
    org.set_member(rep, ["programme:join"], superior=other)
    assert rep.get(f"{org.path}/programme/me").json()["sponsor"]["partner_id"] == boss.user_id
    # ...and a move in the programme leaves the staff hierarchy as it was.
    moved = org.admin.put(f"{org.path}/programme/partners/{rep.user_id}/sponsor", {"sponsor_id": None})
    assert moved.status_code == 200, moved.text
    assert rep.get(f"{org.path}/programme/me").json()["sponsor"] is None
    members = {m["user_id"]: m for m in org.admin.get(f"{org.path}/members").json()["items"]}
    assert members[rep.user_id]["superior_id"] == other.user_id


def test_joining_needs_the_permission(org: Programme, stack: LocalStack) -> None:
    assert org.staff([]).post(f"{org.path}/programme/join", {}).status_code == 403
    assert new_user(stack, "stranger").post(f"{org.path}/programme/join", {}).status_code == 404
    bad = org.staff(["programme:join"]).post(f"{org.path}/programme/join", {"accept_terms_version": 0, "x": 1})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"body.accept_terms_version", "body.x"}


# -- the structure ---------------------------------------------------------------------------------


def test_your_partners_shows_only_ones_own_structure_and_everyone_with_the_permission(org: Programme) -> None:
    root = org.partner()
    a = org.partner(upline=[root.user_id])
    a1 = org.partner(upline=[a.user_id, root.user_id])
    b = org.partner(upline=[root.user_id])
    listing = f"{org.path}/programme/partners"
    assert partner_ids(a.get(listing)) == {a1.user_id}
    assert partner_ids(b.get(listing)) == set()
    assert partner_ids(root.get(listing)) == {a.user_id, a1.user_id, b.user_id}
    auditor = org.staff(["programme:see_all"])
    assert partner_ids(auditor.get(listing)) == {root.user_id, a.user_id, a1.user_id, b.user_id}
    assert org.staff([]).get(listing).status_code == 403
    assert a.get(listing, params={"cursor": "not-a-cursor"}).status_code == 422


# What only staff with partners:manage see of a partner, and the balances of programme:manage_balances.
STAFF_ONLY = {"email", "phone", "brokers", "archived_reason", "archived_from", "archived_at", "wallet"}


def test_your_partners_shows_each_kind_of_caller_only_their_view(org: Programme) -> None:
    plan = {"currency": "EUR", "levels": [{"rule": "percentage", "percent": "10"}]}
    assert org.admin.post(f"{org.path}/commission-plan/versions", plan).status_code == 201
    root = org.partner()
    broker = org.staff([])
    earner = org.partner(upline=[root.user_id], brokers=[broker.user_id])
    archived = org.partner(upline=[root.user_id], brokers=[broker.user_id])
    corrected = org.admin.post(f"{org.path}/wallets/{earner.user_id}/corrections", {"amount": 1234, "reason": "bonus"})
    assert corrected.status_code == 201, corrected.text
    reason = "Internal: fraud review, do not disclose"
    change = {"status": "ARCHIVED", "reason": reason}
    assert org.admin.post(f"{org.path}/partners/{archived.user_id}/status", change).status_code == 200
    listing = f"{org.path}/programme/partners"

    # The partner and a staff member holding only programme:see_all: nothing staff-only, no balance.
    for caller in (root, org.staff(["programme:see_all"])):
        answer = caller.get(listing)
        assert answer.status_code == 200, answer.text
        assert all(not STAFF_ONLY & set(item) for item in answer.json()["items"]), answer.text
        for secret in (reason, broker.user_id, "@", "+1 555 0101", "balance"):
            assert secret not in answer.text, (secret, answer.text)
    mine = {item["partner_id"]: item for item in root.get(listing).json()["items"]}
    assert mine == {
        earner.user_id: {
            "partner_id": earner.user_id,
            "name": "Pat Partner",
            "status": "LIVE",
            "level": 1,
            "sponsor_id": root.user_id,
        },
        archived.user_id: {
            "partner_id": archived.user_id,
            "name": "Pat Partner",
            "status": "ARCHIVED",
            "level": 1,
            "sponsor_id": root.user_id,
        },
    }
    # With programme:manage_balances, each partner's balance (null before a first ledger entry).
    keeper = org.staff(["programme:see_all", "programme:manage_balances"])
    wallets = {item["partner_id"]: item["wallet"] for item in keeper.get(listing).json()["items"]}
    assert wallets == {
        root.user_id: None,
        earner.user_id: {"balance": 1234, "currency": "EUR", "minor_units": 2},
        archived.user_id: None,
    }


def test_a_partner_moves_with_their_downline(org: Programme) -> None:
    root = org.partner()
    a = org.partner(upline=[root.user_id])
    a1 = org.partner(upline=[a.user_id, root.user_id])
    b = org.partner(upline=[root.user_id])
    manager = org.staff(["partners:manage"])
    url = f"{org.path}/programme/partners/{a.user_id}/sponsor"
    assert org.staff([]).put(url, {"sponsor_id": b.user_id}).status_code == 403
    assert manager.put(url, {"sponsor_id": a1.user_id}).status_code == 409  # into its own downline
    moved = manager.put(url, {"sponsor_id": b.user_id})
    assert moved.status_code == 200, moved.text
    assert moved.json()["moved"] == 2
    assert partner_ids(b.get(f"{org.path}/programme/partners")) == {a.user_id, a1.user_id}
    me = a1.get(f"{org.path}/programme/me").json()
    assert (me["level"], me["upline"]) == (3, [a.user_id, b.user_id, root.user_id])


# -- invitations -----------------------------------------------------------------------------------


def test_an_invitation_goes_from_the_system_address_naming_the_inviter_until_a_sender_address_is_usable(
    org: Programme, stack: LocalStack
) -> None:
    # A sender address verified in SES is not enough: its owner must confirm it and the organisation allow
    # its domain (test_sender_addresses).
    inviter = org.partner()
    sender = f"sender-{uuid.uuid4().hex[:8]}@{SENDER_DOMAINS[0]}"  # a domain the deployment sends from
    stack.client("sesv2").create_email_identity(EmailIdentity=sender)
    assert inviter.patch("/me/partner", {"sender_email": sender}).status_code == 200
    email = invitee_email()
    created = inviter.post(f"{org.path}/programme/invitations", {**INVITE, "email": email})
    assert created.status_code == 201, created.text
    [mail] = mails_to(stack, email)
    assert mail["from"] == f"Pat Partner via Programme org <{stack.email_from}>"
    assert mail["subject"] == "Join my team"
    assert "/register?token=" in mail["body"] and INVITE["body"] in mail["body"]
    listed = inviter.get(f"{org.path}/programme/invitations").json()["items"]
    assert [i["invitation_id"] for i in listed] == [created.json()["invitation_id"]]

    plain = org.partner()
    other = invitee_email()
    assert plain.post(f"{org.path}/programme/invitations", {**INVITE, "email": other}).status_code == 201
    assert [m["from"] for m in mails_to(stack, other)] == [f"Pat Partner via Programme org <{stack.email_from}>"]


def test_level_zero_invitations_need_the_permission(org: Programme, stack: LocalStack) -> None:
    email = invitee_email()
    body = {**INVITE, "email": email, "level_zero": True}
    assert org.partner().post(f"{org.path}/programme/invitations", body).status_code == 403
    assert org.staff([]).post(f"{org.path}/programme/invitations", body).status_code == 403
    inviter = org.staff(["programme:invite_level_zero"])
    created = inviter.post(f"{org.path}/programme/invitations", body)
    assert created.status_code == 201, created.text
    assert created.json()["sponsor_id"] is None
    assert len(mails_to(stack, email)) == 1


def test_a_bad_invitation_names_each_field_and_nothing_is_written(org: Programme, stack: LocalStack) -> None:
    inviter = org.partner()
    email = invitee_email()
    bad = inviter.post(
        f"{org.path}/programme/invitations",
        {**INVITE, "email": email, "phone": "call me", "body": "", "level_zero": "maybe"},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"body.phone", "body.body", "body.level_zero"}
    assert inviter.get(f"{org.path}/programme/invitations").json()["items"] == []
    assert mails_to(stack, email) == []
    already = org.partner().get("/me/partner").json()["account"]["email"]
    taken = inviter.post(f"{org.path}/programme/invitations", {**INVITE, "email": already})
    assert taken.status_code == 409

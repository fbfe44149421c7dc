"""The partner programme in-process: joining, the structure and moves, terms, invitations and their e-mails
(the partners API handler, the domain modules and moto: table, Cognito, S3, SES). The stream is driven by
hand: programme_mail.on_change gets the images the stream would carry."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import boto3
import pytest
from common.orgs.access import member_key
from common.partners.partner_records import (
    PartnerStatus,
    account_item,
    account_key,
    node_item,
    node_key,
    org_email_item,
    settings_key,
)
from common.platform import db, emailed_links
from common.platform.settings import Deployment, UserPool, get_settings
from common.programme import mail, structure
from common.programme.invitations import invitation_key, referral_key

from tests.support import OPERATOR, api_caller, body_of, http_event, invoke
from tests.unit.conftest import FILES_BUCKET, PORTAL_URL, SENDER, FrozenClock

# These tests create users or app clients in the user pool.
pytestmark = pytest.mark.cognito

# -- helpers shared with test_registration ---------------------------------------------------------


api_call = api_caller("partners")
leads_call = api_caller("leads")


STAFF_PASSWORD = "Staff-Passw0rd!"


def cognito_user(email: str, *, first: str = "", last: str = "", password: str | None = STAFF_PASSWORD) -> str:
    """A staff user in the pool: confirmed, verified address; returns the sub."""
    cognito = boto3.client("cognito-idp")
    pool = get_settings(UserPool).user_pool_id
    attributes: list[Any] = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    attributes += [{"Name": n, "Value": v} for n, v in (("given_name", first), ("family_name", last)) if v]
    user = cognito.admin_create_user(
        UserPoolId=pool, Username=email, UserAttributes=attributes, MessageAction="SUPPRESS"
    )["User"]
    if password:
        cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=password, Permanent=True)
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


@dataclass
class Org:
    org_id: str
    admin: str

    @property
    def path(self) -> str:
        return f"/orgs/{self.org_id}"

    def member(self, user_id: str, permissions: list[str], superior_id: str | None = None) -> None:
        body: dict[str, Any] = {"permissions": permissions, "display_name": "Sam Staff"}
        if superior_id:
            body["superior_id"] = superior_id
        response = leads_call("PUT", f"{self.path}/members/{user_id}", user=self.admin, body=body)
        assert response["statusCode"] == 200, response

    def staff(self, name: str, permissions: list[str], superior_id: str | None = None) -> str:
        user_id = cognito_user(f"{name}-{self.org_id.lower()}@staff.example", first=name.title(), last="Staff")
        self.member(user_id, permissions, superior_id)
        return user_id


def new_org() -> Org:
    admin = cognito_user(f"admin-{uuid.uuid4().hex[:8]}@staff.example", first="Ada", last="Admin")
    created = leads_call("POST", "/orgs", user=admin, groups=OPERATOR, body={"name": "Acme Referrals"})
    assert created["statusCode"] == 201, created
    return Org(body_of(created)["org_id"], admin)


def put_partner(
    org_id: str,
    partner_id: str,
    *,
    upline: list[str] | None = None,
    status: PartnerStatus = PartnerStatus.LIVE,
    terms_version: int | None = None,
    email_confirmed: bool = True,
    account: dict[str, Any] | None = None,
) -> None:
    """A partner written straight to the table, as partners added by staff are (no referral code)."""
    email = f"{partner_id}@partner.example"
    details: dict[str, Any] = {"first_name": "Pat", "last_name": partner_id, "email": email, "phone": "+15550101"}
    db.put({**account_item(partner_id=partner_id, email_confirmed=email_confirmed, **details), **(account or {})})
    db.put(
        node_item(
            org_id=org_id,
            partner_id=partner_id,
            status=status,
            origin="added",
            actor="system",
            sponsor_id=upline[0] if upline else None,
            upline=upline,
            terms_version=terms_version,
            **details,
        )
    )
    db.put(org_email_item(org_id, email, partner_id))


def node(org_id: str, partner_id: str) -> dict[str, Any]:
    item = db.get(node_key(org_id, partner_id), consistent=True)
    assert item is not None
    return item


def sent_mail() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def token_in(message: Any) -> str:
    match = re.search(r"token=([A-Za-z0-9_-]+)", str(message.body))
    assert match, message.body
    return match.group(1)


def publish_terms(org: Org, *, upload: bool = True) -> int:
    started = api_call("POST", f"{org.path}/programme/terms", user=org.admin)
    assert started["statusCode"] == 201, started
    version: int = body_of(started)["version"]
    if upload:
        key = f"orgs/{org.org_id}/terms/{version}.pdf"
        boto3.client("s3").put_object(
            Bucket=FILES_BUCKET, Key=key, Body=b"%PDF-1.7 terms", ContentType="application/pdf"
        )
    published = api_call("POST", f"{org.path}/programme/terms/{version}/publish", user=org.admin)
    assert published["statusCode"] == (200 if upload else 409), published
    return version


def table_count() -> int:
    return int(boto3.client("dynamodb").scan(TableName=get_settings(Deployment).table_name, Select="COUNT")["Count"])


@pytest.fixture
def org() -> Org:
    return new_org()


# -- joining ---------------------------------------------------------------------------------------


def test_a_staff_member_without_a_superior_joins_at_level_zero(org: Org) -> None:
    boss = org.staff("boss", ["programme:join"])
    joined = api_call("POST", f"{org.path}/programme/join", user=boss, body={})
    assert joined["statusCode"] == 201, joined
    view = body_of(joined)
    assert (view["status"], view["origin"], view["level"], view["upline"]) == ("LIVE", "joined", 0, [])
    assert (view["first_name"], view["last_name"]) == ("Boss", "Staff")
    account = db.get(account_key(boss), consistent=True)
    assert account and account["email_confirmed"] and account["password_set"]
    code = node(org.org_id, boss)["referral_code"]
    assert db.get(referral_key(code)) is not None
    again = api_call("POST", f"{org.path}/programme/join", user=boss, body={})
    assert again["statusCode"] == 409


def test_joining_is_top_down_along_the_staff_hierarchy(org: Org) -> None:
    boss = org.staff("boss", ["programme:join"])
    rep = org.staff("rep", ["programme:join"], superior_id=boss)
    before = table_count()
    early = api_call("POST", f"{org.path}/programme/join", user=rep, body={})
    assert early["statusCode"] == 409 and "superior must join" in body_of(early)["detail"]
    assert table_count() == before
    assert api_call("POST", f"{org.path}/programme/join", user=boss, body={})["statusCode"] == 201
    joined = body_of(api_call("POST", f"{org.path}/programme/join", user=rep, body={}))
    assert (joined["sponsor_id"], joined["upline"], joined["level"]) == (boss, [boss], 1)


def test_joining_needs_the_permission_and_membership(org: Org) -> None:
    plain = org.staff("plain", [])
    assert api_call("POST", f"{org.path}/programme/join", user=plain, body={})["statusCode"] == 403
    stranger = cognito_user("stranger@else.example")
    assert api_call("POST", f"{org.path}/programme/join", user=stranger, body={})["statusCode"] == 404


def test_joining_requires_accepting_the_current_terms(org: Org) -> None:
    version = publish_terms(org)
    boss = org.staff("boss", ["programme:join"])
    for sent in ({}, {"accept_terms_version": version + 1}):
        refused = api_call("POST", f"{org.path}/programme/join", user=boss, body=sent)
        assert refused["statusCode"] == 409, refused
        assert [e["field"] for e in body_of(refused)["errors"]] == ["body.accept_terms_version"]
    assert db.get(node_key(org.org_id, boss)) is None
    joined = api_call("POST", f"{org.path}/programme/join", user=boss, body={"accept_terms_version": version})
    assert body_of(joined)["terms_version"] == version


def test_the_structure_and_the_staff_hierarchy_never_move_each_other(org: Org) -> None:
    boss, other = org.staff("boss", ["programme:join"]), org.staff("other", ["programme:join"])
    rep = org.staff("rep", ["programme:join"], superior_id=boss)
    for user in (boss, other, rep):
        assert api_call("POST", f"{org.path}/programme/join", user=user, body={})["statusCode"] == 201
    # The staff hierarchy changes: the programme does not.
    org.member(rep, ["programme:join"], superior_id=other)
    assert node(org.org_id, rep)["upline"] == [boss]
    # The programme changes: the staff hierarchy does not.
    moved = api_call("PUT", f"{org.path}/programme/partners/{rep}/sponsor", user=org.admin, body={"sponsor_id": None})
    assert moved["statusCode"] == 200, moved
    assert node(org.org_id, rep)["upline"] == []
    membership = db.get(member_key(org.org_id, rep), consistent=True)
    assert membership and membership["superior_id"] == other


# -- "your partners" and moves ---------------------------------------------------------------------


def _tree(org: Org) -> dict[str, str]:
    """root -> a -> (a1, a2 -> a21); root -> b."""
    ids = {name: f"p-{name}" for name in ("root", "a", "a1", "a2", "a21", "b")}
    put_partner(org.org_id, ids["root"])
    put_partner(org.org_id, ids["a"], upline=[ids["root"]])
    put_partner(org.org_id, ids["a1"], upline=[ids["a"], ids["root"]])
    put_partner(org.org_id, ids["a2"], upline=[ids["a"], ids["root"]])
    put_partner(org.org_id, ids["a21"], upline=[ids["a2"], ids["a"], ids["root"]])
    put_partner(org.org_id, ids["b"], upline=[ids["root"]])
    return ids


def _listed(response: dict[str, Any]) -> set[str]:
    assert response["statusCode"] == 200, response
    return {i["partner_id"] for i in body_of(response)["items"]}


def test_your_partners_is_the_callers_downline_or_everyone_with_the_permission(org: Org) -> None:
    ids = _tree(org)
    listing = f"{org.path}/programme/partners"
    assert _listed(api_call("GET", listing, user=ids["a"])) == {ids["a1"], ids["a2"], ids["a21"]}
    assert _listed(api_call("GET", listing, user=ids["b"])) == set()
    everyone = api_call("GET", listing, user=org.staff("auditor", ["programme:see_all"]))
    assert _listed(everyone) == set(ids.values()) and body_of(everyone)["scope"] == "all"
    assert api_call("GET", listing, user=org.staff("plain", []))["statusCode"] == 403
    # Each kind of caller its own view: a partner sees names, levels and statuses; staff the structure;
    # balances only with programme:manage_balances.
    downline = body_of(api_call("GET", listing, user=ids["a"]))
    assert downline["scope"] == "downline"
    assert {frozenset(i) for i in downline["items"]} == {
        frozenset({"partner_id", "name", "status", "level", "sponsor_id"})
    }
    assert not {"email", "phone", "brokers", "wallet"} & {k for i in body_of(everyone)["items"] for k in i}
    keeper = api_call("GET", listing, user=org.staff("keeper", ["programme:see_all", "programme:manage_balances"]))
    assert [i["wallet"] for i in body_of(keeper)["items"]] == [None] * len(ids)  # no ledger entry yet
    assert api_call("GET", listing, user=cognito_user("nobody@else.example"))["statusCode"] == 404


def test_a_balance_manager_without_the_mfa_it_needs_sees_the_structure_without_balances(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _tree(org)
    monkeypatch.setenv("MONEY_MFA_REQUIRED", "true")
    get_settings.cache_clear()
    keeper = org.staff("keeper", ["programme:see_all", "programme:manage_balances"])

    def listed(mfa: bool) -> dict[str, Any]:
        event = http_event("GET", f"{org.path}/programme/partners", user=keeper)
        event["requestContext"]["authorizer"]["lambda"]["mfa"] = "true" if mfa else "false"
        answer = invoke("partners.api.lambda_handler", event)
        assert answer["statusCode"] == 200, answer
        return dict(body_of(answer))

    # A listing is a view: without MFA the balances are left out, the structure is still answered.
    assert {k for i in listed(mfa=False)["items"] for k in i} == {k for i in listed(mfa=True)["items"] for k in i} - {
        "wallet"
    }
    assert len(listed(mfa=False)["items"]) == len(ids)
    assert all(i["wallet"] is None for i in listed(mfa=True)["items"])  # no ledger entry yet


def test_a_move_replaces_the_partner_with_its_whole_downline(org: Org) -> None:
    ids = _tree(org)
    manager = org.staff("manager", ["partners:manage"])
    url = f"{org.path}/programme/partners/{ids['a']}/sponsor"
    moved = api_call("PUT", url, user=manager, body={"sponsor_id": ids["b"]})
    assert moved["statusCode"] == 200, moved
    assert body_of(moved)["moved"] == 4
    assert node(org.org_id, ids["a"])["upline"] == [ids["b"], ids["root"]]
    a21 = node(org.org_id, ids["a21"])
    assert a21["upline"] == [ids["a2"], ids["a"], ids["b"], ids["root"]] and a21["level"] == 4
    assert a21["gsi2sk"] == "/".join([ids["root"], ids["b"], ids["a"], ids["a2"], ids["a21"]]) + "/"
    assert node(org.org_id, ids["a"])["history"][-1]["action"] == "sponsor_changed"
    assert _listed(api_call("GET", f"{org.path}/programme/partners", user=ids["b"])) == {
        ids["a"],
        ids["a1"],
        ids["a2"],
        ids["a21"],
    }
    # Into its own downline: refused, nothing changes.
    refused = api_call("PUT", url, user=manager, body={"sponsor_id": ids["a21"]})
    assert refused["statusCode"] == 409
    to_top = api_call("PUT", url, user=manager, body={"sponsor_id": None})
    assert body_of(to_top)["partner"]["level"] == 0
    assert node(org.org_id, ids["a1"])["upline"] == [ids["a"]]


def test_a_move_needs_the_permission_and_a_valid_sponsor(org: Org) -> None:
    ids = _tree(org)
    url = f"{org.path}/programme/partners/{ids['a']}/sponsor"
    assert api_call("PUT", url, user=org.staff("plain", []), body={"sponsor_id": None})["statusCode"] == 403
    assert api_call("PUT", url, user=ids["root"], body={"sponsor_id": None})["statusCode"] == 404
    unknown = api_call("PUT", url, user=org.admin, body={"sponsor_id": "nobody"})
    assert unknown["statusCode"] == 422 and body_of(unknown)["errors"][0]["field"] == "body.sponsor_id"
    missing = api_call("PUT", url, user=org.admin, body={})
    assert missing["statusCode"] == 422 and body_of(missing)["errors"][0]["field"] == "body.sponsor_id"
    gone = api_call("PUT", f"{org.path}/programme/partners/nobody/sponsor", user=org.admin, body={"sponsor_id": None})
    assert gone["statusCode"] == 404


def test_a_move_larger_than_one_transaction_is_refused(org: Org) -> None:
    put_partner(org.org_id, "big")
    for n in range(100):
        put_partner(org.org_id, f"d{n:03d}", upline=["big"])
    put_partner(org.org_id, "other")
    refused = api_call(
        "PUT", f"{org.path}/programme/partners/big/sponsor", user=org.admin, body={"sponsor_id": "other"}
    )
    assert refused["statusCode"] == 409 and "at most" in body_of(refused)["detail"]
    assert node(org.org_id, "d000")["upline"] == ["big"]


def test_a_move_is_refused_whole_when_the_structure_changed_after_it_was_read(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _tree(org)
    read_subtree = structure._subtree

    def then_someone_moves_a1(org_id: str, path: str, client: Any) -> list[dict[str, Any]]:
        found = read_subtree(org_id, path, client)
        db.update(
            node_key(org_id, ids["a1"]),
            expression="SET gsi2sk = :path, upline = :upline",
            values={":path": f"{ids['root']}/{ids['b']}/{ids['a1']}/", ":upline": [ids["b"], ids["root"]]},
        )
        return found

    monkeypatch.setattr(structure, "_subtree", then_someone_moves_a1)
    url = f"{org.path}/programme/partners/{ids['a']}/sponsor"
    refused = api_call("PUT", url, user=org.admin, body={"sponsor_id": ids["b"]})
    assert refused["statusCode"] == 409, refused
    assert node(org.org_id, ids["a"])["upline"] == [ids["root"]]
    assert node(org.org_id, ids["a21"])["upline"] == [ids["a2"], ids["a"], ids["root"]]


def test_my_view_gives_a_referral_link_made_once(org: Org) -> None:
    put_partner(org.org_id, "p1")
    first = api_call("GET", f"{org.path}/programme/me", user="p1")
    assert first["statusCode"] == 200, first
    view = body_of(first)
    assert view["referral_link"] == f"{PORTAL_URL}/join/{view['referral_code']}"
    assert body_of(api_call("GET", f"{org.path}/programme/me", user="p1"))["referral_code"] == view["referral_code"]
    link = db.get(referral_key(view["referral_code"]))
    assert link and (link["org_id"], link["partner_id"]) == (org.org_id, "p1")


# -- terms -----------------------------------------------------------------------------------------


def test_only_admins_manage_terms_and_a_version_needs_its_upload(org: Org) -> None:
    manager = org.staff("manager", ["partners:manage"])
    assert api_call("POST", f"{org.path}/programme/terms", user=manager)["statusCode"] == 403
    started = body_of(api_call("POST", f"{org.path}/programme/terms", user=org.admin))
    assert started["version"] == 1 and started["upload"]["fields"]["key"] == f"orgs/{org.org_id}/terms/1.pdf"
    not_uploaded = api_call("POST", f"{org.path}/programme/terms/1/publish", user=org.admin)
    assert not_uploaded["statusCode"] == 409
    unknown = api_call("POST", f"{org.path}/programme/terms/7/publish", user=org.admin)
    assert unknown["statusCode"] == 404
    assert publish_terms(org) == 2
    settings = db.get(settings_key(org.org_id), consistent=True)
    assert settings and settings["current_terms_version"] == 2
    boto3.client("s3").put_object(Bucket=FILES_BUCKET, Key=f"orgs/{org.org_id}/terms/1.pdf", Body=b"%PDF")
    older = api_call("POST", f"{org.path}/programme/terms/1/publish", user=org.admin)
    assert older["statusCode"] == 409


def test_a_new_version_locks_partners_out_until_they_accept_it(org: Org, frozen_clock: FrozenClock) -> None:
    put_partner(org.org_id, "p1")
    assert api_call("GET", f"{org.path}/programme/me", user="p1")["statusCode"] == 200
    version = publish_terms(org)
    locked = api_call("GET", f"{org.path}/programme/me", user="p1")
    assert locked["statusCode"] == 403 and body_of(locked)["type"] == "/problems/terms-not-accepted"
    terms = body_of(api_call("GET", f"{org.path}/programme/terms", user="p1"))
    assert terms["version"] == version and terms["accepted"] is False and FILES_BUCKET in terms["url"]
    wrong = api_call("POST", f"{org.path}/programme/terms/accept", user="p1", body={"version": version + 1})
    assert wrong["statusCode"] == 409
    frozen_clock.advance(minutes=5)
    accepted = api_call("POST", f"{org.path}/programme/terms/accept", user="p1", body={"version": version})
    assert accepted["statusCode"] == 200, accepted
    assert (body_of(accepted)["terms_version"], body_of(accepted)["terms_accepted_at"]) == (
        version,
        "2026-11-22T09:05:00.000Z",
    )
    assert api_call("GET", f"{org.path}/programme/me", user="p1")["statusCode"] == 200
    staff_view = body_of(api_call("GET", f"{org.path}/programme/terms", user=org.admin))
    assert staff_view["version"] == version and "accepted" not in staff_view


def test_accepting_sent_terms_makes_the_partner_live(org: Org) -> None:
    version = publish_terms(org)
    put_partner(org.org_id, "p1", status=PartnerStatus.PROSPECT_TERMS_SENT)
    accepted = body_of(api_call("POST", f"{org.path}/programme/terms/accept", user="p1", body={"version": version}))
    assert accepted["status"] == "LIVE"
    stored = node(org.org_id, "p1")
    assert stored["gsi1pk"] == f"ORG#{org.org_id}#PARTNERS#LIVE"
    assert stored["history"][-1]["action"] == "terms_accepted"


# -- invitations -----------------------------------------------------------------------------------

INVITE = {
    "first_name": "Ivy",
    "last_name": "Invitee",
    "email": "Ivy@Invitee.example",
    "phone": "+15550123",
    "subject": "Join my team",
    "body": "Hi Ivy, come and refer with us.",
}


def test_a_participant_invites_under_themselves(org: Org) -> None:
    put_partner(org.org_id, "p1")
    created = api_call("POST", f"{org.path}/programme/invitations", user="p1", body=INVITE)
    assert created["statusCode"] == 201, created
    invitation = body_of(created)
    assert (invitation["sponsor_id"], invitation["level_zero"], invitation["email"]) == (
        "p1",
        False,
        "ivy@invitee.example",
    )
    assert invitation["state"] == "sent"
    mine = body_of(api_call("GET", f"{org.path}/programme/invitations", user="p1"))["items"]
    assert [i["invitation_id"] for i in mine] == [invitation["invitation_id"]]
    assert body_of(api_call("GET", f"{org.path}/programme/invitations", user=org.admin))["items"] == []


def test_level_zero_invitations_need_the_permission(org: Org) -> None:
    put_partner(org.org_id, "p1")
    level_zero = {**INVITE, "level_zero": True}
    assert api_call("POST", f"{org.path}/programme/invitations", user="p1", body=level_zero)["statusCode"] == 403
    plain = org.staff("plain", [])
    assert api_call("POST", f"{org.path}/programme/invitations", user=plain, body=level_zero)["statusCode"] == 403
    # Without level_zero, a staff member who has not joined has nobody to invite under.
    assert api_call("POST", f"{org.path}/programme/invitations", user=plain, body=INVITE)["statusCode"] == 403
    inviter = org.staff("inviter", ["programme:invite_level_zero"])
    created = api_call("POST", f"{org.path}/programme/invitations", user=inviter, body=level_zero)
    assert created["statusCode"] == 201, created
    assert body_of(created)["sponsor_id"] is None and body_of(created)["inviter_kind"] == "staff"
    stranger = cognito_user("stranger@else.example")
    assert api_call("POST", f"{org.path}/programme/invitations", user=stranger, body=level_zero)["statusCode"] == 404


def test_bad_invitations_are_refused_naming_each_field_and_nothing_is_written(org: Org) -> None:
    put_partner(org.org_id, "p1")
    before = table_count()
    bad = api_call(
        "POST",
        f"{org.path}/programme/invitations",
        user="p1",
        body={**INVITE, "email": "not-an-address", "phone": "x", "subject": "", "extra": 1},
    )
    assert bad["statusCode"] == 422
    assert {e["field"] for e in body_of(bad)["errors"]} >= {"body.email", "body.phone", "body.subject", "body.extra"}
    taken = api_call(
        "POST", f"{org.path}/programme/invitations", user="p1", body={**INVITE, "email": "p1@partner.example"}
    )
    assert taken["statusCode"] == 409
    assert table_count() == before


def _invitation(org_id: str, invitation_id: str) -> dict[str, Any]:
    item = db.get(invitation_key(org_id, invitation_id), consistent=True)
    assert item is not None
    return item


def allow_sender_domain(monkeypatch: pytest.MonkeyPatch, org_id: str, domain: str) -> None:
    """The deployment offers `domain` and the organisation allows it (test_sender_addresses covers how)."""
    monkeypatch.setenv("SENDER_DOMAINS", domain)
    get_settings.cache_clear()
    db.update(settings_key(org_id), expression="SET allowed_sender_domains = :d", values={":d": [domain]})


CONFIRMED_SENDER = {"sender_email": "p1@partner.example", "sender_email_confirmed": True}


def test_the_invitation_email_goes_once_from_the_inviters_address(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    allow_sender_domain(monkeypatch, org.org_id, "partner.example")
    put_partner(org.org_id, "p1", account=CONFIRMED_SENDER)
    boto3.client("ses").verify_email_identity(EmailAddress="p1@partner.example")
    created = body_of(api_call("POST", f"{org.path}/programme/invitations", user="p1", body=INVITE))
    item = _invitation(org.org_id, created["invitation_id"])
    mail.on_change(None, item)
    mail.on_change(None, item)  # redelivered: nothing more
    mail.on_change(item, {**item, "accepted_at": "2026-11-23T00:00:00.000Z"})  # a later change
    mails = [m for m in sent_mail() if m.destinations["ToAddresses"] == ["ivy@invitee.example"]]
    assert len(mails) == 1
    assert mails[0].source == "p1@partner.example" and mails[0].subject == "Join my team"
    assert f"{PORTAL_URL}/register?token=" in mails[0].body and INVITE["body"] in mails[0].body
    record = emailed_links.read(token_in(mails[0]), "invitation", email="ivy@invitee.example")
    assert record["data"]["invitation_id"] == created["invitation_id"]


def test_a_sender_address_ses_refuses_falls_back_to_the_system_address(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_sender_domain(monkeypatch, org.org_id, "partner.example")
    put_partner(org.org_id, "p1", account=CONFIRMED_SENDER)  # confirmed and allowed, but not verified in SES
    created = body_of(api_call("POST", f"{org.path}/programme/invitations", user="p1", body=INVITE))
    mail.on_change(None, _invitation(org.org_id, created["invitation_id"]))
    mails = [m for m in sent_mail() if m.destinations["ToAddresses"] == ["ivy@invitee.example"]]
    assert [parseaddr(m.source) for m in mails] == [("Pat p1 via Acme Referrals", SENDER)]

"""Workflows, deals, notes, files and the partner portal, in-process: the partners handler, the domain
modules and the table (moto)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from common.deals import credited_leads, deal_records, files, mail
from common.orgs import access, organisations
from common.partners.partner_records import (
    PartnerStatus,
    account_item,
    node_item,
    node_key,
    settings_key,
)
from common.platform import db

from tests.support import Call, api_caller, body_of
from tests.unit.conftest import FrozenClock

ADMIN, OWNER, OTHER, MANAGER, OUTSIDER = "user-admin", "user-owner", "user-other", "user-manager", "user-outsider"
PARTNER, SECOND_PARTNER = "partner-one", "partner-two"
CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}


@pytest.fixture
def call() -> Call:
    return api_caller("partners")


def add_partner(
    org_id: str, partner_id: str, *, status: PartnerStatus = PartnerStatus.LIVE, brokers: Any = (OWNER,)
) -> None:
    email = f"{partner_id}@partner.example"
    db.put(
        account_item(
            partner_id=partner_id, email_confirmed=True, first_name="Pat", last_name="Partner", email=email, phone=None
        )
    )
    db.put(
        node_item(
            org_id=org_id,
            partner_id=partner_id,
            email=email,
            phone=None,
            status=status,
            origin="added",
            actor="system",
            brokers=list(brokers),
            first_name="Pat",
            last_name="Partner",
        )
    )


def save_settings(org_id: str, **settings: Any) -> None:
    db.put({**settings_key(org_id), "entity": "programme_settings", "org_id": org_id, **settings})


@pytest.fixture
def org(call: Call) -> str:
    org_id: str = organisations.create_organisation(organisations.NewOrganisation(name="Acme Brokers"), ADMIN)["org_id"]
    admin = access.Member(org_id, ADMIN, "admin", frozenset())
    money, manage = [access.Permission.DEAL_MONEY], [access.Permission.MANAGE_DEALS]
    for user, permissions in ((OWNER, money), (OTHER, []), (MANAGER, manage)):
        organisations.put_member(org_id, admin, user, organisations.MembershipChange(permissions=permissions))
    add_partner(org_id, PARTNER)
    add_partner(org_id, SECOND_PARTNER)
    return org_id


def created(response: dict[str, Any], status: int = 201) -> Any:
    assert response["statusCode"] == status, response
    return body_of(response)


def problem(response: dict[str, Any], status: int) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    return body_of(response)


def fields(response: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem(response, 422)["errors"]}


@pytest.fixture
def workflow(call: Call, org: str) -> dict[str, Any]:
    body = {"name": "Home loans", "stages": [{"name": "New"}, {"name": "Qualified"}, {"name": "Settled"}]}
    return created(call("POST", f"/orgs/{org}/workflows", user=MANAGER, body=body))


def new_deal(call: Call, org: str, workflow: dict[str, Any], user: str = OWNER, **fields: Any) -> dict[str, Any]:
    body = {"workflow_id": workflow["workflow_id"], "contacts": [CONTACT], **fields}
    return created(call("POST", f"/orgs/{org}/deals", user=user, body=body))


def node(org: str, partner_id: str) -> db.Item:
    item = db.get(node_key(org, partner_id), consistent=True)
    assert item is not None
    return item


# -- workflows -------------------------------------------------------------------------------------


def test_workflows_are_created_with_deals_manage_and_read_by_any_member(call: Call, org: str) -> None:
    body = {"name": "Insurance", "stages": [{"name": "Lead"}, {"name": "Won"}]}
    problem(call("POST", f"/orgs/{org}/workflows", user=OWNER, body=body), 403)
    workflow = created(call("POST", f"/orgs/{org}/workflows", user=MANAGER, body=body))
    assert [s["name"] for s in workflow["stages"]] == ["Lead", "Won"]
    assert len({s["stage_id"] for s in workflow["stages"]}) == 2
    listed = created(call("GET", f"/orgs/{org}/workflows", user=OTHER), 200)
    assert [w["workflow_id"] for w in listed["items"]] == [workflow["workflow_id"]]
    assert created(call("GET", f"/orgs/{org}/workflows/{workflow['workflow_id']}", user=OWNER), 200) == workflow
    problem(call("GET", f"/orgs/{org}/workflows/{workflow['workflow_id']}", user=OUTSIDER), 404)


def test_a_workflow_needs_stages_with_distinct_names(call: Call, org: str) -> None:
    twice = {"name": "W", "stages": [{"name": "New"}, {"name": "new "}]}
    assert fields(call("POST", f"/orgs/{org}/workflows", user=MANAGER, body=twice)) == {"body.stages"}
    assert fields(call("POST", f"/orgs/{org}/workflows", user=MANAGER, body={"name": "W", "stages": []})) == {
        "body.stages"
    }


# -- staff deals -----------------------------------------------------------------------------------


def test_a_stage_commission_setting_needs_the_balances_permission_and_travels_with_each_move(
    call: Call, org: str
) -> None:
    stages = [{"name": "New"}, {"name": "Won", "commission": "compute"}, {"name": "Lost"}]
    body = {"name": "Paid deals", "stages": stages}
    problem(call("POST", f"/orgs/{org}/workflows", user=MANAGER, body=body), 403)  # deals:manage alone
    flow = created(call("POST", f"/orgs/{org}/workflows", user=ADMIN, body=body))
    assert [s["commission"] for s in flow["stages"]] == ["none", "compute", "none"]
    new, won, lost = (s["stage_id"] for s in flow["stages"])
    setting = f"/orgs/{org}/workflows/{flow['workflow_id']}/stages/{lost}/commission"
    problem(call("PUT", setting, user=MANAGER, body={"commission": "reverse"}), 403)
    assert fields(call("PUT", setting, user=ADMIN, body={"commission": "pay"})) == {"body.commission"}
    unknown = f"/orgs/{org}/workflows/{flow['workflow_id']}/stages/{'0' * 26}/commission"
    problem(call("PUT", unknown, user=ADMIN, body={"commission": "reverse"}), 404)
    changed = created(call("PUT", setting, user=ADMIN, body={"commission": "reverse"}), 200)
    assert [(s["stage_id"], s["commission"]) for s in changed["stages"]] == [
        (new, "none"),
        (won, "compute"),
        (lost, "reverse"),
    ]

    deal = new_deal(call, org, flow)
    assert deal["stage_commission"] == "none"  # creating a deal is not a change: it pays nothing
    path = f"/orgs/{org}/deals/{deal['deal_id']}/stage"
    moved = created(call("POST", path, user=OWNER, body={"stage_id": won}), 200)
    assert (moved["stage_commission"], moved["stage_history"][-1]["commission"]) == ("compute", "compute")
    # A later change of the setting leaves the move already made as it was.
    won_setting = f"/orgs/{org}/workflows/{flow['workflow_id']}/stages/{won}/commission"
    created(call("PUT", won_setting, user=ADMIN, body={"commission": "none"}), 200)
    again = created(call("GET", f"/orgs/{org}/deals/{deal['deal_id']}", user=OWNER), 200)
    assert (again["stage_commission"], again["stage_history"][-1]["commission"]) == ("compute", "compute")
    moved = created(call("POST", path, user=OWNER, body={"stage_id": lost}), 200)
    assert moved["stage_commission"] == "reverse"


def test_a_staff_deal_starts_at_the_first_stage_owned_by_its_creator(
    call: Call, org: str, workflow: dict[str, Any]
) -> None:
    deal = new_deal(call, org, workflow, value={"amount": 25_000_00, "currency": "AUD"})
    first = workflow["stages"][0]
    assert (deal["stage_id"], deal["stage_name"], deal["owner_id"]) == (first["stage_id"], first["name"], OWNER)
    assert deal["title"] == "Jane Doe"
    assert deal["created_by"] == f"user:{OWNER}"
    assert deal["value"] == {"amount": 25_000_00, "currency": "AUD", "minor_units": 2}
    assert [e["stage_id"] for e in deal["stage_history"]] == [first["stage_id"]]
    assert deal["credited_partner_id"] is None and deal["partner_ids"] == []


def test_staff_deal_input_is_checked(call: Call, org: str, workflow: dict[str, Any]) -> None:
    path = f"/orgs/{org}/deals"
    base = {"workflow_id": workflow["workflow_id"], "contacts": [CONTACT]}
    assert fields(call("POST", path, user=OWNER, body={**base, "contacts": []})) == {"body.contacts"}
    bad_value = {**base, "value": {"amount": 10.5, "currency": "aud"}}
    assert fields(call("POST", path, user=OWNER, body=bad_value)) == {"body.value.amount", "body.value.currency"}
    other_workflow = {**base, "workflow_id": "0" * 26}
    assert fields(call("POST", path, user=OWNER, body=other_workflow)) == {"body.workflow_id"}
    problem(call("POST", path, user=OWNER, body={**base, "owner_id": OTHER}), 403)
    assert fields(call("POST", path, user=MANAGER, body={**base, "owner_id": "nobody"})) == {"body.owner_id"}
    assert created(call("POST", path, user=MANAGER, body={**base, "owner_id": OTHER}))["owner_id"] == OTHER
    problem(call("POST", path, user=OUTSIDER, body=base), 404)


def test_members_list_their_own_deals_and_managers_every_deal(call: Call, org: str, workflow: dict[str, Any]) -> None:
    mine = new_deal(call, org, workflow)
    theirs = new_deal(call, org, workflow, user=OTHER)
    own = created(call("GET", f"/orgs/{org}/deals", user=OWNER), 200)["items"]
    assert [d["deal_id"] for d in own] == [mine["deal_id"]]
    problem(call("GET", f"/orgs/{org}/deals", user=OWNER, query={"owner_id": OTHER}), 403)
    everyone = created(call("GET", f"/orgs/{org}/deals", user=MANAGER), 200)["items"]
    assert {d["deal_id"] for d in everyone} == {mine["deal_id"], theirs["deal_id"]}
    one_owner = created(call("GET", f"/orgs/{org}/deals", user=MANAGER, query={"owner_id": OTHER}), 200)["items"]
    assert [d["deal_id"] for d in one_owner] == [theirs["deal_id"]]
    problem(call("GET", f"/orgs/{org}/deals/{theirs['deal_id']}", user=OWNER), 403)
    assert created(call("GET", f"/orgs/{org}/deals/{theirs['deal_id']}", user=MANAGER), 200)["owner_id"] == OTHER


def test_moving_a_deal_appends_its_history_in_the_same_write(
    call: Call, org: str, workflow: dict[str, Any], frozen_clock: FrozenClock
) -> None:
    deal = new_deal(call, org, workflow)
    path = f"/orgs/{org}/deals/{deal['deal_id']}/stage"
    qualified, settled = workflow["stages"][1], workflow["stages"][2]
    frozen_clock.advance(hours=1)
    moved = created(call("POST", path, user=OWNER, body={"stage_id": qualified["stage_id"]}), 200)
    assert (moved["stage_id"], moved["stage_name"], moved["version"]) == (qualified["stage_id"], "Qualified", 2)
    entry = moved["stage_history"][-1]
    assert entry == {
        "at": "2026-11-22T10:00:00.000Z",
        "by": f"user:{OWNER}",
        "stage_id": qualified["stage_id"],
        "stage_name": "Qualified",
        "commission": "none",
        "from_stage_id": workflow["stages"][0]["stage_id"],
    }
    # Based on an older version: refused, and nothing changes.
    stale = problem(call("POST", path, user=OWNER, body={"stage_id": settled["stage_id"], "version": 1}), 409)
    assert stale["type"] == "/problems/deal-changed"
    # Already there: unchanged.
    again = created(call("POST", path, user=OWNER, body={"stage_id": qualified["stage_id"]}), 200)
    assert again["version"] == 2 and len(again["stage_history"]) == 2
    assert fields(call("POST", path, user=OWNER, body={"stage_id": "0" * 26})) == {"body.stage_id"}
    problem(call("POST", path, user=OTHER, body={"stage_id": settled["stage_id"]}), 403)
    done = created(call("POST", path, user=MANAGER, body={"stage_id": settled["stage_id"], "version": 2}), 200)
    assert [e["stage_name"] for e in done["stage_history"]] == ["New", "Qualified", "Settled"]


def test_a_deal_credited_to_a_partner_is_their_lead(call: Call, org: str, workflow: dict[str, Any]) -> None:
    deal = new_deal(call, org, workflow, partner_id=PARTNER)
    assert deal["credited_partner_id"] == PARTNER and deal["partner_ids"] == [PARTNER]
    partner = node(org, PARTNER)
    assert partner["status"] == "ACTIVE"
    assert partner["last_lead_at"] == deal["created_at"]
    # The activity's lead entry follows from the stream, not from the deal's transaction.
    assert "deal_id" not in partner["history"][-1]
    credited_leads.on_change(None, db.get(deal_records.deal_key(org, deal["deal_id"])))
    assert node(org, PARTNER)["history"][-1]["deal_id"] == deal["deal_id"]
    share = db.get(deal_records.share_key(org, deal["deal_id"], PARTNER))
    assert share is not None and share["shared_by"] == f"user:{OWNER}"
    assert share["workflow_id"] == workflow["workflow_id"]


@pytest.mark.parametrize("status", [PartnerStatus.ENDED, PartnerStatus.ARCHIVED])
def test_an_ended_or_archived_partner_is_not_credited_and_nothing_is_written(
    call: Call, org: str, workflow: dict[str, Any], status: PartnerStatus
) -> None:
    add_partner(org, "partner-gone", status=status)
    body = {"workflow_id": workflow["workflow_id"], "contacts": [CONTACT], "partner_id": "partner-gone"}
    problem(call("POST", f"/orgs/{org}/deals", user=OWNER, body=body), 409)
    assert created(call("GET", f"/orgs/{org}/deals", user=MANAGER), 200)["items"] == []
    assert node(org, "partner-gone")["status"] == status.value
    body["partner_id"] = "not-a-partner"
    assert fields(call("POST", f"/orgs/{org}/deals", user=OWNER, body=body)) == {"body.partner_id"}


# -- sharing ---------------------------------------------------------------------------------------


def test_sharing_a_deal_shows_it_in_the_partners_portal_once(call: Call, org: str, workflow: dict[str, Any]) -> None:
    deal = new_deal(call, org, workflow)
    path = f"/orgs/{org}/deals/{deal['deal_id']}/partners/{PARTNER}"
    problem(call("PUT", path, user=OTHER), 403)
    shared = created(call("PUT", path, user=OWNER), 201)
    assert shared["partner_ids"] == [PARTNER] and shared["version"] == 2
    again = created(call("PUT", path, user=OWNER), 200)
    assert again["partner_ids"] == [PARTNER] and again["version"] == 2
    problem(call("PUT", f"/orgs/{org}/deals/{deal['deal_id']}/partners/nobody", user=OWNER), 404)
    # Shared, not credited: the partner's status does not change.
    assert node(org, PARTNER)["status"] == "LIVE"
    listed = created(call("GET", f"/orgs/{org}/portal/deals", user=PARTNER), 200)["items"]
    assert [(d["deal_id"], d["stage"]["name"], d["credited_to_you"]) for d in listed] == [
        (deal["deal_id"], "New", False)
    ]
    assert created(call("GET", f"/orgs/{org}/portal/deals", user=SECOND_PARTNER), 200)["items"] == []
    problem(call("GET", f"/orgs/{org}/portal/deals/{deal['deal_id']}", user=SECOND_PARTNER), 404)
    seen = created(call("GET", f"/orgs/{org}/portal/deals/{deal['deal_id']}", user=PARTNER), 200)
    assert "partner_ids" not in seen and [e["name"] for e in seen["stage_history"]] == ["New"]
    workflows = created(call("GET", f"/orgs/{org}/portal/workflows", user=PARTNER), 200)["items"]
    assert [(w["workflow_id"], w["is_default"]) for w in workflows] == [(workflow["workflow_id"], False)]


def test_the_portal_lists_deals_of_one_workflow(call: Call, org: str, workflow: dict[str, Any]) -> None:
    other = created(
        call("POST", f"/orgs/{org}/workflows", user=MANAGER, body={"name": "Other", "stages": [{"name": "Open"}]})
    )
    first = new_deal(call, org, workflow, partner_id=PARTNER)
    second = new_deal(call, org, other, partner_id=PARTNER)
    path = f"/orgs/{org}/portal/deals"
    only = created(call("GET", path, user=PARTNER, query={"workflow_id": other["workflow_id"]}), 200)["items"]
    assert [d["deal_id"] for d in only] == [second["deal_id"]]
    every = created(call("GET", path, user=PARTNER), 200)["items"]
    assert {d["deal_id"] for d in every} == {first["deal_id"], second["deal_id"]}
    save_settings(org, default_workflow_id=workflow["workflow_id"])
    listed = created(call("GET", f"/orgs/{org}/portal/workflows", user=PARTNER), 200)["items"]
    assert [(w["workflow_id"], w["is_default"]) for w in listed] == [
        (workflow["workflow_id"], True),
        (other["workflow_id"], False),
    ]


# -- partner deals ---------------------------------------------------------------------------------


def test_a_partner_deal_goes_to_the_default_workflow_owned_by_a_broker(
    call: Call, org: str, workflow: dict[str, Any]
) -> None:
    path = f"/orgs/{org}/portal/deals"
    problem(call("POST", path, user=PARTNER, body={"contacts": [CONTACT]}), 409)  # no default workflow yet
    save_settings(org, default_workflow_id=workflow["workflow_id"])
    deal = created(call("POST", path, user=PARTNER, body={"contacts": [CONTACT], "title": "Refinance"}))
    assert (deal["workflow_id"], deal["stage"]["name"], deal["owner_id"]) == (workflow["workflow_id"], "New", OWNER)
    assert deal["credited_to_you"] is True and deal["title"] == "Refinance"
    assert node(org, PARTNER)["status"] == "ACTIVE"
    staff = created(call("GET", f"/orgs/{org}/deals/{deal['deal_id']}", user=OWNER), 200)
    assert staff["created_by"] == f"partner:{PARTNER}" and staff["partner_ids"] == [PARTNER]
    assert fields(call("POST", path, user=PARTNER, body={"contacts": [CONTACT], "owner_id": OTHER})) == {
        "body.owner_id"
    }


def test_a_partner_deal_names_each_missing_contact_field_and_writes_nothing(
    call: Call, org: str, workflow: dict[str, Any]
) -> None:
    save_settings(org, default_workflow_id=workflow["workflow_id"])
    path = f"/orgs/{org}/portal/deals"
    assert fields(call("POST", path, user=PARTNER, body={"contacts": []})) == {"body.contacts"}
    partial = [CONTACT, {"first_name": "Joe", "phone": "+1 555 0199"}]
    assert fields(call("POST", path, user=PARTNER, body={"contacts": partial})) == {
        "body.contacts.1.last_name",
        "body.contacts.1.email",
    }
    assert created(call("GET", f"/orgs/{org}/deals", user=MANAGER), 200)["items"] == []
    assert node(org, PARTNER)["status"] == "LIVE"


def test_a_partner_without_a_broker_cannot_create_a_deal(call: Call, org: str, workflow: dict[str, Any]) -> None:
    add_partner(org, "partner-alone", brokers=())
    save_settings(org, default_workflow_id=workflow["workflow_id"])
    problem(call("POST", f"/orgs/{org}/portal/deals", user="partner-alone", body={"contacts": [CONTACT]}), 409)


def test_a_lapsed_partner_becomes_active_with_a_deal(call: Call, org: str, workflow: dict[str, Any]) -> None:
    add_partner(org, "partner-lapsed", status=PartnerStatus.LAPSED)
    save_settings(org, default_workflow_id=workflow["workflow_id"])
    created(call("POST", f"/orgs/{org}/portal/deals", user="partner-lapsed", body={"contacts": [CONTACT]}))
    assert node(org, "partner-lapsed")["status"] == "ACTIVE"
    assert "gsi3pk" in node(org, "partner-lapsed")


def test_staff_cannot_use_the_portal_of_an_org_they_are_not_a_partner_of(call: Call, org: str) -> None:
    problem(call("GET", f"/orgs/{org}/portal/deals", user=OWNER), 404)


# -- notes -----------------------------------------------------------------------------------------


def test_a_partner_never_sees_an_unshared_staff_note(
    call: Call, org: str, workflow: dict[str, Any], frozen_clock: FrozenClock
) -> None:
    deal = new_deal(call, org, workflow, partner_id=PARTNER)
    staff_path = f"/orgs/{org}/deals/{deal['deal_id']}/notes"
    portal_path = f"/orgs/{org}/portal/deals/{deal['deal_id']}/notes"
    private = created(call("POST", staff_path, user=OWNER, body={"body": "credit check pending"}))
    frozen_clock.advance(seconds=1)
    shared = created(call("POST", staff_path, user=OWNER, body={"body": "docs received", "shared_with_partners": True}))
    frozen_clock.advance(seconds=1)
    own = created(call("POST", portal_path, user=PARTNER, body={"body": "client prefers mornings"}))
    assert (own["author"], own["author_kind"], own["shared_with_partners"]) == (PARTNER, "partner", False)
    seen = created(call("GET", portal_path, user=PARTNER), 200)["items"]
    assert [n["note_id"] for n in seen] == [own["note_id"], shared["note_id"]]
    staff_seen = created(call("GET", staff_path, user=OWNER), 200)["items"]
    assert [n["note_id"] for n in staff_seen] == [own["note_id"], shared["note_id"], private["note_id"]]
    # A broker shares the note later, then unshares it.
    patch = f"{staff_path}/{private['note_id']}"
    assert created(call("PATCH", patch, user=OWNER, body={"shared_with_partners": True}), 200)["shared_with_partners"]
    assert len(created(call("GET", portal_path, user=PARTNER), 200)["items"]) == 3
    created(call("PATCH", patch, user=OWNER, body={"shared_with_partners": False}), 200)
    assert len(created(call("GET", portal_path, user=PARTNER), 200)["items"]) == 2
    # A partner's note stays between them and staff.
    problem(call("PATCH", f"{staff_path}/{own['note_id']}", user=OWNER, body={"shared_with_partners": True}), 409)
    problem(call("PATCH", f"{staff_path}/{'0' * 26}", user=OWNER, body={"shared_with_partners": True}), 404)
    problem(call("PATCH", patch, user=OTHER, body={"shared_with_partners": True}), 403)


def test_notes_need_the_deal_shared_or_owned(call: Call, org: str, workflow: dict[str, Any]) -> None:
    deal = new_deal(call, org, workflow, partner_id=PARTNER)
    portal_path = f"/orgs/{org}/portal/deals/{deal['deal_id']}/notes"
    problem(call("POST", portal_path, user=SECOND_PARTNER, body={"body": "let me in"}), 404)
    problem(call("GET", portal_path, user=SECOND_PARTNER), 404)
    problem(call("POST", f"/orgs/{org}/deals/{deal['deal_id']}/notes", user=OTHER, body={"body": "x"}), 403)
    problem(call("POST", f"/orgs/{org}/deals/{'0' * 26}/notes", user=MANAGER, body={"body": "x"}), 404)
    assert fields(call("POST", portal_path, user=PARTNER, body={"body": "  "})) == {"body.body"}
    assert created(call("GET", f"/orgs/{org}/deals/{deal['deal_id']}/notes", user=OWNER), 200)["items"] == []


# -- files -----------------------------------------------------------------------------------------


def policy_of(upload: dict[str, Any]) -> dict[str, Any]:
    encoded = upload["fields"]["policy"]
    return json.loads(base64.b64decode(encoded))


def test_an_upload_grant_is_bound_to_key_type_and_size(call: Call, org: str, workflow: dict[str, Any]) -> None:
    deal = new_deal(call, org, workflow, partner_id=PARTNER)
    body = {"name": "payslip.pdf", "content_type": "application/pdf", "size": 12_345}
    answer = created(call("POST", f"/orgs/{org}/portal/deals/{deal['deal_id']}/files", user=PARTNER, body=body))
    file, upload = answer["file"], answer["upload"]
    key = f"orgs/{org}/deals/{deal['deal_id']}/{file['file_id']}"
    assert upload["fields"]["key"] == key and "s3_key" not in file
    conditions = policy_of(upload)["conditions"]
    assert {"key": key} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, 12_345] in conditions
    assert file["uploaded_by"] == f"partner:{PARTNER}"


def test_files_outside_the_limits_are_refused_before_any_grant(call: Call, org: str, workflow: dict[str, Any]) -> None:
    deal = new_deal(call, org, workflow)
    path = f"/orgs/{org}/deals/{deal['deal_id']}/files"
    too_big = {"name": "scan.pdf", "content_type": "application/pdf", "size": files.MAX_FILE_BYTES + 1}
    assert fields(call("POST", path, user=OWNER, body=too_big)) == {"body.size"}
    program = {"name": "run.exe", "content_type": "application/x-msdownload", "size": 10}
    assert fields(call("POST", path, user=OWNER, body=program)) == {"body.content_type"}
    sneaky = {"name": "../x\r\n.pdf", "content_type": "application/pdf", "size": 10}
    assert fields(call("POST", path, user=OWNER, body=sneaky)) == {"body.name"}
    assert created(call("GET", path, user=OWNER), 200)["items"] == []


def test_file_listings_carry_download_links_and_partners_see_their_own(
    call: Call, org: str, workflow: dict[str, Any]
) -> None:
    deal = new_deal(call, org, workflow, partner_id=PARTNER)
    created(call("PUT", f"/orgs/{org}/deals/{deal['deal_id']}/partners/{SECOND_PARTNER}", user=OWNER))
    staff_path = f"/orgs/{org}/deals/{deal['deal_id']}/files"
    portal_path = f"/orgs/{org}/portal/deals/{deal['deal_id']}/files"
    body = {"name": "notes.txt", "content_type": "text/plain", "size": 5}
    staff_file = created(call("POST", staff_path, user=OWNER, body=body))["file"]
    mine = created(call("POST", portal_path, user=PARTNER, body=body))["file"]
    theirs = created(call("POST", portal_path, user=SECOND_PARTNER, body=body))["file"]
    listed = created(call("GET", portal_path, user=PARTNER), 200)["items"]
    assert [f["file_id"] for f in listed] == [mine["file_id"]]
    assert mine["file_id"] in listed[0]["download_url"]
    every = created(call("GET", staff_path, user=OWNER), 200)["items"]
    assert {f["file_id"] for f in every} == {staff_file["file_id"], mine["file_id"], theirs["file_id"]}
    assert all(f["download_url"].startswith("http") for f in every)
    problem(call("GET", f"/orgs/{org}/portal/deals/{'0' * 26}/files", user=PARTNER), 404)


# -- notifications ---------------------------------------------------------------------------------


class FakeSes:
    """Records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_email(self, **message: Any) -> dict[str, str]:
        self.sent.append(message)
        return {"MessageId": f"m-{len(self.sent)}"}


def test_partners_choose_among_the_offered_notifications(call: Call, org: str) -> None:
    path = f"/orgs/{org}/portal/notifications"
    assert created(call("GET", path, user=PARTNER), 200) == {"types": [], "offered": []}
    assert fields(call("PUT", path, user=PARTNER, body={"types": ["deal_shared"]})) == {"body.types"}
    save_settings(org, partner_notification_types=["deal_shared", "note_shared"])
    chosen = created(call("PUT", path, user=PARTNER, body={"types": ["deal_shared", "deal_shared"]}), 200)
    assert chosen == {"types": ["deal_shared"], "offered": ["deal_shared", "note_shared"]}
    assert node(org, PARTNER)["notifications"] == ["deal_shared"]
    assert fields(call("PUT", path, user=PARTNER, body={"types": ["sms_blast"]})) == {"body.types.0"}


@pytest.mark.parametrize(
    ("org_email", "offered", "chosen", "sent"),
    [
        (True, ["deal_shared"], ["deal_shared"], True),
        (False, ["deal_shared"], ["deal_shared"], False),
        (True, [], ["deal_shared"], False),
        (True, ["deal_shared"], [], False),
    ],
)
def test_the_deal_shared_email_needs_the_org_setting_the_offer_and_the_choice(
    call: Call, org: str, workflow: dict[str, Any], org_email: bool, offered: list[str], chosen: list[str], sent: bool
) -> None:
    save_settings(org, deal_shared_email=org_email, partner_notification_types=offered)
    db.update(node_key(org, PARTNER), expression="SET notifications = :n", values={":n": chosen})
    deal = new_deal(call, org, workflow)
    created(call("PUT", f"/orgs/{org}/deals/{deal['deal_id']}/partners/{PARTNER}", user=OWNER))
    share = db.get(deal_records.share_key(org, deal["deal_id"], PARTNER))
    assert share is not None and mail.shared_by_staff(None, share)
    ses = FakeSes()
    assert mail.send_deal_shared(share, ses=ses) is sent
    assert len(ses.sent) == int(sent)
    if sent:
        message = ses.sent[0]
        assert message["Destination"] == {"ToAddresses": [f"{PARTNER}@partner.example"]}
        assert "Acme Brokers" in message["Content"]["Simple"]["Subject"]["Data"]
        assert f"/orgs/{org}/deals/{deal['deal_id']}" in message["Content"]["Simple"]["Body"]["Text"]["Data"]
        # Once per share, however often the stream delivers it.
        assert mail.send_deal_shared(share, ses=ses) is False
        assert len(ses.sent) == 1


def test_a_partners_own_deal_sends_no_deal_shared_email(call: Call, org: str, workflow: dict[str, Any]) -> None:
    save_settings(org, default_workflow_id=workflow["workflow_id"], partner_notification_types=["deal_shared"])
    deal = created(call("POST", f"/orgs/{org}/portal/deals", user=PARTNER, body={"contacts": [CONTACT]}))
    share = db.get(deal_records.share_key(org, deal["deal_id"], PARTNER))
    assert share is not None and share["shared_by"] == f"partner:{PARTNER}"
    assert not mail.shared_by_staff(None, share)
    assert not mail.shared_by_staff(share, share)  # a change to an existing share is no new share

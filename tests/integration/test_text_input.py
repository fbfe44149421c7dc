"""Human text over HTTP against the local stack: names, titles and subjects refuse control characters,
invisible formatting characters (bidi overrides and isolates, zero-width characters, the BOM) and line
separators with a 422 naming the field, and nothing is written; notes keep their line breaks but not the
invisible characters; text is stored NFC-normalised."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from common.partners.partner_records import org_email_key
from common.platform import db

from tests.integration.support.actors import Actor, new_user

# Each a way to make a name look other than it is, or to break a header or an export line.
HIDDEN = {
    "U+202E": "\u202e",  # right-to-left override: "Pat\u202ekcab" shows as "Patback"
    "U+202A": "\u202a",
    "U+2066": "\u2066",  # left-to-right isolate
    "U+2069": "\u2069",
    "U+200B": "\u200b",  # zero-width space
    "U+200D": "\u200d",
    "U+200F": "\u200f",  # right-to-left mark
    "U+FEFF": "\ufeff",
    "U+00AD": "\u00ad",  # soft hyphen
    "U+2028": "\u2028",  # line separator
    "U+2029": "\u2029",
    "U+000A": "\n",
    "U+000D": "\r",
    "U+0009": "\t",
    "U+0000": "\x00",
    "U+0085": "\x85",
}


@dataclass
class StaffOrg:
    org_id: str
    admin: Actor


def fresh_org(stack: Any) -> StaffOrg:
    admin = new_user(stack, "admin", operator=True)
    created = admin.post("/orgs", {"name": "Text org"})
    assert created.status_code == 201, created.text
    return StaffOrg(created.json()["org_id"], admin)


@pytest.fixture(scope="module")
def org(stack: Any) -> StaffOrg:
    return fresh_org(stack)


def an_address() -> str:
    return f"text-{uuid.uuid4().hex[:10]}@it.example"


def partner_body(email: str, **fields: Any) -> dict[str, Any]:
    return {"first_name": "Pat", "last_name": "Referrer", "email": email, "phone": "+1 555 0102", **fields}


def refused_field(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [e["field"] for e in response.json()["errors"]]


def cognito_users(stack: Any, email: str) -> list[dict[str, Any]]:
    found = stack.client("cognito-idp").list_users(UserPoolId=stack.user_pool_id, Filter=f'email = "{email}"')
    return list(found["Users"])


def test_a_partner_name_with_a_bidi_override_is_422_naming_the_field_and_nothing_is_written(
    stack: Any, org: StaffOrg
) -> None:
    email = an_address()

    refused = org.admin.post(f"/orgs/{org.org_id}/partners", partner_body(email, first_name="Pat\u202ekcab"))

    assert refused_field(refused) == ["body.first_name"]
    assert "U+202E" in refused.json()["errors"][0]["message"]
    assert db.get(org_email_key(org.org_id, email), consistent=True) is None
    assert cognito_users(stack, email) == []
    listed = org.admin.get(f"/orgs/{org.org_id}/partners").json()["items"]
    assert email not in [p["email"] for p in listed]


@pytest.mark.parametrize("code", sorted(HIDDEN))
def test_every_hidden_character_inside_a_name_is_refused(stack: Any, org: StaffOrg, code: str) -> None:
    email = an_address()

    refused = org.admin.post(f"/orgs/{org.org_id}/partners", partner_body(email, last_name=f"Ref{HIDDEN[code]}errer"))

    assert refused_field(refused) == ["body.last_name"]
    assert code in refused.json()["errors"][0]["message"]
    assert db.get(org_email_key(org.org_id, email), consistent=True) is None


def test_an_edit_to_a_hidden_name_is_refused_and_the_partner_unchanged(stack: Any, org: StaffOrg) -> None:
    added = org.admin.post(f"/orgs/{org.org_id}/partners", partner_body(an_address()))
    assert added.status_code == 201, added.text
    path = f"/orgs/{org.org_id}/partners/{added.json()['partner_id']}"

    refused = org.admin.patch(path, {"first_name": "Pa\u2067t", "last_name": "Re\u200bferrer"})

    assert sorted(refused_field(refused)) == ["body.first_name", "body.last_name"]
    seen = org.admin.get(path).json()
    assert (seen["first_name"], seen["last_name"], seen["name"]) == ("Pat", "Referrer", "Pat Referrer")


def test_names_are_stored_nfc_normalised(stack: Any, org: StaffOrg) -> None:
    """ "Rene" with a combining acute accent and "René" with the precomposed letter are one name."""
    added = org.admin.post(f"/orgs/{org.org_id}/partners", partner_body(an_address(), first_name="Rene\u0301"))

    assert added.status_code == 201, added.text
    assert added.json()["first_name"] == "Ren\u00e9"
    seen = org.admin.get(f"/orgs/{org.org_id}/partners/{added.json()['partner_id']}").json()
    assert seen["first_name"] == "Ren\u00e9"


def test_organisation_team_company_and_template_names_refuse_hidden_characters(stack: Any) -> None:
    org = fresh_org(stack)
    base = f"/orgs/{org.org_id}"
    leader = {"user_id": org.admin.user_id, "phone": "+15550100123", "display_name": "Lee"}
    refusals = {
        "organisation": org.admin.post("/orgs", {"name": "Ac\u200bme"}),
        "team": org.admin.post(f"{base}/teams", {"name": "North\nSouth", "leader": leader}),
        "leader": org.admin.post(f"{base}/teams", {"name": "North", "leader": {**leader, "display_name": "L\u202ee"}}),
        "company": org.admin.post(f"{base}/partner-companies", {"name": "Sel\u2066ler", "contact_person": "Jo\u2028e"}),
        "template": org.admin.post(
            f"{base}/message-templates",
            {"name": "Auto", "subject": "Hello\r\nBcc: someone@else.example", "body": "Hi"},
        ),
        "member": org.admin.put(f"{base}/members/{new_user(stack, 'staff').user_id}", {"display_name": "St\u200eaff"}),
    }

    assert {what: sorted(refused_field(response)) for what, response in refusals.items()} == {
        "organisation": ["body.name"],
        "team": ["body.name"],
        "leader": ["body.leader.display_name"],
        "company": ["body.contact_person", "body.name"],
        "template": ["body.subject"],
        "member": ["body.display_name"],
    }
    assert org.admin.get(f"{base}/teams").json()["items"] == []
    assert org.admin.get(f"{base}/partner-companies").json()["items"] == []
    assert org.admin.get(f"{base}/message-templates").json()["items"] == []


def test_notes_keep_their_line_breaks_but_not_invisible_characters(stack: Any, org: StaffOrg) -> None:
    base = f"/orgs/{org.org_id}/partner-companies"
    name = f"Notes {uuid.uuid4().hex[:6]}"

    refused = org.admin.post(base, {"name": name, "notes": "Call first\nthen e-mail \u202egnirpS"})
    kept = org.admin.post(base, {"name": name, "notes": "Call first\r\nthen e-mail\tin spring"})

    assert refused_field(refused) == ["body.notes"]
    assert kept.status_code == 201, kept.text
    assert kept.json()["notes"] == "Call first\r\nthen e-mail\tin spring"
    names = [c["name"] for c in org.admin.get(base).json()["items"]]
    assert names.count(name) == 1

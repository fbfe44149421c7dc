"""Logins that exist before an organisation meets them, over HTTP against the local stack: staff adding an
address that already has a login (another organisation's staff member, say) never re-password it, the
person is told they were added and signs in as they do, and neither the add answer nor the activation
answer gives the login away; a referral registration answers the same for an address with a login and for
a new one, and leaves the login untouched."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from local.demo import ACTIVATION_LINK
from local.stack import LocalStack
from tests.integration.support.actors import PASSWORD, Actor, user_id_of
from tests.integration.support.partners import new_partner
from tests.integration.test_partners import StaffOrg, partner_body, staff_org
from tests.integration.test_programme import INVITE, mails_to, new_programme, token_in

CHOSEN = "Chosen-by-link-Passw0rd!"


def an_address(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}@it.example"


def staff_login(stack: LocalStack) -> tuple[str, str]:
    """Another organisation's staff member: a login with its own password (and no partner account)."""
    email = an_address("staff")
    return email, stack.create_user(email, PASSWORD)


def signs_in(stack: LocalStack, email: str, password: str) -> bool:
    try:
        stack.user_token(email, password)
    except Exception:
        return False
    return True


def add_assigned(org: StaffOrg, email: str) -> requests.Response:
    """Added by staff and assigned to a broker at once, so the login e-mail goes out."""
    return org.manager.post(f"/orgs/{org.org_id}/partners", partner_body(email, brokers=[org.broker.user_id]))


def shape(value: Any) -> Any:
    """Field names and value types, not values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def activate(stack: LocalStack, token: str) -> requests.Response:
    return requests.post(f"{stack.url}/public/activations", json={"token": token, "password": CHOSEN}, timeout=30)


def test_staff_adding_an_existing_login_never_re_password_it(stack: LocalStack) -> None:
    org = staff_org(stack)
    email, login_id = staff_login(stack)
    newcomer = an_address("newcomer")

    existing_added, new_added = add_assigned(org, email), add_assigned(org, newcomer)
    assert (existing_added.status_code, new_added.status_code) == (201, 201), existing_added.text
    # The same answer whether the address had a login or not.
    assert shape(existing_added.json()) == shape(new_added.json())
    assert existing_added.json().keys() == new_added.json().keys()

    [told] = mails_to(stack, email)
    assert "added you as a partner" in told["body"] and "existing account" in told["body"]
    assert not ACTIVATION_LINK.search(told["body"])
    assert signs_in(stack, email, PASSWORD)
    partner = Actor(stack.url, stack.user_token(email, PASSWORD), login_id)
    assert partner.get(f"/orgs/{org.org_id}/programme/me").status_code == 200  # signs in as they do, and is in

    # The newcomer chooses a password through the link; the answer names the organisation, not the login.
    [welcome] = mails_to(stack, newcomer)
    activated = activate(stack, ACTIVATION_LINK.findall(welcome["body"])[-1])
    assert activated.status_code == 200, activated.text
    assert activated.json() == {"org_id": org.org_id, "activated": True}
    assert new_added.json()["partner_id"] not in activated.text
    assert signs_in(stack, newcomer, CHOSEN)


def test_an_invited_login_joined_by_another_organisation_keeps_its_password(stack: LocalStack) -> None:
    # A staff login registers through an invitation (it keeps its password), then another organisation adds it.
    email, _ = staff_login(stack)
    programme = new_programme(stack)
    invited = new_partner(stack, programme.org_id).post(
        f"{programme.path}/programme/invitations", {**INVITE, "email": email}
    )
    assert invited.status_code == 201, invited.text
    [invitation] = mails_to(stack, email)
    body = {"token": token_in(invitation), "password": CHOSEN}
    registered = requests.post(f"{stack.url}/public/registrations/invitation", json=body, timeout=30)
    assert registered.status_code == 201 and registered.json()["existing_login"] is True

    org = staff_org(stack)
    assert add_assigned(org, email).status_code == 201
    login_mails = [m for m in mails_to(stack, email) if "added you as a partner" in m["body"]]
    assert len(login_mails) == 1 and not ACTIVATION_LINK.search(login_mails[0]["body"])
    assert signs_in(stack, email, PASSWORD) and not signs_in(stack, email, CHOSEN)


def test_an_activation_link_never_replaces_a_password_chosen_meanwhile(stack: LocalStack) -> None:
    org = staff_org(stack)
    email = an_address("newcomer")
    assert add_assigned(org, email).status_code == 201
    [welcome] = mails_to(stack, email)
    # Before following the link the login gets a password by Cognito's own means (an administrator's
    # admin-set-user-password, say): the link then sets nothing.
    own = "Set-by-admin-Passw0rd!"
    cognito = stack.client("cognito-idp")
    cognito.admin_set_user_password(UserPoolId=stack.user_pool_id, Username=email, Password=own, Permanent=True)
    refused = activate(stack, ACTIVATION_LINK.findall(welcome["body"])[-1])
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert user_id_of(stack, email) not in refused.text
    assert signs_in(stack, email, own) and not signs_in(stack, email, CHOSEN)
    # The account now knows the login has a password: another organisation's login e-mail says sign in.
    other = staff_org(stack)
    assert add_assigned(other, email).status_code == 201
    latest = [m for m in mails_to(stack, email) if "added you as a partner" in m["body"]]
    assert len(latest) == 2 and not ACTIVATION_LINK.search(latest[-1]["body"])


def test_a_referral_registration_answers_alike_for_new_and_existing_addresses(stack: LocalStack) -> None:
    programme = new_programme(stack)
    code = new_partner(stack, programme.org_id).get(f"{programme.path}/programme/me").json()["referral_code"]
    staff_email, staff_id = staff_login(stack)
    fresh = an_address("fresh")

    def register(email: str) -> requests.Response:
        body = {
            "code": code,
            "first_name": "Rex",
            "last_name": "Referred",
            "email": email,
            "phone": "+1 555 0199",
            "password": CHOSEN,
        }
        return requests.post(f"{stack.url}/public/registrations/referral", json=body, timeout=30)

    existing, new = register(staff_email), register(fresh)
    assert (existing.status_code, existing.headers["content-type"]) == (new.status_code, new.headers["content-type"])
    assert existing.status_code == 202
    assert existing.json() == {"org_id": programme.org_id, "email": staff_email}
    assert new.json() == {"org_id": programme.org_id, "email": fresh}
    assert staff_id not in existing.text

    # The existing login is untouched and told; the new address gets its confirmation link.
    assert signs_in(stack, staff_email, PASSWORD) and not signs_in(stack, staff_email, CHOSEN)
    [told] = mails_to(stack, staff_email)
    assert "someone tried to register" in told["body"] and "token=" not in told["body"]
    assert Actor(stack.url, stack.user_token(staff_email, PASSWORD)).get("/me/partner").status_code == 404
    [confirm] = mails_to(stack, fresh)
    assert "/confirm?token=" in confirm["body"] and signs_in(stack, fresh, CHOSEN)

    # Again, for the now registered address too: the same answer, no second e-mail today, nothing changed.
    again_existing, again_new = register(staff_email), register(fresh)
    assert (again_existing.status_code, again_existing.json()) == (202, existing.json())
    assert (again_new.status_code, again_new.json()) == (202, new.json())
    assert len(mails_to(stack, staff_email)) == 1
    assert user_id_of(stack, fresh) not in again_new.text
    listed = {i["partner_id"] for i in programme.admin.get(f"{programme.path}/programme/partners").json()["items"]}
    assert staff_id not in listed


def test_an_address_already_partner_of_the_organisation_answers_alike(stack: LocalStack) -> None:
    programme = new_programme(stack)
    email = programme.partner().get("/me/partner").json()["account"]["email"]
    code = new_partner(stack, programme.org_id).get(f"{programme.path}/programme/me").json()["referral_code"]
    body = {"code": code, "first_name": "R", "last_name": "R", "email": email, "phone": "+1 555 0199"}
    answer = requests.post(f"{stack.url}/public/registrations/referral", json={**body, "password": CHOSEN}, timeout=30)
    assert (answer.status_code, answer.json()) == (202, {"org_id": programme.org_id, "email": email})
    assert signs_in(stack, email, PASSWORD) and not signs_in(stack, email, CHOSEN)
    [told] = mails_to(stack, email)
    assert "someone tried to register" in told["body"]

"""The programme's terms over HTTP against the local stack: an admin uploads the PDF through the presigned
form and publishes it; partners read it, and must accept a new version before anything else."""

from __future__ import annotations

import pytest
import requests

from local.stack import LocalStack
from tests.integration.test_programme import INVITE, Programme, invitee_email, new_programme

PDF = b"%PDF-1.7\n% programme terms\n"


@pytest.fixture
def org(stack: LocalStack) -> Programme:
    return new_programme(stack)


def upload(org: Programme) -> int:
    started = org.admin.post(f"{org.path}/programme/terms")
    assert started.status_code == 201, started.text
    form = started.json()["upload"]
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("terms.pdf", PDF)}, timeout=30)
    assert posted.status_code in (200, 204), posted.text
    return int(started.json()["version"])


def publish(org: Programme) -> int:
    version = upload(org)
    published = org.admin.post(f"{org.path}/programme/terms/{version}/publish")
    assert published.status_code == 200, published.text
    return version


def test_an_admin_uploads_and_publishes_and_everyone_reads_the_terms(org: Programme) -> None:
    manager = org.staff(["partners:manage"])
    assert manager.post(f"{org.path}/programme/terms").status_code == 403
    partner = org.partner()
    assert partner.get(f"{org.path}/programme/terms").json()["version"] is None

    unuploaded = org.admin.post(f"{org.path}/programme/terms").json()["version"]
    assert org.admin.post(f"{org.path}/programme/terms/{unuploaded}/publish").status_code == 409
    assert org.admin.post(f"{org.path}/programme/terms/99/publish").status_code == 404
    version = publish(org)
    assert version == unuploaded + 1

    for reader in (manager, org.admin):
        terms = reader.get(f"{org.path}/programme/terms").json()
        assert terms["version"] == version and terms["published_at"]
        assert requests.get(terms["url"], timeout=30).content == PDF
    # A newer version exists: the older draft can no longer be published.
    assert org.admin.post(f"{org.path}/programme/terms/{unuploaded}/publish").status_code == 409


def test_a_new_version_refuses_every_partner_action_until_accepted(org: Programme) -> None:
    partner = org.partner()
    assert partner.get(f"{org.path}/programme/me").status_code == 200
    version = publish(org)
    for response in (
        partner.get(f"{org.path}/programme/me"),
        partner.get(f"{org.path}/programme/partners"),
        partner.get(f"{org.path}/programme/invitations"),
        partner.post(f"{org.path}/programme/invitations", {**INVITE, "email": invitee_email()}),
    ):
        assert (response.status_code, response.json()["type"]) == (403, "/problems/terms-not-accepted")
    terms = partner.get(f"{org.path}/programme/terms").json()
    assert (terms["version"], terms["accepted"]) == (version, False)
    assert requests.get(terms["url"], timeout=30).content == PDF

    assert partner.post(f"{org.path}/programme/terms/accept", {"version": version + 1}).status_code == 409
    assert partner.post(f"{org.path}/programme/terms/accept", {"version": "latest"}).status_code == 422
    accepted = partner.post(f"{org.path}/programme/terms/accept", {"version": version})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["terms_version"] == version and accepted.json()["terms_accepted_at"]
    assert partner.get(f"{org.path}/programme/me").status_code == 200


def test_accepting_sent_terms_makes_a_prospect_live(org: Programme) -> None:
    from common.partners.partner_records import PartnerStatus

    version = publish(org)
    prospect = org.partner(status=PartnerStatus.PROSPECT_TERMS_SENT)
    accepted = prospect.post(f"{org.path}/programme/terms/accept", {"version": version})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "LIVE"


def test_joining_requires_accepting_the_published_terms(org: Programme) -> None:
    version = publish(org)
    staff = org.staff(["programme:join"])
    refused = staff.post(f"{org.path}/programme/join", {})
    assert refused.status_code == 409 and refused.json()["conflicting_ids"] == [str(version)]
    assert [e["field"] for e in refused.json()["errors"]] == ["body.accept_terms_version"]
    joined = staff.post(f"{org.path}/programme/join", {"accept_terms_version": version})
    assert joined.status_code == 201, joined.text
    assert joined.json()["terms_version"] == version

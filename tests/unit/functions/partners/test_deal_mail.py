"""Stage-change and shared-note e-mails from the partners stream consumer, fed real-shaped DynamoDB stream
records: sent to the partners of the deal who chose them where the organisation offers them, once however
often a record is delivered."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from common.deals import deal_records, notes, staff_deals
from common.deals import mail as deal_mail
from common.orgs import access, organisations, workflows
from common.partners.partner_caller import PartnerCaller
from common.partners.partner_records import (
    PartnerStatus,
    account_item,
    account_key,
    node_item,
    node_key,
    settings_key,
    settings_of,
)
from common.platform import db
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.support import queue_consumer, stream_record
from tests.unit.conftest import PORTAL_URL

ADMIN = "user-admin"
CHOOSER, SILENT, OUTSIDE = "partner-chooser", "partner-silent", "partner-outside"
CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}
ALL_TYPES = ["deal_shared", "deal_stage_changed", "note_shared"]


def address(partner_id: str) -> str:
    return f"{partner_id}@partner.example"


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def sent_to(partner_id: str) -> list[Any]:
    return [m for m in sent() if m.destinations["ToAddresses"] == [address(partner_id)]]


consume = queue_consumer("partners")


def add_partner(org_id: str, partner_id: str, chosen: list[str]) -> None:
    details: dict[str, Any] = {"first_name": "Pat", "last_name": "Partner", "email": address(partner_id), "phone": None}
    db.put(account_item(partner_id=partner_id, email_confirmed=True, **details))
    node = node_item(
        org_id=org_id, partner_id=partner_id, status=PartnerStatus.LIVE, origin="added", actor="system", **details
    )
    db.put({**node, "notifications": chosen})


def offer(org_id: str, types: list[str]) -> None:
    db.put(
        {**settings_key(org_id), "entity": "programme_settings", "org_id": org_id, "partner_notification_types": types}
    )


class Org:
    def __init__(self) -> None:
        self.org_id: str = organisations.create_organisation(organisations.NewOrganisation(name="Acme Brokers"), ADMIN)[
            "org_id"
        ]
        self.admin = access.Member(self.org_id, ADMIN, "admin", frozenset())
        stages = [workflows.NewStage(name=n) for n in ("New", "Qualified", "Settled")]
        self.workflow = workflows.create_workflow(
            self.org_id, workflows.NewWorkflow(name="Home loans", stages=stages), f"user:{ADMIN}"
        )
        offer(self.org_id, ALL_TYPES)
        add_partner(self.org_id, CHOOSER, ALL_TYPES)
        add_partner(self.org_id, SILENT, [])
        add_partner(self.org_id, OUTSIDE, ALL_TYPES)  # chose everything, but the deal is not shared with them

    def stage(self, name: str) -> str:
        return str(next(s["stage_id"] for s in self.workflow["stages"] if s["name"] == name))

    def deal(self) -> db.Item:
        """A deal credited to CHOOSER and shared with SILENT as well."""
        new = staff_deals.NewDeal(
            workflow_id=self.workflow["workflow_id"],
            title="Doe refinance",
            contacts=[staff_deals.StaffContact(**CONTACT)],
            partner_id=CHOOSER,
        )
        deal = staff_deals.create_deal(self.org_id, self.admin, new)
        staff_deals.share_deal(self.org_id, deal["deal_id"], self.admin, SILENT)
        return self.read(deal["deal_id"])

    def read(self, deal_id: str) -> db.Item:
        item = db.get(deal_records.deal_key(self.org_id, deal_id), consistent=True)
        assert item is not None
        return item

    def move(self, deal: db.Item, stage: str) -> tuple[db.Item, db.Item]:
        """The deal's images before and after a stage change."""
        staff_deals.move_deal(
            self.org_id, deal["deal_id"], self.admin, staff_deals.StageChange(stage_id=self.stage(stage))
        )
        return deal, self.read(deal["deal_id"])

    def note(self, deal: db.Item, *, shared: bool) -> db.Item:
        new = notes.NewNote(body="valuation came in low", shared_with_partners=shared)
        return notes.add_staff_note(self.org_id, deal["deal_id"], self.admin, new)

    def set_sharing(self, note: db.Item, shared: bool) -> tuple[db.Item, db.Item]:
        change = notes.NoteSharing(shared_with_partners=shared)
        after = notes.set_sharing(self.org_id, note["deal_id"], note["note_id"], self.admin, change)
        return note, after


@pytest.fixture
def org() -> Org:
    return Org()


# -- stage changes ---------------------------------------------------------------------------------


def test_a_stage_change_mails_each_partner_who_chose_it_once_however_often_delivered(org: Org) -> None:
    before, after = org.move(org.deal(), "Qualified")
    change = stream_record("MODIFY", after, before, seq=7)
    assert consume(change) == {"batchItemFailures": []}
    assert consume(change) == {"batchItemFailures": []}  # the stream redelivers the record
    mails = sent_to(CHOOSER)
    assert len(mails) == 1
    assert "Qualified" in mails[0].subject and "Acme Brokers" in mails[0].subject
    assert f"{PORTAL_URL}/orgs/{org.org_id}/deals/{after['deal_id']}" in mails[0].body
    assert '"New" to "Qualified"' in mails[0].body
    # Only what is needed: no contact details, not even the title (which defaults to a contact's name).
    for personal in ("Jane", "Doe", CONTACT["email"], CONTACT["phone"]):
        assert personal not in mails[0].subject + mails[0].body
    assert sent_to(SILENT) == [] and sent_to(OUTSIDE) == []
    assert len(sent()) == 1


def moved_to() -> list[str]:
    return [m.subject.rsplit(" ", 1)[-1] for m in sent_to(CHOOSER)]


def test_each_stage_change_is_its_own_notice_and_one_the_deal_moved_on_from_is_not_mailed(org: Org) -> None:
    before, qualified = org.move(org.deal(), "Qualified")
    first = stream_record("MODIFY", qualified, before, seq=1)
    consume(first)
    _, settled = org.move(qualified, "Settled")
    second = stream_record("MODIFY", settled, qualified, seq=2)
    consume(second, first, second)
    assert moved_to() == ["Qualified", "Settled"]

    # Two moves before either record is handled, which then arrive newest first and again: the partner
    # hears of the newest, where the deal is; not of the stage it has already left.
    _, back = org.move(settled, "New")
    _, again = org.move(back, "Qualified")
    late = [stream_record("MODIFY", again, back, seq=4), stream_record("MODIFY", back, settled, seq=3)]
    consume(*late, *late)
    assert moved_to() == ["Qualified", "Settled", "Qualified"]
    assert '"New" to "Qualified"' in sent_to(CHOOSER)[-1].body


def test_a_stage_change_without_its_old_image_and_the_same_change_seen_again_mail_once(org: Org) -> None:
    before, qualified = org.move(org.deal(), "Qualified")
    deal_mail.on_change(None, qualified)  # too large to travel with both images
    assert moved_to() == ["Qualified"]
    deal_mail.on_change(before, qualified)
    shared_later = {**qualified, "partner_ids": [*qualified["partner_ids"], OUTSIDE], "version": 99}
    deal_mail.on_change(qualified, shared_later)  # no stage change
    deal_mail.on_change(None, shared_later)  # the same change, as far as an image without its old one tells
    assert moved_to() == ["Qualified"] and len(sent()) == 1


@pytest.mark.parametrize(
    ("offered", "chosen", "mails"),
    [
        (["deal_stage_changed"], ["deal_stage_changed"], 1),
        ([], ["deal_stage_changed"], 0),  # chosen while offered, no longer offered
        (["deal_stage_changed"], ["deal_shared", "note_shared"], 0),
    ],
)
def test_a_stage_change_needs_the_offer_and_the_choice(
    org: Org, offered: list[str], chosen: list[str], mails: int
) -> None:
    offer(org.org_id, offered)
    db.update(node_key(org.org_id, CHOOSER), expression="SET notifications = :n", values={":n": chosen})
    before, after = org.move(org.deal(), "Qualified")
    assert consume(stream_record("MODIFY", after, before)) == {"batchItemFailures": []}
    assert len(sent_to(CHOOSER)) == mails


def test_deal_changes_other_than_its_stage_send_no_stage_mail(org: Org) -> None:
    created = org.read(org.deal()["deal_id"])
    before = {**created, "partner_ids": [CHOOSER], "version": created["version"] - 1}  # the share with SILENT
    consume(stream_record("INSERT", before), stream_record("MODIFY", created, before, seq=2))
    assert sent() == []


def test_a_removed_partner_gets_no_stage_mail(org: Org) -> None:
    deal = org.deal()
    db.update(node_key(org.org_id, CHOOSER), expression="SET removed_at = :at", values={":at": "2026-11-22T09:00:00Z"})
    before, after = org.move(deal, "Qualified")
    consume(stream_record("MODIFY", after, before))
    assert sent() == []


def test_a_failed_send_is_retried_for_the_partners_not_reached_only(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    db.update(node_key(org.org_id, SILENT), expression="SET notifications = :n", values={":n": ALL_TYPES})
    before, after = org.move(org.deal(), "Qualified")
    change = stream_record("MODIFY", after, before)
    mail = importlib.import_module("common.deals.mail")
    real = mail.send_email

    def refuse_silent(to: list[str], *args: Any, **kwargs: Any) -> str:
        if to == [address(SILENT)]:
            raise RuntimeError("SES throttled")
        return real(to, *args, **kwargs)

    monkeypatch.setattr(mail, "send_email", refuse_silent)
    assert consume(change) == {"batchItemFailures": [{"itemIdentifier": change["dynamodb"]["SequenceNumber"]}]}
    monkeypatch.setattr(mail, "send_email", real)
    assert consume(change) == {"batchItemFailures": []}
    assert (len(sent_to(CHOOSER)), len(sent_to(SILENT))) == (1, 1)


# -- shared notes ----------------------------------------------------------------------------------


def test_a_note_added_shared_mails_the_partners_who_chose_it_once(org: Org) -> None:
    deal = org.deal()
    note = org.note(deal, shared=True)
    insert = stream_record("INSERT", note)
    consume(insert)
    consume(insert)
    mails = sent_to(CHOOSER)
    assert len(mails) == 1
    assert "shared a note" in mails[0].subject
    assert f"{PORTAL_URL}/orgs/{org.org_id}/deals/{deal['deal_id']}" in mails[0].body
    assert note["body"] not in mails[0].body and "Doe" not in mails[0].body
    assert sent_to(SILENT) == [] and sent_to(OUTSIDE) == []


def test_an_unshared_note_sends_nothing_until_shared_and_then_once(org: Org) -> None:
    note = org.note(org.deal(), shared=False)
    consume(stream_record("INSERT", note))
    assert sent() == []
    unshared, shared = org.set_sharing(note, True)
    consume(stream_record("MODIFY", shared, unshared, seq=2))
    assert len(sent_to(CHOOSER)) == 1
    # Unshared and shared again: the partners were told about this note already.
    _, hidden = org.set_sharing(shared, False)
    _, again = org.set_sharing(hidden, True)
    consume(stream_record("MODIFY", hidden, shared, seq=3), stream_record("MODIFY", again, hidden, seq=4))
    assert len(sent_to(CHOOSER)) == 1


def test_a_note_unshared_before_its_record_is_handled_sends_nothing(org: Org) -> None:
    note = org.note(org.deal(), shared=False)
    unshared, shared = org.set_sharing(note, True)
    _, hidden = org.set_sharing(shared, False)
    for _ in range(3):  # the sharing arrives late, and again, after the unsharing
        consume(stream_record("MODIFY", hidden, shared, seq=3), stream_record("MODIFY", shared, unshared, seq=2))
    assert sent() == []


def test_edits_of_a_shared_note_send_nothing_more(org: Org) -> None:
    note = org.note(org.deal(), shared=True)
    consume(stream_record("INSERT", note))
    edited = {**note, "updated_at": "2026-11-22T10:00:00.000Z"}
    assert not deal_mail.note_shared(note, edited)  # not even a look at the deal's partners
    consume(stream_record("MODIFY", edited, note, seq=2))
    assert len(sent()) == 1


def test_a_partners_own_note_sends_nothing(org: Org) -> None:
    deal = org.deal()
    account, node = db.get(account_key(SILENT)), db.get(node_key(org.org_id, SILENT))
    assert account is not None and node is not None
    caller = PartnerCaller(SILENT, org.org_id, account, node, settings_of(db.get(settings_key(org.org_id))))
    note = notes.add_partner_note(caller, deal["deal_id"], notes.NewPortalNote(body="called the client"))
    consume(stream_record("INSERT", note))
    # Even if such a note were ever marked shared, it is not a staff note.
    consume(stream_record("MODIFY", {**note, "shared_with_partners": True}, note, seq=2))
    assert sent() == []


def test_a_note_mail_needs_the_offer(org: Org) -> None:
    offer(org.org_id, ["deal_shared", "deal_stage_changed"])
    consume(stream_record("INSERT", org.note(org.deal(), shared=True)))
    assert sent() == []

"""Notes on a deal. Staff notes are shared with the deal's partners only when the broker says so (and can
be shared or unshared later); a partner's note is seen by staff and by that partner, never by other
partners. A partner's listing filters in the query itself, so an unshared note never leaves the table
for them.

    note  ORG#<org>#DEAL#<dealId> / NOTE#<noteId>     (ids sort by time)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.deals.deal_records import deal_pk, guard_refusal, partner_guard, require_shared, staff_deal, staff_guard
from common.orgs.access import Member
from common.partners.partner_caller import PartnerCaller
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, NotFound
from common.platform.validation import MULTI_LINE

NoteBody = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), MULTI_LINE]
AuthorKind = Literal["staff", "partner"]


class NewNote(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Valuation booked for Tuesday", "shared_with_partners": True}]},
    )
    body: NoteBody
    shared_with_partners: bool = False


class NewPortalNote(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"body": "The client prefers calls after 5 pm"}]}
    )
    body: NoteBody


class NoteSharing(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"shared_with_partners": True}]})
    shared_with_partners: bool


class Note(NewNote, Answer):
    """A note as written (NewNote) and whose it is."""

    model_config = Answer.model_config
    org_id: str
    deal_id: str
    note_id: str
    author: str = Field(description="the staff user's or the partner's id")
    author_kind: AuthorKind
    created_at: Timestamp
    updated_at: Timestamp


def note_key(org_id: str, deal_id: str, note_id: str) -> db.Key:
    return {"pk": deal_pk(org_id, deal_id), "sk": f"NOTE#{note_id}"}


def _note_item(org_id: str, deal_id: str, author: str, kind: AuthorKind, body: str, shared: bool) -> db.Item:
    note_id = ids.new_id()
    at = clock.now_iso()
    return {
        **note_key(org_id, deal_id, note_id),
        "entity": "deal_note",
        "org_id": org_id,
        "deal_id": deal_id,
        "note_id": note_id,
        "author": author,
        "author_kind": kind,
        "body": body,
        "shared_with_partners": shared,
        "created_at": at,
        "updated_at": at,
    }


def _add(guard: dict[str, Any], note: db.Item, client: Any) -> db.Item:
    """The note, written in one transaction with the check that the author may write on the deal."""

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return guard_refusal(note["deal_id"], failed[0])
        return Conflict("note id collision; retry")

    db.transact([guard, db.tx_put(note, condition="attribute_not_exists(pk)")], on_cancel=refusal, client=client)
    return note


def add_staff_note(org_id: str, deal_id: str, member: Member, new: NewNote, *, client: Any = None) -> db.Item:
    note = _note_item(org_id, deal_id, member.user_id, "staff", new.body, new.shared_with_partners)
    return _add(staff_guard(org_id, deal_id, member), note, client)


def add_partner_note(caller: PartnerCaller, deal_id: str, new: NewPortalNote, *, client: Any = None) -> db.Item:
    note = _note_item(caller.org_id, deal_id, caller.partner_id, "partner", new.body, False)
    return _add(partner_guard(caller.org_id, deal_id, caller.partner_id), note, client)


def list_staff_notes(
    org_id: str, deal_id: str, member: Member, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """Every note of the deal, newest first."""
    staff_deal(org_id, deal_id, member, client=client)
    return listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": deal_pk(org_id, deal_id), ":prefix": "NOTE#"},
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def list_partner_notes(
    caller: PartnerCaller, deal_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The notes the partner may see, newest first: staff notes shared with partners, and their own."""
    require_shared(caller, deal_id, client=client)
    return listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        filter_expression="shared_with_partners = :shared OR (author_kind = :partner AND author = :me)",
        values={
            ":pk": deal_pk(caller.org_id, deal_id),
            ":prefix": "NOTE#",
            ":shared": True,
            ":partner": "partner",
            ":me": caller.partner_id,
        },
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def set_sharing(
    org_id: str, deal_id: str, note_id: str, member: Member, change: NoteSharing, *, client: Any = None
) -> db.Item:
    """Share a staff note with the deal's partners, or stop sharing it. A partner's note is never shared
    with other partners (409)."""
    staff_deal(org_id, deal_id, member, client=client)  # the deal's owner never changes: no condition needed

    def refusal(current: db.Item | None) -> DomainError:
        if current is None:
            return NotFound(f"note {note_id} not found")
        return Conflict("a partner's note is seen by staff and its author only; it cannot be shared")

    return db.update(
        note_key(org_id, deal_id, note_id),
        expression="SET shared_with_partners = :shared, updated_at = :at",
        condition="attribute_exists(pk) AND author_kind = :staff",
        values={":shared": change.shared_with_partners, ":at": clock.now_iso(), ":staff": "staff"},
        on_conflict=refusal,
        client=client,
    )

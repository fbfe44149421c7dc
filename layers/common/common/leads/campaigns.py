"""Campaigns of a partner company: a name, a description, a direction (inbound: leads and customers the company
sends us; outbound: what we send it) and the sender's own campaign id, by which a lead or customer the company
posts is attributed to the campaign (`attribute`).

    campaign    ORG#<org>#COMPANY#<company> / CAMPAIGN#<campaign>            the campaign, newest first by id
    sender ref  ORG#<org>#COMPANY#<company>#CAMPAIGN_REF#<sender id> / CAMPAIGN_REF
                                                                             the campaign a sender's id names, with
                                                                             its name and direction

The sender's id is unique per company: its guard item is written in the transaction that writes the campaign
(put with the campaign, moved when the id changes, deleted with it), so racing campaigns cannot share one, and
attributing a posted lead is one GetItem of the guard. A company has at most MAX_CAMPAIGNS_PER_COMPANY
campaigns, counted on the company item (`campaign_count`) in the same transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.leads.companies import company_key
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound, invalid
from common.platform.validation import LongText, ShortText

ENTITY = "campaign"
REF_ENTITY = "campaign_ref"
# What one company's admins keep track of and a campaign picker shows: far more than the handful of campaigns
# a lead seller runs at once, and it keeps a company's campaigns a few pages of one partition.
MAX_CAMPAIGNS_PER_COMPANY = 100
# Decided again from fresh reads when a campaign changed between its read and its write.
_ATTEMPTS = 3

# As a company's own lead references (external ids): what goes into a key unescaped.
SenderCampaignId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$")]


class CampaignDirection(StrEnum):
    INBOUND = "inbound"  # the company sends us leads or customers in it
    OUTBOUND = "outbound"  # we send them to the company


class CampaignPatch(BaseModel):
    """A campaign's fields; on update only the fields sent are changed (description and sender id may be
    cleared with null)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{"name": "Spring mailing 2027"}]}
    )
    name: ShortText | None = None
    description: LongText | None = None
    direction: CampaignDirection | None = None
    sender_campaign_id: SenderCampaignId | None = None


class NewCampaign(CampaignPatch):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Spring mailing",
                    "description": "Postcards to new homeowners",
                    "direction": "inbound",
                    "sender_campaign_id": "SPRING-26",
                }
            ]
        }
    )
    name: ShortText
    direction: CampaignDirection = CampaignDirection.INBOUND
    sender_campaign_id: SenderCampaignId | None = Field(
        None, description="the company's own id of the campaign, which it posts leads and customers with"
    )


class Campaign(NewCampaign, Answer):
    model_config = Answer.model_config
    org_id: str
    company_id: str
    campaign_id: str
    created_at: Timestamp
    updated_at: Timestamp
    updated_by: str


# -- keys ------------------------------------------------------------------------------------------------


def _company_partition(org_id: str, company_id: str) -> str:
    return company_key(org_id, company_id)["pk"]


def campaign_key(org_id: str, company_id: str, campaign_id: str) -> db.Key:
    return {"pk": _company_partition(org_id, company_id), "sk": f"CAMPAIGN#{campaign_id}"}


def sender_ref_key(org_id: str, company_id: str, sender_campaign_id: str) -> db.Key:
    return {"pk": f"{_company_partition(org_id, company_id)}#CAMPAIGN_REF#{sender_campaign_id}", "sk": "CAMPAIGN_REF"}


# -- attribution -----------------------------------------------------------------------------------------


def attribute(
    org_id: str, company_id: str, sender_campaign_id: str, *, field: str = "body.campaign_id", client: Any = None
) -> dict[str, str]:
    """The campaign a company's post names by the company's own campaign id, as a lead's or customer's source
    carries it: `{"campaign_id", "campaign_name"}`. One GetItem of the id's guard. An id no inbound campaign of
    this company has (unknown, another company's, or an outbound campaign's) is 422 naming `field`."""
    ref = db.get(sender_ref_key(org_id, company_id, sender_campaign_id), client=client)
    if ref is None:
        raise invalid(field, "no campaign of this partner company has this id")
    if ref.get("direction") != CampaignDirection.INBOUND.value:
        raise invalid(field, "names an outbound campaign: what the company sends us comes in inbound campaigns")
    return {"campaign_id": ref["campaign_id"], "campaign_name": ref["name"]}


def picked(
    org_id: str, company_id: str, campaign_id: str, *, field: str = "body.campaign_id", client: Any = None
) -> dict[str, str]:
    """A campaign staff picked by our id (entering a lead by hand), as a source carries it; an id no inbound
    campaign of this company has is 422 naming `field`."""
    campaign = db.get(campaign_key(org_id, company_id, campaign_id), client=client)
    if campaign is None:
        raise invalid(field, "no campaign of this partner company has this id")
    if campaign.get("direction") != CampaignDirection.INBOUND.value:
        raise invalid(field, "names an outbound campaign: what the company sends us comes in inbound campaigns")
    return {"campaign_id": campaign["campaign_id"], "campaign_name": campaign["name"]}


# -- the campaigns -----------------------------------------------------------------------------------------


def _not_found(campaign_id: str) -> NotFound:
    return NotFound(f"campaign {campaign_id} not found")


def _company_not_found(company_id: str) -> NotFound:
    return NotFound(f"partner company {company_id} not found")


def _sender_id_taken(sender_campaign_id: str, taken_by: Mapping[str, Any]) -> Conflict:
    return Conflict(
        f"sender_campaign_id {sender_campaign_id} already names another campaign of this company",
        conflicting_ids=[taken_by.get("campaign_id", "")],
    )


def _ref_item(org_id: str, company_id: str, campaign: Mapping[str, Any]) -> db.Item:
    return {
        **sender_ref_key(org_id, company_id, campaign["sender_campaign_id"]),
        "entity": REF_ENTITY,
        "org_id": org_id,
        "company_id": company_id,
        "campaign_id": campaign["campaign_id"],
        "name": campaign["name"],
        "direction": campaign["direction"],
    }


def create_campaign(org_id: str, company_id: str, new: NewCampaign, author_id: str, *, client: Any = None) -> db.Item:
    """The campaign, its sender id's guard and the company's campaign count, in one transaction."""
    campaign_id, at = ids.new_id(), clock.now_iso()
    item: db.Item = {
        **campaign_key(org_id, company_id, campaign_id),
        "entity": ENTITY,
        "org_id": org_id,
        "company_id": company_id,
        "campaign_id": campaign_id,
        **new.model_dump(mode="json"),
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "updated_by": author_id,
    }
    counted = db.tx_update(
        company_key(org_id, company_id),
        expression="ADD campaign_count :one",
        condition="attribute_exists(pk) AND (attribute_not_exists(campaign_count) OR campaign_count < :max)",
        values={":one": 1, ":max": MAX_CAMPAIGNS_PER_COMPANY},
    )
    actions = [counted, db.tx_put(item, condition="attribute_not_exists(pk)")]
    if new.sender_campaign_id:
        actions.append(db.tx_put(_ref_item(org_id, company_id, item), condition="attribute_not_exists(pk)"))

    def _on_cancel(failed: list[db.Item | None]) -> DomainError:
        if failed[0] == {}:
            return _company_not_found(company_id)
        if failed[0] is not None:
            return invalid(
                "body.name",
                f"the company has {MAX_CAMPAIGNS_PER_COMPANY} campaigns, the most it may have: delete one first",
            )
        if len(failed) > 2 and failed[2] is not None:
            return _sender_id_taken(str(new.sender_campaign_id), failed[2])
        return Conflict("campaign id collision; retry")

    db.transact(actions, on_cancel=_on_cancel, client=client)
    return {k: v for k, v in item.items() if v is not None}


def get_campaign(
    org_id: str, company_id: str, campaign_id: str, *, consistent: bool = False, client: Any = None
) -> db.Item:
    item = db.get(campaign_key(org_id, company_id, campaign_id), consistent=consistent, client=client)
    if item is None:
        raise _not_found(campaign_id)
    return item


def list_campaigns(
    org_id: str, company_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The company's campaigns, newest first."""
    return listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": _company_partition(org_id, company_id), ":prefix": "CAMPAIGN#"},
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


class _Changed(Conflict):
    """The campaign changed between its read and its write: decided again."""


def update_campaign(
    org_id: str, company_id: str, campaign_id: str, patch: CampaignPatch, author_id: str, *, client: Any = None
) -> db.Item:
    changes = patch.model_dump(mode="json", exclude_unset=True)
    cleared = sorted(field for field in ("name", "direction") if field in changes and changes[field] is None)
    if cleared:
        message = "cannot be removed; send a value instead"
        raise InvalidInput(
            f"fields that cannot be cleared: {', '.join(cleared)}",
            errors=[FieldError(f"body.{field}", message) for field in cleared],
        )
    for attempt in range(_ATTEMPTS):
        current = get_campaign(org_id, company_id, campaign_id, consistent=True, client=client)
        try:
            return _update_once(org_id, company_id, current, changes, author_id, client)
        except _Changed:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _update_once(
    org_id: str, company_id: str, current: db.Item, changes: dict[str, Any], author_id: str, client: Any
) -> db.Item:
    campaign_id = current["campaign_id"]
    updated = {**current, **changes, "updated_at": clock.now_iso(), "updated_by": author_id}
    updated["version"] = int(current.get("version", 1)) + 1
    fields = {**changes, "updated_at": updated["updated_at"], "updated_by": author_id, "version": updated["version"]}
    names = {f"#f{i}": field for i, field in enumerate(fields)}
    values = {f":v{i}": value for i, value in enumerate(fields.values()) if value is not None}
    to_set = [f"#f{i} = :v{i}" for i, value in enumerate(fields.values()) if value is not None]
    to_remove = [f"#f{i}" for i, value in enumerate(fields.values()) if value is None]
    expression = "SET " + ", ".join(to_set) + (" REMOVE " + ", ".join(to_remove) if to_remove else "")
    actions = [
        db.tx_update(
            campaign_key(org_id, company_id, campaign_id),
            expression=expression,
            condition="attribute_exists(pk) AND #version = :read_version",
            names={**names, "#version": "version"},
            values={**values, ":read_version": current.get("version", 1)},
        )
    ]
    old_ref, new_ref = current.get("sender_campaign_id"), updated.get("sender_campaign_id")
    if old_ref and old_ref != new_ref:
        actions.append(
            db.tx_delete(
                sender_ref_key(org_id, company_id, old_ref), condition="campaign_id = :id", values={":id": campaign_id}
            )
        )
    if new_ref and (new_ref != old_ref or {"name", "direction"} & changes.keys()):
        # A new guard, or the one kept with the name and direction it carries for attribution.
        guard_condition = "attribute_not_exists(pk)" if new_ref != old_ref else "campaign_id = :id"
        actions.append(
            db.tx_put(
                _ref_item(org_id, company_id, updated),
                condition=guard_condition,
                values=None if new_ref != old_ref else {":id": campaign_id},
            )
        )

    def _on_cancel(failed: list[db.Item | None]) -> DomainError:
        if failed[0] == {}:
            return _not_found(campaign_id)
        if failed[0] is not None:
            return _Changed("the campaign changed meanwhile")
        guard_failed = failed[-1] if new_ref and new_ref != old_ref else None
        if guard_failed:
            return _sender_id_taken(str(new_ref), guard_failed)
        return _Changed("the campaign's sender id changed meanwhile")

    db.transact(actions, on_cancel=_on_cancel, client=client)
    return {k: v for k, v in updated.items() if v is not None}


def delete_campaign(org_id: str, company_id: str, campaign_id: str, *, client: Any = None) -> None:
    """The campaign, its sender id's guard and one off the company's count, in one transaction. Leads and
    customers attributed to it keep its id and name in their source."""
    for attempt in range(_ATTEMPTS):
        current = get_campaign(org_id, company_id, campaign_id, consistent=True, client=client)
        actions = [
            db.tx_delete(
                campaign_key(org_id, company_id, campaign_id),
                condition="#version = :read_version",
                names={"#version": "version"},
                values={":read_version": current.get("version", 1)},
            ),
            db.tx_update(
                company_key(org_id, company_id),
                expression="ADD campaign_count :minus_one",
                condition="attribute_exists(pk)",
                values={":minus_one": -1},
            ),
        ]
        if current.get("sender_campaign_id"):
            actions.append(
                db.tx_delete(
                    sender_ref_key(org_id, company_id, current["sender_campaign_id"]),
                    condition="campaign_id = :id",
                    values={":id": campaign_id},
                )
            )

        def _on_cancel(failed: list[db.Item | None]) -> DomainError:
            return _not_found(campaign_id) if failed[0] == {} else _Changed("the campaign changed meanwhile")

        try:
            db.transact(actions, on_cancel=_on_cancel, client=client)
            return
        except _Changed:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")

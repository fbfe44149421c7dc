"""Organisation message templates with {{placeholders}}, e.g. the auto-response sent with returned leads."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, NotFound
from common.platform.validation import MULTI_LINE, SINGLE_LINE, ShortText

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")
# The values a template may use; anything else is rejected when the template is saved.
PLACEHOLDERS = frozenset(
    {
        "org.name",
        "company.name",
        "company.contact_person",
        "lead.id",
        "lead.external_id",
        "lead.contact_name",
        "lead.received_at",
        "lead.returned_at",
        "comments",
    }
)


def _known_placeholders(text: str) -> str:
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        raise ValueError(f"unknown placeholders: {', '.join(unknown)}; allowed: {', '.join(sorted(PLACEHOLDERS))}")
    return text


class NewTemplate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Returned lead",
                    "subject": "Lead {{lead.external_id}} returned",
                    "body": "Hello {{company.contact_person}},\n\nwe returned lead {{lead.external_id}} "
                    "({{lead.contact_name}}).\n\n{{comments}}\n\n{{org.name}}",
                }
            ]
        },
    )
    name: ShortText
    subject: Annotated[str, StringConstraints(min_length=1, max_length=300), SINGLE_LINE]
    body: Annotated[str, StringConstraints(min_length=1, max_length=20000), MULTI_LINE]

    _check_subject = field_validator("subject")(_known_placeholders)
    _check_body = field_validator("body")(_known_placeholders)


class MessageTemplate(NewTemplate, Answer):
    """A message template as every route answers it."""

    model_config = Answer.model_config
    org_id: str
    template_id: str
    created_by: str
    created_at: Timestamp


def template_key(org_id: str, template_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}", "sk": f"TEMPLATE#{template_id}"}


def render(text: str, values: dict[str, str]) -> str:
    """Replace each placeholder; a known placeholder without a value renders empty."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)


def create_template(org_id: str, new: NewTemplate, author_id: str, *, client: Any = None) -> db.Item:
    template_id = ids.new_id()
    item = {
        **template_key(org_id, template_id),
        "entity": "template",
        "org_id": org_id,
        "template_id": template_id,
        **new.model_dump(),
        "created_by": author_id,
        "created_at": clock.now_iso(),
    }
    db.put(
        item, condition="attribute_not_exists(pk)", on_conflict=Conflict("template id collision; retry"), client=client
    )
    return item


def find_template(org_id: str, template_id: str, *, client: Any = None) -> db.Item | None:
    return db.get(template_key(org_id, template_id), client=client)


def get_template(org_id: str, template_id: str, *, client: Any = None) -> db.Item:
    item = find_template(org_id, template_id, client=client)
    if item is None:
        raise NotFound(f"message template {template_id} not found")
    return item


def list_templates(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    return listings.query_prefix(f"ORG#{org_id}", "TEMPLATE#", cursor=cursor, limit=limit, client=client)

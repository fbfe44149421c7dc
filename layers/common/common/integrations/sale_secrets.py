"""The secret a partner company's sale posts are signed with (Standard Webhooks, common.integrations.signing).

    sale signing secret   ORG#<org>#COMPANY#<company> / SALE_SIGNING_SECRET   secret, the one a rotation
                                                                             replaced and until when it signs

A receiver that takes our posts with a bearer token (the client credentials it issued for us) knows the
request is ours from the token; the signature lets any receiver check that the body is what we sent and
when, and one that asks for no token rely on it alone. Every post is signed: the first post to a company
creates its secret when none was issued (nobody has seen that one), and an admin issues one to give the
receiver (`issue`, answered once): issuing again rotates it, the replaced secret signing beside the new one
for endpoints.PREVIOUS_SECRET_VALIDITY, as a webhook endpoint's does. The item is in no consumer's filter,
so the stream never hands the secret to a queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from common.integrations import endpoints, signing
from common.platform import clock, db
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict

ENTITY = "sale_signing_secret"


class SaleSigningSecret(Answer):
    """The secret the company's sale posts are signed with: shown here only."""

    company_id: str
    secret: str = Field(description="Standard Webhooks: `whsec_` and the base64 of the key")
    secret_created_at: Timestamp
    previous_secret_expires_at: Timestamp | None = Field(
        None, description="until when the secret this one replaced also signs each post"
    )


def secret_key(org_id: str, company_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#COMPANY#{company_id}", "sk": "SALE_SIGNING_SECRET"}


def issue(org_id: str, company_id: str, author_id: str, *, client: Any = None) -> db.Item:
    """A new secret for the company's posts (the caller checked the company exists); the one it replaces, if
    any, signs beside it for endpoints.PREVIOUS_SECRET_VALIDITY."""
    now = clock.now()
    try:
        return db.update(
            secret_key(org_id, company_id),
            expression="SET previous_secret = #secret, previous_secret_expires_at = :expires, #secret = :new, "
            "secret_created_at = :at, updated_by = :by",
            condition="attribute_exists(#secret)",
            names={"#secret": "secret"},
            values={
                ":expires": clock.iso(now + endpoints.PREVIOUS_SECRET_VALIDITY),
                ":new": signing.new_secret(),
                ":at": clock.iso(now),
                ":by": author_id,
            },
            on_conflict=Conflict("no secret yet"),
            client=client,
        )
    except Conflict:
        return _first(org_id, company_id, now, author_id, client=client)


def _first(org_id: str, company_id: str, now: datetime, author_id: str = "system", *, client: Any) -> db.Item:
    """The company's first secret (issued, or created by its first post); a concurrent one's if it won."""
    item = {
        **secret_key(org_id, company_id),
        "entity": ENTITY,
        "org_id": org_id,
        "company_id": company_id,
        "secret": signing.new_secret(),
        "secret_created_at": clock.iso(now),
        "updated_by": author_id,
    }
    try:
        db.put(item, condition="attribute_not_exists(pk)", on_conflict=Conflict("created meanwhile"), client=client)
    except Conflict:
        return db.get(secret_key(org_id, company_id), consistent=True, client=client) or item
    return item


def signing_secrets(org_id: str, company_id: str, now: datetime, *, client: Any = None) -> list[str]:
    """The secrets a post at `now` is signed with: the current one, and the one it replaced while that one
    still signs."""
    item = db.get(secret_key(org_id, company_id), client=client) or _first(org_id, company_id, now, client=client)
    return endpoints.signing_secrets(item, now)

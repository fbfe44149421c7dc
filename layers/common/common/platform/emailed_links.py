"""Single-use, expiring tokens sent by e-mail: invitations, e-mail confirmations, account activations and
confirmations of sender addresses.

The token itself goes out only in the e-mail; the table keeps its SHA-256, so reading the table never
yields a usable token. Each token is bound to one purpose and one e-mail address. Using it is a condition
in the same transaction as what it unlocks, so racing uses have exactly one winner.

    token  TOKEN#<sha256 hex> / TOKEN   (expires from the table by TTL a while after it lapses)
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, Literal

from common.platform import clock, db
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound
from common.platform.table_schema import TTL_ATTRIBUTE

Purpose = Literal["invitation", "email_confirmation", "activation", "sender_confirmation"]

LIFETIMES: dict[str, timedelta] = {
    "invitation": timedelta(days=14),
    "email_confirmation": timedelta(days=2),
    "activation": timedelta(days=14),
    "sender_confirmation": timedelta(days=2),
}
# Used and lapsed tokens stay this long (to tell "used" from "unknown"), then DynamoDB removes them.
KEPT_AFTER_EXPIRY = timedelta(days=30)


class TokenUsed(Conflict):
    code = "token-used"
    title = "This link was already used"


class TokenExpired(Conflict):
    code = "token-expired"
    title = "This link has expired"


def expires_on(purpose: Purpose) -> str:
    """The day (UTC) a token of `purpose` issued now expires, as e-mails tell it."""
    return clock.iso(clock.now() + LIFETIMES[purpose])[:10]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_key(token: str) -> db.Key:
    return {"pk": f"TOKEN#{_digest(token)}", "sk": "TOKEN"}


def issue(purpose: Purpose, *, email: str, data: dict[str, Any], client: Any = None) -> str:
    """Store a new token for `email` with what it unlocks (`data`: ids the use needs); return the token,
    which only the e-mail will carry."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires = now + LIFETIMES[purpose]
    db.put(
        {
            **token_key(token),
            "entity": "access_token",
            "purpose": purpose,
            "email": email.strip().casefold(),
            "data": data,
            "issued_at": clock.iso(now),
            "expires_at": clock.iso(expires),
            TTL_ATTRIBUTE: int((expires + KEPT_AFTER_EXPIRY).timestamp()),
        },
        condition="attribute_not_exists(pk)",
        client=client,
    )
    return token


def _refusal(item: db.Item | None, purpose: Purpose, email: str | None) -> DomainError:
    if not item or item.get("purpose") != purpose:
        return NotFound("this link is not valid")
    if item.get("used_at"):
        return TokenUsed("this link was already used")
    if item["expires_at"] <= clock.now_iso():
        return TokenExpired("this link has expired; ask for a new one")
    if email is not None and item["email"] != email.strip().casefold():
        return Forbidden("this link was sent to another e-mail address")
    return Conflict("this link cannot be used now")


def read(token: str, purpose: Purpose, *, email: str | None = None, client: Any = None) -> db.Item:
    """The token's record if it can be used now (to pre-fill a form); else the reason it cannot."""
    item = db.get(token_key(token), consistent=True, client=client)
    if item is not None and _usable(item, purpose, email):
        return item
    raise _refusal(item, purpose, email)


def _usable(item: db.Item, purpose: Purpose, email: str | None) -> bool:
    return (
        item.get("purpose") == purpose
        and not item.get("used_at")
        and item["expires_at"] > clock.now_iso()
        and (email is None or item["email"] == email.strip().casefold())
    )


def use(token: str, purpose: Purpose, *, email: str | None = None, by: str = "") -> dict[str, Any]:
    """The transaction item that spends the token: it fails unless the token is this purpose's, unused,
    unexpired and (when given) bound to `email`."""
    values: dict[str, Any] = {":purpose": purpose, ":now": clock.now_iso(), ":by": by}
    condition = "purpose = :purpose AND attribute_not_exists(used_at) AND expires_at > :now"
    if email is not None:
        condition += " AND email = :email"
        values[":email"] = email.strip().casefold()
    return db.tx_update(
        token_key(token), expression="SET used_at = :now, used_by = :by", condition=condition, values=values
    )


def refusal(failed_item: db.Item | None, purpose: Purpose, *, email: str | None = None) -> DomainError:
    """Why `use` failed, from the token's image that the cancelled transaction returned ({} if absent)."""
    return _refusal(failed_item or None, purpose, email)

"""The sale kind of the outbound engine (common.integrations.delivery_kinds): what one attempt of a sale's post
sends, and what follows it. The engine decides when, and records each attempt (common.integrations
.delivery_attempts); the deliveries themselves are common.integrations.sale_deliveries.

An attempt reads the company's side as it is now (a Post URL corrected after a failure is used by the next
attempt or a resend) and the record as it is now, and POSTs the record's fields as JSON to the side's
`post_url`:

    {"source_id": <the Source ID the receiver gave us>, "external_id": <our lead or customer id>,
     "contact_name": ..., "phone": ..., "email": ..., "address": {...}, "notes": ..., "contact_not_before": ...}

(the fields a lead's intake takes, this product's own `IntakeLead` among them; absent ones are left out). A
customer with an account (one a partner company sold us) goes as a customer's intake takes it (this product's
`PurchasedCustomer`): its account's fields, phone, e-mail and address with its state; a customer converted from a
lead has no account, and goes with its contact as a lead would (a receiver that needs an account refuses it, and
the delivery's log says so).
signed with Standard Webhooks headers (`webhook-id` the sale id on every attempt and resend; the company's
sale signing secret, common.integrations.sale_secrets) and, when the side has `receiver_credentials`, with
`Authorization: Bearer <token>` got by the client-credentials grant at its `token_url`
(common.integrations.receiver_tokens). A 2xx answer whose JSON names the receiver's id (`lead_id` for a lead,
`customer_id` for a customer, else `id`) has it recorded on the delivery and then on the sold record
(`sale.receiver_id`). A company that was deleted, or whose side no longer takes posts, gets no request.
Sold records are never deleted, so the record is always there to read.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.integrations import outbound, receiver_tokens, sale_secrets, signing
from common.integrations.delivery_kinds import NotSent, Producer, Sent
from common.integrations.delivery_schedule import MAX_ATTEMPTS
from common.integrations.outbound import Attempt, OutboundRequest
from common.integrations.sale_deliveries import sale_delivery_key
from common.leads.companies import find_company
from common.leads.customers import customer_key
from common.leads.model import lead_key
from common.leads.sales import SIDE_FIELDS
from common.platform import clock, db, urls
from common.platform.errors import Conflict

# The contact's fields a post carries (a lead's intake takes these), and the lead's own.
CONTACT_FIELDS = ("contact_name", "phone", "email", "address", "notes")
RECEIVER_ID_FIELDS = {"leads": ("lead_id", "id"), "customers": ("customer_id", "id")}
MAX_RECEIVER_ID = 200


@dataclass(frozen=True)
class _Side:
    settings: Mapping[str, Any]

    @property
    def credentials(self) -> receiver_tokens.Credentials | None:
        kept = self.settings.get("receiver_credentials")
        if not kept:
            return None
        return receiver_tokens.Credentials(str(kept["token_url"]), str(kept["client_id"]), kept.get("scope"))


def _key(message: Mapping[str, Any]) -> db.Key:
    return sale_delivery_key(message["org_id"], message["company_id"], message["sale_id"])


def _target(item: db.Item, client: Any) -> _Side:
    company = find_company(item["org_id"], item["company_id"], client=client)
    if company is None:
        raise NotSent("not sent: the company was deleted")
    settings = company.get(SIDE_FIELDS[item["side"]][1]) or {}
    if settings.get("method") != "post" or not settings.get("post_url"):
        raise NotSent(f"not sent: the company's {item['side']} side takes no posts now")
    return _Side(settings)


def record_key(item: Mapping[str, Any]) -> db.Key:
    """The sold lead or customer a sale delivery posts."""
    if item["side"] == "leads":
        return lead_key(item["org_id"], item["record_id"])
    return customer_key(item["org_id"], item["record_id"])


def body_of(record: Mapping[str, Any], source_id: str | None) -> str:
    """The post's body: the record's fields, naming the receiver's Source ID and our id as its external id."""
    contact = record.get("contact") or {}
    fields: dict[str, Any] = {"source_id": source_id}
    if record.get("entity") == "lead":
        fields |= {"external_id": record["lead_id"], **{name: contact.get(name) for name in CONTACT_FIELDS}}
        fields["contact_not_before"] = record.get("contact_not_before")
    elif record.get("account"):
        # A customer with its account (one a company sold us): as a customer intake takes it, this product's too.
        fields |= {"external_id": record["customer_id"], **record["account"]}
        fields |= {"phone": contact.get("phone"), "email": contact.get("email"), "address": _customer_address(contact)}
    else:
        fields |= {"external_id": record["customer_id"], **{name: contact.get(name) for name in CONTACT_FIELDS}}
    return json.dumps({k: v for k, v in fields.items() if v is not None}, separators=(",", ":"))


def _customer_address(contact: Mapping[str, Any]) -> dict[str, Any] | None:
    """A contact's address as a customer's account takes it: the region is its state or province."""
    address = dict(contact.get("address") or {})
    if not address:
        return None
    if "region" in address:
        address["state"] = address.pop("region")
    return address


def _failed(now: datetime, error: str) -> Sent:
    return Sent(Attempt(at=clock.iso(now), status_code=None, duration_ms=0, excerpt=None, error=error))


def _client_secret(org_id: str, company_id: str, side: str) -> str | None:
    """The receiver's client secret, as the companies' sides module keeps it (a SecureString in SSM); imported
    when a token is asked for (boto3's SSM client is for this path only)."""
    import common.leads.company_sides

    secret = common.leads.company_sides.receiver_secret(org_id, company_id, side)
    return str(secret) if secret else None


def _attempt(item: db.Item, side: _Side, now: datetime, client: Any) -> Sent:
    record = db.get(record_key(item), consistent=True, client=client)
    if record is None or (record.get("sale") or {}).get("sale_id") != item["sale_id"]:
        return _failed(now, "not sent: the sold record is gone")
    org_id, company_id = item["org_id"], item["company_id"]
    body = body_of(record, side.settings.get("source_id"))
    secrets = sale_secrets.signing_secrets(org_id, company_id, now, client=client)
    headers = signing.headers(item["sale_id"], clock.now(), body, secrets)
    policy = urls.OutboundPolicy.from_settings()
    credentials, owner = side.credentials, f"{org_id}/{company_id}/{item['side']}"
    if credentials is not None:
        try:
            bearer = receiver_tokens.token(
                owner, credentials, lambda: _client_secret(org_id, company_id, item["side"]), policy
            )
        except receiver_tokens.NoToken as refused:
            return _failed(now, f"no token: {refused}")
        headers["Authorization"] = f"Bearer {bearer}"
    attempt = outbound.send(OutboundRequest(str(side.settings["post_url"]), headers, body), policy)
    if attempt.status_code == 401 and credentials is not None:
        receiver_tokens.forget(owner, credentials)  # refused: the next attempt asks for a new token
    receiver_id = receiver_id_of(attempt, item["side"]) if attempt.succeeded else None
    return Sent(attempt, {"receiver_id": receiver_id} if receiver_id else {})


def receiver_id_of(attempt: Attempt, side: str) -> str | None:
    """The receiver's id of what it received, from its JSON answer (`lead_id` or `customer_id`, else `id`)."""
    try:
        answer = json.loads(attempt.body or "")
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    for name in RECEIVER_ID_FIELDS[side]:
        value = answer.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value)
            if 0 < len(text) <= MAX_RECEIVER_ID and text.isprintable():
                return text
    return None


class _Unchanged(Conflict):
    pass


def _after(item: db.Item, attempt: Attempt, outcome: str, side: _Side | None, client: Any) -> None:
    """The receiver's id, once the post succeeded with one, on the sold record's sale (safe to repeat)."""
    receiver_id = item.get("receiver_id")
    if item["status"] != "succeeded" or not receiver_id:
        return
    with contextlib.suppress(_Unchanged):
        db.update(
            record_key(item),
            expression="SET sale.receiver_id = :receiver",
            condition="sale.sale_id = :sale",
            values={":receiver": receiver_id, ":sale": item["sale_id"]},
            on_conflict=_Unchanged("not this sale's record"),
            client=client,
        )


PRODUCER = Producer(
    key=_key,
    target=_target,
    attempt=_attempt,
    max_attempts=lambda item: MAX_ATTEMPTS,
    failed_keys=lambda item: None,
    after=_after,
    slot_entity="sale_slot",
)

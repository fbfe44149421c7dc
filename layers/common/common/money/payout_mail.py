"""The e-mail a partner gets when staff settle their payout request, from the table's stream: paid, or
rejected with the reason. Sent once per request (a notice under the request), also when the stream
delivers the record again or out of order. It goes to the partner's account address and names the
organisation."""

from __future__ import annotations

from typing import Any

from common.money.wallets import PayoutStatus
from common.orgs.access import org_key
from common.partners.partner_records import account_key
from common.platform import currencies, db
from common.platform.email import send_email
from common.platform.notices import once
from common.platform.observability import logger
from common.platform.settings import Portal, get_settings

S = PayoutStatus
SETTLED = (S.PAID.value, S.REJECTED.value)


def settled(old: db.Item | None, new: db.Item | None) -> bool:
    """A settled payout request. Paid and rejected are final, so any image of a settled request tells the one
    settlement, whether or not its old image came along; the notice makes it one e-mail."""
    return new is not None and new.get("entity") == "payout_request" and new.get("status") in SETTLED


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    if new is not None and settled(old, new):
        send_settled(new)


def settled_message(org: db.Item | None, request: db.Item) -> tuple[str, str]:
    org_name = str((org or {}).get("name") or "Your partner organisation")
    amount = currencies.format_amount(int(request["amount"]), str(request["currency"]))
    wallet = f"{get_settings(Portal).portal_url.rstrip('/')}/orgs/{request['org_id']}/wallet"
    requested_on = str(request.get("requested_at", ""))[:10]
    if request["status"] == S.PAID.value:
        subject = f"{org_name} paid your payout request of {amount}"
        lines = [
            f"{org_name} paid your payout request of {amount} (requested on {requested_on}).",
            "Your balance went down by the same amount.",
        ]
    else:
        subject = f"{org_name} rejected your payout request of {amount}"
        lines = [
            f"{org_name} rejected your payout request of {amount} (requested on {requested_on}).",
            f"Reason: {request.get('reject_reason', '-')}",
            "",
            "Your balance is unchanged, and you may request a payout again.",
        ]
    return subject, "\n".join([*lines, "", f"Your wallet: {wallet}"])


def send_settled(request: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    """E-mail the partner that the request was paid or rejected. Returns whether it was sent now."""
    org_id, partner_id = request["org_id"], request["partner_id"]
    keys = [account_key(partner_id), org_key(org_id)]
    found = {i["sk"]: i for i in db.batch_get(keys, consistent=True, client=client)}
    account, org = found.get("ACCOUNT"), found.get("ORG")
    ids = {"org_id": org_id, "request_id": request["request_id"], "status": request["status"]}
    if account is None or not account.get("email"):
        logger.info("payout e-mail not sent: no account address", extra=ids)
        return False
    subject, body = settled_message(org, request)
    recipient = str(account["email"])
    sent = once(
        request["pk"],
        "payout-settled",
        lambda: {"message_id": send_email([recipient], subject, body, client=ses)},
        client=client,
    )
    logger.info("payout e-mail", extra={**ids, "sent": sent})
    return sent

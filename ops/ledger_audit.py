"""Recompute every wallet from its ledger and report drift (`make verify-ledger`, ops.verify_ledger). A tool for
people, never called by the functions, so it is not in their layer: it reads the table named by its caller,
through the client it is given, with the layer's item codec and wallet keys.

One Scan (filtered to wallets, ledger entries and payout requests; of one organisation or all) gathers each
partner's wallet, entries and requests, and `drifts` checks them:
    balance / entry_count         the wallet disagrees with the sum and number of its entries
    entry_without_wallet          entries whose wallet item is missing
    currency                      an entry in another currency than its wallet
    open_request                  the wallet's open request is not a pending request of that partner with
                                  the same amount
    pending_request_not_open      a pending request its wallet does not hold open
    paid_request_without_entry    a paid request without its payout entry
    payout_entry_without_request  a payout entry without a paid request of that partner
    payout_amount                 a payout entry that is not minus its request's amount
    reversal_unmatched            a reversal that is not named after a commission entry of the partner
                                  (reversed_entry_id) or not minus its amount
    reversed_twice                a commission entry reversed more than once
    commission_live_twice         two commission entries of one deal and level that are not reversed: a
                                  deal has at most one payment in force

A Scan is no snapshot: a transaction committed while it runs can show half its writes. So a partner that
disagrees is read again consistently before it is reported: the wallet, then its entries and requests, then
the wallet again, until the wallet is the same before and after. Every ledger or request change writes the
wallet in its transaction, so an unchanged wallet means no transaction landed in between.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.money import wallets
from common.money.wallets import EntryKind, PayoutStatus
from common.platform import db

ENTITIES = ("wallet", "ledger_entry", "payout_request")
SETTLE_ATTEMPTS = 5

Drift = dict[str, Any]


@dataclass
class Partner:
    """What the table holds of one partner's money in one organisation."""

    wallet: db.Item | None = None
    entries: list[db.Item] = field(default_factory=list)
    requests: dict[str, db.Item] = field(default_factory=dict)  # by request id


@dataclass(frozen=True)
class Table:
    """The table the audit reads: any client (a deployed stage's, DynamoDB Local's) and table name."""

    client: Any
    name: str

    def get(self, key: db.Key) -> db.Item | None:
        response = self.client.get_item(TableName=self.name, Key=db.serialize(key), ConsistentRead=True)
        return db.deserialize(response["Item"]) if "Item" in response else None

    def _pages(self, operation: str, **arguments: Any) -> Iterator[db.Item]:
        while True:
            response = getattr(self.client, operation)(TableName=self.name, **arguments)
            yield from (db.deserialize(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def scan(self, org_id: str | None) -> Iterator[db.Item]:
        values: dict[str, Any] = {f":e{i}": e for i, e in enumerate(ENTITIES)}
        condition = f"entity IN ({', '.join(values)})"
        if org_id is not None:
            condition += " AND org_id = :org"
            values[":org"] = org_id
        # Eventually consistent (half the cost): whatever looks wrong is read again consistently.
        yield from self._pages("scan", FilterExpression=condition, ExpressionAttributeValues=db.serialize(values))

    def entries(self, org_id: str, partner_id: str) -> list[db.Item]:
        values = {":pk": wallets.wallet_pk(org_id, partner_id), ":prefix": wallets.ENTRY_PREFIX}
        return list(
            self._pages(
                "query",
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=db.serialize(values),
                ConsistentRead=True,
            )
        )


def _payout_request_id(entry_id: str) -> str:
    return entry_id.removeprefix(wallets.payout_entry_id(""))


def _drift(org_id: str, partner_id: str, kind: str, expected: Any, found: Any) -> Drift:
    return {"org_id": org_id, "partner_id": partner_id, "kind": kind, "expected": expected, "found": found}


def drifts(org_id: str, partner_id: str, partner: Partner) -> list[Drift]:
    """Everything about one partner's wallet that disagrees with their entries and requests."""
    found: list[Drift] = []

    def report(kind: str, expected: Any, actual: Any) -> None:
        found.append(_drift(org_id, partner_id, kind, expected, actual))

    wallet, entries, requests = partner.wallet, partner.entries, partner.requests
    total, count = sum(int(e["amount"]) for e in entries), len(entries)
    if wallet is None:
        if entries:
            report("entry_without_wallet", {"balance": total, "entry_count": count}, None)
    else:
        if int(wallet.get("balance", 0)) != total:
            report("balance", total, int(wallet.get("balance", 0)))
        if int(wallet.get("entry_count", 0)) != count:
            report("entry_count", count, int(wallet.get("entry_count", 0)))
        for entry in entries:
            if entry.get("currency") != wallet.get("currency"):
                report(
                    "currency", wallet.get("currency"), {"entry_id": entry["entry_id"], "currency": entry["currency"]}
                )
    open_id = (wallet or {}).get("open_request_id")
    if open_id:
        request = requests.get(open_id)
        expected = {
            "request_id": open_id,
            "status": PayoutStatus.PENDING.value,
            "amount": (wallet or {}).get("open_request_amount"),
        }
        actual = {k: request.get(k) for k in ("request_id", "status", "amount")} if request else None
        if actual != expected:
            report("open_request", expected, actual)
    found += _commission_drifts(org_id, partner_id, entries)
    payout_entries = {e["entry_id"]: e for e in entries if e.get("kind") == EntryKind.PAYOUT.value}
    for request_id, request in requests.items():
        status = request.get("status")
        if status == PayoutStatus.PENDING.value and request_id != open_id:
            report("pending_request_not_open", request_id, open_id)
        if status == PayoutStatus.PAID.value and wallets.payout_entry_id(request_id) not in payout_entries:
            report("paid_request_without_entry", wallets.payout_entry_id(request_id), None)
    for entry_id, entry in payout_entries.items():
        request = requests.get(_payout_request_id(entry_id))
        if request is None or request.get("status") != PayoutStatus.PAID.value:
            expected_request = {"request_id": _payout_request_id(entry_id), "status": PayoutStatus.PAID.value}
            report("payout_entry_without_request", expected_request, request and request.get("status"))
        elif int(entry["amount"]) != -int(request["amount"]):
            report("payout_amount", -int(request["amount"]), {"entry_id": entry_id, "amount": int(entry["amount"])})
    return found


def _commission_drifts(org_id: str, partner_id: str, entries: list[db.Item]) -> list[Drift]:
    """Reversals against the commissions they undo, and at most one payment of a deal in force."""
    found: list[Drift] = []
    paid = {e["entry_id"]: e for e in entries if e.get("kind") == EntryKind.COMMISSION.value}
    reversed_ids: Counter[str] = Counter()
    for entry in (e for e in entries if e.get("kind") == EntryKind.REVERSAL.value):
        target = str((entry.get("details") or {}).get("reversed_entry_id"))
        reversed_ids[target] += 1
        commission = paid.get(target)
        expected = {"entry_id": wallets.reversal_entry_id(target), "amount": commission and -commission["amount"]}
        actual = {"entry_id": entry["entry_id"], "amount": entry["amount"]}
        if commission is None or actual != expected:
            found.append(_drift(org_id, partner_id, "reversal_unmatched", expected, actual))
    for target, times in sorted(reversed_ids.items()):
        if times > 1:
            found.append(_drift(org_id, partner_id, "reversed_twice", {"reversed_entry_id": target, "times": 1}, times))
    live = Counter(
        (details["deal_id"], details.get("level"))
        for entry_id, entry in paid.items()
        if entry_id not in reversed_ids and (details := entry.get("details") or {}).get("deal_id")
    )
    for (deal_id, level), times in live.items():
        if times > 1:
            expected = {"deal_id": deal_id, "level": level, "live": 1}
            found.append(_drift(org_id, partner_id, "commission_live_twice", expected, times))
    return found


def _request_ids(partner: Partner) -> set[str]:
    ids = set(partner.requests)
    if partner.wallet and partner.wallet.get("open_request_id"):
        ids.add(str(partner.wallet["open_request_id"]))
    ids |= {_payout_request_id(e["entry_id"]) for e in partner.entries if e.get("kind") == EntryKind.PAYOUT.value}
    return ids


def settled(table: Table, org_id: str, partner_id: str, known: Partner) -> Partner:
    """The partner read again consistently, with no transaction landing between the wallet and the rest
    (as far as SETTLE_ATTEMPTS tries can tell: a wallet busy all along is judged on the last reading)."""
    wallet_key = wallets.wallet_key(org_id, partner_id)
    partner = known
    for _ in range(SETTLE_ATTEMPTS):
        wallet = table.get(wallet_key)
        entries = table.entries(org_id, partner_id)
        wanted = _request_ids(Partner(wallet, entries, known.requests))
        requests = [table.get(wallets.payout_key(org_id, rid)) for rid in sorted(wanted)]
        mine = {r["request_id"]: r for r in requests if r is not None and r.get("partner_id") == partner_id}
        partner = Partner(wallet, entries, mine)
        if table.get(wallet_key) == wallet:
            break
    return partner


def audit(client: Any, table_name: str, *, org_id: str | None = None) -> dict[str, Any]:
    """Check every wallet of the table (or of one organisation). The report counts what was read and
    lists each drift as {org_id, partner_id, kind, expected, found}."""
    table = Table(client, table_name)
    partners: dict[tuple[str, str], Partner] = defaultdict(Partner)
    counts = dict.fromkeys(ENTITIES, 0)
    for item in table.scan(org_id):
        entity = item["entity"]
        counts[entity] += 1
        partner = partners[(item["org_id"], item["partner_id"])]
        if entity == "wallet":
            partner.wallet = item
        elif entity == "ledger_entry":
            partner.entries.append(item)
        else:
            partner.requests[item["request_id"]] = item
    found: list[Drift] = []
    for (org, partner_id), partner in sorted(partners.items()):
        if drifts(org, partner_id, partner):
            found += drifts(org, partner_id, settled(table, org, partner_id, partner))
    return {
        "wallets": counts["wallet"],
        "entries": counts["ledger_entry"],
        "payout_requests": counts["payout_request"],
        "drifts": found,
    }


def describe(drift: Mapping[str, Any]) -> str:
    """One line per drift, ids and amounts only."""
    return (
        f"org {drift['org_id']} partner {drift['partner_id']}: {drift['kind']}: "
        f"expected {drift['expected']!r}, found {drift['found']!r}"
    )

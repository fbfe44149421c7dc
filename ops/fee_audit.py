"""Recompute every partner team's referral fee balances from their ledger entries and report drift (part of
`make verify-ledger`, ops.verify_ledger). Like ops.ledger_audit, a tool for people, outside the layer.

One Scan (filtered to fee entries, balances and fees; of one organisation or all) gathers each team's
fee items, and `drifts` checks them per team and currency:
    balance                 the balance item disagrees with the sum of the entries
    entry_without_balance   entries in a currency the team has no balance item for
    balance_after           an entry's balance_after is not the running sum of the entries up to it
                            (entries of the same millisecond are taken in the order their balances chain)
    fee_outstanding         a fee's outstanding amount is not the sum of its entries

A team that disagrees is read again consistently (one Query of its fees partition) before it is reported,
since a Scan can show half a transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from common.platform import db
from common.teams import fee_model as fm

ENTITIES = (fm.ENTRY_ENTITY, fm.BALANCE_ENTITY, "team_fee")

Drift = dict[str, Any]


@dataclass
class TeamFees:
    balances: dict[str, db.Item] = field(default_factory=dict)  # by currency
    entries: list[db.Item] = field(default_factory=list)
    fees: dict[str, db.Item] = field(default_factory=dict)  # by fee id

    def add(self, item: db.Item) -> None:
        if item["entity"] == fm.BALANCE_ENTITY:
            self.balances[item["currency"]] = item
        elif item["entity"] == fm.ENTRY_ENTITY:
            self.entries.append(item)
        elif item["entity"] == "team_fee":
            self.fees[item["fee_id"]] = item


def _pages(client: Any, operation: str, **arguments: Any) -> Iterator[db.Item]:
    while True:
        response = getattr(client, operation)(**arguments)
        yield from (db.deserialize(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _chain_drifts(entries: list[db.Item]) -> list[dict[str, Any]]:
    """Entries whose balance_after does not follow from the ones before (by time, then by the chain)."""
    by_time: dict[str, list[db.Item]] = defaultdict(list)
    for entry in entries:
        by_time[str(entry["at"])].append(entry)
    running, found = 0, []
    for at in sorted(by_time):
        pending = list(by_time[at])
        while pending:
            following = next((e for e in pending if int(e["balance_after"]) == running + int(e["amount"])), None)
            if following is None:
                following = min(pending, key=lambda e: str(e["entry_id"]))
                found.append(
                    {
                        "entry_id": following["entry_id"],
                        "expected": running + int(following["amount"]),
                        "found": int(following["balance_after"]),
                    }
                )
            running += int(following["amount"])
            pending.remove(following)
    return found


def drifts(org_id: str, team_id: str, team: TeamFees) -> list[Drift]:
    found: list[Drift] = []

    def report(kind: str, expected: Any, actual: Any, **more: Any) -> None:
        found.append(
            {"org_id": org_id, "team_id": team_id, "kind": kind, "expected": expected, "found": actual, **more}
        )

    by_currency: dict[str, list[db.Item]] = defaultdict(list)
    for entry in team.entries:
        by_currency[str(entry["currency"])].append(entry)
    for currency in sorted(set(by_currency) | set(team.balances)):
        entries = by_currency.get(currency, [])
        total = sum(int(e["amount"]) for e in entries)
        balance = team.balances.get(currency)
        if balance is None:
            if entries:
                report("entry_without_balance", total, None, currency=currency)
        elif int(balance.get("balance", 0)) != total:
            report("balance", total, int(balance.get("balance", 0)), currency=currency)
        for chain in _chain_drifts(entries):
            report("balance_after", chain["expected"], chain["found"], currency=currency, entry_id=chain["entry_id"])
    per_fee: dict[str, int] = defaultdict(int)
    for entry in team.entries:
        per_fee[str(entry["fee_id"])] += int(entry["amount"])
    for fee_id, fee in sorted(team.fees.items()):
        if int(fee.get("outstanding", 0)) != per_fee.get(fee_id, 0):
            report("fee_outstanding", per_fee.get(fee_id, 0), int(fee.get("outstanding", 0)), fee_id=fee_id)
    return found


def _settled(client: Any, table_name: str, org_id: str, team_id: str) -> TeamFees:
    team = TeamFees()
    values = db.serialize({":pk": fm.fees_pk(org_id, team_id)})
    for item in _pages(
        client,
        "query",
        TableName=table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=values,
        ConsistentRead=True,
    ):
        if item.get("entity") in ENTITIES:
            team.add(item)
    return team


def audit(client: Any, table_name: str, *, org_id: str | None = None) -> dict[str, Any]:
    """Check every team's fee ledger (or one organisation's teams'): counts and drifts."""
    values: dict[str, Any] = {f":e{i}": e for i, e in enumerate(ENTITIES)}
    condition = f"entity IN ({', '.join(values)})"
    if org_id is not None:
        condition += " AND org_id = :org"
        values[":org"] = org_id
    teams: dict[tuple[str, str], TeamFees] = defaultdict(TeamFees)
    counts = dict.fromkeys(ENTITIES, 0)
    for item in _pages(
        client, "scan", TableName=table_name, FilterExpression=condition, ExpressionAttributeValues=db.serialize(values)
    ):
        counts[item["entity"]] += 1
        teams[(item["org_id"], item["team_id"])].add(item)
    found: list[Drift] = []
    for (org, team_id), team in sorted(teams.items()):
        if drifts(org, team_id, team):
            found += drifts(org, team_id, _settled(client, table_name, org, team_id))
    return {
        "fee_balances": counts[fm.BALANCE_ENTITY],
        "fee_entries": counts[fm.ENTRY_ENTITY],
        "fees": counts["team_fee"],
        "drifts": found,
    }


def describe(drift: dict[str, Any]) -> str:
    where = " ".join(f"{k} {drift[k]}" for k in ("currency", "fee_id", "entry_id") if k in drift)
    return (
        f"org {drift['org_id']} team {drift['team_id']}: {drift['kind']}{' (' + where + ')' if where else ''}: "
        f"expected {drift['expected']!r}, found {drift['found']!r}"
    )

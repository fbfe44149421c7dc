"""A team's referral fee receivable: an append-only ledger like the wallets' (common.money.wallets), one
balance per currency, and the writes that move it: fees (closings), late fees (the sweep), payments,
adjustments and write-offs (staff).

    ledger entry  ORG#<org>#TEAM#<team>#FEES / ENTRY#<at>#<entryId>   entity "fee_entry"
                  kind fee | late_fee | payment | adjustment | write_off; amount signed minor units
                  (positive: the team owes more), currency, fee_id, reference, note, by, at, period (late
                  fees), balance_after (the team's balance in that currency after it)
    balance       ORG#<org>#TEAM#<team>#FEES / BALANCE#<currency>     entity "fee_balance": balance, version

An entry is never edited or deleted. Every write is one TransactWriteItems: the entries (each
`attribute_not_exists`), the balance (conditioned on the version read, so `balance_after` is exact and
entries chain), and the items the entry is about (the fee, its closing, the team's pause count), each
conditioned on what was read. A refusal for a moved balance (another write of the team's ledger landed
first) is decided again on fresh reads; so is one for a fee that changed meanwhile. The balance is therefore
the sum of the entries by construction, which `make verify-ledger` recomputes (ops.fee_audit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.platform import clock, db, listings
from common.platform.errors import Conflict, DomainError, NotFound
from common.teams import fee_model as fm
from common.teams.team_model import team_key

# How often a write is decided again because the team's ledger or the fee moved under it, before a 409.
ATTEMPTS = 6


class LedgerBusy(Conflict):
    code = "fee-ledger-busy"
    title = "The team's fee ledger kept changing meanwhile"


@dataclass
class Write:
    """One transaction of a ledger change: `actions` (the fee and other items, each with its condition),
    the entries it appends (each a dict of the entry's fields but its keys and balance_after), in one
    currency, and `result`, what the change answers once written. `refused` tells a refusal of `actions`
    (their current images, None where one passed): a domain error to answer, or None to decide again."""

    actions: list[dict[str, Any]]
    entries: list[dict[str, Any]] = field(default_factory=list)
    currency: str | None = None
    result: Any = None
    refused: Callable[[list[db.Item | None]], DomainError | None] = lambda failed: None


@dataclass
class Done:
    """Nothing (more) to write: the answer as things stand (an earlier delivery wrote it all)."""

    result: Any


Decision = Write | Done


class _Again(Exception):
    pass


def balance(org_id: str, team_id: str, currency: str, *, client: Any = None) -> db.Item | None:
    return db.get(fm.balance_key(org_id, team_id, currency), consistent=True, client=client)


def balances(org_id: str, team_id: str, *, client: Any = None) -> list[db.Item]:
    return listings.all_with_prefix(fm.fees_pk(org_id, team_id), "BALANCE#", consistent=True, client=client)


def entry_item(org_id: str, team_id: str, fields: Mapping[str, Any], balance_after: int) -> dict[str, Any]:
    at = fields["at"]
    return {
        **fm.entry_key(org_id, team_id, at, fields["entry_id"]),
        "entity": fm.ENTRY_ENTITY,
        "org_id": org_id,
        "team_id": team_id,
        **fields,
        "balance_after": balance_after,
    }


def _balance_action(org_id: str, team_id: str, currency: str, current: db.Item | None, total: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        ":balance": int((current or {}).get("balance", 0)) + total,
        ":next": int((current or {}).get("version", 0)) + 1,
        ":at": clock.now_iso(),
        ":entity": fm.BALANCE_ENTITY,
        ":org": org_id,
        ":team": team_id,
        ":currency": currency,
    }
    if current is None:
        condition = "attribute_not_exists(pk)"
    else:
        condition = "version = :read"
        values[":read"] = current["version"]
    return db.tx_update(
        fm.balance_key(org_id, team_id, currency),
        expression="SET entity = :entity, org_id = :org, team_id = :team, currency = :currency, "
        "balance = :balance, version = :next, updated_at = :at",
        condition=condition,
        values=values,
    )


def run(org_id: str, team_id: str, decide: Callable[[], Decision], *, client: Any = None) -> Any:
    """Decide the change on fresh reads and write it in one transaction, again while what it read moved."""
    for _ in range(ATTEMPTS):
        decision = decide()
        if isinstance(decision, Done):
            return decision.result
        try:
            _write(org_id, team_id, decision, client)
        except _Again:
            continue
        return decision.result
    raise LedgerBusy("the team's fee ledger or the fee kept changing meanwhile; retry")


def _write(org_id: str, team_id: str, decision: Write, client: Any) -> None:
    actions = list(decision.actions)
    if decision.entries:
        if decision.currency is None:
            raise ValueError("entries need their currency")
        current = balance(org_id, team_id, decision.currency, client=client)
        running = int((current or {}).get("balance", 0))
        for fields in decision.entries:
            running += int(fields["amount"])
            actions.append(
                db.tx_put(entry_item(org_id, team_id, fields, running), condition="attribute_not_exists(pk)")
            )
        total = sum(int(f["amount"]) for f in decision.entries)
        actions.append(_balance_action(org_id, team_id, decision.currency, current, total))
    own = len(decision.actions)

    def cancelled(failed: list[db.Item | None]) -> DomainError:
        refused = decision.refused(failed[:own]) if any(f is not None for f in failed[:own]) else None
        if refused is not None:
            return refused
        raise _Again()

    db.transact(actions, on_cancel=cancelled, client=client)


# -- the fee's side of a change --------------------------------------------------------------------


def outstanding_change(
    fee: Mapping[str, Any],
    delta: int,
    *,
    status: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The fee's update for a change of `delta` to what it owes (conditioned on the outstanding amount and
    status read; `extra` sets more of its attributes), and, when that brings a fee counted towards the
    team's pause to 0, the team's pause count taken back in the same transaction. A fee that owes nothing
    more is `paid` (unless `status` says otherwise) and leaves the lateness index; one that owes again is
    open and back in it."""
    org_id, team_id = fee["org_id"], fee["team_id"]
    left = int(fee["outstanding"]) + delta
    if status is None:
        status = fm.FeeStatus.OPEN.value if left > 0 else fm.FeeStatus.PAID.value
    after: dict[str, Any] = {**fee, **(extra or {}), "outstanding": left, "status": status}
    actions: list[dict[str, Any]] = []
    if left == 0 and fee.get("pause_counted"):
        after["pause_counted"] = False
        actions.append(pause_count(org_id, team_id, -1))
    due = fm.due_fields(after)
    sets: dict[str, Any] = {
        **(extra or {}),
        "outstanding": left,
        "status": status,
        "pause_counted": bool(after.get("pause_counted")),
        "updated_at": clock.now_iso(),
        **due,
    }
    names = {f"#a{n}": name for n, name in enumerate(sets)}
    values: dict[str, Any] = {f":a{n}": value for n, value in enumerate(sets.values())}
    expression = "SET " + ", ".join(f"#a{n} = :a{n}" for n in range(len(sets))) + ", version = version + :one"
    if not due:
        expression += " REMOVE next_action_at, gsi3pk, gsi3sk"
    update = db.tx_update(
        fm.fee_key(org_id, team_id, fee["fee_id"]),
        expression=expression,
        condition="outstanding = :read AND #status = :status_read",
        names={**names, "#status": "status"},
        values={**values, ":one": 1, ":read": int(fee["outstanding"]), ":status_read": fee["status"]},
    )
    return [update, *actions]


def pause_count(org_id: str, team_id: str, delta: int) -> dict[str, Any]:
    """The team's count of fees past the pause threshold and not paid (common.teams.standing reads it)."""
    return db.tx_update(
        team_key(org_id, team_id),
        expression="ADD fee_pause_count :delta",
        condition="attribute_exists(pk)",
        values={":delta": delta},
    )


def entry_fields(
    kind: fm.FeeEntryKind,
    entry_id: str,
    amount: int,
    fee: Mapping[str, Any],
    by: str,
    *,
    at: str | None = None,
    reference: str | None = None,
    note: str | None = None,
    period: int | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "entry_id": entry_id,
        "kind": kind.value,
        "amount": amount,
        "currency": fee["currency"],
        "fee_id": fee["fee_id"],
        "closing_id": fee.get("closing_id", fee["fee_id"]),
        "by": by,
        "at": at or clock.now_iso(),
    }
    for name, value in (("reference", reference), ("note", note), ("period", period)):
        if value is not None:
            fields[name] = value
    return fields


def list_entries(
    org_id: str, team_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The team's ledger, newest first."""
    return listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": fm.fees_pk(org_id, team_id), ":prefix": fm.ENTRY_PREFIX},
        newest_first=True,
        consistent=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def failed_at(failed: Sequence[db.Item | None], index: int) -> db.Item | None:
    return failed[index] if index < len(failed) else None


def list_fees(
    org_id: str,
    team_id: str,
    *,
    status: fm.FeeStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """The team's fees by closing id (a status filter applies within each page)."""
    values: dict[str, Any] = {":pk": fm.fees_pk(org_id, team_id), ":prefix": fm.FEE_PREFIX}
    if status is not None:
        values[":status"] = status.value
    return listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values=values,
        names={"#status": "status"} if status else None,
        filter_expression="#status = :status" if status else None,
        consistent=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def fee_with_closing(org_id: str, team_id: str, fee_id: str, *, client: Any = None) -> tuple[db.Item, db.Item | None]:
    """A fee and its closing (one consistent BatchGetItem); NotFound without the fee."""
    keys = [fm.fee_key(org_id, team_id, fee_id), fm.closing_key(org_id, team_id, fee_id)]
    found = {i["sk"]: i for i in db.batch_get(keys, consistent=True, client=client)}
    fee = found.get(keys[0]["sk"])
    if fee is None:
        raise NotFound(f"fee {fee_id} not found")
    return fee, found.get(keys[1]["sk"])

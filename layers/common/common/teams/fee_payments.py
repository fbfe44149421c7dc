"""What staff record on a team's fees: payments (full or partial, with a reference),
adjustments (signed, explained) and write-offs. Each is one ledger transaction (common.teams.fee_ledger):
the entry, the team's balance and the fee's outstanding amount conditioned on the amount read; the one that
brings a fee counted towards the team's pause to 0 takes the count back in the same transaction, which
lifts the pause once no other fee holds it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from common.platform import db, ids
from common.platform.errors import Conflict, NotFound, invalid
from common.teams import fee_ledger
from common.teams import fee_model as fm
from common.teams.fee_ledger import Write

SignedMinor = Annotated[StrictInt, Field(ge=-fm.MAX_AMOUNT_MINOR, le=fm.MAX_AMOUNT_MINOR)]


class FeeNotOwed(Conflict):
    code = "fee-not-owed"
    title = "The fee owes nothing"


class FeePayment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fee_id": "01JD8X3V6Q5T2W9Y4Z7B1C0D3E-buy-2026-11-30",
                    "amount": 405_000,
                    "reference": "Wire 2026-12-04 #8812",
                }
            ]
        },
    )
    fee_id: fm.ClosingRef = Field(description="the fee paid (its closing's id)")
    amount: fm.PositiveMinor = Field(description="at most what the fee has outstanding, in its currency")
    reference: fm.Reference
    note: fm.Note | None = None


class FeeAdjustment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fee_id": "01JD8X3V6Q5T2W9Y4Z7B1C0D3E-buy-2026-11-30",
                    "amount": -5_000,
                    "note": "Late fee waived: bank holiday",
                }
            ]
        },
    )
    fee_id: fm.ClosingRef
    amount: SignedMinor = Field(description="positive: the team owes more; negative: less (not below 0 outstanding)")
    note: fm.Note = Field(description="why")
    reference: fm.Reference | None = None

    @field_validator("amount")
    @classmethod
    def _not_zero(cls, amount: int) -> int:
        if amount == 0:
            raise ValueError("must not be 0")
        return amount


class FeeWriteOff(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "Team dissolved"}]})
    note: fm.Note = Field(description="why the outstanding amount is written off")


def _fee(org_id: str, team_id: str, fee_id: str) -> db.Item:
    fee = db.get(fm.fee_key(org_id, team_id, fee_id), consistent=True)
    if fee is None:
        raise NotFound(f"fee {fee_id} not found")
    return fee


def record_payment(org_id: str, team_id: str, payment: FeePayment, actor: str) -> db.Item:
    """A payment against one fee; more than it has outstanding is 422 naming `amount`. Returns the entry."""
    entry_id = ids.new_id()

    def decide() -> Write:
        fee = _fee(org_id, team_id, payment.fee_id)
        if fee["status"] != fm.FeeStatus.OPEN.value:
            raise FeeNotOwed(
                f"fee {payment.fee_id} is {fee['status']}: it owes nothing", conflicting_ids=[fee["status"]]
            )
        if payment.amount > int(fee["outstanding"]):
            raise invalid("body.amount", f"is more than the fee's outstanding {fee['outstanding']} {fee['currency']}")
        entry = fee_ledger.entry_fields(
            fm.FeeEntryKind.PAYMENT,
            entry_id,
            -payment.amount,
            fee,
            actor,
            reference=payment.reference,
            note=payment.note,
        )
        return Write(fee_ledger.outstanding_change(fee, -payment.amount), [entry], fee["currency"], result=entry)

    return _entry(org_id, team_id, fee_ledger.run(org_id, team_id, decide))


def record_adjustment(org_id: str, team_id: str, adjustment: FeeAdjustment, actor: str) -> db.Item:
    """A signed, explained change of what a fee owes (open or paid; never below 0 outstanding: 422)."""
    entry_id = ids.new_id()

    def decide() -> Write:
        fee = _fee(org_id, team_id, adjustment.fee_id)
        if fee["status"] not in (fm.FeeStatus.OPEN.value, fm.FeeStatus.PAID.value):
            raise FeeNotOwed(f"fee {adjustment.fee_id} is {fee['status']}", conflicting_ids=[fee["status"]])
        if int(fee["outstanding"]) + adjustment.amount < 0:
            raise invalid("body.amount", f"would leave less than 0 outstanding (it has {fee['outstanding']})")
        entry = fee_ledger.entry_fields(
            fm.FeeEntryKind.ADJUSTMENT,
            entry_id,
            adjustment.amount,
            fee,
            actor,
            reference=adjustment.reference,
            note=adjustment.note,
        )
        return Write(fee_ledger.outstanding_change(fee, adjustment.amount), [entry], fee["currency"], result=entry)

    return _entry(org_id, team_id, fee_ledger.run(org_id, team_id, decide))


def write_off(org_id: str, team_id: str, fee_id: str, write: FeeWriteOff, actor: str) -> db.Item:
    """Write off what a fee has outstanding: the entry (minus that amount) and the fee `written_off`."""

    def decide() -> Write:
        fee = _fee(org_id, team_id, fee_id)
        if fee["status"] != fm.FeeStatus.OPEN.value:
            raise FeeNotOwed(f"fee {fee_id} is {fee['status']}: nothing to write off", conflicting_ids=[fee["status"]])
        left = int(fee["outstanding"])
        entry = fee_ledger.entry_fields(
            fm.FeeEntryKind.WRITE_OFF, f"writeoff-{fee_id}", -left, fee, actor, note=write.note
        )
        change = fee_ledger.outstanding_change(fee, -left, status=fm.FeeStatus.WRITTEN_OFF.value)
        return Write(change, [entry], fee["currency"], result=entry)

    return _entry(org_id, team_id, fee_ledger.run(org_id, team_id, decide))


def _entry(org_id: str, team_id: str, fields: dict[str, Any]) -> db.Item:
    """The entry as written (with its balance_after)."""
    item = db.get(fm.entry_key(org_id, team_id, fields["at"], fields["entry_id"]), consistent=True)
    return item or fields

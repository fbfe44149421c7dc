"""What every money answer says beside its amounts: the currency and the currency's minor units, so a client
formats an amount without a table of its own. The minor units follow from the currency, never from what an
item holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from common.platform.answers import Answer
from common.platform.currencies import MINOR_UNITS_DESCRIPTION, minor_units


class InCurrency(Answer):
    """An answer with amounts in one currency (null where there is none yet, e.g. before a commission plan)."""

    currency: str | None = Field(None, description="ISO 4217")
    minor_units: int | None = Field(None, description=MINOR_UNITS_DESCRIPTION)

    @model_validator(mode="before")
    @classmethod
    def _minor_units_of_the_currency(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {**data, "minor_units": minor_units(data.get("currency"))}
        return data

"""The account of a customer a partner company sold us: who holds it, what it costs, for how long, which
services it has and whom to call in an emergency; and the US or Canadian address it is at.

These are the fields a selling company posts (common.leads.customer_intake) beside the contact every
customer has, validated here once: names and relations as visible one-line text, phones E.164, the state or
province checked against the country (common.platform.regions), amounts non-negative integers in minor units
of one ISO 4217 currency, a contract term of 1 to 120 months, and short lists with hard caps (service flags,
emergency contacts), so an account stays a few kilobytes. `CustomerAccount` is the same fields as answered.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from common.platform.answers import Answer
from common.platform.currencies import MINOR_UNITS_DESCRIPTION, CurrencyCode, minor_units
from common.platform.regions import Country, check_postal_code, check_state
from common.platform.validation import E164, SINGLE_LINE, ShortText

MAX_AMOUNT_MINOR = 10**12  # ten billion in a two-decimal currency: far above any account's fees
MAX_CONTRACT_MONTHS = 120
MAX_SERVICE_FLAGS = 20
MAX_EMERGENCY_CONTACTS = 5

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SINGLE_LINE]
Relation = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), SINGLE_LINE]
AccountNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,63}$"),
    Field(description="the account's number in the selling company's system: letters, digits and . _ : / -"),
]
Amount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR, description="minor units of `currency` (cents)")]
ContractTerm = Annotated[StrictInt, Field(ge=1, le=MAX_CONTRACT_MONTHS, description="the contract's term in months")]
ServiceFlag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_\-]{0,39}$"),
    Field(description="a short lower-case flag of a service on the account, e.g. `monitoring`, `video`"),
]


def _each_once(flags: list[str]) -> list[str]:
    duplicates = sorted({flag for flag in flags if flags.count(flag) > 1})
    if duplicates:
        raise ValueError(f"each flag once: {', '.join(duplicates)} repeated")
    return flags


ServiceFlags = Annotated[
    list[ServiceFlag],
    Field(max_length=MAX_SERVICE_FLAGS, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_each_once),
]

ADDRESS_EXAMPLE: dict[str, Any] = {
    "line1": "1 Main Street",
    "city": "Austin",
    "state": "TX",
    "postal_code": "73301",
    "country": "US",
}


class CustomerAddress(BaseModel):
    """A US or Canadian address: the state (or province, or territory) is one of the country's."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [ADDRESS_EXAMPLE]}
    )
    # Declared first: the state and postal code are checked against it.
    country: Country = Field(description="US or CA")
    line1: ShortText
    line2: ShortText | None = None
    city: ShortText
    state: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="the two-letter code of a US state (or DC) or a Canadian province or territory, of `country`"
    )
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10, pattern=r"^[A-Za-z0-9 \-]+$")]

    @field_validator("state")
    @classmethod
    def _state_of_the_country(cls, state: str, info: ValidationInfo) -> str:
        country = info.data.get("country")
        return check_state(country, state) if country else state  # a bad country is reported on its own

    @field_validator("postal_code")
    @classmethod
    def _postal_code_of_the_country(cls, postal_code: str, info: ValidationInfo) -> str:
        country = info.data.get("country")
        return check_postal_code(country, postal_code) if country else postal_code

    def as_contact_address(self) -> dict[str, Any]:
        """The address in every customer's contact (common.leads.model.Address): the state is its region."""
        fields = {
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.state,
            "postal_code": self.postal_code,
            "country": self.country,
        }
        return {name: value for name, value in fields.items() if value is not None}


class EmergencyContact(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: ShortText
    phone: E164 = Field(description="E.164: a plus, the country code and the number, e.g. +15125550100")
    relation: Relation = Field(description="who they are to the customer, e.g. neighbour, daughter")


ACCOUNT_EXAMPLE: dict[str, Any] = {
    "first_name": "Jane",
    "last_name": "Doe",
    "account_number": "ACC-1001",
    "monthly_amount": 4999,
    "activation_fee": 9900,
    "currency": "USD",
    "contract_term_months": 36,
    "service_flags": ["monitoring", "video"],
    "emergency_contacts": [{"name": "John Doe", "phone": "+15125550101", "relation": "husband"}],
}


class AccountDetails(BaseModel):
    """The account as the selling company posts it (beside the contact every customer has)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [ACCOUNT_EXAMPLE]}
    )
    first_name: Name
    last_name: Name
    account_number: AccountNumber
    monthly_amount: Amount
    activation_fee: Amount
    currency: CurrencyCode = Field(description="the ISO 4217 currency of both amounts")
    contract_term_months: ContractTerm
    service_flags: ServiceFlags = Field(
        default_factory=list, description=f"at most {MAX_SERVICE_FLAGS}, each once, e.g. monitoring, video"
    )
    emergency_contacts: list[EmergencyContact] = Field(default_factory=list, max_length=MAX_EMERGENCY_CONTACTS)

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(AccountDetails.model_fields))


class CustomerAccount(AccountDetails, Answer):
    """A customer's account, as the selling company posted it, with its currency's minor units."""

    model_config = Answer.model_config
    # As stored: a code ISO 4217 withdraws later must still be answered (input takes the active codes only).
    currency: str = Field(description="the ISO 4217 currency of both amounts")
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)

    @classmethod
    def of(cls, item: Any, **fields: Any) -> Self:
        return super().of(item, minor_units=minor_units(item.get("currency")), **fields)

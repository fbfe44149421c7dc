"""What a partner company may post as a customer it sells us (common.leads.customer_intake.PurchasedCustomer and
the account of common.leads.customer_accounts): each bad field is refused and named, nothing else is."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from common.leads.customer_accounts import MAX_AMOUNT_MINOR, CustomerAccount, CustomerAddress
from common.leads.customer_intake import PurchasedCustomer
from common.platform.regions import CANADIAN_PROVINCES, US_STATES
from pydantic import ValidationError


@pytest.fixture(autouse=True)
def aws() -> Iterator[dict[str, Any]]:
    """Nothing here touches AWS (overrides the unit suite's)."""
    yield {}


def customer(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(PurchasedCustomer.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    for path, value in changes.items():
        target = body
        *parents, name = path.split("__")
        for parent in parents:
            target = target[parent]
        if value is ...:
            target.pop(name)
        else:
            target[name] = value
    return body


def refused(body: dict[str, Any]) -> set[str]:
    """The fields the body is refused for, as the API names them (without `body.`)."""
    with pytest.raises(ValidationError) as refusal:
        PurchasedCustomer.model_validate(body)
    return {".".join(str(part) for part in error["loc"]) for error in refusal.value.errors()}


def test_the_example_is_a_customer() -> None:
    posted = PurchasedCustomer.model_validate(customer())
    assert (
        posted.address.state == "TX"
        and posted.monthly_amount == 4999
        and posted.service_flags == ["monitoring", "video"]
    )


def test_there_are_51_states_and_13_provinces_and_territories() -> None:
    assert len(US_STATES) == 51 and "DC" in US_STATES and "PR" not in US_STATES
    assert len(CANADIAN_PROVINCES) == 13 and {"QC", "NU", "YT"} <= CANADIAN_PROVINCES


@pytest.mark.parametrize(
    ("country", "state", "postal_code"),
    [("US", "TX", "73301"), ("US", "DC", "20001-1234"), ("CA", "QC", "H2X 1Y4"), ("CA", "NU", "x0a0h0")],
)
def test_a_state_or_province_of_its_country_is_taken(country: str, state: str, postal_code: str) -> None:
    body = customer(address__country=country, address__state=state, address__postal_code=postal_code)
    address = PurchasedCustomer.model_validate(body).address
    assert (address.country, address.state) == (country, state)
    assert address.postal_code == postal_code.upper()


@pytest.mark.parametrize(
    ("country", "state"),
    [("US", "QC"), ("CA", "TX"), ("US", "PR"), ("US", "tx"), ("US", "TEX"), ("US", "ZZ"), ("CA", "")],
)
def test_a_state_not_of_its_country_is_refused_and_named(country: str, state: str) -> None:
    postal = "73301" if country == "US" else "H2X 1Y4"
    body = customer(address__country=country, address__state=state, address__postal_code=postal)
    assert refused(body) == {"address.state"}


@pytest.mark.parametrize("country", ["MX", "us", "GB", None])
def test_only_the_us_and_canada(country: Any) -> None:
    assert refused(customer(address__country=country)) == {"address.country"}


@pytest.mark.parametrize(("country", "postal_code"), [("US", "7330"), ("US", "H2X 1Y4"), ("CA", "73301")])
def test_a_postal_code_has_its_countrys_form(country: str, postal_code: str) -> None:
    state = "TX" if country == "US" else "QC"
    body = customer(address__country=country, address__state=state, address__postal_code=postal_code)
    assert refused(body) == {"address.postal_code"}


@pytest.mark.parametrize("phone", ["+1 512 555 0100", "5125550100", "+0125550100", "+1234", "+1" + "2" * 15, ""])
def test_phones_are_e164(phone: str) -> None:
    assert refused(customer(phone=phone)) == {"phone"}
    contacts = [{"name": "John Doe", "phone": phone, "relation": "husband"}]
    assert refused(customer(emergency_contacts=contacts)) == {"emergency_contacts.0.phone"}


@pytest.mark.parametrize("months", [0, -1, 121, 12.5, "12", None])
def test_a_contract_term_is_1_to_120_months(months: Any) -> None:
    assert refused(customer(contract_term_months=months)) == {"contract_term_months"}


@pytest.mark.parametrize("months", [1, 120])
def test_the_bounds_of_a_term_are_taken(months: int) -> None:
    assert PurchasedCustomer.model_validate(customer(contract_term_months=months)).contract_term_months == months


@pytest.mark.parametrize("amount", [-1, 49.99, "4999", MAX_AMOUNT_MINOR + 1, True, None])
def test_amounts_are_non_negative_integers_in_minor_units(amount: Any) -> None:
    assert refused(customer(monthly_amount=amount, activation_fee=amount)) == {"monthly_amount", "activation_fee"}


def test_a_free_activation_is_an_amount() -> None:
    assert PurchasedCustomer.model_validate(customer(activation_fee=0)).activation_fee == 0


@pytest.mark.parametrize("currency", ["usd", "XXX", "DOLLAR", None])
def test_amounts_have_an_iso_currency(currency: Any) -> None:
    assert refused(customer(currency=currency)) == {"currency"}


@pytest.mark.parametrize(
    "flags",
    [
        ["monitoring", "monitoring"],
        ["Monitoring"],
        ["with space"],
        ["x" * 41],
        [f"flag-{n}" for n in range(21)],
        "monitoring",
    ],
)
def test_service_flags_are_a_short_set_of_short_flags(flags: Any) -> None:
    assert {field.split(".")[0] for field in refused(customer(service_flags=flags))} == {"service_flags"}


def test_emergency_contacts_are_bounded_and_each_complete() -> None:
    contact = {"name": "John Doe", "phone": "+15125550101", "relation": "husband"}
    assert PurchasedCustomer.model_validate(customer(emergency_contacts=[contact] * 5)).emergency_contacts
    assert refused(customer(emergency_contacts=[contact] * 6)) == {"emergency_contacts"}
    assert refused(customer(emergency_contacts=[{**contact, "relation": ""}])) == {"emergency_contacts.0.relation"}
    assert refused(customer(emergency_contacts=[{"name": "John Doe"}])) == {
        "emergency_contacts.0.phone",
        "emergency_contacts.0.relation",
    }
    assert refused(customer(emergency_contacts=[{**contact, "extra": 1}])) == {"emergency_contacts.0.extra"}


def test_every_bad_field_is_named_at_once() -> None:
    body = customer(
        external_id="has space",
        first_name="",
        last_name="Doe\u202e",
        email="not-an-address",
        account_number="",
        address__state="QC",
        campaign_id="bad id",
        source_id="not-an-id",
    )
    assert refused(body) == {
        "external_id",
        "first_name",
        "last_name",
        "email",
        "account_number",
        "address.state",
        "campaign_id",
        "source_id",
    }


def test_required_fields() -> None:
    required = {
        "external_id",
        "first_name",
        "last_name",
        "phone",
        "address",
        "account_number",
        "monthly_amount",
        "activation_fee",
        "currency",
        "contract_term_months",
    }
    assert refused({}) == required
    assert (
        PurchasedCustomer.model_validate(
            customer(email=..., campaign_id=..., service_flags=..., emergency_contacts=...)
        ).model_dump()["service_flags"]
        == []
    )


def test_the_contact_address_keeps_the_state_as_its_region() -> None:
    address = CustomerAddress.model_validate(
        {"line1": "1 Rue", "city": "Montreal", "state": "QC", "postal_code": "h2x1y4", "country": "CA"}
    )
    assert address.as_contact_address() == {
        "line1": "1 Rue",
        "city": "Montreal",
        "region": "QC",
        "postal_code": "H2X1Y4",
        "country": "CA",
    }


def test_the_answered_account_says_its_minor_units() -> None:
    stored = PurchasedCustomer.model_validate(customer(currency="JPY")).stored()
    assert "external_id" not in stored and "address" not in stored
    assert CustomerAccount.of(stored).minor_units == 0

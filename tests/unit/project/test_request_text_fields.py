"""Every text field of every request model of the core is one-line or multi-line text (common.platform.validation):
each refuses a bidi override. What those two refuse and keep: tests/unit/platform/test_text_validation.py."""

from __future__ import annotations

from typing import Any

from common.platform.answers import Answer, Page
from pydantic import BaseModel, TypeAdapter, ValidationError

from tests.support import core_modules

# Text fields that are not shown to anyone: a password may hold any character.
NOT_SHOWN = {("Activation", "password"), ("InvitationRegistration", "password"), ("ReferralRegistration", "password")}
# What refusing a bidi override may look like: the check itself, an ASCII-only pattern (ids, codes), or a
# number that JSON may write as a string.
REFUSALS = {"hidden_character", "string_pattern_mismatch", "decimal_parsing"}
PROBE = "Pat\u202eRefe"
# The models of the run-time settings and of the documented responses take no request input, nor do answers.
NOT_REQUESTS = {"common.platform.settings", "common.web.openapi_docs"}


def _is_answer(model: type[BaseModel]) -> bool:
    return issubclass(model, (Answer, Page))


def _text_fields() -> dict[str, Any]:
    """Every field of every request model whose value may be a string (not an enumeration nor a time)."""
    modules = [module for module in core_modules() if module.__name__ not in NOT_REQUESTS]
    models = {
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
        and not _is_answer(value)
    }
    fields = {}
    for model in models:
        for name, field in model.model_fields.items():
            annotation = field.rebuild_annotation()
            schema = TypeAdapter(annotation).json_schema()
            options = schema.get("anyOf", [schema])
            if (model.__name__, name) not in NOT_SHOWN and any(
                o.get("type") == "string" and not {"enum", "const", "format"} & o.keys() for o in options
            ):
                fields[f"{model.__name__}.{name}"] = annotation
    return fields


def _refusal(annotation: Any) -> set[str]:
    """How the field answers a value with a bidi override: the error types (empty: accepted)."""
    try:
        TypeAdapter(annotation).validate_python(PROBE)
    except ValidationError as error:
        return {str(e["type"]) for e in error.errors()}
    return set()


def test_every_text_field_of_every_request_model_refuses_a_bidi_override() -> None:
    answers = {name: _refusal(annotation) for name, annotation in _text_fields().items()}

    assert {name: types for name, types in answers.items() if not types or not types <= REFUSALS} == {}


def test_the_names_subjects_and_notes_are_among_the_fields_checked() -> None:
    checked = {name for name, annotation in _text_fields().items() if _refusal(annotation) == {"hidden_character"}}

    assert {
        "NewPartner.first_name",
        "PartnerEdit.last_name",
        "AccountChange.first_name",
        "ReferralRegistration.last_name",
        "NewInvitation.subject",
        "NewOrganisation.name",
        "MembershipChange.display_name",
        "NewTeam.name",
        "MemberDetails.display_name",
        "NewWorkflow.name",
        "NewStage.name",
        "NewCompany.name",
        "CompanyPatch.contact_person",
        "LeadContact.contact_name",
        "StaffContact.last_name",
        "NewDeal.title",
        "NewTemplate.name",
        "NewTemplate.subject",
        "NewTemplate.body",
        "NewNote.body",
        "NewFile.name",
        "ReferralCustomer.first_name",
        "NewReferralRequest.summary",
        "Rejection.reason",
        "Correction.reason",
        "NewTask.title",
    } <= checked

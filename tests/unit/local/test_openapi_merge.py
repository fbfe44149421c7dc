"""The API functions' documents merge into one only when no name or operation means two things."""

from __future__ import annotations

from typing import Any

import pytest

from local.openapi import DocumentConflict, merge


def _document(schemas: dict[str, Any], paths: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": paths or {},
        "components": {"schemas": schemas},
    }


STATUS_OF_A_PARTNER = {"type": "object", "properties": {"status": {"enum": ["LIVE", "ARCHIVED"]}, "reason": {}}}
STATUS_OF_A_CUSTOMER = {"type": "object", "properties": {"status": {"enum": ["contacted", "closed"]}, "note": {}}}


def test_two_different_schemas_under_one_name_are_refused() -> None:
    with pytest.raises(DocumentConflict, match="StatusChange"):
        merge([_document({"StatusChange": STATUS_OF_A_PARTNER}), _document({"StatusChange": STATUS_OF_A_CUSTOMER})])


def test_one_operation_documented_differently_twice_is_refused() -> None:
    first = {"/orgs": {"get": {"summary": "List organisations"}}}
    second = {"/orgs": {"get": {"summary": "Something else"}}}
    with pytest.raises(DocumentConflict, match="GET /orgs"):
        merge([_document({}, first), _document({}, second)])


def test_shared_schemas_and_separate_operations_merge() -> None:
    problem = {"type": "object", "properties": {"type": {"type": "string"}}}
    merged = merge(
        [
            _document({"Problem": problem, "PartnerStatusChange": STATUS_OF_A_PARTNER}, {"/a": {"get": {}}}),
            _document({"Problem": problem, "CustomerStatusChange": STATUS_OF_A_CUSTOMER}, {"/a": {"post": {}}}),
        ]
    )
    assert set(merged["components"]["schemas"]) == {"Problem", "PartnerStatusChange", "CustomerStatusChange"}
    assert set(merged["paths"]["/a"]) == {"get", "post"}


def test_the_webhooks_of_one_document_join_the_others_and_share_their_schemas() -> None:
    lead = {"type": "object", "properties": {"lead_id": {"type": "string"}}}
    received = {"post": {"summary": "lead.received"}}
    events = {**_document({"Lead": lead}), "webhooks": {"lead.received": received}}
    merged = merge([_document({"Lead": lead}, {"/leads": {"get": {"summary": "Leads"}}}), events])
    assert merged["webhooks"] == {"lead.received": received}
    assert set(merged["paths"]) == {"/leads"} and merged["components"]["schemas"] == {"Lead": lead}
    other = {**_document({}), "webhooks": {"lead.received": {"post": {"summary": "another"}}}}
    with pytest.raises(DocumentConflict, match=r"POST lead\.received"):
        merge([events, other])

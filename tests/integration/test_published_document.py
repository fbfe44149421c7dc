"""The published OpenAPI document (what the stack serves at /openapi.json) says exactly what the API answers:
names mean one thing, the gateway's and Twilio's parts are in it, and the checker every integration test
runs under (tests/integration/contract.py) notices an answer the document does not describe."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from tests.integration.conftest import ApiSession
from tests.integration.support.actors import Organisation, new_organisation
from tests.integration.support.contract import ResponseContract
from tests.integration.test_sms_webhook import inbound, new_phone, post_signed, reply_of

PLAIN_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*(-Input|-Output)?$")


@pytest.fixture(scope="module")
def document(stack: LocalStack) -> dict[str, Any]:
    return requests.get(f"{stack.url}/openapi.json", timeout=30).json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def org(stack: LocalStack) -> Organisation:
    return new_organisation(stack, reps=1)


def test_every_component_has_a_name_of_its_own(document: dict[str, Any]) -> None:
    # Two models of one name in one function come out as module-qualified names (partners__x__Name);
    # two functions' models of one name make the merge refuse the document (a 500 here).
    names = list(document["components"]["schemas"])
    assert [name for name in names if not PLAIN_NAME.match(name)] == []
    assert "PartnerStatusChange" in names and "CustomerStatusChange" in names


def test_partner_and_customer_status_changes_are_documented_with_their_own_bodies(
    document: dict[str, Any],
) -> None:
    def body_of(path: str) -> dict[str, Any]:
        schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        name = schema["$ref"].rsplit("/", 1)[-1]
        return document["components"]["schemas"][name]  # type: ignore[no-any-return]

    partner = body_of("/orgs/{org_id}/partners/{partner_id}/status")
    customer = body_of("/orgs/{org_id}/teams/{team_id}/customers/{customer_id}/status")
    assert "reason" in partner["properties"] and "note" not in partner["properties"]
    assert "note" in customer["properties"] and "reason" not in customer["properties"]


def test_the_gateways_own_refusals_are_documented_on_every_token_route(
    document: dict[str, Any], http: ApiSession
) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:
                continue
            for status in ("401", "403"):
                content = operation["responses"][status]["content"]
                assert set(content) == {"application/json", "application/problem+json"}, (method, path, status)
    # As the gateway answers them (the contract checks these bodies against the document too).
    assert http.get("/orgs").json() == {"message": "Unauthorized"}
    refused = http.get("/orgs", headers={"Authorization": "Bearer not-a-token"})
    assert (refused.status_code, refused.json()) == (403, {"message": "Forbidden"})


def test_twilios_webhooks_are_documented_as_twilio_calls_them(document: dict[str, Any]) -> None:
    for path, form in (("/twilio/sms", "TwilioInboundMessage"), ("/twilio/status", "TwilioStatusCallback")):
        operation = document["paths"][path]["post"]
        assert operation["security"] == []
        assert {"name": "X-Twilio-Signature", "in": "header"}.items() <= operation["parameters"][0].items()
        body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{form}"}
        assert set(operation["responses"]["200"]["content"]) == {"text/xml"}
        assert operation["responses"]["403"]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }


def test_a_signed_reply_from_an_unknown_number_is_answered_as_documented(stack: LocalStack) -> None:
    # Checked against the document like every answer; the TwiML itself is read here too.
    answer = post_signed(f"{stack.url}/twilio/sms", inbound("HELP", new_phone()))
    assert reply_of(answer)


def test_the_checker_refuses_an_answer_the_document_does_not_describe(
    stack: LocalStack, document: dict[str, Any], org: Organisation
) -> None:
    answer = org.admin.call("GET", f"/orgs/{org.org_id}")
    assert answer.status_code == 200
    faithful = ResponseContract(stack.url, document, stack.routes)
    faithful.check(answer)
    assert faithful.take_violations() == []

    # The same answer against a document that requires a field the answer lacks, then one without a 200.
    stricter = copy.deepcopy(document)
    operation = stricter["paths"]["/orgs/{org_id}"]["get"]
    schema = {"type": "object", "required": ["no_such_field"]}
    operation["responses"]["200"]["content"]["application/json"]["schema"] = schema
    checker = ResponseContract(stack.url, stricter, stack.routes)
    checker.check(answer)
    assert any("no_such_field" in violation for violation in checker.take_violations())
    del operation["responses"]["200"]
    checker = ResponseContract(stack.url, stricter, stack.routes)
    checker.check(answer)
    assert len(checker.take_violations()) == 1


def test_a_path_the_api_does_not_serve_may_answer_only_not_found(
    stack: LocalStack, document: dict[str, Any], org: Organisation
) -> None:
    checker = ResponseContract(stack.url, document, stack.routes)
    missing = org.admin.call("GET", f"/orgs/{org.org_id}/no-such-listing")
    assert missing.status_code == 404
    checker.check(missing)
    assert checker.take_violations() == []

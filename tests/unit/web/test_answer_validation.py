"""Every answer is validated against its route's return type (common.web.resolver): one that does not fit is a
500 internal problem, never the caller's 422; it is logged with the route and the fields (not the values) and
counted as InvalidAnswers. A 204 has no body to validate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import Response
from common.platform.answers import Answer, Page, page_of
from common.platform.observability import metrics
from common.web.resolver import INVALID_ANSWERS_METRIC, create_resolver

from tests.support import FakeContext, http_event


class Thing(Answer):
    thing_id: str
    count: int


@pytest.fixture
def app() -> Any:
    resolver = create_resolver()

    @resolver.get("/things/fits")
    def fits() -> Thing:
        return Thing.of({"thing_id": "t1", "count": 2, "pk": "storage, never answered"})

    @resolver.get("/things/wrong")
    def wrong() -> Thing:
        return {"thing_id": "t1", "count": "private value, not a number"}  # type: ignore[return-value]

    @resolver.get("/things/page")
    def listing() -> Page[Thing]:
        return page_of(Thing, [{"thing_id": "t1", "count": 1}, {"thing_id": "t2", "count": 2}], "next")

    @resolver.post("/things/maybe")
    def maybe() -> Response[Thing]:
        return Response(status_code=204, body=None)

    return resolver


def answer(app: Any, method: str, path: str) -> dict[str, Any]:
    return app.resolve(http_event(method, path, user="user-1"), FakeContext())  # type: ignore[no-any-return]


def test_an_answer_that_fits_is_answered_with_its_declared_fields_only(app: Any) -> None:
    fits = answer(app, "GET", "/things/fits")

    assert fits["statusCode"] == 200 and json.loads(fits["body"]) == {"thing_id": "t1", "count": 2}
    listed = json.loads(answer(app, "GET", "/things/page")["body"])
    assert listed == {"items": [{"thing_id": "t1", "count": 1}, {"thing_id": "t2", "count": 2}], "next_cursor": "next"}


def test_an_answer_that_does_not_fit_is_a_500_logged_and_counted(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    metrics.clear_metrics()

    wrong = answer(app, "GET", "/things/wrong")

    body = json.loads(wrong["body"])
    assert wrong["statusCode"] == 500 and wrong["headers"]["Content-Type"] == "application/problem+json"
    assert body["type"].endswith("/internal") and body["instance"] == "/things/wrong"
    assert INVALID_ANSWERS_METRIC in metrics.metric_set
    (record,) = [r for r in caplog.records if r.getMessage() == "answer does not fit its type"]
    assert (record.levelname, record.route, record.fields) == ("ERROR", "GET /things/wrong", ["response.count"])
    assert "private value" not in json.dumps(vars(record), default=str)
    metrics.clear_metrics()


def test_a_204_has_no_body_to_validate(app: Any) -> None:
    maybe = answer(app, "POST", "/things/maybe")

    assert maybe["statusCode"] == 204 and not maybe.get("body")

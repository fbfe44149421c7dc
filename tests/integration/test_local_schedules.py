"""Firing a schedule on demand: `POST /_local/schedules/<function>` invokes a kind == "schedule" function
with the event EventBridge Scheduler sends, at the functions' (movable) clock.

Throwaway handlers defined here are registered on the running stack; the worker processes import them
from this module, as Lambda imports a handler.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from infra.manifest import LEADS_API, SCHEDULES, STATUS_SWEEP, STATUS_SWEEP_WORK, Function
from local.dev import describe_stack
from local.stack import LocalStack
from tests.integration.conftest import ApiSession


def echo_schedule_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from common.platform import clock

    return {"event": event, "now": clock.now().isoformat(), "function_name": context.function_name}


def failing_schedule_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("this sweep always fails")


ECHO = Function("TestScheduleEcho", "tests", f"{__name__}.echo_schedule_handler", "schedule")
FAILING = Function("TestScheduleFailing", "tests", f"{__name__}.failing_schedule_handler", "schedule")


@pytest.fixture(scope="module", autouse=True)
def scheduled_functions(stack: LocalStack) -> Iterator[None]:
    for function in (ECHO, FAILING):
        stack.register_function(function)
    yield
    for function in (ECHO, FAILING):
        stack.unregister_function(function.name)


def test_firing_delivers_the_scheduler_event_at_the_functions_clock(stack: LocalStack, http: ApiSession) -> None:
    try:
        stack.set_clock_offset(31 * 86400)
        response = http.post(f"/_local/schedules/{ECHO.name}")
        expected_now = stack.now()
    finally:
        stack.set_clock_offset(0)

    assert response.status_code == 200, response.text
    answer = response.json()
    event = answer["event"]
    assert answer["function_name"] == ECHO.name
    assert (event["source"], event["detail-type"], event["detail"]) == ("aws.scheduler", "Scheduled Event", {})
    assert event["region"] == stack.region
    (resource,) = event["resources"]
    assert resource.startswith(f"arn:aws:scheduler:{stack.region}:") and resource.endswith(
        f":schedule/default/{ECHO.name}"
    )
    # The event's time and the function's clock are both the moved clock, a month ahead.
    fired_at = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    assert abs((fired_at - expected_now).total_seconds()) < 60
    assert abs((datetime.fromisoformat(answer["now"]) - expected_now).total_seconds()) < 60


def test_status_sweep_fires_on_demand(stack: LocalStack, http: ApiSession) -> None:
    before = stack.invocation_count(STATUS_SWEEP.name)

    response = http.post(f"/_local/schedules/{STATUS_SWEEP.name}")

    assert STATUS_SWEEP.kind == "schedule" and STATUS_SWEEP.name in SCHEDULES
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert stack.invocation_count(STATUS_SWEEP.name) == before + 1


def test_the_sweeps_work_runs_from_its_own_queue_as_deployed(stack: LocalStack) -> None:
    # The sweep is told its work queue; the work function reads it (the queue consumers' poller) and is no
    # schedule of its own.
    queues = stack.work_queues[STATUS_SWEEP_WORK.name]
    attributes = stack.client("sqs").get_queue_attributes(QueueUrl=queues.queue_url, AttributeNames=["All"])
    redrive = attributes["Attributes"]["RedrivePolicy"]

    assert STATUS_SWEEP_WORK.kind == "work" and STATUS_SWEEP_WORK.name not in SCHEDULES
    assert stack.env["SWEEP_WORK_QUEUE_URL"] == queues.queue_url
    assert f'"maxReceiveCount":{STATUS_SWEEP_WORK.queue_max_receive_count}' in redrive.replace(" ", "")
    assert STATUS_SWEEP_WORK.name not in stack.change_queues  # not one of the dispatcher's consumers


def test_only_scheduled_functions_can_be_fired(stack: LocalStack, http: ApiSession) -> None:
    api_calls = stack.invocation_count(LEADS_API.name)

    unknown = http.post("/_local/schedules/NoSuchFunction")
    not_scheduled = http.post(f"/_local/schedules/{LEADS_API.name}")

    assert unknown.status_code == 404
    assert unknown.json() == {"message": "no scheduled function named NoSuchFunction"}
    assert not_scheduled.status_code == 404
    assert stack.invocation_count(LEADS_API.name) == api_calls
    # Only POST fires; anything else is an API request like any other (no such route).
    assert http.get(f"/_local/schedules/{ECHO.name}").status_code == 404


def test_a_failing_scheduled_function_answers_500_with_lambdas_error(http: ApiSession) -> None:
    response = http.post(f"/_local/schedules/{FAILING.name}")

    assert response.status_code == 500
    assert response.json()["errorType"] == "RuntimeError"
    assert response.json()["errorMessage"] == "this sweep always fails"


def test_make_dev_banner_shows_how_to_fire_the_sweep_and_the_public_routes(stack: LocalStack) -> None:
    banner = describe_stack(stack)

    assert f"curl -X POST {stack.url}/_local/schedules/{STATUS_SWEEP.name}" in banner
    assert SCHEDULES[STATUS_SWEEP.name] in banner
    assert f"{stack.url}/public/{{proxy+}}" in banner
    assert stack.files_bucket in banner

"""The stack's outputs the operator tools (ops/) find a stage by: each name the tools read is an output, and
points at the resource the tool means (the names are infra.constants', for the stack and the tools alike)."""

from __future__ import annotations

from typing import Any

import pytest

from infra import constants, manifest
from ops.stage import Outputs
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def test_every_output_the_tools_read_exists_and_names_what_they_mean(dev: Synth) -> None:
    template = dev.template["Outputs"]
    # The tools' reading of the stack: each name they ask for answers with that name, or raises.
    outputs = Outputs({name: name for name in template}, "the synthesized stack")
    read = {
        outputs.region,
        outputs.table_name,
        outputs.stream_arn,
        outputs.stream_failures_url,
        *(url for q in outputs.consumer_queues() for url in (q.queue_url, q.dead_letters_url)),
    }
    assert read <= template.keys()

    def value(name: str) -> Any:
        return template[name]["Value"]

    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    assert value(outputs.table_name) == {"Ref": table_id}
    assert value(outputs.stream_arn) == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert value(outputs.region) == {"Ref": "AWS::Region"}
    dispatcher = dev.mapping_of(manifest.STREAM_DISPATCHER.name)
    assert dispatcher["EventSourceArn"] == value(outputs.stream_arn)
    failures_id = dispatcher["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert value(outputs.stream_failures_url) == {"Ref": failures_id}
    for queues in outputs.consumer_queues():
        queue_id = dev.mapping_of(queues.consumer)["EventSourceArn"]["Fn::GetAtt"][0]
        dead_letters_id = dev.template["Resources"][queue_id]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
        assert value(queues.queue_url) == {"Ref": queue_id}
        assert {"Fn::GetAtt": [value(queues.dead_letters_url)["Ref"], "Arn"]} == dead_letters_id


def test_the_outputs_keep_the_names_the_runbook_gives(dev: Synth) -> None:
    names = dev.template["Outputs"].keys()
    assert {
        constants.OUTPUT_REGION,
        constants.OUTPUT_TABLE_NAME,
        constants.OUTPUT_TABLE_STREAM_ARN,
        constants.OUTPUT_STREAM_FAILURE_QUEUE_URL,
        "LeadsEventsQueueUrl",
        "PayoutsEventsDeadLetterQueueUrl",
    } <= names

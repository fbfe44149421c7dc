"""How the tools find a stage (ops.stage): by its own stack's outputs (moto's CloudFormation), never by a name
prefix, so `dev` is not `dev-alice`; the local stack by its state file, under the same output names."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from common.platform.change_fanout import CONSUMER_FILTERS

from infra import constants
from local import state
from ops import redrive, stage
from ops.stage import StageNotFound
from tests.unit.ops.conftest import messages_held


def stage_template(*, without: str = "") -> str:
    """A stage's stack as far as the tools see it: the queues (named by CloudFormation after the stack) and
    the outputs, under infra.constants' names."""
    resources: dict[str, Any] = {"Failures": {"Type": "AWS::SQS::Queue"}}
    outputs: dict[str, Any] = {
        constants.OUTPUT_REGION: {"Value": "us-east-1"},
        constants.OUTPUT_TABLE_NAME: {"Value": {"Fn::Sub": "${AWS::StackName}-table"}},
        constants.OUTPUT_TABLE_STREAM_ARN: {"Value": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/1"},
        constants.OUTPUT_STREAM_FAILURE_QUEUE_URL: {"Value": {"Ref": "Failures"}},
    }
    for consumer in CONSUMER_FILTERS:
        resources[f"{consumer}DeadLetters"] = {"Type": "AWS::SQS::Queue"}
        resources[f"{consumer}Queue"] = {"Type": "AWS::SQS::Queue"}
        outputs[constants.consumer_queue_output(consumer)] = {"Value": {"Ref": f"{consumer}Queue"}}
        outputs[constants.consumer_dead_letter_queue_output(consumer)] = {"Value": {"Ref": f"{consumer}DeadLetters"}}
    outputs.pop(without, None)
    return json.dumps({"Resources": resources, "Outputs": outputs})


def deploy(name: str, **template: str) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=constants.stack_name(name), TemplateBody=stage_template(**template))
    return stage.stack_outputs(cloudformation, constants.stack_name(name))


def test_a_stage_is_its_own_stack_not_every_stack_its_name_begins(monkeypatch: pytest.MonkeyPatch) -> None:
    alice = deploy("dev-alice")
    dev = deploy("dev")

    found = stage.deployed("dev", boto3.Session())

    assert found.outputs.values == dev
    assert found.outputs.table_name == "PartnerProgramme-dev-table"
    alices_urls = {v for k, v in alice.items() if k.endswith("QueueUrl")}
    devs_urls = {q.queue_url for q in found.outputs.consumer_queues()} | {
        q.dead_letters_url for q in found.outputs.consumer_queues()
    }
    assert len(devs_urls) == 2 * len(CONSUMER_FILTERS) and devs_urls.isdisjoint(alices_urls)

    # `make redrive STAGE=dev` leaves dev-alice's dead letters alone.
    sqs = boto3.client("sqs")
    alices_dead_letters = alice[constants.consumer_dead_letter_queue_output("LeadsEvents")]
    devs_dead_letters = dev[constants.consumer_dead_letter_queue_output("LeadsEvents")]
    sqs.send_message(QueueUrl=alices_dead_letters, MessageBody="alice's")
    sqs.send_message(QueueUrl=devs_dead_letters, MessageBody="dev's")
    monkeypatch.setattr(stage, "DEPLOYED_RECEIVE_WAIT_SECONDS", 0)  # moto's SQS answers at once

    assert redrive.main(["--stage", "dev", "--region", "us-east-1"]) == 0

    assert messages_held(sqs, alices_dead_letters) == 1
    assert messages_held(sqs, devs_dead_letters) == 0
    assert messages_held(sqs, dev[constants.consumer_queue_output("LeadsEvents")]) == 1


def test_an_output_the_stack_lacks_is_named() -> None:
    deploy("dev", without=constants.OUTPUT_TABLE_STREAM_ARN)
    outputs = stage.deployed("dev", boto3.Session()).outputs

    assert outputs.table_name == "PartnerProgramme-dev-table"
    with pytest.raises(StageNotFound, match="stack PartnerProgramme-dev has no output TableStreamArn"):
        _ = outputs.stream_arn


def test_a_stage_without_a_stack_is_not_found(capsys: pytest.CaptureFixture[str]) -> None:
    deploy("dev-alice")
    with pytest.raises(StageNotFound, match="no stack PartnerProgramme-dev"):
        stage.deployed("dev", boto3.Session())
    assert redrive.main(["--stage", "dev", "--region", "us-east-1"]) == 2
    assert "no stack PartnerProgramme-dev" in capsys.readouterr().err


def test_the_local_stack_is_found_by_its_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dev.json"
    outputs = {constants.OUTPUT_TABLE_NAME: "partner-programme-local"}
    addresses = ("http://api", "http://token", "http://moto", "http://ddb")
    state.write(state.DevState(os.getpid(), *addresses, "us-east-1", "pool", "client", outputs=outputs), path)

    found = stage.from_arguments(_arguments("--local-state", str(path)))

    assert (found.name, found.outputs.table_name, found.receive_wait_seconds) == ("local", "partner-programme-local", 0)
    missing = str(tmp_path / "none.json")
    with pytest.raises(StageNotFound, match="no local stack is running"):
        stage.from_arguments(_arguments("--local-state", missing))
    assert redrive.main(["--local-state", missing]) == 2
    assert "start one with `make dev`" in capsys.readouterr().err


def _arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    stage.add_arguments(parser)
    return parser.parse_args(argv)

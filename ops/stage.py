"""Where the tools find a stage: its stack's outputs (CloudFormation DescribeStacks of `PartnerProgramme-<stage>`,
that stack only, never a name prefix), or, for the running `make dev` stack, the same outputs as the local
stack writes them to .local/dev.json. The output names are infra.constants', which infra/stack.py declares.

    --stage prod [--region R] [--profile P]   a deployed stage, with your AWS credentials
    (nothing)                                 the running `make dev` stack
    --local-state FILE                        a local stack's state file (another checkout's, a test's)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from common.platform.change_fanout import CONSUMER_FILTERS

from infra import constants
from local import state
from local.project import STATE_FILE

# Long polling asks every SQS server, so an empty answer means an empty queue; 1 s is the shortest wait. The
# local stack's SQS (moto) is one server: a short poll there sees everything, and a test never waits.
DEPLOYED_RECEIVE_WAIT_SECONDS = 1


class StageNotFound(Exception):
    """The stage cannot be reached or does not say where something is."""


@dataclass(frozen=True)
class ConsumerQueues:
    """A change consumer's queue and the dead-letter queue of what it failed on for good."""

    consumer: str
    queue_url: str
    dead_letters_url: str


@dataclass(frozen=True)
class Outputs:
    """A stage's stack outputs, by name; `source` says where they were read, for messages."""

    values: Mapping[str, str]
    source: str

    def get(self, name: str) -> str:
        value = self.values.get(name)
        if not value:
            raise StageNotFound(f"{self.source} has no output {name}: deploy this version of the stack first")
        return value

    @property
    def region(self) -> str:
        return self.get(constants.OUTPUT_REGION)

    @property
    def table_name(self) -> str:
        return self.get(constants.OUTPUT_TABLE_NAME)

    @property
    def stream_arn(self) -> str:
        return self.get(constants.OUTPUT_TABLE_STREAM_ARN)

    @property
    def stream_failures_url(self) -> str:
        return self.get(constants.OUTPUT_STREAM_FAILURE_QUEUE_URL)

    def consumer_queues(self) -> list[ConsumerQueues]:
        """Every consumer the stream dispatcher feeds (common.platform.change_fanout), with its queues."""
        return [
            ConsumerQueues(
                consumer,
                self.get(constants.consumer_queue_output(consumer)),
                self.get(constants.consumer_dead_letter_queue_output(consumer)),
            )
            for consumer in CONSUMER_FILTERS
        ]

    def queue_urls(self) -> dict[str, str]:
        """Each consumer's queue, as the dispatcher is given them (CONSUMER_QUEUE_URLS)."""
        return {queues.consumer: queues.queue_url for queues in self.consumer_queues()}


@dataclass(frozen=True)
class Stage:
    """A stage the tools act on: its outputs, and boto3 clients that reach its services."""

    name: str
    outputs: Outputs
    client: Callable[[str], Any]  # a service name ("sqs", "dynamodb", "dynamodbstreams") to its client
    receive_wait_seconds: int  # how long an empty ReceiveMessage waits for a message


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The outputs of exactly the stack named (DescribeStacks takes a name, not a prefix)."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise StageNotFound(f"no stack {stack_name}: {error.response['Error'].get('Message', error)}") from error
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def deployed(stage: str, session: Any) -> Stage:
    """A deployed stage, found by its stack's outputs with `session`'s credentials and region."""
    name = constants.stack_name(stage)
    try:
        outputs = stack_outputs(session.client("cloudformation"), name)
    except BotoCoreError as error:  # no credentials, no region, no network
        raise StageNotFound(f"cannot read the stack {name}: {error}") from error
    return Stage(stage, Outputs(outputs, f"stack {name}"), session.client, DEPLOYED_RECEIVE_WAIT_SECONDS)


def local(dev: state.DevState, source: str = "the local stack") -> Stage:
    """A running local stack, by the outputs its state file holds."""
    return Stage("local", Outputs(dev.outputs, source), dev.client, 0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", help="a deployed stage, found by its stack's outputs (default: `make dev`'s)")
    parser.add_argument("--region", help="the stage's region (default: your AWS configuration's)")
    parser.add_argument("--profile", help="the AWS profile to use (default: your AWS configuration's)")
    parser.add_argument(
        "--local-state",
        type=Path,
        default=STATE_FILE,
        help="the state file of the local stack to use (default: the running `make dev` stack's)",
    )


def from_arguments(args: argparse.Namespace) -> Stage:
    if args.stage:
        try:
            session = boto3.Session(profile_name=args.profile, region_name=args.region)
        except BotoCoreError as error:  # an unknown profile
            raise StageNotFound(str(error)) from error
        return deployed(args.stage, session)
    dev = state.read(args.local_state)
    if dev is None:
        raise StageNotFound("no local stack is running: start one with `make dev`, or name a stage with --stage")
    return local(dev, str(args.local_state))

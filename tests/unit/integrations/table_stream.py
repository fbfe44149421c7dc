"""The table's stream as moto keeps it: the records of what the domain wrote, read back in the shape a Lambda
stream event carries them (local.stream_poller.lambda_record), which is how the dispatcher hands them on. Tests
of the events drive the domain and read what its writes put on the stream, so the records are real ones; every
event they mean is checked against its type's published JSON Schema (docs/events)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from common.integrations.change_events import events_of
from common.integrations.events import Event
from jsonschema import Draft202012Validator

from local.event_schemas import SCHEMAS_DIR
from local.stream_poller import lambda_record
from tests.unit.conftest import TABLE

REGION = "us-east-1"


class TableStream:
    """Reads the stream from where it stood when made: each `read` returns what was written since the last."""

    def __init__(self) -> None:
        self._streams = boto3.client("dynamodbstreams")
        self.arn = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        (shard,) = self._streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]

    def read(self) -> list[dict[str, Any]]:
        response = self._streams.get_records(ShardIterator=self._iterator)
        self._iterator = response["NextShardIterator"]
        return [lambda_record(raw, self.arn, REGION) for raw in response["Records"]]

    def events(self) -> list[Event]:
        """The events of every record written since the last read, in the order written."""
        return [published(event) for record in self.read() for event in events_of(record)]

    def types(self) -> list[str]:
        return [event.type for event in self.events()]


def published(event: Event) -> Event:
    """The event, once its body is checked against the JSON Schema published for its type and version."""
    schema = json.loads((SCHEMAS_DIR / f"{event.type}.v{event.version}.json").read_text())
    Draft202012Validator(schema).validate(json.loads(event.model_dump_json()))
    return event


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[TableStream]:
    """The stream from now on (of the table each unit test gets)."""
    # moto serves DynamoDB Streams at the regional endpoint only, not at the account's.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    yield TableStream()

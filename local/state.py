"""The running dev stack's coordinates, written to .local/dev.json so other commands can find it: `make token`
(local.token) and the operator tools (ops/), which read the stack's endpoints from `outputs`, named as the
deployed stack's outputs are (infra.constants)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from infra import constants
from local.project import STATE_FILE

if TYPE_CHECKING:
    from local.stack import LocalStack

# Dummy credentials: DynamoDB Local and moto accept any.
ACCESS_KEY_ID = "local"
SECRET_ACCESS_KEY = "local"  # noqa: S105 - not a secret: the local services accept any


def service_client(
    service: str, *, region: str, moto_endpoint: str, dynamodb_endpoint: str, config: Config | None = None
) -> Any:
    """A boto3 client for a local stack's endpoint of that service (DynamoDB Local for the table and its
    stream, moto for the rest), with the dummy credentials."""
    endpoint = dynamodb_endpoint if service in ("dynamodb", "dynamodbstreams") else moto_endpoint
    return boto3.client(
        service,  # type: ignore[call-overload]  # any service name, not one of the stubs' literals
        region_name=region,
        endpoint_url=endpoint,
        config=config,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


@dataclass(frozen=True)
class DevState:
    pid: int
    url: str
    token_url: str
    moto_endpoint: str
    dynamodb_endpoint: str
    region: str
    user_pool_id: str
    portal_client_id: str
    # The stack's endpoints under the names of the deployed stack's outputs (TableName, <Consumer>QueueUrl...).
    outputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, stack: LocalStack) -> DevState:
        """Where a running stack is, as `make dev` writes it for other commands."""
        return cls(
            pid=os.getpid(),
            url=stack.url,
            token_url=stack.token_url,
            moto_endpoint=stack.moto_endpoint,
            dynamodb_endpoint=stack.dynamodb_endpoint,
            region=stack.region,
            user_pool_id=stack.user_pool_id,
            portal_client_id=stack.portal_client_id,
            outputs=outputs(stack),
        )

    def client(self, service: str) -> Any:
        return service_client(
            service, region=self.region, moto_endpoint=self.moto_endpoint, dynamodb_endpoint=self.dynamodb_endpoint
        )


def outputs(stack: LocalStack) -> dict[str, str]:
    """A stack's endpoints under the names of the deployed stack's outputs, which the operator tools (ops/)
    read: from .local/dev.json here, from CloudFormation for a stage."""
    return {
        constants.OUTPUT_REGION: stack.region,
        constants.OUTPUT_TABLE_NAME: stack.table_name,
        constants.OUTPUT_TABLE_STREAM_ARN: stack.stream_arn,
        constants.OUTPUT_STREAM_FAILURE_QUEUE_URL: stack.stream_failures_url,
        **{constants.consumer_queue_output(name): q.queue_url for name, q in stack.change_queues.items()},
        **{
            constants.consumer_dead_letter_queue_output(name): q.dead_letters_url
            for name, q in stack.change_queues.items()
        },
    }


def write(state: DevState, path: Path = STATE_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2) + "\n")


def read(path: Path = STATE_FILE) -> DevState | None:
    """The state of a dev stack that is still running, else None."""
    try:
        state = DevState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by someone else
    return state


def remove(path: Path = STATE_FILE) -> None:
    path.unlink(missing_ok=True)

"""The local stack: the deployment's functions, routes and table, run on this machine.

DynamoDB Local (Java) holds the table, built from the same definition CDK uses; moto serves Cognito, SES and
the other services; the front plays API Gateway (routes, the token authorizer, payload 2.0 events);
worker processes play Lambda; the stream poller plays the event source mappings. Functions reach the
services through the standard AWS_ENDPOINT_URL* variables, so their code has no local branches.

    with LocalStack() as stack:
        token = stack.user_token(email, password)
        requests.get(f"{stack.url}/orgs", headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import requests
from botocore.config import Config
from common.platform.settings import environment
from common.platform.table_schema import create_table_request

from infra import constants
from infra.manifest import FUNCTIONS, LEAD_INTAKE_SCOPE, STREAM_DISPATCHER, Function, Route, gateway_routes
from local import cognito, failures, openapi, worker
from local.apigw_events import Api
from local.cors import Cors
from local.dynamodb_local import DynamoDBLocal
from local.endpoints import LocalEndpoints
from local.front import Front
from local.gateway import Gateway
from local.http_messages import HttpRequest, HttpResponse
from local.invoker import ACCOUNT_ID, DEFAULT_WORKERS, Invoker
from local.kept_data import KeptData
from local.moto_server import MotoServer
from local.oauth import MachineTokenIssuer
from local.outbox import Outbox
from local.queue_poller import ChangeQueues, QueuePoller, create_queues
from local.schedules import scheduled_event
from local.shared_clock import SharedClock
from local.sms_replies import TwilioAccount
from local.state import ACCESS_KEY_ID, SECRET_ACCESS_KEY, DevState, service_client
from local.stream_poller import StartingPosition, StreamPoller
from local.twilio_fake import FakeTwilio
from local.worker import Invocation

log = logging.getLogger("local.stack")

REGION = "us-east-1"
TABLE_NAME = f"{constants.RESOURCE_PREFIX}-local"
EMAIL_FROM = "no-reply@partner-programme.example"
# The deployment's sender domains (senderDomains): domain identities in moto's SES, as an administrator
# verifies them.
SENDER_DOMAINS = ("inviters.example", "partners-own.example")
# Twilio as the functions see it locally: a fake Messages endpoint on loopback, the auth token in SSM.
TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "local-twilio-auth-token"  # noqa: S105 - the fake Twilio's token, loopback only
TWILIO_FROM_NUMBER = "+15005550006"
STAGE = "local"
API_ID = "local"

T = TypeVar("T")


def _aws_shaped_arn(arn: str, region: str) -> str:
    """DynamoDB Local names its streams in region "ddblocal", account 000000000000; Lambda events carry
    the real region and account."""
    parts = arn.split(":", 5)
    return ":".join([*parts[:3], region, ACCOUNT_ID, parts[5]]) if len(parts) == 6 else arn


class LocalStack:
    def __init__(
        self,
        *,
        functions: Iterable[Function] = FUNCTIONS,
        routes: Iterable[Route] = gateway_routes(),
        port: int = 0,
        dynamodb_port: int = 0,
        moto_port: int = 0,
        workers: int = DEFAULT_WORKERS,
        table_name: str = TABLE_NAME,
        email_from: str = EMAIL_FROM,
        stage: str = STAGE,
        region: str = REGION,
        cors_origins: Iterable[str] = (constants.DEV_PORTAL_ORIGIN,),
        kept: KeptData | None = None,
    ) -> None:
        self.cors = Cors(tuple(cors_origins))
        self.functions = {f.name: f for f in functions}
        self.routes = list(routes)
        self.table_name = table_name
        self.files_bucket = f"{table_name}-files"
        self.email_from = email_from
        self.stage = stage
        self.region = region
        self.startup_seconds = 0.0
        self._port = port
        self._workers = workers
        # Everything in memory, or (make dev --keep-data) the table and the user pool kept between runs.
        self.kept = kept
        self.restored = False  # whether this start found kept data
        self._running_fully = False
        self._dynamodb = DynamoDBLocal(dynamodb_port, database=kept.database if kept else None)
        self._moto = MotoServer(moto_port)
        self.twilio = FakeTwilio(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)
        self.twilio_auth_token_parameter = constants.twilio_auth_token_parameter(stage)
        self._lock = threading.Lock()
        self._openapi_cache: dict[str, Any] | None = None
        self._front: Front | None = None
        self._invoker: Invoker | None = None
        self._poller: StreamPoller | None = None
        self._queue_poller: QueuePoller | None = None
        self.change_queues: dict[str, ChangeQueues] = {}
        # Where the dispatcher's stream mapping reports the records it gave up on (its on-failure destination).
        self.stream_failures_url = ""
        self.stream_arn = ""  # DynamoDB Local's own ARN of the table's stream
        self._sqs: Any = None  # one client for the poller threads (a client is thread-safe, creating one is not)
        self._gateway: Gateway | None = None
        self._endpoints: LocalEndpoints | None = None
        self._tokens: MachineTokenIssuer | None = None
        self._outbox: Outbox | None = None
        self._clock: SharedClock | None = None
        self.user_pool_id = ""
        self.portal_client_id = ""
        self.issuer = ""  # of user and machine tokens alike, as in Cognito
        self.jwks: dict[str, Any] = {}  # moto's keys (user tokens) and the stack's (machine tokens)
        self.env: dict[str, str] = {}  # what the functions get

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        self._running_fully = True
        log.info("local stack ready at %s in %.1f s", self.url, self.startup_seconds)
        return self

    def _start(self) -> None:
        _check_routes(self.routes, self.functions)
        # Java first, from this thread and before any other thread exists (see dynamodb_local).
        self._dynamodb.launch()
        invoker = self._invoker = Invoker(
            region=self.region, workers=self._workers, preload=[f.handler for f in self.functions.values()]
        )
        clock = self._clock = SharedClock(invoker.clock_offset)
        restored = self.kept is not None and self.kept.restore()
        self._moto.start()
        self._front = Front(self._dispatch, self._port)
        cognito_client = self.client("cognito-idp")
        kept_pool = cognito.kept_user_pool(cognito_client, self.region) if restored else None
        pool = kept_pool or cognito.create_user_pool(cognito_client, self.region)
        self.user_pool_id, self.portal_client_id, self.issuer = pool.pool_id, pool.portal_client_id, pool.issuer
        for identity in (self.email_from, *SENDER_DOMAINS):
            self.client("sesv2").create_email_identity(EmailIdentity=identity)
        if kept_pool is None:  # a kept snapshot holds the bucket, with its files
            # us-east-1 is S3's default location and must not be named as a constraint.
            location = (
                {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            self.client("s3").create_bucket(Bucket=self.files_bucket, **location)
        self.client("ssm").put_parameter(
            Name=self.twilio_auth_token_parameter, Value=TWILIO_AUTH_TOKEN, Type="SecureString", Overwrite=True
        )
        self.twilio.start()
        tokens = self._tokens = MachineTokenIssuer(
            pool.issuer, lambda client_id: cognito.describe_client(cognito_client, pool.pool_id, client_id)
        )
        self.jwks = _merged_key_set(
            _fetch_key_set(f"{self.moto_endpoint}/{pool.pool_id}/.well-known/jwks.json"), tokens.jwks()
        )
        outbox = self._outbox = Outbox(clock.now, self.region)
        sqs = self._sqs = self.client("sqs")
        self.change_queues = {
            f.name: create_queues(sqs, self.table_name, f) for f in self.functions.values() if f.kind == "queue"
        }
        self.stream_failures_url = sqs.create_queue(QueueName=f"{self.table_name}-{STREAM_DISPATCHER.name}Failures")[
            "QueueUrl"
        ]
        self.env = self._function_environment()
        invoker.start(self.env)  # workers import the handlers while DynamoDB Local finishes starting

        self._dynamodb.wait_until_ready()
        stream_arn, self.restored = self._table()
        self.stream_arn = stream_arn
        api = Api(ACCOUNT_ID, API_ID, self.region, forwarded_port=self._front.port)
        gateway = self._gateway = Gateway(
            routes=self.routes,
            functions=self.functions.values(),
            invoker=invoker,
            api=api,
            clock=clock.now,
            cors=self.cors,
        )
        self._endpoints = LocalEndpoints(
            gateway=gateway,
            tokens=tokens,
            jwks=self.jwks,
            outbox=outbox,
            dead_letters=self.dead_letters,
            clock=clock,
            openapi_document=self.openapi_document,
            run_schedule=self.run_schedule,
            texts=self.texts,
            wait_for_changes=self.wait_for_streams,
            twilio=TwilioAccount(
                TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER, f"{self.url}{constants.SMS_WEBHOOK_PATH}"
            ),
            sms_webhook_path=constants.SMS_WEBHOOK_PATH,
        )
        poller = self._poller = StreamPoller(
            self.client("dynamodbstreams"),
            stream_arn,
            invoker.invoke,
            event_source_arn=_aws_shaped_arn(stream_arn, self.region),
            region=self.region,
            clock=clock.now,
            on_dead_letter=self._report_stream_failure,
        )
        queue_poller = self._queue_poller = QueuePoller(sqs, invoker.invoke, region=self.region)
        for function in self.functions.values():
            if function.kind == "stream":
                # A kept table's stream still holds what earlier runs handled: read only what comes next.
                poller.add(function, "LATEST" if self.restored else "TRIM_HORIZON")
            elif function.kind == "queue":
                queue_poller.add(function, self.change_queues[function.name])
        invoker.wait_until_ready()
        self._front.start()

    def _table(self) -> tuple[str, bool]:
        """The table's stream, and whether the table was kept from an earlier run (else it is created)."""
        dynamodb = self.client("dynamodb")
        try:
            table = dynamodb.create_table(**create_table_request(self.table_name))["TableDescription"]
        except dynamodb.exceptions.ResourceInUseException:
            if self.kept is None:
                raise
            return str(dynamodb.describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]), True
        return str(table["LatestStreamArn"]), False

    def _function_environment(self) -> dict[str, str]:
        return {
            **environment(
                stage=self.stage,
                table_name=self.table_name,
                powertools_service_name=constants.RESOURCE_PREFIX,
                email_from=self.email_from,
                user_pool_id=self.user_pool_id,
                lead_intake_scope=LEAD_INTAKE_SCOPE,
                token_issuer=self.issuer,
                jwks_url=self.jwks_url,
                portal_client_ids=self.portal_client_id,
                token_url=self.token_url,
                files_bucket=self.files_bucket,
                portal_url=constants.DEV_PORTAL_ORIGIN,
                twilio_account_sid=TWILIO_ACCOUNT_SID,
                twilio_from_number=TWILIO_FROM_NUMBER,
                twilio_auth_token_parameter=self.twilio_auth_token_parameter,
                twilio_api_url=self.twilio.url,
                sms_webhook_url=f"{self.url}{constants.SMS_WEBHOOK_PATH}",
                sms_status_url=f"{self.url}{constants.SMS_STATUS_PATH}",
                consumer_queue_urls=json.dumps({n: q.queue_url for n, q in self.change_queues.items()}),
                sender_domains=",".join(SENDER_DOMAINS),
            ),
            constants.ENV_LOG_LEVEL: constants.LOG_LEVEL,
            **constants.TRACER_ENVIRONMENT,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_ENDPOINT_URL": self.moto_endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.dynamodb_endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def stop(self) -> None:
        """Stop everything that was started, newest first; DynamoDB Local is always stopped last."""
        try:
            for stop in (
                self._front.stop if self._front else None,
                self._poller.stop if self._poller else None,
                self._queue_poller.stop if self._queue_poller else None,
                self._invoker.stop if self._invoker else None,
                self.twilio.stop,
                self._keep_data if self.kept and self._running_fully else None,
                self._moto.stop,
            ):
                if stop is None:
                    continue
                try:
                    stop()
                except Exception:
                    log.exception("stopping part of the local stack failed")
        finally:
            self._front = self._poller = self._invoker = None
            self._queue_poller = None
            self._dynamodb.stop()

    def _keep_data(self) -> None:
        assert self.kept is not None
        self.kept.save()
        self._running_fully = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- where things are -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._front is None:
            raise RuntimeError("the local stack is not running")
        return self._front.url

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/token"

    @property
    def jwks_url(self) -> str:
        """The pool's key set as the token authorizer reads it: moto's keys and the stack's machine key."""
        return f"{self.url}/.well-known/jwks.json"

    @property
    def dynamodb_endpoint(self) -> str:
        return self._dynamodb.endpoint

    @property
    def dynamodb_pid(self) -> int | None:
        return self._dynamodb.pid

    def child_pids(self) -> list[int]:
        """The processes the stack started: DynamoDB Local's Java and the function workers."""
        workers = self._invoker.worker_pids() if self._invoker else []
        return [pid for pid in [self._dynamodb.pid, *workers] if pid is not None]

    @property
    def moto_endpoint(self) -> str:
        return self._moto.endpoint

    def client(self, service: str) -> Any:
        """A boto3 client for the stack's endpoint of that service, with the stack's dummy credentials."""
        return service_client(
            service,
            region=self.region,
            moto_endpoint=self.moto_endpoint,
            dynamodb_endpoint=self.dynamodb_endpoint,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )

    def outputs(self) -> dict[str, str]:
        """The stack's endpoints under the names of the deployed stack's outputs, which the operator tools
        (ops/) read: from .local/dev.json here, from CloudFormation for a stage."""
        return {
            constants.OUTPUT_REGION: self.region,
            constants.OUTPUT_TABLE_NAME: self.table_name,
            constants.OUTPUT_TABLE_STREAM_ARN: self.stream_arn,
            constants.OUTPUT_STREAM_FAILURE_QUEUE_URL: self.stream_failures_url,
            **{constants.consumer_queue_output(name): q.queue_url for name, q in self.change_queues.items()},
            **{
                constants.consumer_dead_letter_queue_output(name): q.dead_letters_url
                for name, q in self.change_queues.items()
            },
        }

    def state(self) -> DevState:
        """Where this running stack is, as `make dev` writes it to .local/dev.json for other commands."""
        return DevState(
            pid=os.getpid(),
            url=self.url,
            token_url=self.token_url,
            moto_endpoint=self.moto_endpoint,
            dynamodb_endpoint=self.dynamodb_endpoint,
            region=self.region,
            user_pool_id=self.user_pool_id,
            portal_client_id=self.portal_client_id,
            outputs=self.outputs(),
        )

    def apply_env(self, environ: MutableMapping[str, str] = os.environ) -> dict[str, str | None]:
        """Give this process the functions' environment (for direct boto3 calls and handler imports);
        returns the previous values for `restore_env`."""
        previous = {name: environ.get(name) for name in self.env}
        environ.update(self.env)
        return previous

    @staticmethod
    def restore_env(previous: Mapping[str, str | None], environ: MutableMapping[str, str] = os.environ) -> None:
        for name, value in previous.items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = value

    @contextmanager
    def environment(self) -> Iterator[dict[str, str]]:
        previous = self.apply_env()
        try:
            yield self.env
        finally:
            self.restore_env(previous)

    # -- identities -------------------------------------------------------------------------------

    def create_user(self, email: str, password: str, *, operator: bool = False) -> str:
        return cognito.create_user(self.client("cognito-idp"), self.user_pool_id, email, password, operator=operator)

    def user_token(self, email: str, password: str) -> str:
        return cognito.user_token(self.client("cognito-idp"), self.portal_client_id, email, password)

    def machine_token(self, client_id: str, client_secret: str, scope: str = LEAD_INTAKE_SCOPE) -> str:
        """A partner company's access token, fetched from the stack's /oauth2/token like a partner would."""
        response = requests.post(
            self.token_url,
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(client_id, client_secret),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    # -- time, mail, streams ----------------------------------------------------------------------

    def now(self) -> datetime:
        """The functions' current time."""
        return self._running(self._clock).now()

    def advance_clock(self, seconds: float) -> None:
        self._running(self._clock).advance(seconds)

    def set_clock_offset(self, seconds: float) -> None:
        self._running(self._clock).set_offset(seconds)

    @property
    def clock_offset(self) -> float:
        return self._running(self._clock).offset_seconds

    def outbox(self) -> list[dict[str, Any]]:
        return self._running(self._outbox).messages()

    def texts(self) -> list[dict[str, Any]]:
        """The text messages the functions sent through (the local stand-in for) Twilio."""
        return self.twilio.messages()

    def dead_letters(self) -> list[dict[str, Any]]:
        """What failed for good: each consumer's dead-letter queue (the whole change, as SQS keeps it), and
        the stream readers' failed batches."""
        sqs = self.client("sqs")
        letters = []
        for name, queues in self.change_queues.items():
            for message in failures.peek(sqs, queues.dead_letters_url):
                record = json.loads(message["Body"])
                letters.append(
                    {
                        "function": name,
                        "reason": "receive limit reached",
                        "attempts": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                        "message_id": message["MessageId"],
                        "eventID": record.get("eventID"),
                        "sequence_number": record.get("dynamodb", {}).get("SequenceNumber"),
                        "record": record,
                    }
                )
        return letters + self._running(self._poller).dead_letters()

    def _report_stream_failure(self, letter: Mapping[str, Any]) -> None:
        """The dispatcher's mapping sends a record it gave up on to its failure queue as AWS does: a message
        naming the shard and sequence numbers (`make replay` reads them back from the stream)."""
        if letter["function"] != STREAM_DISPATCHER.name:
            return  # only the dispatcher's mapping has an on-failure destination
        function_arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{letter['function']}"
        body = failures.stream_failure_record(letter, stream_arn=self.stream_arn, function_arn=function_arn)
        try:
            self._sqs.send_message(QueueUrl=self.stream_failures_url, MessageBody=json.dumps(body))
        except Exception:
            log.exception("the stream failure of record %s could not be sent to the failure queue", letter["eventID"])

    def wait_for_streams(self, timeout: float = 10.0) -> None:
        """Return once every change written so far has gone through the stream, the queues and the consumers
        (and so has every change the consumers wrote meanwhile), or reached a dead-letter queue."""
        stream, queues = self._running(self._poller), self._running(self._queue_poller)
        deadline = time.monotonic() + timeout
        while True:
            activity = (stream.activity, queues.activity)
            stream.wait_until_idle(max(0.1, deadline - time.monotonic()))
            queues.wait_until_empty(deadline)
            if (stream.activity, queues.activity) == activity:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"changes still flowing after {timeout} s")

    # -- functions --------------------------------------------------------------------------------

    def invoke(self, function_name: str, event: Mapping[str, Any]) -> Invocation:
        return self._running(self._invoker).invoke(self.functions[function_name], event)

    def invocation_count(self, function_name: str) -> int:
        return self._running(self._invoker).invocation_count(function_name)

    def run_schedule(self, function_name: str) -> Invocation:
        """Fire a scheduled function now, with the event EventBridge Scheduler would send."""
        function = self.functions[function_name]
        if function.kind != "schedule":
            raise KeyError(function_name)
        event = scheduled_event(function_name, region=self.region, account_id=ACCOUNT_ID, now=self.now())
        return self._running(self._invoker).invoke(function, event)

    def register_function(
        self,
        function: Function,
        routes: Iterable[Route] = (),
        starting_position: StartingPosition = "LATEST",
    ) -> None:
        """Add a function at run time (tests use throwaway handlers): its routes join the API, and a
        stream function starts consuming from `starting_position`."""
        gateway, poller = self._running(self._gateway), self._running(self._poller)
        routes = list(routes)
        with self._lock:
            if function.name in self.functions:
                raise ValueError(f"a function named {function.name} already exists")
            self.functions[function.name] = function
            self._openapi_cache = None
            _check_routes(routes, self.functions)
            gateway.functions[function.name] = function
            gateway.routes += routes
            self.routes += routes
        if function.kind == "stream":
            poller.add(function, starting_position)

    def unregister_function(self, function_name: str) -> None:
        gateway, poller = self._running(self._gateway), self._running(self._poller)
        with self._lock:
            function = self.functions.pop(function_name)
            self._openapi_cache = None
            gateway.routes = [r for r in gateway.routes if r.function != function_name]
            self.routes = [r for r in self.routes if r.function != function_name]
            gateway.functions.pop(function_name, None)
        if function.kind == "stream":
            poller.remove(function_name)

    def openapi_document(self, server_url: str | None = None) -> dict[str, Any]:
        """The API functions' OpenAPI document, read from their resolvers in a worker (where the handler
        modules are imported with the functions' environment), with local servers and security."""
        invoker = self._running(self._invoker)
        if self._openapi_cache is None:
            documents = [
                invoker.call(worker.openapi_document, f.handler) for f in self.functions.values() if f.kind == "api"
            ]
            self._openapi_cache = openapi.merge(json.loads(d) for d in documents if d)
        base = server_url or self.url
        return openapi.decorate(
            self._openapi_cache, server_url=base, token_url=f"{base}/oauth2/token", routes=self.routes
        )

    # -- plumbing ---------------------------------------------------------------------------------

    def _dispatch(self, request: HttpRequest) -> HttpResponse:
        return self._running(self._endpoints).dispatch(request)

    @staticmethod
    def _running(part: T | None) -> T:
        if part is None:
            raise RuntimeError("the local stack is not running")
        return part


def _fetch_key_set(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def _merged_key_set(*key_sets: Mapping[str, Any]) -> dict[str, Any]:
    """One JWKS of several: in AWS the pool signs user and machine tokens with the keys it publishes;
    locally moto signs user tokens and the stack machine tokens, with the same issuer."""
    keys: dict[str, dict[str, Any]] = {}
    for key_set in key_sets:
        for key in key_set.get("keys", []):
            keys.setdefault(str(key.get("kid", "")), dict(key))
    return {"keys": list(keys.values())}


def _check_routes(routes: Iterable[Route], functions: Mapping[str, Function]) -> None:
    for route in routes:
        if route.function not in functions:
            raise ValueError(f"route {route.method} {route.path} names unknown function {route.function}")
